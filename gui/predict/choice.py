"""Which models the Predict tab predicts with: the first choice, each new one, its load, a refusal.

:class:`ModelChoice` follows a choice of models (picked in the list, opened as a file, dropped on
the tab) through its load (:class:`~gui.predict.loading.ModelLoader`) into use by the batches: a
choice that loads replaces the models in use, is remembered in the settings and predicts the inputs
again; one that cannot be used is refused with a dialog and the models in use before stay in use
(with none before, the shipped MNIST model is used). The tab's first start chooses the models used
last time. What is chosen, loading and in use is kept in the tab's
:class:`~gui.predict.state.PredictState`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from core import paths
from gui import dialogs
from gui.predict.state import DROP_HINT, initial_models

if TYPE_CHECKING:
    from gui.predict.tab import PredictTab

SHIPPED_MODEL = paths.WEIGHTS_DIR / "mnist-sample-simple-cnn-2.keras"
SETTINGS_TAB = "predict"


class ModelChoice(QObject):
    """The models of a :class:`~gui.predict.tab.PredictTab`: chosen, loaded, used or refused."""

    def __init__(self, tab: PredictTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.state = tab.state
        self.resume_batch = False  # a batch was stopped for a model choice that may be refused

    def start(self) -> None:
        """Choose the models used last time (or the shipped MNIST model) and load them.

        Done when the tab is first shown (or given images) with TensorFlow ready, not at start-up:
        loading costs a second or more of CPU that someone who came to train should not pay.
        """
        tab = self.tab
        if self.state.started or not tab.tf_ready:
            return
        self.state.started = True
        tab.populate()
        wanted = initial_models(tab.settings.tab_value(SETTINGS_TAB, "models", [], list), SHIPPED_MODEL)
        if not tab.picker.select_paths(wanted):
            tab.picker.select_paths([SHIPPED_MODEL])

    def open_file(self) -> None:
        tab = self.tab
        start = tab.settings.last_dir("models", str(paths.runs_dir(tab.workspace)))
        path, _ = QFileDialog.getOpenFileName(
            tab, "Open a Keras model", start, "Keras models (*.keras *.h5 *.hdf5);;All files (*)"
        )
        if path:
            self.use_file(path)

    def use_file(self, path: str | Path) -> None:
        """Add a model file to the list and predict with it."""
        self.state.started = True  # this choice replaces the one remembered from last time
        self.tab.populate()
        self.tab.picker.add_file(path)

    def chosen(self, chosen: list[Path]) -> None:
        """The picker's selection changed."""
        self.state.choose_models(chosen)  # remembered once it works (_loaded)
        self.load(chosen)

    def load(self, chosen: list[Path]) -> None:
        """Load the chosen models (cached ones at once) in the background, then predict the inputs again."""
        tab = self.tab
        if not chosen:
            return
        if not tab.tf_ready:
            tab.view.clear("Loading TensorFlow … the model is loaded as soon as it is ready.")
            return
        tab._hook_window()
        self.resume_batch = self.state.running  # again with the old models, should these be refused
        tab.stop()  # a batch with the old model is no longer wanted
        self.state.start_loading(chosen)
        tab.panel.set_state("Loading " + ", ".join(p.name for p in chosen) + " …")
        tab._update_actions()
        tab.loader.load(
            chosen,
            on_done=self._loaded,
            on_failed=lambda f: self._loaded([(p, None, (f.message, f.detail)) for p in chosen]),
            on_cancelled=lambda _r: self._cancelled(),
        )

    def _cancelled(self) -> None:
        self.state.loading_done()
        self.tab.panel.set_state("")
        self.tab._update_actions()

    def _loaded(self, out: list) -> None:
        tab = self.tab
        chosen = list(self.state.loading or self.state.wanted)
        outcome = tab.loader.outcome(out, tab)
        for path, problem in outcome.problems:
            tab.picker.set_problem(path, problem)
            if problem:
                tab.picker.forget_file(path)  # a file that does not load is not listed after a restart
        if outcome.error is not None:
            self._refuse(chosen, *outcome.error)
            return
        self.use(outcome.members, outcome.predictors)
        tab.picker.remember_files(chosen)
        tab.settings.set_tab_state(SETTINGS_TAB, {"models": [str(p) for p in chosen]})

    def _refuse(self, chosen: list[Path], title: str, message: str, detail: str) -> None:
        """A choice that cannot be used: the models in use before stay in use and selected; nothing is
        remembered. With none before (the first choice of a launch), the shipped model is used."""
        tab = self.tab
        if self.state.refuse_choice():
            tab.picker.restore_selection(self.state.in_use)
            tab.panel.set_state("")
            tab._update_actions()
            tab.status_message.emit(f"Still predicting with the model in use: {message}", 10_000)
            if self.resume_batch and self.state.sources:
                tab._start_batch(self.state.sources)
        else:
            tab.settings.set_tab_state(SETTINGS_TAB, {"models": []})
            self.use([], [], problem=message)
            tab.picker.forget_emitted()
            if [Path(p) for p in chosen] != [SHIPPED_MODEL] and SHIPPED_MODEL.is_file():
                tab.picker.select_paths([SHIPPED_MODEL])
        dialogs.show_error(tab, title, message, detail)

    def rename_classes(self) -> None:
        """Ask again for the class names of the card-less models in use."""
        tab = self.tab
        changed = False
        for m in [m for m in tab.members if m.card is None]:
            changed = tab.loader.name_classes(m, tab, ask_if_known=True) or changed
        if changed:
            self.use(tab.members, tab.predictors)

    def use(self, members: list, predictors: list, problem: str | None = None) -> None:
        """Predict with these models from now on (none: say why, or ask for a choice)."""
        tab = self.tab
        tab.batches.use_models(members, predictors)
        self.state.use_models([m.path for m in members], problem)
        tab.panel.set_state("")
        tab._show_model_info()
        tab._update_actions()
        if not members:
            self.state.forget_rows()
            tab.panel.clear_rows()
            tab.view.clear(f"No model in use: {problem}" if problem else "Choose a model on the left.")
            return
        tab.view.set_model(members)
        tab.view.hold_gradcam(False)
        tab.results.set_models(members[0].class_names, len(members))
        tab.model_ready.emit()
        if self.state.sources:
            tab._start_batch(self.state.sources)
        else:
            tab.view.clear(DROP_HINT)
