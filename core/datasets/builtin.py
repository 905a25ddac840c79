"""The Keras built-in datasets (MNIST, Fashion-MNIST, CIFAR-10, CIFAR-100) and the bundled sample.

The Keras ones load through ``keras.datasets.<name>.load_data()``, which downloads once into the
Keras cache (``$KERAS_HOME/datasets``, by default ``~/.keras/datasets``) and reads from there
afterwards. Keras reads ``KERAS_HOME`` once, when it is first imported; this module passes the
cache folder of :func:`core.paths.keras_cache_dir` to the download call every time instead, so the
folder that :func:`list_datasets` checks is always the one Keras uses.

When the file is not cached and cannot be downloaded, :class:`~core.errors.OfflineError` says which
dataset, how much it downloads and the exact path where a copy made by hand must go.

Splits: validation is ``validation_split`` of the official training set (stratified, user seed);
the test split is the official test set. ``image_size`` and ``color_mode`` are not applied here:
the images keep their native size and channels and the model's own first layers adapt them.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.datasets import sample
from core.datasets.base import Dataset, Split, stratified_split, stratified_subset
from core.errors import DatasetError, OfflineError
from core.paths import keras_cache_dir
from core.reporting import NullReporter, Reporter

log = logging.getLogger(__name__)

KERAS_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

# The fine labels in the order of CIFAR-100's meta file ("fine_label_names"), label 0 first.
CIFAR100_CLASSES = (
    "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus butterfly "
    "camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup "
    "dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower "
    "leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid "
    "otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road "
    "rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower "
    "sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale "
    "willow_tree wolf woman worm"
).split()

_MNIST_SOURCE = (
    "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0), via keras.datasets.mnist"
)
_CIFAR_SOURCE = (
    "{name} by Alex Krizhevsky, Vinod Nair and Geoffrey Hinton (Learning Multiple Layers of Features from "
    "Tiny Images, 2009; https://www.cs.toronto.edu/~kriz/cifar.html), via keras.datasets.{module}"
)


@dataclass(frozen=True)
class BuiltinSpec:
    name: str
    title: str
    description: str
    module: str  # keras.datasets.<module>
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    train_size: int
    test_size: int
    download: str  # for people: "about 11 MB"
    # Where Keras 3 keeps the download, relative to the Keras cache folder (``.../datasets``), and
    # the URL each file comes from. tests/core/test_datasets.py checks these against Keras itself.
    files: tuple[tuple[str, str], ...]
    source: str
    load_kwargs: tuple[tuple[str, str], ...] = ()

    def cache_files(self, cache: Path | None = None) -> list[Path]:
        cache = cache or keras_cache_dir()
        return [cache / rel for rel, _ in self.files]

    def cache_path(self, cache: Path | None = None) -> Path:
        """The file (or, for several files, the folder) a user would copy by hand."""
        paths = self.cache_files(cache)
        return paths[0] if len(paths) == 1 else paths[0].parent

    def cached(self) -> bool:
        return all(p.is_file() for p in self.cache_files())


KERAS_SPECS: dict[str, BuiltinSpec] = {
    spec.name: spec
    for spec in (
        BuiltinSpec(
            name="mnist",
            title="MNIST handwritten digits",
            description="70,000 handwritten digits 0-9, 28x28 grey (the classic first CNN dataset).",
            module="mnist",
            class_names=tuple(str(d) for d in range(10)),
            image_shape=(28, 28, 1),
            train_size=60_000,
            test_size=10_000,
            download="about 11 MB",
            files=(("mnist.npz", KERAS_BASE_URL + "mnist.npz"),),
            source=_MNIST_SOURCE,
        ),
        BuiltinSpec(
            name="fashion-mnist",
            title="Fashion-MNIST clothing",
            description="70,000 Zalando article photos in 10 classes (T-shirt to ankle boot), 28x28 grey.",
            module="fashion_mnist",
            class_names=tuple(FASHION_MNIST_CLASSES),
            image_shape=(28, 28, 1),
            train_size=60_000,
            test_size=10_000,
            download="about 30 MB",
            files=tuple(
                (f"fashion-mnist/{f}", KERAS_BASE_URL + f)
                for f in (
                    "train-labels-idx1-ubyte.gz",
                    "train-images-idx3-ubyte.gz",
                    "t10k-labels-idx1-ubyte.gz",
                    "t10k-images-idx3-ubyte.gz",
                )
            ),
            source="Fashion-MNIST by Zalando SE (MIT licence), via keras.datasets.fashion_mnist",
        ),
        BuiltinSpec(
            name="cifar10",
            title="CIFAR-10 objects",
            description="60,000 small colour photos in 10 classes (airplane, cat, ship, ...), 32x32 RGB.",
            module="cifar10",
            class_names=tuple(CIFAR10_CLASSES),
            image_shape=(32, 32, 3),
            train_size=50_000,
            test_size=10_000,
            download="about 170 MB",
            files=(
                (
                    "cifar-10-batches-py-target_archive",
                    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                ),
            ),
            source=_CIFAR_SOURCE.format(name="CIFAR-10", module="cifar10"),
        ),
        BuiltinSpec(
            name="cifar100",
            title="CIFAR-100 objects (100 classes)",
            description="60,000 small colour photos in 100 fine classes (apple to worm), 32x32 RGB.",
            module="cifar100",
            class_names=tuple(CIFAR100_CLASSES),
            image_shape=(32, 32, 3),
            train_size=50_000,
            test_size=10_000,
            download="about 170 MB",
            files=(
                (
                    "cifar-100-python-target_archive",
                    "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                ),
            ),
            source=_CIFAR_SOURCE.format(name="CIFAR-100", module="cifar100"),
            load_kwargs=(("label_mode", "fine"),),
        ),
    )
}

BUILTIN_NAMES: tuple[str, ...] = (sample.NAME, *KERAS_SPECS)


def canonical_name(name: str) -> str | None:
    """The built-in's name for ``name`` ("Fashion_MNIST" -> "fashion-mnist"), or None."""
    key = name.strip().lower().replace("_", "-")
    aliases = {"cifar-10": "cifar10", "cifar-100": "cifar100", "fashionmnist": "fashion-mnist"}
    key = aliases.get(key, key)
    return key if key in BUILTIN_NAMES else None


def list_builtin() -> list[dict]:
    """One dict per built-in dataset; needs no TensorFlow and touches no network."""
    out = [sample.sample_info()]
    for spec in KERAS_SPECS.values():
        out.append(
            {
                "name": spec.name,
                "title": spec.title,
                "description": spec.description,
                "classes": len(spec.class_names),
                "image_shape": list(spec.image_shape),
                "train_size": spec.train_size,
                "test_size": spec.test_size,
                "available_offline": spec.cached(),
                "cache_path": str(spec.cache_path()),
            }
        )
    return out


class _FetchFailed(Exception):
    """Keras' download step failed (no network, server error, a bad hash after download, ...)."""


# Only one load may swap the fetch function of a keras dataset module at a time.
_FETCH_LOCK = threading.RLock()


@contextmanager
def _fetch_into_cache(module_name: str, cache: Path):
    """While active, ``keras.src.datasets.<module>`` downloads into ``cache`` and marks fetch errors.

    ``load_data()`` takes no cache argument, so its module-level ``get_file`` is wrapped for the
    call: the wrapper passes ``cache_dir`` (the folder that holds ``datasets/``) and turns any
    failure of the fetch into :class:`_FetchFailed`, which tells "could not download" apart from
    "downloaded but could not be read". If Keras moves its internals, loading still works, only
    without that distinction.
    """
    import importlib

    try:
        module = importlib.import_module(f"keras.src.datasets.{module_name}")
        original = module.get_file
    except (ImportError, AttributeError):
        yield
        return

    def fetch(*args, **kwargs):
        kwargs.setdefault("cache_dir", str(cache.parent))
        try:
            return original(*args, **kwargs)
        except Exception as exc:
            log.warning("Download for keras.datasets.%s failed", module_name, exc_info=True)
            raise _FetchFailed(str(exc) or type(exc).__name__) from exc

    with _FETCH_LOCK:
        module.get_file = fetch
        try:
            yield
        finally:
            module.get_file = original


def offline_message(spec: BuiltinSpec, cache: Path | None = None) -> str:
    cache = cache or keras_cache_dir()
    paths = spec.cache_files(cache)
    if len(paths) == 1:
        url = spec.files[0][1]
        packed = "" if url.endswith(paths[0].name) else ", still packed and renamed,"
        by_hand = f"download {url} and save it{packed} as {paths[0]}"
    else:
        names = ", ".join(rel.rsplit("/", 1)[-1] for rel, _ in spec.files)
        base = spec.files[0][1].rsplit("/", 1)[0] + "/"
        by_hand = f"download {names} from {base} into the folder {paths[0].parent}"
    return (
        f"{spec.title} ('{spec.name}') is not on this computer and could not be downloaded. "
        f"It needs an internet connection once ({spec.download}); Keras then keeps it in {cache}. "
        f"To install it by hand, {by_hand}. The bundled 'mnist-sample' works offline."
    )


def load_keras(
    name: str,
    *,
    validation_split: float,
    seed: int,
    limit: int | None,
    reporter: Reporter | None = None,
) -> Dataset:
    """A Keras built-in as a :class:`Dataset` (downloading it once if needed)."""
    import importlib

    reporter = reporter or NullReporter()
    spec = KERAS_SPECS[name]
    cache = keras_cache_dir()
    what = f"Loading {spec.title}" if spec.cached() else f"Downloading {spec.title} ({spec.download})"
    reporter.on_progress(0, 1, what)
    try:
        cache.mkdir(parents=True, exist_ok=True)  # Keras falls back to /tmp when the folder is missing
    except OSError:
        pass
    datasets_api = importlib.import_module(f"keras.datasets.{spec.module}")
    try:
        with _fetch_into_cache(spec.module, cache):
            (x_train, y_train), (x_test, y_test) = datasets_api.load_data(**dict(spec.load_kwargs))
    except _FetchFailed as exc:
        raise OfflineError(offline_message(spec, cache), detail=str(exc)) from exc
    except Exception as exc:  # a truncated archive, a broken pickle or npz, ...
        log.warning("The files of %s in %s cannot be read", spec.title, spec.cache_path(cache), exc_info=True)
        raise DatasetError(
            f"The downloaded files of {spec.title} in {spec.cache_path(cache)} cannot be read; they may be "
            "incomplete or damaged. Delete them and try again to download a fresh copy.",
            detail=repr(exc),
        ) from exc

    x_train, y_train = _as_images(x_train, spec), _as_labels(y_train, spec)
    x_test, y_test = _as_images(x_test, spec), _as_labels(y_test, spec)
    full = Split(y_train, images=x_train)
    train_idx, val_idx = stratified_split(full.labels, validation_split, seed)
    train = full.subset(train_idx)
    if limit is not None and limit < len(train):
        train = train.subset(stratified_subset(train.labels, limit, seed))
    reporter.on_progress(1, 1, f"Loading {spec.title}")
    return Dataset(
        name=spec.name,
        title=spec.title,
        class_names=list(spec.class_names),
        image_shape=spec.image_shape,
        train=train,
        val=full.subset(val_idx),
        test=Split(y_test, images=x_test),
        source=spec.source,
    )


def _as_images(x, spec: BuiltinSpec) -> np.ndarray:
    """uint8 N x H x W x C, whatever rank Keras returned (MNIST comes without a channel axis)."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or tuple(x.shape[1:]) != spec.image_shape:
        raise DatasetError(
            f"{spec.title} came back with an unexpected image shape {tuple(x.shape[1:])} "
            f"(expected {spec.image_shape}).",
            detail=f"array shape {x.shape}, dtype {x.dtype}",
        )
    return np.ascontiguousarray(x, dtype=np.uint8)


def _as_labels(y, spec: BuiltinSpec) -> np.ndarray:
    y = np.asarray(y).reshape(-1).astype(np.int32)
    if len(y) and (y.min() < 0 or y.max() >= len(spec.class_names)):
        raise DatasetError(
            f"{spec.title} came back with labels outside 0..{len(spec.class_names) - 1}.",
            detail=f"labels range {y.min()}..{y.max()}",
        )
    return y
