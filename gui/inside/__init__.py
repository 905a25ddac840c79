"""The Inside tab: a run's feature space and a layer's activations (see :mod:`gui.inside.tab`).

Where things are: :mod:`~gui.inside.state` decides (Qt-free, TensorFlow-free);
:mod:`~gui.inside.source_bar`, :mod:`~gui.inside.embedding_panel` and
:mod:`~gui.inside.activations_panel` draw and forward input; :mod:`~gui.inside.jobs` holds the work
that the tab (:mod:`~gui.inside.tab`) runs in its task slots. :class:`InsideTab` is imported on
first use, so ``gui.inside.state`` can be imported (and tested) without Qt or pyqtgraph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gui.inside.tab import InsideTab

__all__ = ["InsideTab"]


def __getattr__(name: str):
    if name == "InsideTab":
        from gui.inside.tab import InsideTab

        return InsideTab
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
