"""The Gallery's state without widgets or TensorFlow: what the grid shows for each filter, the
selection, thumbnail sizes, which source is asked for and shown, the source cache, settings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from core.evaluation import Evaluation
from core.gallery import ArrayImages, FileImages, GalleryData, GalleryFilter, NoImages, RunEntry
from gui.gallery.state import SORTS, GalleryState, SourceCache, same_path, sort_index

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["cat", "dog", "bird", "fish"]


def make_data(n: int = 300, seed: int = 0, **kwargs) -> GalleryData:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=n).astype(np.float32)
    y_true = np.where(rng.random(n) < 0.6, probs.argmax(1), rng.integers(0, 4, n)).astype(np.int32)
    images = rng.integers(0, 256, size=(n, 8, 8, 1), dtype=np.uint8)
    ev = Evaluation(y_true=y_true, probs=probs, class_names=list(NAMES), indices=np.arange(n))
    return GalleryData(ev, ArrayImages(images, ev.indices), "synthetic", **kwargs)


def make_state(data: GalleryData | None = None) -> GalleryState:
    state = GalleryState(thumb_range=(24, 256), thumb_size=72)
    if data is not None:
        state.show(("data", "1"), data)
    return state


def test_importing_the_state_loads_neither_qt_nor_tensorflow():
    code = (
        "import json, sys\n"
        "import gui.gallery.state\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'shiboken6', 'tensorflow', 'keras'))\n"
        "print(json.dumps(bad))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# --------------------------------------------------------------------------------------------------
# What the grid shows


def test_rows_are_core_gallery_s_index_arrays_for_every_filter():
    data = make_data()
    state = make_state(data)
    assert state.rows().tolist() == list(range(300))
    assert state.count_text(300) == "All 300 test images"
    for flt in (
        GalleryFilter("wrong"),
        GalleryFilter("correct", true_class=1),
        GalleryFilter.cell(2, 3),
        GalleryFilter("wrong", sort="loss", descending=True),
        GalleryFilter(pred_class=0, sort="confidence"),
    ):
        state.set_filter(flt)
        rows = state.rows()
        assert rows.dtype == np.int64
        assert rows.tolist() == data.view(flt).tolist()
    state.set_filter(GalleryFilter("wrong", true_class=1))
    wrong_dogs = [i for i in range(300) if not data.correct[i] and data.y_true[i] == 1]
    assert state.rows().tolist() == wrong_dogs
    assert state.count_text(len(wrong_dogs)) == f"{len(wrong_dogs)} wrong of 300 · true dog"
    assert state.count_text(0).endswith("(nothing to show: Reset filters, Ctrl+R)")


def test_a_filter_from_the_matrix_keeps_the_chosen_order_and_new_data_keeps_only_the_order():
    data = make_data()
    state = make_state(data)
    state.set_sort_index(3)  # loss, highest first
    flt = state.set_filter(GalleryFilter.cell(1, 2), keep_sort=True)
    assert (flt.true_class, flt.pred_class, flt.sort, flt.descending) == (1, 2, "loss", True)
    rows = state.rows()
    assert np.all(np.diff(data.losses[rows]) <= 0)
    state.set_filter(GalleryFilter(), keep_sort=False)
    assert state.filter == GalleryFilter()
    state.set_filter(GalleryFilter("wrong", true_class=2, sort="confidence", descending=True))
    state.select(5)
    state.set_data(make_data(seed=1))
    assert state.filter == GalleryFilter(sort="confidence", descending=True)
    assert state.detail_row is None


def test_sort_choices_by_position():
    state = make_state()
    for i, (_text, key, desc) in enumerate(SORTS):
        assert state.set_sort_index(i)
        assert (state.filter.sort, state.filter.descending) == (key, desc)
        assert state.sort_index == i == sort_index(state.filter)
    assert not state.set_sort_index(len(SORTS)) and not state.set_sort_index(-1)
    assert state.sort_index == len(SORTS) - 1, "an unknown choice changes nothing"


def test_no_data_shows_nothing():
    state = make_state()
    assert state.rows().tolist() == [] and state.count_text(0) == ""
    assert not state.select(3) and state.detail_row is None


# --------------------------------------------------------------------------------------------------
# Selection, detail, thumbnails


def test_selection_and_the_detail_lines():
    data = make_data()
    state = make_state(data)
    assert state.select(4) and state.detail_row == 4
    assert not state.select(4), "the same image again changes nothing"
    wrong = int(np.flatnonzero(~data.correct)[0])
    text, title = state.detail_texts(wrong)
    assert text.startswith(f"Test image #{wrong} · true {NAMES[data.y_true[wrong]]}, predicted ")
    assert text.endswith(f"wrong · loss {data.losses[wrong]:.3f}")
    assert title == f"Test image #{wrong} · loss {data.losses[wrong]:.3f}"
    assert not state.decodes_slowly()
    files = make_data(3)
    files.images = FileImages(["/photos/a.jpg", "/photos/b.jpg", "/photos/c.jpg"])
    state.set_data(files)
    assert state.decodes_slowly()
    assert state.detail_texts(1)[0].endswith(" · /photos/b.jpg")


def test_thumbnail_sizes_stay_in_range_and_zoom_in_steps():
    state = make_state()
    assert state.thumb_size == 72
    assert state.zoomed(1) == 90 and state.zoomed(-1) == 58
    assert state.set_thumb_size(1000) == 256 and state.zoomed(1) == 256
    assert state.set_thumb_size(3) == 24 and state.zoomed(-1) == 24
    assert state.zoomed(1) == 30
    assert GalleryState(thumb_range=(24, 256), thumb_size=999).thumb_size == 256


# --------------------------------------------------------------------------------------------------
# Sources


def _entry(path: Path, viewable: bool, can_evaluate: bool = False, reason: str | None = None) -> RunEntry:
    return RunEntry(path, path.name, path.name, viewable, reason, can_evaluate)


def test_the_source_asked_for_and_the_source_shown():
    state = make_state()
    a, b = ("run", "/runs/a"), ("shipped", "/weights/m.keras")
    state.ask(a, "Loading run a")
    assert state.is_loading and state.source_to_select() == a and state.shown is None
    state.ask(b, "Evaluating m.keras")
    assert state.requested == b and state.loading == "Evaluating m.keras"
    data = make_data(20)
    state.show(b, data)
    assert not state.is_loading and state.requested is None and state.shown == b and state.data is data
    state.ask(a, "Loading run a")
    state.load_ended()  # failed or cancelled: what is shown stays
    assert state.shown == b and state.data is data and state.source_to_select() == b


def test_which_runs_can_be_shown_evaluated_or_shown_first(tmp_path):
    good, stopped, failed = (tmp_path / n for n in ("good", "stopped", "failed"))
    state = make_state()
    state.entries = [
        _entry(stopped, False, can_evaluate=True, reason="stopped, but not evaluated on its test set yet"),
        _entry(good, True),
        _entry(failed, False, reason="failed before its test-set evaluation"),
    ]
    assert state.run_problem(good) is None
    assert state.run_problem(stopped).startswith("stopped") and state.can_evaluate(stopped)
    assert state.run_problem(failed).startswith("failed") and not state.can_evaluate(failed)
    assert state.offers_evaluate(("run", str(stopped))) and not state.offers_evaluate(("run", str(good)))
    assert not state.offers_evaluate(("shipped", "/w.keras")) and not state.offers_evaluate(None)
    elsewhere = tmp_path / "copied"
    elsewhere.mkdir()
    assert "no test-set evaluation" in state.run_problem(elsewhere) and not state.can_evaluate(elsewhere)
    (elsewhere / "model.keras").write_bytes(b"")
    assert state.can_evaluate(elsewhere)
    (elsewhere / "evaluation.npz").write_bytes(b"")
    (elsewhere / "metrics.json").write_text("{}")
    assert state.run_problem(elsewhere) is None
    assert state.default_source([Path("/w/m.keras")]) == ("run", str(good))
    state.entries = state.entries[:1]
    assert state.default_source([Path("/w/m.keras")]) == ("shipped", "/w/m.keras")
    assert state.default_source([]) is None
    assert same_path(tmp_path / "good", tmp_path / "x" / ".." / "good")


def test_the_cache_keeps_a_few_sources_while_unchanged_on_disk(tmp_path):
    cache = SourceCache(size=2)
    runs = []
    for name in ("a", "b", "c"):
        run = tmp_path / name
        run.mkdir()
        (run / "evaluation.npz").write_bytes(b"x")
        runs.append(("run", str(run)))
    datas = [make_data(10, seed=i) for i in range(3)]
    cache.put(runs[0], datas[0])
    cache.put(runs[1], datas[1])
    assert cache.get(runs[0]) is datas[0]  # now the most recent
    cache.put(runs[2], datas[2])
    assert len(cache) == 2 and cache.get(runs[1]) is None and cache.get(runs[0]) is datas[0]
    evaluation = Path(runs[0][1]) / "evaluation.npz"
    stamp = evaluation.stat().st_mtime
    os.utime(evaluation, (stamp + 10, stamp + 10))  # evaluated again
    assert cache.get(runs[0]) is None
    gone = ("shipped", str(tmp_path / "missing.keras"))
    cache.put(gone, datas[1])
    assert cache.get(gone) is None, "a source whose file cannot be read is never taken from memory"


# --------------------------------------------------------------------------------------------------
# Export names and settings


def test_export_names_say_what_is_shown(tmp_path):
    state = make_state(make_data(run_dir=tmp_path / "20261202-run 1"))
    assert state.export_name(".csv") == "20261202-run-1.csv"
    state.set_filter(GalleryFilter("wrong", true_class=0, pred_class=2))
    assert state.export_name(".png") == "20261202-run-1-wrong-true-cat-pred-bird.png"
    shipped = make_state(make_data())
    assert shipped.export_name(".csv") == "shipped-model.csv"


def test_settings_round_trip_and_damaged_values():
    state = make_state()
    state.set_thumb_size(120)
    state.row_percent = True
    state.set_sort_index(4)
    saved = state.settings()
    assert saved == {"thumb_size": 120, "row_percent": True, "sort": 4}
    again = make_state()
    again.restore(**json.loads(json.dumps(saved)))
    assert again.settings() == saved and again.filter.sort == "loss" and not again.filter.descending
    odd = make_state()
    odd.restore(thumb_size=10_000, row_percent=False, sort=99)
    assert odd.settings() == {"thumb_size": 256, "row_percent": False, "sort": 0}


def test_data_without_pictures_has_no_file_decoding():
    data = make_data(5)
    data.images = NoImages("the dataset is not on this computer")
    state = make_state(data)
    assert not state.decodes_slowly() and state.detail_texts(0)[0].endswith(f"loss {data.losses[0]:.3f}")
