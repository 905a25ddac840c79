"""The model picker of the Predict tab: shipped models, every run of the workspace, opened files.

One row per model with what its card says: architecture (a run: its label from
:func:`core.labels.run_labels`, the run's name or what sets it apart, and its date), dataset, test
accuracy, and where it comes from. Selecting one row chooses the model; selecting several (Ctrl+click, Shift+click)
chooses an ensemble of them. Files opened with "Open .keras file..." (or dropped on the tab) are
remembered between launches once they have loaded. Listing reads only JSON cards, never a model: no TensorFlow needed.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QStyle,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import cards, labels, paths, runs
from core.errors import WorkbenchError
from core.inference import MODEL_SUFFIXES

SETTINGS_TAB = "predict"
OPENED_KEY = "opened_models"  # in the Predict tab's settings: files opened with "Open .keras file..."
MAX_OPENED = 20
SOURCE_ORDER = {"shipped": 0, "run": 1, "file": 2}
PATH_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass
class ModelEntry:
    """A model file the picker lists, described from its card (no model is loaded to list it)."""

    path: Path
    source: str  # "shipped", "run" or "file"
    title: str
    dataset: str = ""
    accuracy: float | None = None
    detail: str = ""  # run name and state, or the folder
    card: dict[str, Any] | None = None
    problem: str | None = None

    @property
    def classes(self) -> int | None:
        names = (self.card or {}).get("class_names")
        return len(names) if isinstance(names, list) else None


def _label(entry: Any) -> str:
    if isinstance(entry, dict):
        return str(entry.get("title") or entry.get("name") or "")
    return str(entry or "")


def describe(path: Path, source: str, detail: str = "", fallback: dict[str, Any] | None = None) -> ModelEntry:
    """A :class:`ModelEntry` from the card beside ``path`` (``fallback``: a run's config and metrics)."""
    card = problem = None
    try:
        card = cards.read_card(path)
    except WorkbenchError as exc:
        problem = str(exc)
    fallback = fallback or {}
    title = _label((card or {}).get("architecture")) or str(fallback.get("model") or "") or path.stem
    dataset = _label((card or {}).get("dataset")) or str(fallback.get("dataset") or "")
    accuracy = ((card or {}).get("metrics") or {}).get("test_accuracy")
    if accuracy is None:
        accuracy = fallback.get("test_accuracy")
    try:
        accuracy = None if accuracy is None else float(accuracy)
    except (TypeError, ValueError):
        accuracy = None
    if card is None and problem is None:
        problem = "no model card: the app will ask for the class names"
    return ModelEntry(path, source, title, dataset, accuracy, detail, card, problem)


def list_entries(workspace: Path | None = None, opened: list[str] | None = None) -> list[ModelEntry]:
    """Shipped models, then runs (newest first) that saved a model, then opened files that still exist."""
    entries: list[ModelEntry] = []
    seen: set[str] = set()

    def add(entry: ModelEntry) -> None:
        key = str(entry.path.resolve())
        if key not in seen:
            seen.add(key)
            entries.append(entry)

    if paths.WEIGHTS_DIR.is_dir():
        for p in sorted(paths.WEIGHTS_DIR.iterdir()):
            if p.suffix.lower() in MODEL_SUFFIXES and p.is_file():
                add(describe(p, "shipped", "shipped with the app"))
    try:
        run_list = runs.list_runs(workspace)
    except (OSError, WorkbenchError):
        run_list = []
    with_model = [run for run in run_list if run.model_path.is_file()]
    for run, label in zip(with_model, labels.run_labels(with_model, accuracy=False), strict=True):
        fallback = {
            "model": run.config.get("model"),
            "dataset": run.config.get("dataset"),
            "test_accuracy": run.metrics.get("accuracy", run.status.get("test_accuracy")),
        }
        entry = describe(run.model_path, "run", f"run {run.name} ({run.state})", fallback)
        entry.title = label  # the one run formatter (core.labels): name or what differs, and date
        add(entry)
    for name in opened or []:
        p = Path(name)
        if p.exists():
            add(describe(p, "file", str(p.parent)))
    return entries


class _Item(QTreeWidgetItem):
    """Sorts by a hidden key (accuracy as a number, sources in a fixed order), not by the text."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(column, SORT_ROLE), other.data(column, SORT_ROLE)
        if a is None or b is None:
            return super().__lt__(other)
        return a < b


class ModelPicker(QWidget):
    """A list of models; one selected = that model, several = an ensemble (``selection_changed``)."""

    selection_changed = Signal(list)  # list[Path], debounced
    card_requested = Signal(object)  # Path: show the model card

    def __init__(self, settings, *, workspace: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.workspace = workspace
        self.entries: list[ModelEntry] = []
        self._problems: dict[str, str] = {}
        self._populated = False
        self._last_emitted: list[Path] | None = None
        self._session_files: list[str] = []  # opened this session, listed; remembered once they load

        self.tree = QTreeWidget()
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Model", "Dataset", "Test acc.", "From"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(3, Qt.SortOrder.AscendingOrder)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.setToolTip(
            "Click a model to predict with it. Ctrl+click or Shift+click several models with the same classes "
            "to combine them into an ensemble (their probabilities are averaged)."
        )
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(1, 105)
        for c in (2, 3):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setAcceptDrops(False)  # drops go to the tab, which knows model files from images

        style = self.style()
        open_icon = style.standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton)
        self.open_button = QPushButton(open_icon, "Open .keras file…")
        self.open_button.setToolTip("Add a saved Keras model (.keras) from anywhere to this list and use it (Ctrl+M).")
        self.refresh_button = QPushButton(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload), "Refresh")
        self.refresh_button.setToolTip("List the runs of the workspace again, with any finished since (F5).")
        self.refresh_button.clicked.connect(self.refresh)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)

        self.hint = QLabel("Ctrl+click several models with the same classes to predict with their ensemble.")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(placeholder-text)")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.hint)
        layout.addLayout(buttons)

        self._debounce = QTimer(self, singleShot=True, interval=120)
        self._debounce.timeout.connect(self._emit_selection)
        self.tree.itemSelectionChanged.connect(self._debounce.start)

    # ==========================================================================================

    @property
    def populated(self) -> bool:
        return self._populated

    def opened_files(self) -> list[str]:
        files = self.settings.tab_value(SETTINGS_TAB, OPENED_KEY, [], list)
        return [str(f) for f in files if isinstance(f, str)]

    def remember_files(self, used: list[Path]) -> None:
        """Remember the opened files among ``used`` (models that loaded) for the next launch.

        A file is listed at once when opened or dropped, but remembered only once it worked: a
        broken file is not in the list after a restart.
        """
        known = set(self._session_files) | set(self.opened_files())
        names = [str(p) for p in used if str(p) in known]
        if not names:
            return
        files = names + [f for f in self.opened_files() if f not in names]
        self.settings.set_tab_state(SETTINGS_TAB, {OPENED_KEY: files[:MAX_OPENED]})

    def forget_file(self, path: Path) -> None:
        """Do not list ``path`` after a restart (it stays listed now, with its problem)."""
        if str(path) in self.opened_files() or str(path) in self._session_files:
            self._forget(path)
            if self.entry(path) is not None and str(path) not in self._session_files:
                self._session_files.append(str(path))  # listed until the app closes

    def _forget(self, path: Path) -> None:
        files = [f for f in self.opened_files() if f != str(path)]
        self.settings.set_tab_state(SETTINGS_TAB, {OPENED_KEY: files})
        self._session_files = [f for f in self._session_files if f != str(path)]

    def restore_selection(self, paths: list[Path]) -> None:
        """Select ``paths`` again without announcing it (a refused choice gave way to the models in use)."""
        self.select_paths(paths, emit=False)
        self._debounce.stop()
        self._last_emitted = self.selected_paths()

    def refresh(self) -> None:
        """List the models again, keeping the selection."""
        selected = self.selected_paths()
        opened = self.opened_files()
        self.entries = list_entries(self.workspace, opened + [f for f in self._session_files if f not in opened])
        self.tree.blockSignals(True)
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        for e in self.entries:
            self.tree.addTopLevelItem(self._make_item(e))
        self.tree.setSortingEnabled(True)
        self.tree.blockSignals(False)
        self._populated = True
        if selected:
            self.select_paths(selected, emit=False)

    def _make_item(self, e: ModelEntry) -> QTreeWidgetItem:
        acc = "" if e.accuracy is None else f"{100 * e.accuracy:.1f} %"
        source = {"shipped": "shipped", "run": "run", "file": "file"}[e.source]
        item = _Item([e.title, e.dataset, acc, source])
        item.setData(0, PATH_ROLE, str(e.path))
        item.setData(0, SORT_ROLE, e.title.casefold())
        item.setData(1, SORT_ROLE, e.dataset.casefold())
        item.setData(2, SORT_ROLE, -1.0 if e.accuracy is None else e.accuracy)
        # Shipped first, then runs newest first, then files.
        stamp = e.detail if e.source == "run" else ""
        item.setData(3, SORT_ROLE, (SOURCE_ORDER[e.source], _reverse(stamp), e.title.casefold()))
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lines = [f"<b>{_esc(e.title)}</b>", _esc(str(e.path)), _esc(e.detail)]
        if e.card:
            shape = e.card.get("input_shape") or []
            lines.append(f"input {' × '.join(map(str, shape))}, {e.classes} classes")
            created = e.card.get("created")
            if created:
                lines.append(f"saved {_esc(_short_date(created))}")
        problem = self._problems.get(str(e.path)) or e.problem
        if problem:
            lines.append(f"<i>{_esc(problem)}</i>")
        tip = "<br>".join(x for x in lines if x)
        for c in range(4):
            item.setToolTip(c, tip)
        if str(e.path) in self._problems:
            item.setIcon(0, self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning))
        return item

    def _items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def selected_paths(self) -> list[Path]:
        """The selected models, in list order (the first is the ensemble's reference)."""
        chosen = {id(i) for i in self.tree.selectedItems()}
        return [Path(i.data(0, PATH_ROLE)) for i in self._items() if id(i) in chosen]

    def select_paths(self, wanted: list[Path] | list[str], *, emit: bool = True) -> bool:
        """Select these models (adding files that are not listed yet); False if none could be found."""
        keys = {_key(p) for p in wanted}
        listed = {_key(i.data(0, PATH_ROLE)) for i in self._items()}
        for p in wanted:
            if _key(p) not in listed and Path(p).is_file():
                self.add_file(p, select=False)
        self.tree.blockSignals(True)
        self.tree.clearSelection()
        first = None
        for item in self._items():
            if _key(item.data(0, PATH_ROLE)) in keys:
                item.setSelected(True)
                first = first or item
        if first is not None:
            self.tree.setCurrentItem(first, 0, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.tree.scrollToItem(first)
        self.tree.blockSignals(False)
        if emit:
            self._debounce.stop()
            self._emit_selection()
        return first is not None

    def add_file(self, path: str | Path, *, select: bool = True) -> None:
        """List a model file opened by the user and select it (remembered between launches once it loads)."""
        path = Path(path).expanduser().resolve()
        if str(path) not in self._session_files:
            self._session_files.append(str(path))  # remembered once it loads (remember_files)
        self.settings.set_last_dir("models", str(path.parent))
        if not any(_key(i.data(0, PATH_ROLE)) == _key(path) for i in self._items()):
            entry = describe(path, "file", str(path.parent))
            self.entries.append(entry)
            self.tree.blockSignals(True)
            self.tree.addTopLevelItem(self._make_item(entry))
            self.tree.blockSignals(False)
        if select:
            self.select_paths([path])

    def set_problem(self, path: Path, message: str | None) -> None:
        """Mark a model that could not be used (a warning icon and the reason in its tooltip)."""
        if message:
            self._problems[str(path)] = message
        else:
            self._problems.pop(str(path), None)
        for item in self._items():
            if _key(item.data(0, PATH_ROLE)) == _key(path):
                entry = next((e for e in self.entries if _key(e.path) == _key(path)), None)
                if entry is None:
                    continue
                fresh = self._make_item(entry)
                item.setIcon(0, fresh.icon(0))
                for c in range(4):
                    item.setToolTip(c, fresh.toolTip(c))

    def entry(self, path: Path) -> ModelEntry | None:
        return next((e for e in self.entries if _key(e.path) == _key(path)), None)

    def _emit_selection(self) -> None:
        selected = self.selected_paths()
        if selected and selected != self._last_emitted:
            self._last_emitted = selected
            self.selection_changed.emit(selected)
        n = len(selected)
        self.hint.setText(
            f"Ensemble of {n} models: their probabilities are averaged."
            if n > 1
            else "Ctrl+click several models with the same classes to predict with their ensemble."
        )

    def forget_emitted(self) -> None:
        """Let the next selection (even an unchanged one) be announced again (after a failed load)."""
        self._last_emitted = None

    # -- context menu ---------------------------------------------------------------------------

    def _context_menu(self, pos: QPoint) -> None:
        item = self.tree.itemAt(pos)
        if item is None:
            return
        path = Path(item.data(0, PATH_ROLE))
        entry = self.entry(path)
        menu = QMenu(self)
        menu.addAction("Show model card…", lambda: self.card_requested.emit(path))
        menu.addAction("Show in folder", lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))))
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(str(path)))
        if entry is not None and entry.source == "file":
            menu.addSeparator()
            menu.addAction("Remove from this list", lambda: self._remove(path))
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _remove(self, path: Path) -> None:
        self._forget(path)
        self.refresh()


def _key(p: str | Path) -> str:
    try:
        return str(Path(p).expanduser().resolve())
    except OSError:
        return str(p)


def _esc(text: str) -> str:
    import html

    return html.escape(str(text))


def _reverse(text: str) -> str:
    """A sort key that orders strings backwards (newest run names first)."""
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


def _short_date(iso: str) -> str:
    try:
        return _dt.datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return str(iso)
