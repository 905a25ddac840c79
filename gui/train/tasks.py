"""The Train tab's background tasks besides training: the dataset preview and the model summary.

Each runs in a :class:`~gui.tasks.TaskSlot`, so a result can only come from the task started
last. A change of the settings a preview depends on cancels the preview in flight
(``request_preview(restart=True)``, and :meth:`TrainState.update` drops a loaded one), so a preview
that arrives is always for the current settings: no key is compared on arrival. Previews run on
the tab's own runner (no TensorFlow for the sample and folders); summaries build a Keras model, so
they run on the window's runner, one TensorFlow job at a time, and never during a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from core.errors import ModelError
from gui.tasks import TaskFailure, TaskSlot
from gui.train.dataset_preview import make_preview
from gui.workers import JobRunner

if TYPE_CHECKING:
    from gui.train.tab import TrainTab


class PreviewAndSummary(QObject):
    def __init__(self, tab: TrainTab, jobs: JobRunner, preview_jobs: JobRunner) -> None:
        super().__init__(tab)
        self.tab = tab
        self.state = tab.state
        self.preview_jobs = preview_jobs
        self.preview_task = TaskSlot(
            preview_jobs,
            "Dataset preview",
            parent=self,
            on_done=self._preview_ready,
            on_failed=self._preview_failed,
            on_progress=self._preview_progress,
        )
        self.summary_task = TaskSlot(jobs, "Model summary", parent=self, on_failed=self._summary_failed)
        self._preview_timer = QTimer(self, singleShot=True, interval=250)
        self._preview_timer.timeout.connect(self._start_preview)
        self._summary_timer = QTimer(self, singleShot=True, interval=300)
        self._summary_timer.timeout.connect(self._start_summary)
        self._scans: dict[str, Any] = {}  # folder scans by path (scanning a large folder takes a while)
        self._summary_cache: dict[tuple, dict] = {}
        self._summary_building: tuple | None = None  # what the summary task builds (not to build it twice)
        self.params_text = ""

    # -- the dataset preview ---------------------------------------------------------------------
    def request_preview(self, immediately: bool = False, *, restart: bool = False) -> None:
        """Load the preview of the current settings (after a short pause for more edits).

        ``restart``: the settings changed, so a preview in flight is for the old ones: cancel it.
        """
        if restart:
            self.preview_task.cancel()
        if not self.state.populated:
            return
        if immediately:
            self._preview_timer.stop()
            self._start_preview()
        else:
            self._preview_timer.start()

    def forget_scan(self, folder: str) -> None:
        self._scans.pop(folder, None)

    def _start_preview(self) -> None:
        state, view = self.state, self.tab.dataset_page.preview
        name = state.get("dataset")
        if not name or state.preview is not None or self.preview_task.running:
            return  # loaded, or loading, for these very settings
        info = state.datasets.get(name)
        if info is not None and not info["available_offline"]:
            view.show_message(
                f"<b>{info['title']}</b><br>Not on this computer yet: it is downloaded when training starts "
                f"(needs internet), into <code>{info['cache_path']}</code>. The preview appears once it is here."
            )
            self._preview_shape_changed()
            return
        if info is not None and name != "mnist-sample" and not state.tf_ready:
            view.show_message("Loading the preview once TensorFlow is ready ...")
            return
        view.show_message("Loading the preview ...")
        scan = self._scans.get(name)
        key = state.preview_key()
        _, image_size, color_mode, val, test, seed, limit = key
        is_folder = info is None

        def job(reporter, cancel):
            from core import datasets

            if is_folder:
                folder_scan = scan or datasets.scan_folder(name, reporter=reporter)
                ds = datasets.folder_dataset(
                    folder_scan,
                    image_size=image_size,
                    color_mode=color_mode,
                    validation_split=val,
                    test_split=test,
                    seed=seed,
                    limit=limit,
                )
                return folder_scan, make_preview(ds, key=key, scan=folder_scan)
            ds = datasets.load_dataset(
                name, validation_split=val, test_split=test, seed=seed, limit=limit, reporter=reporter
            )
            return None, make_preview(ds, key=key)

        self.preview_task.start(job)

    def _preview_progress(self, done: int, total: int, what: str) -> None:
        if self.state.preview is None and total:
            self.tab.dataset_page.preview.show_message(f"{what} ... {done:,} of {total:,}")

    def _preview_ready(self, result) -> None:
        scan, data = result
        if scan is not None:
            self._scans[scan.path] = scan
        self.state.set_preview(data)
        self.tab.dataset_page.preview.set_data(data)
        self._preview_shape_changed()

    def _preview_failed(self, failure: TaskFailure) -> None:
        self.state.set_preview_failed(failure.message)
        self.tab.dataset_page.preview.show_message(
            f"<span style='color:#b00020'><b>This dataset cannot be used:</b> {failure.message}</span>"
        )
        self.tab._show_state()

    def _preview_shape_changed(self) -> None:
        self.request_summary()
        self.tab._show_state()

    # -- the model summary -----------------------------------------------------------------------
    def check_model_input(self) -> str | None:
        """A sentence when the chosen model cannot take the dataset's images, else None."""
        from core import models

        name, options = self.state.model_to_build()
        shape = self.tab.input_shape()
        if not name or shape is None or name == "auto":
            return None
        try:
            models.check_input(name, shape, options)
        except ModelError as exc:
            return str(exc)
        return None

    def request_summary(self, immediately: bool = False) -> None:
        if not self.state.populated:
            return
        problem = self.state.model_problem = self.check_model_input()
        self.tab.model_page.show_problem(problem)
        if problem:
            self._summary_timer.stop()
            self.summary_task.cancel()
        elif immediately:
            self._summary_timer.stop()
            self._start_summary()
        else:
            self._summary_timer.start()
        self.tab._show_state()

    def _start_summary(self) -> None:
        state, view = self.state, self.tab.model_page.summary
        name, options = state.model_to_build()
        if not name or name not in state.specs:
            return
        key = state.summary_key(self.tab.input_shape())
        if key is None or name == "auto":
            self.summary_task.cancel()
            view.set_pending("The summary appears when the dataset's image size is known.")
            return
        _, shape, classes, _ = key
        if key in self._summary_cache:
            self.summary_task.cancel()
            self._show_summary(key, self._summary_cache[key])
            return
        if not state.tf_ready:
            self.summary_task.cancel()
            view.set_pending("The summary appears once TensorFlow has loaded ...")
            return
        if state.running:
            return  # one TensorFlow job at a time: the summary is built after the run
        if self.summary_task.running and self._summary_building == key:
            return
        h, w, c = shape
        view.set_pending(f"Building {state.specs[name].title} for {h}×{w}×{c} images ...")

        def job(reporter, cancel):
            from core import models

            model = models.build_model(name, tuple(shape), int(classes), options=options)
            try:
                return models.model_summary(model)
            finally:
                del model

        self._summary_building = key
        self.summary_task.start(job, on_done=lambda summary: self._summary_ready(key, summary))

    def _summary_ready(self, key: tuple, summary: dict) -> None:
        self._summary_cache[key] = summary
        self._show_summary(key, summary)

    def _summary_failed(self, failure: TaskFailure) -> None:
        self.tab.model_page.summary.set_problem(failure.message)

    def _show_summary(self, key: tuple, summary: dict) -> None:
        name, (h, w, c), classes, _ = key
        self.params_text = f"{int(summary['total']):,} parameters at {h}x{w}x{c}"
        self._show_headline()
        title = self.state.specs[name].title
        self.tab.model_page.summary.set_summary(summary, f"{title} for {h}×{w}×{c} images and {classes} classes:")

    def forget_params(self) -> None:
        """The model or its options changed: the parameter count is unknown until the next summary."""
        self.params_text = ""
        self._show_headline()

    def _show_headline(self) -> None:
        spec = self.state.specs.get(self.state.get("model"))
        if spec is not None:
            self.tab.model_page.show_headline(spec, self.params_text)

    def shutdown(self) -> None:
        self._preview_timer.stop()
        self._summary_timer.stop()
        self.preview_jobs.shutdown(30_000)
