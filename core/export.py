"""Exporting a model as .keras (with its card), TensorFlow SavedModel, TensorFlow Lite or ONNX.

Every export checks itself: the exported file is loaded back the way its users would load it, run
on real test images (a few hundred from the run's test set, or the bundled sample for the shipped
model) and compared with the app's own predictions. The report gives the largest probability
difference and how many top-1 labels agree; an export whose top-1 labels disagree is not called
a success. Files and folders are written beside the target first and renamed into place.

ONNX needs the optional extra ``onnx`` (``pip install "cnn-workbench[onnx]"``: tf2onnx converts,
onnxruntime runs the check). A model with a
layer the converter cannot express in ONNX is refused with a message naming that layer.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core import atomic, cards, runs, writable
from core.config import TrainConfig, load_config_dataset
from core.errors import WorkbenchError
from core.inference import Predictor, load_model

FORMATS = {
    "keras": "Keras model (.keras) with its card",
    "savedmodel": "TensorFlow SavedModel (folder)",
    "tflite": "TensorFlow Lite (.tflite)",
    "onnx": "ONNX (.onnx)",
}
ONNX_PACKAGES = ("tf2onnx", "onnx", "onnxruntime")
ONNX_OPSET = 17  # ONNX Runtime 1.16 and later, OpenCV 4.9 and later read it
ONNX_INSTALL = 'pip install "cnn-workbench[onnx]"  (or: pip install tf2onnx onnx onnxruntime)'

CHECK_IMAGES = 300


@dataclass
class ExportReport:
    path: Path
    format: str
    checked: int  # images compared
    agree: int  # of which the top-1 label agrees with the app's
    max_abs_diff: float
    images_from: str

    @property
    def ok(self) -> bool:
        return self.checked > 0 and self.agree == self.checked

    def summary(self) -> str:
        verdict = "OK" if self.ok else "MISMATCH: do not use this export"
        return (
            f"{verdict}: {FORMATS[self.format]} at {self.path}; on {self.checked} {self.images_from}, "
            f"top-1 agrees on {self.agree}, largest probability difference {self.max_abs_diff:.2e}"
        )


def default_suffix(fmt: str) -> str:
    return {"keras": ".keras", "savedmodel": "", "tflite": ".tflite", "onnx": ".onnx"}[fmt]


def missing_packages(fmt: str) -> list[str]:
    """The optional packages ``fmt`` needs that are not installed (ONNX: tf2onnx, onnx, onnxruntime)."""
    if fmt != "onnx":
        return []
    return [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]


def missing_text(fmt: str) -> str:
    """What to do when ``fmt`` needs packages that are missing ("" when none are)."""
    missing = missing_packages(fmt)
    if not missing:
        return ""
    return f"{FORMATS[fmt]} export needs the optional package{'s' if len(missing) > 1 else ''} " + (
        f"{', '.join(missing)}. Install {'them' if len(missing) > 1 else 'it'} with: {ONNX_INSTALL}"
    )


class ExportTargetExists(WorkbenchError):
    """The target is an earlier export of the same kind: replace it only when the person says so."""


def _kind_of(path: Path) -> str | None:
    """Which export format an existing path is (None: something else, e.g. a photo or a folder of files)."""
    if path.is_dir():
        return "savedmodel" if (path / "saved_model.pb").exists() else None
    return {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx"}.get(path.suffix.lower())


CHOOSE_PLACE = "choose another place for it (--to, or the folder in the export dialog)"


def check_target(target: str | Path, fmt: str, *, overwrite: bool = False) -> Path:
    """Refuse a target that does not fit ``fmt``, or that holds something an export must not replace.

    A file or folder of another kind is never replaced (``overwrite`` included): an export to
    ``photo.png`` or to a SavedModel named ``model.tflite`` is refused. An earlier export of the same
    kind is replaced only with ``overwrite`` (the GUI asks; the command line takes ``--force``),
    otherwise :class:`ExportTargetExists` is raised.
    """
    if fmt not in FORMATS:
        raise WorkbenchError(f"Unknown export format '{fmt}'; choose one of {', '.join(FORMATS)}.")
    target = Path(target).expanduser()
    suffix = target.suffix.lower()
    wanted = default_suffix(fmt)
    if fmt == "savedmodel":
        if suffix in (".keras", ".tflite", ".h5", ".hdf5"):
            raise WorkbenchError(
                f"A SavedModel is a folder; {target.name} is named like a {suffix} file. "
                "Give a folder name without that extension."
            )
    elif suffix != wanted:
        raise WorkbenchError(f"A {FORMATS[fmt]} export needs a file name ending in {wanted}, not {target.name}.")
    if not target.exists():
        return target
    kind = _kind_of(target)
    if kind != fmt:
        what = "a folder that is not a SavedModel" if target.is_dir() else "a file of another kind"
        raise WorkbenchError(
            f"{target} already exists and is {what}; the export will not replace it. Choose another name."
        )
    if not overwrite:
        raise ExportTargetExists(
            f"{target} already exists (an earlier {FORMATS[fmt]} export). Replace it (--force on the command "
            "line), or choose another name."
        )
    return target


def check_images_for(model_path: Path, input_shape, limit: int = CHECK_IMAGES) -> tuple[np.ndarray, str]:
    """Real test images for a model: its run's test split, else the bundled sample when shapes fit."""
    run_dir = Path(model_path).parent
    candidates = []
    if (run_dir / "config.json").exists():
        info = runs.read_run(run_dir)
        if info.config:
            candidates.append((TrainConfig.from_dict(info.config), "test images of the run"))
    card = cards.read_card(model_path) if cards.card_path(model_path).exists() else None
    if card and card.get("hyperparameters"):
        candidates.append((TrainConfig.from_dict(card["hyperparameters"]), "test images of the model's dataset"))
    candidates.append((TrainConfig(dataset="mnist-sample"), "images of the bundled MNIST sample"))
    for config, label in candidates:
        try:
            dataset = load_config_dataset(config)
        except WorkbenchError:
            continue
        if tuple(dataset.image_shape) == tuple(input_shape):
            test = dataset.test.subset(np.arange(min(limit, len(dataset.test))))
            return test.load_images(dataset.image_shape), label
    rng = np.random.default_rng(0)
    return rng.integers(
        0, 256, size=(min(limit, 64), *input_shape), dtype=np.uint8
    ), "random images (no test set found)"


def _replace_folder(tmp: Path, target: Path) -> None:
    """Put folder ``tmp`` at ``target``; an old ``target`` is moved aside first and removed after."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _tflite_runner(model_bytes: bytes):
    try:  # LiteRT is the interpreter's new home; TensorFlow's copy is deprecated
        from ai_edge_litert.interpreter import Interpreter  # type: ignore[import-not-found]
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interp = Interpreter(model_content=model_bytes)
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]

    def run(batch: np.ndarray) -> np.ndarray:
        results = []
        for image in batch:  # the converted model has a fixed batch of 1
            interp.resize_tensor_input(inp["index"], [1, *image.shape])
            interp.allocate_tensors()
            interp.set_tensor(inp["index"], image[np.newaxis].astype(np.float32))
            interp.invoke()
            results.append(interp.get_tensor(out["index"])[0])
        return np.stack(results)

    return run


def _all_layers(model) -> list:
    """Every layer of ``model``, those inside nested models (a Keras Applications backbone) included."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out


def _layer_of(node_name: str, layers: list) -> tuple[str, str] | None:
    """The Keras layer (name, class) a TensorFlow/ONNX node name ("model_1/backbone_1/shrink_1/Op") comes
    from: the deepest part of the name that is a layer's name (Keras may add "_1")."""
    by_name = {layer.name: layer for layer in layers}
    for part in reversed(node_name.split("/")[1:]):
        name = re.sub(r"_\d+$", "", part.split(":")[0])
        for candidate in (part, name):
            if candidate in by_name:
                return candidate, type(by_name[candidate]).__name__
    return None


def _layer_text(node_name: str, layers: list) -> str:
    found = _layer_of(node_name, layers)
    return f"the layer '{found[0]}' ({found[1]})" if found else f"the operation {node_name}"


def _unconvertible(onnx_path: Path, layers: list) -> list[str]:
    """Nodes of the converted file that ONNX has no operator for (tf2onnx keeps what it could not convert
    as TensorFlow ops, and the file then cannot be run), and inputs besides the pixels (values the
    converter could not fold into the file): one sentence per layer they come from."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    said: dict[str, str] = {}
    for node in graph.node:
        if node.domain not in ("", "ai.onnx") or onnx.defs.has(node.op_type, node.domain):
            continue
        what = _layer_text(node.name, layers)
        said.setdefault(what, f"{what} uses the TensorFlow operation {node.op_type}, which has no ONNX equivalent")
    initializers = {t.name for t in graph.initializer}
    for extra in [i.name for i in graph.input if i.name not in initializers][1:]:
        what = _layer_text(extra, layers)
        said.setdefault(what, f"{what} needs a value the converter could not put into the file ({extra})")
    return list(said.values())


def _export_onnx(loaded, images: np.ndarray, tmp: Path) -> tuple[Path, np.ndarray]:
    """Convert to ONNX in ``tmp`` with tf2onnx, check every layer converted, run the file with onnxruntime
    on ``images``: ``(file, probabilities)``."""
    missing = missing_text("onnx")
    if missing:
        raise WorkbenchError(missing + ".")
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    model = loaded.model
    out = tmp / "model.onnx"
    spec = (tf.TensorSpec((None, *loaded.input_shape), tf.float32, name="pixels"),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tf2onnx.convert.from_keras(model, input_signature=spec, opset=ONNX_OPSET, output_path=str(out))
        except Exception as exc:  # noqa: BLE001 - the converter's failures become one sentence
            raise WorkbenchError(
                f"The ONNX converter (tf2onnx) could not convert this model ({type(exc).__name__}: "
                f"{(str(exc).splitlines() or [''])[0][:200]}). Export it as SavedModel or TFLite instead.",
                detail=str(exc),
            ) from exc
    problems = _unconvertible(out, _all_layers(model))
    if problems:
        raise WorkbenchError(
            "This model cannot be exported as ONNX: " + "; ".join(problems) + ". Export it as SavedModel or "
            "TFLite instead, or train it without that layer.",
            detail="\n".join(problems),
        )
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = images.astype(np.float32)
    got = np.concatenate([session.run(None, {name: x[i : i + 64]})[0] for i in range(0, len(x), 64)])
    return out, got


def export_model(
    model_path: str | Path,
    target: str | Path,
    fmt: str,
    *,
    images: np.ndarray | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Export the model at ``model_path`` (a .keras file, e.g. a run's model.keras) to ``target``.

    ``target`` is checked first (:func:`check_target`): an earlier export of the same kind is
    replaced only with ``overwrite``, anything else that is there never.
    """
    import tensorflow as tf

    target = check_target(target, fmt, overwrite=overwrite)
    writable.check_folder(target.parent, "The export", CHOOSE_PLACE)  # read-only, a file, a full disk: said now
    model_path = Path(model_path)
    loaded = load_model(model_path)
    if images is None:
        images, label = check_images_for(model_path, loaded.input_shape)
    else:
        label = "given images"
    expected = Predictor(loaded).predict(images)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "onnx":
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
                made, got = _export_onnx(loaded, images, Path(tmp))
                atomic.write_bytes(target, made.read_bytes())
                if loaded.card is not None:
                    cards.write_card(target, loaded.card)
        elif fmt == "keras":
            atomic.write_bytes(target, model_path.read_bytes())
            if loaded.card is not None:
                cards.write_card(target, loaded.card)
            got = Predictor(load_model(target)).predict(images)
        else:
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
                saved = Path(tmp) / "savedmodel"
                loaded.model.export(str(saved), format="tf_saved_model", verbose=False)
                if fmt == "savedmodel":
                    reloaded = tf.saved_model.load(str(saved))  # keep a reference: serve needs its variables
                    serve = reloaded.serve
                    got = np.concatenate(
                        [
                            np.asarray(serve(tf.constant(images[i : i + 64], tf.float32)))
                            for i in range(0, len(images), 64)
                        ]
                    )
                    if loaded.card is not None:
                        atomic.write_json(saved / "card.json", loaded.card)
                    _replace_folder(saved, target)
                else:
                    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
                    data = converter.convert()
                    got = _tflite_runner(data)(images)
                    atomic.write_bytes(target, data)
                    if loaded.card is not None:
                        cards.write_card(target, loaded.card)
    except OSError as exc:
        if writable.is_disk_full(exc):
            raise writable.disk_full(f"export again (the export to {target} was not written)", str(exc)) from exc
        raise writable.cannot_write(target.parent, exc, "The export", CHOOSE_PLACE) from exc
    got = np.asarray(got, dtype=np.float32)
    agree = int(np.sum(got.argmax(1) == expected.argmax(1)))
    diff = float(np.max(np.abs(got - expected))) if len(got) else float("nan")
    report = ExportReport(target, fmt, len(images), agree, diff, label)
    if not report.ok:
        with contextlib.suppress(OSError):
            (shutil.rmtree if target.is_dir() else os.remove)(target)
        raise WorkbenchError(
            f"The {FORMATS[fmt]} export did not reproduce the model: top-1 labels agree on only {agree} of "
            f"{len(images)} images (largest difference {diff:.3g}); it was removed.",
        )
    return report
