"""The export dialog's ONNX choice: it exports and checks, or says how to install what it needs."""

from __future__ import annotations

import importlib.util

import pytest

from core import export, paths

SHIPPED = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"
HAVE_ONNX = all(importlib.util.find_spec(name) is not None for name in export.ONNX_PACKAGES)


@pytest.mark.skipif(not HAVE_ONNX, reason="the optional extra 'onnx' is not installed")
def test_the_dialog_exports_onnx_and_shows_the_check(qtbot, tmp_path):
    from gui.export_dialog import ExportDialog
    from gui.workers import JobRunner

    jobs = JobRunner()
    dialog = ExportDialog(jobs, SHIPPED, name="digits")
    qtbot.addWidget(dialog)
    assert dialog.format_buttons["onnx"].isEnabled()
    dialog.set_target(tmp_path / "digits.keras")
    dialog.set_format("onnx")
    assert dialog.target.name == "digits.onnx"
    with qtbot.waitSignal(dialog.exported, timeout=120_000) as sig:
        assert dialog.start_export()
    assert sig.args[0].ok and (tmp_path / "digits.onnx").exists()
    assert dialog.result.text().startswith("OK: ONNX")
    assert dialog.format_buttons["onnx"].isEnabled()  # still there after the export
    assert jobs.shutdown(30_000)


def test_without_the_extra_the_onnx_choice_says_how_to_install(qtbot, monkeypatch):
    from gui.export_dialog import ExportDialog
    from gui.workers import JobRunner

    real = importlib.util.find_spec
    monkeypatch.setattr(
        export.importlib.util, "find_spec", lambda name, *a: None if name in ("tf2onnx", "onnx") else real(name, *a)
    )
    jobs = JobRunner()
    dialog = ExportDialog(jobs, SHIPPED)
    qtbot.addWidget(dialog)
    button = dialog.format_buttons["onnx"]
    assert not button.isEnabled() and "pip install" in button.toolTip() and "tf2onnx, onnx" in button.toolTip()
    dialog._update_buttons()
    assert not button.isEnabled()  # stays off
    assert dialog.format_buttons["tflite"].isEnabled()
    assert jobs.shutdown(30_000)
