"""Settings persist between launches (QSettings in a temporary INI file for every test)."""

from __future__ import annotations

from PySide6.QtCore import QByteArray

from core.training import TrainConfig
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
