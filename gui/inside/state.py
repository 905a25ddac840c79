"""What the Inside tab is doing, in plain Python: no Qt, no TensorFlow (tests/gui/test_inside_state.py).

The tab's choices (the source and the run to compare with; the feature layer, method and 3-D;
the image and layer whose activations are shown), what is open and computed (the opened
sources, their cached embeddings, the thumbnails the scatter shows), and what is running. The
widgets in the pages only mirror this; :class:`~gui.inside.tab.InsideTab` writes the user's input
here and draws what it says.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

METHOD_ITEMS = (("t-SNE", "tsne"), ("PCA (fast)", "pca"))
METHODS = tuple(value for _, value in METHOD_ITEMS)
DEFAULT_LAYER = "features"
THUMBNAIL_SIDE = 96
MAX_THUMBNAILS = 512


@dataclass(frozen=True)
class Source:
    """Something with a test set to look inside: a run folder, or a model file with a card."""

    kind: str  # "run" or "model"
    path: Path
    label: str


@dataclass
class Opened:
    """A source loaded in a worker: its test set with images, its model, and its layers."""

    source: Source
    data: Any  # core.gallery.GalleryData
    loaded: Any  # core.inference.LoadedModel
    feature_layers: list[str]
    layer_choices: list[Any]  # core.activations.LayerChoice
    cached: dict[tuple[str, str, int], Any] = field(default_factory=dict)  # (layer, method, dims) -> Embedding
    config: dict[str, Any] = field(default_factory=dict)  # the run's TrainConfig (or the card's hyper-parameters)

    @property
    def loss_text(self) -> str:
        weight = self.config.get("center_loss_weight") or 0
        try:
            weight = float(weight)
        except (TypeError, ValueError):
            weight = 0.0
        return f"cross-entropy + centre loss (weight {weight:g})" if weight > 0 else "cross-entropy"

    @property
    def key(self) -> str:
        return str(self.source.path)


@dataclass
class External:
    """An image handed over by another tab, with the model it was used with."""

    image: np.ndarray  # uint8 model input (H, W, C)
    model: Any  # keras.Model
    input_shape: tuple[int, int, int]
    class_names: list[str]
    title: str
    layer_choices: list[Any]


@dataclass(frozen=True, eq=False)
class ActivationRequest:
    """What the activations job needs, taken when the request is made (later choices do not change it)."""

    model: Any  # keras.Model
    image: np.ndarray
    layer: str
    class_names: list[str]
    choice: Any  # core.activations.LayerChoice, or None

    @property
    def labels(self) -> list[str] | None:
        """Class names label the bars of the output layer only."""
        return list(self.class_names) if self.layer.split("/")[-1] == "predictions" else None


@dataclass(frozen=True)
class Controls:
    """Which controls can be used now."""

    compute: bool
    stop: bool
    layer: bool
    method: bool
    compare: bool
    row: bool
    act_layer: bool
    first_last_conv: bool
    dense: bool


class InsideState:
    """The Inside tab's choices, what is open and computed, and what is running."""

    def __init__(self, three_d_available: bool = False) -> None:
        self.sources: list[Source] = []
        # Feature space: the source, the compared run, the choice, what is drawn.
        self.opened: Opened | None = None
        self.compare_opened: Opened | None = None
        self.compare_path: str | None = None
        self.layer: str | None = None
        self.method = METHODS[0]
        self.three_d = False
        self.three_d_available = three_d_available
        self.embedding = None  # core.features.Embedding on the left plot
        self.compare_embedding = None
        # Activations: the image (a test image of the open run, or one from another tab) and layer.
        self.external: External | None = None
        self.image_source = "test"  # or "external"
        self.row = 0
        self.act_layer: str | None = None
        # What is running.
        self.opening: Path | None = None  # the source being opened
        self.embedding_running = False
        self._thumbs: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()

    # -- sources -------------------------------------------------------------------------------
    def set_sources(self, sources: Iterable[Source]) -> None:
        self.sources = list(sources)

    def source(self, path: str | Path | None) -> Source | None:
        if path is None:
            return None
        return next((s for s in self.sources if str(s.path) == str(path)), None)

    def source_for(self, path: str | Path, kind: str | None = None) -> tuple[Source, bool]:
        """The known source at ``path``, or a new one added to the list (``True`` when added)."""
        found = self.source(path)
        if found is not None:
            return found, False
        path = Path(path)
        kind = kind or ("run" if path.is_dir() else "model")
        source = Source(kind, path, path.name)
        self.sources.append(source)
        return source, True

    def default_source(self) -> Source | None:
        """What the tab opens when first shown with nothing chosen: the newest run (runs are listed
        newest first), else the first shipped model; None when something is open or opening."""
        if self.opened is not None or self.opening is not None or not self.sources:
            return None
        runs = [s for s in self.sources if s.kind == "run"]
        return (runs or self.sources)[0]

    def needs_open(self, source: Source | None) -> bool:
        """Choosing ``source`` opens it unless it is the one already open."""
        return source is not None and (self.opened is None or self.opened.source.path != source.path)

    def begin_open(self, source: Source) -> None:
        self.opened = None
        self.embedding = None
        self.opening = source.path

    def open_done(self, opened: Opened) -> None:
        self.opening = None
        self.opened = opened
        self._thumbs.clear()
        self.row = 0
        self.layer = self.layer if self.layer in opened.feature_layers else self._first(opened.feature_layers)
        if self.image_source == "test":
            self.act_layer = self.pick_act_layer(opened.layer_choices)

    def open_failed(self) -> None:
        self.opening = None

    @staticmethod
    def _first(items: Sequence[str]) -> str | None:
        return items[0] if items else None

    # -- feature space -------------------------------------------------------------------------
    @property
    def dims(self) -> int:
        return 3 if self.three_d and self.three_d_available else 2

    @property
    def embedding_key(self) -> tuple[str | None, str, int]:
        return self.layer, self.method, self.dims

    def open_layer(self) -> str:
        """The layer whose cached embeddings are looked up when a source opens."""
        return self.layer or DEFAULT_LAYER

    def lookup_order(self) -> list[str]:
        """Methods to look up in the cache when a source opens: the chosen one first."""
        return [self.method, *[m for m in METHODS if m != self.method]]

    def choose_compare(self, path: str | None) -> None:
        """Compare with the run at ``path`` (``None``: no comparison)."""
        self.compare_path = path or None
        if self.compare_path is None or (
            self.compare_opened is not None and str(self.compare_opened.source.path) != self.compare_path
        ):
            self.compare_opened = None
            self.compare_embedding = None

    def compare_source(self) -> Source | None:
        if not self.compare_path:
            return None
        return self.source_for(self.compare_path)[0]

    def begin_embedding(self) -> bool:
        """Start computing; False when there is nothing to compute (no source open, no layer)."""
        if self.opened is None or self.layer is None:
            return False
        self.embedding_running = True
        return True

    def embedding_ended(self) -> None:
        self.embedding_running = False

    def embedded(self, results: Sequence[tuple[Opened, Any]]) -> list[tuple[int, Opened, Any]]:
        """Keep computed embeddings; return what to draw as ``(side, opened, embedding)`` (0 left, 1 right).

        The first result is drawn only if its source is still the one open (another may have been
        opened while it was computed); it is cached either way.
        """
        self.embedding_running = False
        draw: list[tuple[int, Opened, Any]] = []
        for k, (opened, emb) in enumerate(results):
            opened.cached[(emb.layer, emb.method, emb.dims)] = emb
            if k == 0:
                if self.opened is not None and self.opened.source.path == opened.source.path:
                    self.embedding = emb
                    draw.append((0, opened, emb))
            else:
                self.compare_opened = opened
                self.compare_embedding = emb
                draw.append((1, opened, emb))
        return draw

    def same_rows(self) -> bool:
        """Both plots show the same test images in the same order (so a row means the same image)."""
        a, b = self.opened, self.compare_opened
        if a is None or b is None:
            return False
        return len(a.data) == len(b.data) and np.array_equal(a.data.test_index, b.data.test_index)

    def thumbnail(self, opened: Opened | None, row: int) -> np.ndarray | None:
        """A small picture of test image ``row`` of ``opened`` (kept in a bounded LRU cache)."""
        if opened is None or not opened.data.has_images:
            return None
        key = (opened.key, int(row))
        arr = self._thumbs.get(key)
        if arr is None:
            arr = opened.data.images.image(int(row), max_side=THUMBNAIL_SIDE)
            self._thumbs[key] = arr
            while len(self._thumbs) > MAX_THUMBNAILS:
                self._thumbs.popitem(last=False)
        else:
            self._thumbs.move_to_end(key)
        return arr

    # -- activations ---------------------------------------------------------------------------
    @property
    def using_external(self) -> bool:
        return self.image_source == "external" and self.external is not None

    def act_choices(self) -> list[Any]:
        if self.using_external:
            return list(self.external.layer_choices)
        return list(self.opened.layer_choices) if self.opened is not None else []

    def pick_act_layer(self, choices: Sequence[Any]) -> str | None:
        """Keep the chosen activations layer where ``choices`` has it, else the first convolution."""
        from core.activations import pick_layer

        if self.act_layer and any(c.name == self.act_layer for c in choices):
            return self.act_layer
        first = pick_layer(choices, "first_conv")
        if first is not None:
            return first.name
        return choices[0].name if choices else None

    def set_external(self, external: External) -> None:
        """Keep an image from another tab (then choose the ``"external"`` image source to show it)."""
        self.external = external

    def choose_image_source(self, kind: str) -> None:
        self.image_source = kind
        choices = self.act_choices()
        if choices:
            self.act_layer = self.pick_act_layer(choices)

    def shortcut_layer(self, which: str) -> str | None:
        """The layer a shortcut button means (``first_conv``, ``last_conv``, ``dense``), if any."""
        from core.activations import pick_layer

        chosen = pick_layer(self.act_choices(), which)
        return chosen.name if chosen is not None else None

    def activation_request(self) -> ActivationRequest | None:
        """The request for what is chosen now, or ``None`` when there is nothing to compute.

        Reading a test image may raise :class:`~core.errors.WorkbenchError` (a file gone).
        """
        layer = self.act_layer
        if layer is None:
            return None
        choice = next((c for c in self.act_choices() if c.name == layer), None)
        if self.using_external:
            ext = self.external
            return ActivationRequest(ext.model, ext.image, layer, ext.class_names, choice)
        opened = self.opened
        if opened is None or not opened.data.has_images:
            return None
        image = opened.data.images.model_input(self.row, opened.loaded.input_shape)
        return ActivationRequest(opened.loaded.model, image, layer, opened.data.class_names, choice)

    # -- what can be used ----------------------------------------------------------------------
    def controls(self) -> Controls:
        computing = self.embedding_running
        ready = self.opened is not None
        has_layers = ready and bool(self.opened.feature_layers)
        choices = self.act_choices()
        kinds = {c.kind for c in choices}
        return Controls(
            compute=ready and not computing and has_layers,
            stop=computing,
            layer=ready and not computing,
            method=not computing,
            compare=not computing and bool(self.sources),
            row=ready and self.image_source == "test",
            act_layer=bool(choices),
            first_last_conv="conv" in kinds,
            dense=self.shortcut_layer("dense") is not None,
        )

    def refresh_on_show(self) -> bool:
        """List the sources again when the tab is shown, unless something is being opened or computed."""
        return not self.embedding_running and self.opening is None

    # -- settings ------------------------------------------------------------------------------
    def to_settings(self) -> dict[str, Any]:
        """The choices the tab remembers between launches (``AppSettings.tab_state("inside")``)."""
        return {"method": self.method, "three_d": self.three_d}

    def apply_settings(self, values: dict[str, Any]) -> None:
        """Take remembered choices; damaged or unknown values are ignored."""
        method = values.get("method")
        if method in METHODS:
            self.method = method
        if isinstance(values.get("three_d"), bool):
            self.three_d = values["three_d"]
