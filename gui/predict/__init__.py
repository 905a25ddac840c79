"""The Predict tab: drop images on the window and see what a model thinks, and why.

Where things are:

* ``state.py``: :class:`~gui.predict.state.PredictState`, what the tab is doing (chosen models,
  dropped sources, the batch's rows, the single view's request); no Qt, no TensorFlow.
* ``tab.py``: :class:`PredictTab`, the thin class that wires the pages, the state and the tasks.
* Pages, which only draw and forward input: ``model_panel.py`` (the model list and what the model
  in use is; ``model_picker.py`` is its list), ``results_panel.py`` (tool bar, progress, the
  results table and the single-image view), ``class_names.py`` (the dialog for card-less models).
* ``choice.py``: :class:`~gui.predict.choice.ModelChoice`, a choice of models from the picker, a
  file or a drop, through its load into use (or refused, keeping the models in use before);
  ``inputs.py``: Open images, Open folder, Paste and drops, each ending in a batch;
  ``window_close.py``: the tab's threads are stopped when its window closes.
* Tasks: ``loading.py`` (loading models through :mod:`core.inference`, the model cache, naming
  the classes of card-less models), ``batch.py`` (batches, Stop, Clear, Export), ``jobs.py`` (the
  batch worker and the image reader of the single view), each run through a
  :class:`~gui.tasks.TaskSlot` on the tab's own runners.
* ``drop.py``: reading drops and the clipboard; ``results_model.py``: the table's model and CSV.

The tab class is imported lazily, so ``gui.predict.state`` imports neither Qt nor TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from gui.predict.tab import PredictTab

__all__ = ["PredictTab"]


def __getattr__(name: str) -> Any:
    if name == "PredictTab":
        from gui.predict.tab import PredictTab

        return PredictTab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
