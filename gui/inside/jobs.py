"""The Inside tab's work, as plain ``job(reporter, cancel)`` functions (no Qt), and its list of sources.

Everything that touches TensorFlow or scikit-learn runs here, on the main window's
:class:`~gui.workers.JobRunner` through the tab's :class:`~gui.tasks.TaskSlot` s: opening a source,
embedding a layer's features (t-SNE or PCA), and one layer's activations for one image.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from core.errors import WorkbenchError
from gui.inside.state import METHODS, ActivationRequest, Opened, Source

log = logging.getLogger(__name__)


def list_sources(workspace: Path | None) -> list[Source]:
    """The workspace's runs that have a test-set evaluation and a model, then the shipped models."""
    from core import gallery

    sources: list[Source] = []
    try:
        entries = gallery.run_entries(workspace)
    except Exception:  # noqa: BLE001 - an unreadable workspace still leaves the shipped models
        log.warning("Cannot list the runs of %s", workspace, exc_info=True)
        entries = []
    for entry in entries:
        if entry.viewable and (Path(entry.path) / "model.keras").exists():
            sources.append(Source("run", Path(entry.path), entry.label))
    for shipped in gallery.shipped_models():
        sources.append(Source("model", shipped.path, f"{shipped.title} (shipped model)"))
    return sources


def open_source(source: Source, workspace: Path | None, reporter, cancel, layer: str, methods: list[str]) -> Opened:
    """Load a source's test set and model, list its layers, and look up cached embeddings of ``layer``."""
    from core import activations, features, gallery, runs
    from core.inference import load_model

    if source.kind == "run":
        data = gallery.load_run(source.path, reporter=reporter, cancel=cancel, workspace=workspace)
        config = runs.read_run(source.path).config or {}
        if data.model_path is None:
            raise WorkbenchError(f"Run {source.path.name} has no saved model (model.keras) to look inside.")
        reporter.on_progress(0, 0, f"Loading {data.model_path.name}")
        loaded = load_model(data.model_path)
    else:
        data = gallery.evaluate_model_file(source.path, reporter=reporter, cancel=cancel)
        loaded = data.loaded_model or load_model(source.path)
        config = dict((loaded.card or {}).get("hyperparameters") or {})
    opened = Opened(
        source,
        data,
        loaded,
        features.feature_layers(loaded.model),
        activations.layer_choices(loaded.model),
        config=config,
    )
    for method in methods:
        found = features.lookup_embedding(data, layer, method)
        if found is not None:
            opened.cached[(layer, method, 2)] = found
    return opened


def embed_job(
    opened: Opened,
    layer: str,
    method: str,
    dims: int,
    compare_source: Source | None,
    compare_opened: Opened | None,
    workspace: Path | None,
):
    """A job embedding ``layer`` of ``opened`` (and of the compared source, opened first if need be).

    Returns ``[(opened, embedding), (compare_opened, embedding)?]``.
    """

    def job(reporter, cancel) -> list[tuple[Opened, Any]]:
        from core import features

        # The same features and seed give the same picture, so a still-valid cache is used as is.
        first = features.compute_embedding(
            opened.data, opened.loaded.model, layer, method, dims=dims, reporter=reporter, cancel=cancel
        )
        results = [(opened, first)]
        if compare_source is not None:
            other = compare_opened
            if other is None or other.source.path != compare_source.path:
                methods = [method, *[m for m in METHODS if m != method]]
                other = open_source(compare_source, workspace, reporter, cancel, layer, methods)
            if layer not in other.feature_layers:
                raise WorkbenchError(
                    f"The run to compare with has no layer called '{layer}'; choose 'features' to compare "
                    "two different architectures."
                )
            second = features.compute_embedding(
                other.data, other.loaded.model, layer, method, dims=dims, reporter=reporter, cancel=cancel
            )
            results.append((other, second))
        return results

    return job


def activations_job(request: ActivationRequest):
    """A job computing the activations ``request`` asks for; returns ``(layer, values)``."""

    def job(reporter, cancel):
        from core.activations import activations

        return request.layer, activations(request.model, request.image, request.layer)

    return job
