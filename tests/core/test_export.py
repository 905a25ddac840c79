"""Exports load back the way their users load them and give the app's top-1 on real test images."""

from __future__ import annotations

import numpy as np
import pytest

from core import cards, paths
from core.cli import run_cli
from core.errors import WorkbenchError
from core.export import export_model

SHIPPED = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"


@pytest.mark.parametrize("fmt", ["keras", "savedmodel", "tflite"])
def test_export_round_trip_matches_the_app(tmp_path, fmt):
    target = tmp_path / {"keras": "m.keras", "savedmodel": "m-savedmodel", "tflite": "m.tflite"}[fmt]
    report = export_model(SHIPPED, target, fmt)
    assert report.ok and report.checked == 300 and report.agree == 300
    assert report.images_from == "test images of the model's dataset"
    assert report.max_abs_diff < 1e-3
    assert target.exists()
    if fmt != "savedmodel":
        assert cards.read_card(target)["class_names"] == [str(d) for d in range(10)]
    expected = {target.name} if fmt == "savedmodel" else {target.name, target.with_suffix(".json").name}
    assert {p.name for p in tmp_path.iterdir()} == expected  # the export and its card, nothing half-written


def test_export_that_disagrees_is_refused_and_removed(tmp_path, monkeypatch):
    import core.inference as inference

    real = inference.Predictor.predict
    calls = {"n": 0}

    def second_call_is_wrong(self, images):
        calls["n"] += 1
        probs = real(self, images)
        return probs if calls["n"] == 1 else np.roll(probs, 1, axis=1)

    monkeypatch.setattr(inference.Predictor, "predict", second_call_is_wrong)
    with pytest.raises(WorkbenchError, match="did not reproduce"):
        export_model(SHIPPED, tmp_path / "bad.keras", "keras")
    assert not (tmp_path / "bad.keras").exists()


def test_cli_export(capsys, tmp_path):
    assert run_cli(["export", str(SHIPPED), "--format", "tflite", "--to", str(tmp_path / "digits.tflite")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: TensorFlow Lite") and "top-1 agrees on 300" in out


def test_export_never_replaces_a_file_of_another_kind(tmp_path, capsys):
    """Reliability: an export onto the user's own file is refused and the file is left as it was;
    an earlier export of the same kind is replaced only with --force."""
    photo = tmp_path / "existing.tflite"
    photo.write_bytes(b"the user's own bytes")
    assert run_cli(["export", str(SHIPPED), "--format", "savedmodel", "--to", str(photo)]) == 2
    assert "SavedModel is a folder" in capsys.readouterr().err
    assert photo.read_bytes() == b"the user's own bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.tflite"], "no hidden leftovers"

    assert run_cli(["export", str(SHIPPED), "--format", "tflite", "--to", str(photo)]) == 2
    assert "file of another kind" not in capsys.readouterr().err  # a .tflite name: same kind, needs --force
    assert photo.read_bytes() == b"the user's own bytes"

    folder = tmp_path / "album"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"png")
    assert run_cli(["export", str(SHIPPED), "--format", "savedmodel", "--to", str(folder)]) == 2
    assert "a folder that is not a SavedModel" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["a.png"]


def test_an_earlier_export_is_replaced_only_with_force(tmp_path, capsys):
    from core.export import ExportTargetExists, check_target

    target = tmp_path / "m.keras"
    assert run_cli(["export", str(SHIPPED), "--format", "keras", "--to", str(target)]) == 0
    first = target.stat().st_mtime_ns
    with pytest.raises(ExportTargetExists):
        check_target(target, "keras")
    assert run_cli(["export", str(SHIPPED), "--format", "keras", "--to", str(target)]) == 2
    assert "--force" in capsys.readouterr().err and target.stat().st_mtime_ns == first
    assert run_cli(["export", str(SHIPPED), "--format", "keras", "--to", str(target), "--force"]) == 0
    assert "OK:" in capsys.readouterr().out


def test_export_says_what_it_takes_for_h5_and_savedmodel_sources(tmp_path, capsys):
    legacy = tmp_path / "old.h5"
    legacy.write_bytes(b"\x89HDF")
    assert run_cli(["export", str(legacy)]) == 2
    assert "legacy Keras .h5 file; export takes a run" in capsys.readouterr().err
    saved = tmp_path / "served"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    assert run_cli(["export", str(saved)]) == 2
    assert "already a TensorFlow SavedModel" in capsys.readouterr().err
