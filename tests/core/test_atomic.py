import json
import os

import numpy as np
import pytest

from core import atomic


def test_failed_json_write_keeps_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "card.json"
    atomic.write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic.write_json(target, {"a": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["card.json"]


def test_writer_crash_midway_keeps_old_file(tmp_path):
    target = tmp_path / "evaluation.npz"
    atomic.write_with(target, lambda p: np.savez(p, x=np.arange(3)))

    def half_then_crash(p):
        p.write_bytes(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic.write_with(target, half_then_crash)
    with np.load(target) as data:
        assert data["x"].tolist() == [0, 1, 2]
    assert sorted(os.listdir(tmp_path)) == ["evaluation.npz"]


def test_numpy_values_serialise(tmp_path):
    target = tmp_path / "m.json"
    atomic.write_json(target, {"acc": np.float32(0.5), "cm": np.eye(2, dtype=int)})
    assert atomic.read_json(target) == {"acc": 0.5, "cm": [[1, 0], [0, 1]]}


def test_temp_file_keeps_suffix_for_keras(tmp_path):
    seen = []
    atomic.write_with(tmp_path / "model.keras", lambda p: (seen.append(p.suffix), p.write_bytes(b"x")))
    assert seen == [".keras"]


def test_new_files_are_not_private_and_existing_modes_kept(tmp_path):
    fresh = tmp_path / "fresh.json"
    atomic.write_json(fresh, {})
    assert fresh.stat().st_mode & 0o777 == 0o644
    fresh.chmod(0o600)
    atomic.write_json(fresh, {"b": 2})
    assert fresh.stat().st_mode & 0o777 == 0o600
