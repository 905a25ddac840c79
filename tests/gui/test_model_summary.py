"""The model summary table: whole layer names, all four columns in view on the Model page's width."""

from __future__ import annotations

from gui.train.model_summary import ModelSummaryView, format_shape


def resnet_like_rows(n: int = 40) -> list[dict]:
    rows = [{"name": "pixels", "type": "InputLayer", "output_shape": "(None, 28, 28, 1)", "params": 0}]
    for i in range(n):
        block = f"stage{i // 12 + 1}_block{i % 6 + 1}"
        rows.append({"name": f"{block}_conv2_relu", "type": "ReLU", "output_shape": "(None, 28, 28, 16)", "params": 0})
        bn = {"name": f"{block}_conv1_bn", "type": "BatchNormalization", "output_shape": "(None, 28, 28, 64)"}
        rows.append({**bn, "params": 256})
    rows.append({"name": "predictions", "type": "Dense", "output_shape": "(None, 10)", "params": 1_290})
    return rows


def test_layer_names_are_shown_whole_and_every_column_is_in_view(qtbot):
    view = ModelSummaryView()
    qtbot.addWidget(view)
    view.resize(440, 500)  # the Model page's summary at a 1280 px wide window
    view.show()
    rows = resnet_like_rows()
    view.set_summary({"rows": rows, "total": 1, "trainable": 1, "non_trainable": 0}, "ResNet")
    qtbot.waitUntil(lambda: view.table.horizontalHeader().sectionSize(0) > 0)
    header, metrics = view.table.horizontalHeader(), view.table.fontMetrics()
    longest = max(metrics.horizontalAdvance(r["name"]) for r in rows)
    assert header.sectionSize(0) >= longest + 6  # the whole name and the cell's margins
    shape_width = max(metrics.horizontalAdvance(format_shape(r["output_shape"])) for r in rows)
    assert header.sectionSize(2) >= shape_width + 6
    right = header.sectionViewportPosition(3) + header.sectionSize(3)
    assert right <= view.table.viewport().width()  # the parameter counts are in view, no scrolling
    assert view.model.index(1, 1).data(3) == "ReLU"  # a type cut short has its tooltip (3: ToolTipRole)


def test_shapes_leave_out_the_batch_dimension():
    assert format_shape("(None, 28, 28, 16)") == "(28, 28, 16)"
    assert format_shape("[(None, 8), (None, 4)]") == "[(8,), (4,)]"
    assert format_shape([None, 10]) == "(10,)" and format_shape("(None, 10)") == "(10,)"
