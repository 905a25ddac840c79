"""The setup panel: the baseline, the factors and their values, the design, the budget, jobs, pruner and
storage, and how many trials that makes. It draws what the tab's state holds and forwards edits."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.studies.plan import DESIGN_TITLES, DESIGNS, OBJECTIVES, PRUNERS
from gui.experiments.state import OBJECTIVE_TITLES, PRUNER_TITLES, ExperimentsState, Preview, candidates, value_text
from gui.widgets.run_format import format_setting, setting_label

DESIGN_TIPS = {
    "ofat": "The baseline, then each factor's values one at a time with everything else at the baseline "
    "(the seeds' tables). Lists of values only.",
    "grid": "Every combination of the factors' values. Lists of values only.",
    "random": "Values drawn at random from the lists or ranges; needs a number of trials or a time budget.",
    "tpe": "Optuna's TPE: each new trial's values are chosen from how the earlier ones did (Bayesian); "
    "needs a number of trials or a time budget.",
}
BASELINE_KEYS = ("dataset", "model", "model_options", "optimizer", "learning_rate", "batch_size", "limit")


class SetupPanel(QWidget):
    """Edits go out as signals; :meth:`show_state` fills the widgets from the state."""

    changed = Signal(str, object)  # field of the state (name, design, trials, ...), value
    baseline_changed = Signal(str, object)  # a baseline setting (epochs, limit), value
    add_factor = Signal(str, str)  # key, values text
    remove_factor = Signal(str)
    open_file = Signal()
    use_train_settings = Signal()
    start = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filling = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)

        # -- baseline
        base = QGroupBox("Baseline")
        bl = QVBoxLayout(base)
        self.baseline_label = QLabel()
        self.baseline_label.setWordWrap(True)
        self.baseline_label.setTextFormat(Qt.TextFormat.RichText)
        self.baseline_label.setToolTip("Every trial starts from these settings and changes only its factors' values.")
        buttons = QHBoxLayout()
        self.train_button = QPushButton("Use the Train tab's settings")
        self.train_button.setToolTip("Take the dataset, model and hyper-parameters of the Train tab as the baseline.")
        self.train_button.clicked.connect(self.use_train_settings)
        self.file_button = QPushButton("Open study file...")
        self.file_button.setToolTip(
            "Load a study file (TOML): one of the ready-made studies in resources/studies or your own copy."
        )
        self.file_button.clicked.connect(self.open_file)
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.file_button)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10_000)
        self.epochs.setToolTip("Epochs each trial trains (the pruner may stop a trial earlier).")
        self.epochs.valueChanged.connect(lambda v: self._emit_base("epochs", v))
        self.limit = QSpinBox()
        self.limit.setRange(0, 10_000_000)
        self.limit.setSingleStep(500)
        self.limit.setSpecialValueText("all images")
        self.limit.setToolTip("Train each trial on at most this many images (quick studies); 'all images' for none.")
        self.limit.valueChanged.connect(lambda v: self._emit_base("limit", v or None))
        row = QFormLayout()
        row.addRow("Epochs per trial", self.epochs)
        row.addRow("Training images", self.limit)
        bl.addWidget(self.baseline_label)
        bl.addLayout(buttons)
        bl.addLayout(row)
        layout.addWidget(base)

        # -- factors
        fbox = QGroupBox("Factors: what to vary")
        fl = QVBoxLayout(fbox)
        pick = QHBoxLayout()
        self.key_box = QComboBox()
        # Entries hold the baseline's value (conv layers can be long): they do not widen the panel.
        self.key_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.key_box.setMinimumContentsLength(16)
        self.key_box.setToolTip("A hyper-parameter or an option of the baseline's model.")
        self.key_box.currentIndexChanged.connect(self._key_chosen)
        self.values_edit = QLineEdit()
        self.values_edit.setToolTip(
            "Values as a list (64,128,256) or, for random and TPE, a range LOW..HIGH (1e-4..1e-2:log for a log "
            "range). Values that hold commas go in brackets: [32x5,64x3],[16x3]. Add @OTHER=V to vary this only "
            "when another factor has value V (momentum 0,0.9@optimizer=sgd)."
        )
        self.values_edit.returnPressed.connect(self._add)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add this factor (or replace its values).")
        self.add_button.clicked.connect(self._add)
        pick.addWidget(self.values_edit, 1)
        pick.addWidget(self.add_button)
        self.factor_table = QTableWidget(0, 2)
        self.factor_table.setHorizontalHeaderLabels(["Factor", "Values"])
        self.factor_table.verticalHeader().hide()
        self.factor_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.factor_table.horizontalHeader().setStretchLastSection(True)
        self.factor_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.factor_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.factor_table.setMinimumHeight(120)
        self.factor_table.setToolTip("The study's factors. Click one to edit its values above.")
        self.factor_table.itemSelectionChanged.connect(self._factor_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected factor.")
        self.remove_button.clicked.connect(self._remove)
        fl.addWidget(self.key_box)
        fl.addLayout(pick)
        fl.addWidget(self.factor_table)
        fl.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignRight)
        layout.addWidget(fbox)

        # -- design, budget, how
        dbox = QGroupBox("Design and budget")
        form = QFormLayout(dbox)
        self.design = QComboBox()
        for d in DESIGNS:
            self.design.addItem(DESIGN_TITLES[d], d)
            self.design.setItemData(self.design.count() - 1, DESIGN_TIPS[d], Qt.ItemDataRole.ToolTipRole)
        self.design.setToolTip("How the trials are chosen (hover over each for what it does).")
        self.design.currentIndexChanged.connect(lambda _i: self._emit("design", self.design.currentData()))
        self.trials = QSpinBox()
        self.trials.setRange(0, 100_000)
        self.trials.setSpecialValueText("all of the design")
        self.trials.setToolTip("random and TPE need a number (or a time budget); a grid runs its first N.")
        self.trials.valueChanged.connect(lambda v: self._emit("trials", v))
        self.budget = QLineEdit()
        self.budget.setPlaceholderText("none (e.g. 10m, 1h30m)")
        self.budget.setToolTip("Wall time after which no new trial starts (the running ones finish).")
        self.budget.textEdited.connect(lambda t: self._emit("time_budget", t))
        self.objective = QComboBox()
        for o in OBJECTIVES:
            self.objective.addItem(OBJECTIVE_TITLES[o], o)
        self.objective.setToolTip(
            "What trials are compared by (the best epoch's value). Test accuracy is always recorded."
        )
        self.objective.currentIndexChanged.connect(lambda _i: self._emit("objective", self.objective.currentData()))
        self.pruner = QComboBox()
        for p in PRUNERS:
            self.pruner.addItem(PRUNER_TITLES[p], p)
        self.pruner.setToolTip(
            "Stop unpromising trials early: median stops a trial whose objective is below the median of earlier "
            "trials at the same epoch; Hyperband compares them in rounds. A pruned trial is shown as pruned."
        )
        self.pruner.currentIndexChanged.connect(lambda _i: self._emit("pruner", self.pruner.currentData()))
        self.jobs = QSpinBox()
        self.jobs.setRange(1, 64)
        self.jobs.setToolTip("Trials trained at once, each in its own process (they share the CPU's threads).")
        self.jobs.valueChanged.connect(lambda v: self._emit("jobs", v))
        self.name = QLineEdit()
        self.name.setPlaceholderText("automatic (model-dataset-design-time)")
        self.name.setToolTip("The study's name: the same name and settings continue a study.")
        self.name.textEdited.connect(lambda t: self._emit("name", t))
        self.storage = QLineEdit()
        self.storage.setPlaceholderText("a journal file in the study's folder")
        self.storage.setToolTip(
            "Where the study lives. Empty: a file in the workspace's studies folder. A database URL "
            "(sqlite:///FILE, postgresql://..., mysql://...) or grpc://HOST:PORT lets other machines join with "
            "python main.py sweep-worker NAME --storage URL."
        )
        self.storage.textEdited.connect(lambda t: self._emit("storage", t))
        form.addRow("Design", self.design)
        form.addRow("Trials", self.trials)
        form.addRow("Time budget", self.budget)
        form.addRow("Objective", self.objective)
        form.addRow("Pruner", self.pruner)
        form.addRow("Jobs", self.jobs)
        form.addRow("Name", self.name)
        form.addRow("Storage", self.storage)
        layout.addWidget(dbox)

        self.preview_label = QLabel()
        self.preview_label.setWordWrap(True)
        self.preview_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.start_button = QPushButton("Start study")
        self.start_button.setToolTip("Run the trials in worker processes; the table and plots fill as they finish.")
        self.start_button.clicked.connect(self.start)
        layout.addStretch(1)
        # Below the scrolling form, always in sight: how many trials, or why not, and Start.
        self.footer = QWidget()
        foot = QVBoxLayout(self.footer)
        foot.setContentsMargins(0, 4, 4, 0)
        foot.addWidget(self.preview_label)
        foot.addWidget(self.start_button)

    # -- input ------------------------------------------------------------------------------------------
    def _emit(self, key: str, value) -> None:
        if not self._filling:
            self.changed.emit(key, value)

    def _emit_base(self, key: str, value) -> None:
        if not self._filling:
            self.baseline_changed.emit(key, value)

    def _add(self) -> None:
        key = self.key_box.currentData()
        if key:
            self.add_factor.emit(key, self.values_edit.text())

    def _remove(self) -> None:
        rows = self.factor_table.selectionModel().selectedRows()
        if rows:
            self.remove_factor.emit(self.factor_table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def _factor_selected(self) -> None:
        rows = self.factor_table.selectionModel().selectedRows()
        if not rows or self._filling:
            return
        key = self.factor_table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole)
        i = self.key_box.findData(key)
        if i >= 0:
            self.key_box.setCurrentIndex(i)
        self.values_edit.setText(self.factor_table.item(rows[0].row(), 1).text())

    def _key_chosen(self, _index: int) -> None:
        self.values_edit.setPlaceholderText(self.key_box.currentData(Qt.ItemDataRole.UserRole + 1) or "")

    # -- drawing ----------------------------------------------------------------------------------------
    def show_state(self, state: ExperimentsState, preview: Preview, enabled: dict[str, bool]) -> None:
        self._filling = True
        try:
            base = state.baseline
            shown = [
                f"{setting_label(k)}: {format_setting(k, base.get(k))}"
                for k in BASELINE_KEYS
                if k != "model_options" or base.get(k)
            ]
            self.baseline_label.setText(f"From {state.baseline_source}. " + "; ".join(shown) + ".")
            self.epochs.setValue(int(base.get("epochs") or 1))
            self.limit.setValue(int(base.get("limit") or 0))
            current = self.key_box.currentData()
            self.key_box.clear()
            for c in candidates(base):
                what = "option" if c.kind == "option" else "setting"
                self.key_box.addItem(f"{c.key}  ({what}, now {value_text(c.value)})", c.key)
                i = self.key_box.count() - 1
                self.key_box.setItemData(i, c.hint, Qt.ItemDataRole.UserRole + 1)
                self.key_box.setItemData(i, c.help or f"The {what} {c.key}.", Qt.ItemDataRole.ToolTipRole)
            i = self.key_box.findData(current)
            self.key_box.setCurrentIndex(max(0, i))
            self._key_chosen(0)
            self.factor_table.setRowCount(len(state.factors))
            for r, f in enumerate(state.factors):
                key = QTableWidgetItem(f.key)
                key.setData(Qt.ItemDataRole.UserRole, f.key)
                self.factor_table.setItem(r, 0, key)
                self.factor_table.setItem(r, 1, QTableWidgetItem(f.values))
            _select(self.design, state.design)
            self.trials.setValue(state.trials)
            if self.budget.text() != state.time_budget:
                self.budget.setText(state.time_budget)
            _select(self.objective, state.objective)
            _select(self.pruner, state.pruner)
            self.jobs.setValue(state.jobs)
            if self.name.text() != state.name:
                self.name.setText(state.name)
            if self.storage.text() != state.storage:
                self.storage.setText(state.storage)
        finally:
            self._filling = False
        color = "#2e7d32" if preview.ok else "#616161" if preview.info else "#c62828"
        self.preview_label.setStyleSheet(f"color: {color};")
        self.preview_label.setText(preview.text)
        self.start_button.setEnabled(enabled["start"])
        for w in (self.train_button, self.file_button, self.add_button, self.remove_button, self.factor_table):
            w.setEnabled(enabled["setup"])


def _select(box: QComboBox, data) -> None:
    i = box.findData(data)
    if i >= 0:
        box.setCurrentIndex(i)
