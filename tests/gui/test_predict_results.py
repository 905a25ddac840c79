"""The Predict tab's results model: chunks appended, sorted by the model itself, selection kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QItemSelectionModel, QModelRoleData, QModelRoleDataSpan, Qt

from core.ensemble import SourceResult
from gui.predict.results_model import COL_CONF, COL_FILE, RESULT_ROLE, SORT_ROLE, ResultsModel

NAMES = ["cat", "dog", "bird"]


def _results(confidences: list[float | None], start: int = 0) -> list[SourceResult]:
    """One result per confidence (its top class "cat"); None: a file that could not be read."""
    out = []
    for i, c in enumerate(confidences, start):
        if c is None:
            out.append(SourceResult(source=Path(f"f{i}.png"), error="not an image file"))
            continue
        probs = np.array([c, (1 - c) * 0.6, (1 - c) * 0.4], np.float32)
        top = [(NAMES[j], float(probs[j])) for j in np.argsort(-probs, kind="stable")]
        out.append(
            SourceResult(source=Path(f"f{i}.png"), top=top, probs=probs, member_probs=probs[None], thumbnail=None)
        )
    return out


def _column(model: ResultsModel, column: int, role=Qt.ItemDataRole.DisplayRole) -> list:
    return [model.index(r, column).data(role) for r in range(model.rowCount())]


def test_chunks_are_one_insert_each_and_pass_the_model_tester(qtmodeltester):
    model = ResultsModel()
    model.set_models(NAMES, 1)
    inserts: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserts.append((first, last)))
    model.add(_results([0.9, 0.5, None]))
    model.add(_results([0.7, None], start=3))
    model.add([])
    assert inserts == [(0, 2), (3, 4)]
    assert model.rowCount() == 5 and model.ok_count == 3
    assert _column(model, COL_FILE) == [f"f{i}.png" for i in range(5)]
    qtmodeltester.check(model, force_py=True)
    model.sort(COL_CONF, Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(model, force_py=True)


def test_sorting_keeps_new_rows_in_order_and_the_selection_on_its_image(qtbot):
    from PySide6.QtWidgets import QTableView

    model = ResultsModel()
    model.set_models(NAMES, 1)
    model.add(_results([0.6, None, 0.9, 0.5]))
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSortingEnabled(True)
    view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
    view.selectionModel().setCurrentIndex(
        model.index(2, COL_FILE),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    chosen = view.currentIndex().data(RESULT_ROLE)
    assert chosen.name == "f2.png"

    view.sortByColumn(COL_CONF, Qt.SortOrder.DescendingOrder)
    assert _column(model, COL_FILE) == ["f2.png", "f0.png", "f3.png", "f1.png"]  # the failed file last
    assert view.currentIndex().data(RESULT_ROLE) is chosen and view.currentIndex().row() == 0

    # Rows that arrive while sorted take their places; the chosen image stays chosen.
    model.add(_results([0.95, 0.55, None], start=4))
    assert _column(model, COL_FILE) == ["f4.png", "f2.png", "f0.png", "f5.png", "f3.png", "f1.png", "f6.png"]
    confidences = _column(model, COL_CONF, SORT_ROLE)
    assert confidences == sorted(confidences, reverse=True)
    assert view.currentIndex().data(RESULT_ROLE) is chosen and view.currentIndex().row() == 1
    assert [r.name for r in model.results] == [f"f{i}.png" for i in range(7)]  # arrival order (the CSV)

    view.sortByColumn(COL_CONF, Qt.SortOrder.AscendingOrder)
    assert _column(model, COL_FILE)[:3] == ["f1.png", "f6.png", "f3.png"]  # ties keep arrival order
    model.sort(-1)
    assert _column(model, COL_FILE) == [f"f{i}.png" for i in range(7)]
    assert view.currentIndex().data(RESULT_ROLE) is chosen

    # A new batch in a sorted table is sorted too.
    view.sortByColumn(COL_CONF, Qt.SortOrder.DescendingOrder)
    model.clear()
    assert model.rowCount() == 0 and model.ok_count == 0
    model.add(_results([0.2, 0.8]))
    assert _column(model, COL_FILE) == ["f1.png", "f0.png"]


def _mixed_model(cls=ResultsModel) -> ResultsModel:
    model = cls()
    model.set_models(NAMES, 2)
    results = _results([0.9, None, 0.4, 0.7])
    results[0].thumbnail = np.full((28, 28, 1), 200, np.uint8)
    results[2].thumbnail = np.zeros((20, 30, 3), np.uint8)
    model.add(results)
    model.sort(COL_CONF, Qt.SortOrder.AscendingOrder)  # view rows differ from arrival order
    return model


def test_multidata_gives_what_data_gives():
    model = _mixed_model()
    roles = [*range(11), SORT_ROLE, RESULT_ROLE]
    # One role data per role for every cell, reused as a delegate reuses its span: a role without
    # data in this cell must not keep what the last cell had.
    held = {role: QModelRoleData(role) for role in roles}
    for row in range(model.rowCount()):
        for column in range(model.columnCount()):
            index = model.index(row, column)
            for role in roles:
                model.multiData(index, QModelRoleDataSpan(held[role]))
                assert held[role].data() == index.data(role), (row, column, role)


def test_the_table_looks_the_same_as_with_one_call_per_role(qtbot):
    from PySide6.QtCore import QAbstractItemModel, QSize
    from PySide6.QtWidgets import QTableView

    class OneCallPerRole(ResultsModel):
        def multiData(self, index, roleDataSpan) -> None:  # noqa: N802, N803 - Qt signature
            QAbstractItemModel.multiData(self, index, roleDataSpan)  # Qt's own: data() for each role

    shots = []
    for model in (_mixed_model(), _mixed_model(OneCallPerRole)):
        view = QTableView()
        qtbot.addWidget(view)
        view.setModel(model)
        view.setIconSize(QSize(36, 36))
        view.resize(900, 300)
        view.show()
        qtbot.waitExposed(view)
        shots.append(view.grab().toImage())
    assert shots[0] == shots[1]
