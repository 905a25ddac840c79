"""The Train tab: choose data, model and hyper-parameters, train, and watch it learn.

``state.py`` holds the config and the run's state machine (no Qt, no TensorFlow); the pages draw
and forward input (``dataset_page``, ``model_page``, ``hyperparameters``, ``monitor``,
``result_box``); ``tab.py`` wires them; ``tasks.py`` runs the preview and the model summary.
``TrainTab`` is imported on first use, so ``import gui.train.state`` stays free of Qt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gui.train.tab import TrainTab

__all__ = ["TrainTab"]


def __getattr__(name: str) -> Any:
    if name == "TrainTab":
        from gui.train.tab import TrainTab

        return TrainTab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
