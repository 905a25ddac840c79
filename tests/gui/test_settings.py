"""Settings persist between launches (QSettings in a temporary INI file for every test)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray

from core.config import TrainConfig
from gui.settings import AppSettings


def test_settings_round_trip_through_the_file(settings_file):
    config = TrainConfig(
        dataset="/data/photos",
        model="lenet-5",
        model_options={"dropout": 0.3},
        optimizer="sgd",
        learning_rate=0.05,
        batch_size=32,
        epochs=20,
        limit=None,
        image_size=64,
        augment_flip=True,
        name="try 1",
    )
    first = AppSettings()
    first.set_train_config(config.to_dict())
    first.set_geometry(QByteArray(b"\x01\x02geometry"))
    first.set_current_tab(2)
    first.add_recent_folder("/data/a")
    first.add_recent_folder("/data/b")
    first.add_recent_folder("/data/a")
    first.sync()
    assert settings_file.exists()

    again = AppSettings()
    assert TrainConfig.from_dict(again.train_config()) == config
    assert bytes(again.geometry().data()) == b"\x01\x02geometry"
    assert again.current_tab() == 2
    assert again.recent_folders() == ["/data/a", "/data/b"]


def test_damaged_settings_fall_back_to_defaults(settings_file):
    settings_file.write_text("[train]\nconfig=not json {\n[window]\ntab=x\n")
    s = AppSettings()
    assert s.train_config() is None
    assert s.current_tab() == 0
    assert s.geometry() is None


def test_the_window_remembers_form_and_geometry(make_window, qtbot):
    config = TrainConfig(
        dataset="mnist-sample",
        model="lenet-5",
        model_options={"dropout": 0.3},
        optimizer="sgd",
        learning_rate=0.01,
        momentum=0.8,
        schedule="step",
        step_epochs=5,
        batch_size=32,
        epochs=20,
        validation_split=0.2,
        limit=1000,
        augment_rotation=10.0,
        early_stopping=True,
        patience=3,
        seed=7,
        center_loss_weight=0.05,
        tensorboard=False,
        name="remembered",
    )
    window = make_window(wait_for_tf=False)
    window.train_tab.apply_config(config)
    assert window.train_tab.current_config() == config
    window.resize(900, 640)
    window.tabs.setCurrentIndex(1)
    geometry = bytes(window.saveGeometry().data())
    window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60_000)

    second = make_window(wait_for_tf=False)
    assert second.train_tab.current_config() == config
    assert second.tabs.currentIndex() == 1
    restored = AppSettings().geometry()
    assert restored is not None and bytes(restored.data()) == geometry
    assert second.restoreGeometry(restored)


def test_a_version_1_file_is_migrated_once(settings_file):
    """Loose per-tab keys of version 1 land in each tab's state; damaged ones are dropped."""
    settings_file.write_text(
        "[gallery]\nthumb_size=96\nrow_percent=true\nsort=x\n"
        '[predict]\nmodels="[\\"/m/a.keras\\"]"\nopened_models="[\\"/m/b.keras\\"]"\n'
        'class_names\\abc123="{\\"path\\": \\"/m/b.keras\\", \\"names\\": [\\"cat\\", \\"dog\\"]}"\n'
        "[exports]\nformat=tflite\n"
        '[train]\nconfig="{\\"model\\": \\"lenet-5\\"}"\n'
        "[window]\ntab=3\n"
    )
    s = AppSettings()
    assert s.migrated_from == 1 and s.version == 2
    assert s.tab_state("gallery") == {"thumb_size": 96, "row_percent": True}
    assert s.tab_value("predict", "models", [], list) == ["/m/a.keras"]
    assert s.tab_value("predict", "opened_models", [], list) == ["/m/b.keras"]
    assert s.tab_state("predict")["class_names"] == {"abc123": {"path": "/m/b.keras", "names": ["cat", "dog"]}}
    assert s.tab_value("export", "format", "keras", str) == "tflite"
    assert s.train_config() == {"model": "lenet-5"}
    assert s.current_tab() == 3
    assert not s.q.contains("gallery/thumb_size")
    s.sync()
    again = AppSettings()
    assert again.migrated_from is None and again.tab_state("gallery")["thumb_size"] == 96


def test_tab_values_are_type_checked(settings_file):
    s = AppSettings()
    assert s.migrated_from is None and s.version == 2
    s.set_tab_state("gallery", {"thumb_size": "big", "row_percent": 1, "zoom": 2})
    assert s.tab_value("gallery", "thumb_size", 64, int) == 64
    assert s.tab_value("gallery", "row_percent", False, bool) is False
    assert s.tab_value("gallery", "zoom", 1.0, float) == 2
    s.set_tab_state("gallery", {"zoom": 3})
    assert s.tab_state("gallery")["thumb_size"] == "big", "set_tab_state merges"
    s.set_tab_state("gallery", {"zoom": 3}, replace=True)
    assert s.tab_state("gallery") == {"zoom": 3}
