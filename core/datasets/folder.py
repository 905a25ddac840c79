"""Image folders: scanning (Pillow headers only, no TensorFlow) and the Dataset of file paths a scan gives.

Two layouts are understood:

* **flat**: one sub-folder per class (``cats/``, ``dogs/``), images anywhere below it;
* **train/test**: ``train/`` plus ``test/`` and/or ``val/`` (also ``training``, ``testing``,
  ``valid``, ``validation``), each holding the same class folders. A split that is missing is
  carved out of ``train/``.

:func:`scan_folder` reads each file's header and checks its picture data cheaply (no full-size
decoding), so it is fast enough for a preview before training, and raises
:class:`~core.errors.DatasetError` for layouts that cannot train. Files it cannot use are listed
in :attr:`FolderScan.skipped` with a reason; hidden files (``.DS_Store``,
``._x.jpg``) and system files (``Thumbs.db``, ``desktop.ini``, ``__MACOSX/``) are ignored silently.

Splits hold file paths, never pixels: ``Split.tf_dataset`` maps
:func:`core.datasets.decode.decode_image_file` (Pillow, as Predict decodes) over them, after
shuffling the names, so a folder larger than memory trains. A
file that passes the header scan but fails to decode (truncated mid-way) is dropped by the
pipeline's ``ignore_errors()``; the scan checks each file's picture data as well as its header
(cheaply, see ``_damaged_data``) so that such a file is listed with the skipped files instead.
Anything that is not a regular file (a named pipe, a socket, a device, a broken link) is skipped
with its reason, never opened for reading; links to regular files are followed.

Splits are stratified. The held-out test split of a folder without ``test/`` uses the fixed
:data:`TEST_SEED`, not the user's seed, so runs that differ only in seed are scored on the same
images (and an ensemble of them never meets a test image that one member trained on). The user's
seed picks the validation images and the ``limit`` subset.
"""

from __future__ import annotations

import logging
import os
import stat
import statistics
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.datasets.base import (
    IMAGE_EXTENSIONS,
    Dataset,
    SkippedFile,
    Split,
    as_path,
    stratified_split,
    stratified_subset,
)
from core.errors import DatasetError

# Images with more pixels are skipped: a decompression bomb, or a scan needing gigabytes per image.
from core.images import MAX_PIXELS, megapixels, too_large_text
from core.reporting import NullReporter, Reporter

log = logging.getLogger(__name__)

SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "test": "test",
    "testing": "test",
    "val": "val",
    "valid": "val",
    "validation": "val",
}
# Left out without a word: what operating systems and tools put beside pictures.
IGNORED_NAMES = frozenset(
    {"thumbs.db", "ehthumbs.db", "desktop.ini", "__macosx", "@eadir", "$recycle.bin", "system volume information"}
)
# Picture formats people have that training does not take: named in the skip reason.
OTHER_IMAGE_EXTENSIONS = frozenset(
    {".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".jp2", ".ico", ".psd", ".svg", ".tga"}
    | {".ppm", ".pgm", ".pbm", ".pnm", ".raw", ".cr2", ".nef", ".arw", ".dng"}
)
# What Pillow calls the formats training takes (MPO: a camera JPEG with extras).
DECODABLE_FORMATS = frozenset({"PNG", "JPEG", "MPO", "GIF", "BMP", "WEBP"})
GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
#: Default input size: the typical (median) image size, shrunk to fit MAX_SIDE, at least MIN_SIDE.
MIN_SIDE, MAX_SIDE = 16, 224
#: Fixed seed of the held-out test split (see the module docstring).
TEST_SEED = 20_240_613
_SIZE_LIMITS = (4, 2048)  # what image_size may ask for
_PROBE_CHUNK = 64  # files per progress report (and per thread task on slow disks)
_SLOW_PROBE_S = 0.002  # a header read slower than this means I/O waits: use threads


@dataclass
class FolderScan:
    """What :func:`scan_folder` found: layout, classes, usable files per split and class, skipped files."""

    path: str  # the folder, absolute
    layout: str  # "flat" (class folders) or "train/test"
    class_names: list[str]
    # split -> one list of image paths per class (in class_names order). Flat layout: the one key
    # "all"; train/test layout: "train" and whichever of "val" and "test" exist.
    files: dict[str, list[list[str]]]
    skipped: list[SkippedFile] = field(default_factory=list)
    typical_size: tuple[int, int] = (0, 0)  # median (height, width) of the usable images
    grayscale_images: int = 0  # how many usable images are single-channel (or a grey palette)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_images(self) -> int:
        return sum(len(paths) for per_class in self.files.values() for paths in per_class)

    @property
    def splits(self) -> list[str]:
        return list(self.files)

    @property
    def color_mode(self) -> str:
        """ "grayscale" when every usable image is single-channel (or a grey palette), else "rgb"."""
        return "grayscale" if self.num_images and self.grayscale_images == self.num_images else "rgb"

    def counts(self) -> dict[str, list[int]]:
        """Images per class in each split of the folder (before any ratio split)."""
        return {split: [len(paths) for paths in per_class] for split, per_class in self.files.items()}

    def default_image_size(self) -> tuple[int, int]:
        """The ``(height, width)`` used when no image size is asked for.

        The typical (median) size of the images, so a folder of 28x28 digits trains at 28x28; larger
        images are shrunk, aspect ratio kept, until the longer side is :data:`MAX_SIDE` (224, the
        usual ImageNet size: bigger inputs make CPU training crawl), and no side goes below
        :data:`MIN_SIDE` (16) so every architecture in the zoo has room for its pooling.
        """
        h, w = self.typical_size
        if h <= 0 or w <= 0:
            return (MAX_SIDE, MAX_SIDE)
        scale = min(1.0, MAX_SIDE / max(h, w))
        return (max(MIN_SIDE, round(h * scale)), max(MIN_SIDE, round(w * scale)))

    def describe(self) -> dict:
        h, w = self.default_image_size()
        return {
            "path": self.path,
            "layout": self.layout,
            "classes": list(self.class_names),
            "counts": self.counts(),
            "images": self.num_images,
            "typical_size": list(self.typical_size),
            "default_image_size": [h, w],
            "color_mode": self.color_mode,
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
        }


# ---------------------------------------------------------------------------------------------
# Scanning


def _ignored(name: str) -> bool:
    return name.startswith(".") or name.lower() in IGNORED_NAMES


def _children(folder: Path) -> tuple[list[Path], list[Path]]:
    """``(sub-folders, files)`` of ``folder``, sorted, ignored names left out."""
    dirs, files = [], []
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise DatasetError(f"The folder {folder} cannot be read: {exc.strerror or exc}.", detail=repr(exc)) from exc
    for entry in entries:
        if _ignored(entry.name):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        (dirs if is_dir else files).append(Path(entry.path))
    return dirs, files


def _walk_files(folder: Path) -> Iterable[tuple[Path, str | None]]:
    """``(path, problem)`` for every non-ignored entry below ``folder`` that is not a folder, sorted.

    Class folders may have sub-folders (links to folders are not followed: they can loop). A link
    to a regular file is followed and keeps its own path. ``problem`` says why an entry that is not
    a regular file (a named pipe, a socket, a device, a broken link) cannot be used: opening a pipe
    would wait for a writer forever.
    """
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        for name in sorted(filenames):
            if not _ignored(name):
                path = Path(dirpath) / name
                yield path, _not_regular(path)


def _not_regular(path: Path) -> str | None:
    """Why ``path`` is not a regular file (after following links), or None when it is one."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken link (what it points to is gone)" if os.path.islink(path) else "the file is gone"
    except OSError as exc:
        return f"the file cannot be read ({exc.strerror or exc})"
    return None if stat.S_ISREG(mode) else _kind_problem(mode)


def _kind_problem(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        kind = "a named pipe (FIFO)"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device file"
    elif stat.S_ISDIR(mode):
        kind = "a folder"
    else:
        kind = "something else"
    return f"not a regular file: {kind}"


def _extension_problem(path: Path) -> str | None:
    ext = path.suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return None
    if ext in OTHER_IMAGE_EXTENSIONS:
        return f"unsupported image type {ext} (use PNG, JPEG, BMP, GIF or WebP)"
    return f"not an image file ({ext or 'no extension'})"


def _looks_like_image(head: bytes) -> bool:
    return head.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")) or (
        head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    )


def _grey_palette(img) -> bool:
    palette = img.getpalette() if img.mode in ("P", "PA") else None
    return bool(palette) and palette[0::3] == palette[1::3] == palette[2::3]


def probe_image(path: str | Path) -> tuple[tuple[int, int], bool, int] | str:
    """``((height, width), is_grey, exif_orientation)`` from the file's header, or why it cannot be used.

    The size is as the picture is shown, i.e. after its EXIF orientation (1-8; 1 = as stored) is
    applied: a phone photo stored sideways reports its upright size.

    Reads the header, then checks the picture data cheaply (``_damaged_data``: truncated or
    scrambled data). Refuses anything that is not a regular file, formats other than
    PNG/JPEG/GIF/BMP/WebP whatever the extension says, and damaged picture data. Training decodes
    with Pillow as Predict does, so every kind of BMP and an animated WebP (its first frame) are
    taken.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    damaged = None
    try:
        # Non-blocking, so that a named pipe is refused at once instead of waiting for a writer.
        with open(path, "rb", opener=_open_nonblocking) as fh:
            mode_bits = os.fstat(fh.fileno()).st_mode
            if not stat.S_ISREG(mode_bits):
                return _kind_problem(mode_bits)
            head = fh.read(16)
            if not head:
                return "empty file (0 bytes)"
            fh.seek(0)
            try:
                with Image.open(fh) as img:
                    fmt, mode, (w, h) = img.format, img.mode, img.size
                    grey = mode in GRAY_MODES or _grey_palette(img)
                    orientation = _exif_orientation(img)
                    if fmt in DECODABLE_FORMATS and 0 < w * h <= MAX_PIXELS:
                        damaged = _damaged_data(img, fmt, fh)
            except Image.DecompressionBombError:
                return f"image is too large (over {megapixels(MAX_PIXELS)} megapixels)"
            except UnidentifiedImageError:
                return "image is truncated or corrupt" if _looks_like_image(head) else "not a readable image"
            except (SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError, OSError):
                return "image is truncated or corrupt"
    except PermissionError:
        return "the file cannot be read (permission denied)"
    except OSError as exc:
        problem = _not_regular(path)  # a socket cannot even be opened
        return problem or f"the file cannot be read ({exc.strerror or exc})"
    if damaged:
        return damaged
    if fmt not in DECODABLE_FORMATS:
        return f"a {fmt} image despite its {path.suffix} name; {fmt} is not one of the formats used (re-save as PNG)"
    if w <= 0 or h <= 0:
        return "image is truncated or corrupt"
    if w * h > MAX_PIXELS:
        return too_large_text(w * h)
    if orientation in (5, 6, 7, 8):  # a quarter turn: shown with width and height swapped
        w, h = h, w
    return (int(h), int(w)), grey, orientation


def _open_nonblocking(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0))


def _damaged_data(img, fmt: str, fh) -> str | None:
    """Why the picture data behind a good header cannot be decoded (truncated, scrambled), or None.

    The decoder refuses such a file while training, and ``ignore_errors()`` would drop it
    without a word, so it is found here and listed with the skipped files. Kept cheap, since a full
    decode of every photo would make the scan of a large folder take minutes:

    * PNG: every chunk checked against its checksum, without inflating the pixels (``verify``);
    * JPEG: a file that ends with its end-of-image marker is whole (the marker cannot occur inside
      the compressed data); any other (cut short, or with bytes after the picture) is decoded at
      1/8 scale, which still reads every byte of it;
    * WebP: the size its RIFF header gives against the file's size;
    * GIF (first frame) and BMP: decoded (cheap: LZW or raw rows).

    Damage inside a whole JPEG or WebP stream that libjpeg/libwebp cannot get through is not found
    here; the pipeline still drops such a file.
    """
    try:
        if fmt == "PNG":  # verify() must come straight after opening: the header was read since
            from PIL import Image

            fh.seek(0)
            with Image.open(fh) as again:
                again.verify()
        elif fmt in ("JPEG", "MPO"):
            fh.seek(-min(_file_size(fh), 64), os.SEEK_END)
            if not fh.read().rstrip(b"\x00").endswith(b"\xff\xd9"):
                img.draft(None, (1, 1))  # the smallest scale libjpeg decodes at: 1/8
                img.load()
        elif fmt == "WEBP":
            fh.seek(4)
            declared = int.from_bytes(fh.read(4), "little") + 8
            if _file_size(fh) < declared:
                raise OSError(f"the file holds {_file_size(fh):,} of its {declared:,} bytes")
        else:
            img.load()
    except Exception as exc:  # noqa: BLE001 - every decoder error means the same to the user
        log.info("Image data of %s cannot be decoded", getattr(img, "filename", "") or "a file", exc_info=True)
        detail = str(exc).strip().splitlines()[0][:80] if str(exc).strip() else type(exc).__name__
        return f"image is truncated or corrupt: its picture data cannot be decoded ({detail})"
    return None


def _file_size(fh) -> int:
    return os.fstat(fh.fileno()).st_size


def _exif_orientation(img) -> int:
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block is no reason to skip a picture that decodes
        where = getattr(img, "filename", "an image")
        log.info("Unreadable EXIF orientation in %s; taking the picture as it is", where, exc_info=True)
        return 1
    return value if 1 <= value <= 8 else 1


def _probe_chunk(paths: list[Path]) -> list[tuple[tuple[int, int], bool, int] | str]:
    return [probe_image(p) for p in paths]


def _probe_all(paths: list[Path], reporter: Reporter) -> list[tuple[tuple[int, int], bool, int] | str]:
    """:func:`probe_image` for every path, in order, with progress after every chunk.

    Header parsing is GIL-bound: on a local disk threads only slow it down (measured: 2.5x slower
    with 4 threads on 2 cores). On a network share or a cold disk each file waits for I/O, and there
    threads overlap the waits. So the first chunk runs here and decides: if it took more than
    :data:`_SLOW_PROBE_S` per file the rest goes to a thread pool.
    """
    total = len(paths)
    reporter.on_progress(0, total, "Scanning images")
    chunks = [paths[i : i + _PROBE_CHUNK] for i in range(0, total, _PROBE_CHUNK)]
    results: list[tuple[tuple[int, int], bool, int] | str] = []
    if not chunks:
        return results
    started = time.perf_counter()
    results.extend(_probe_chunk(chunks[0]))
    reporter.on_progress(len(results), total, "Scanning images")
    slow = (time.perf_counter() - started) / len(chunks[0]) > _SLOW_PROBE_S
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="scan-folder") if slow and len(chunks) > 1 else None
    try:
        for part in pool.map(_probe_chunk, chunks[1:]) if pool else map(_probe_chunk, chunks[1:]):
            results.extend(part)
            reporter.on_progress(len(results), total, "Scanning images")
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    return results


def _split_roles(root: Path, dirs: list[Path]) -> dict[str, Path] | None:
    """``{"train": .., "test": .., "val": ..}`` when ``dirs`` is a train/test layout, else None."""
    roles = {d: SPLIT_ALIASES.get(d.name.lower()) for d in dirs}
    if not dirs or any(role is None for role in roles.values()):
        return None
    found: dict[str, Path] = {}
    for d, role in roles.items():
        if role in found:
            raise DatasetError(
                f"{root} has both {found[role].name}/ and {d.name}/; keep one folder per split "
                "(train/, val/ and test/)."
            )
        found[role] = d
    if "train" not in found:
        named = " and ".join(f"{d.name}/" for d in dirs)
        raise DatasetError(
            f"{root} holds {named} but no train/ folder. Add train/ with one sub-folder per class, "
            "or put the class folders directly in the folder."
        )
    return found


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def scan_folder(path: str | Path, *, reporter: Reporter | None = None) -> FolderScan:
    """Scan an image folder without decoding images or importing TensorFlow.

    Raises :class:`~core.errors.DatasetError`, with a sentence saying what to change, when the
    path is missing or not a folder, holds no class folders or only one, a class has no usable
    image, or the splits of a train/test layout hold different classes. ``reporter.on_progress(done,
    total, what)`` is called while file headers are read.
    """
    reporter = reporter or NullReporter()
    root = as_path(path)
    if not root.exists():
        raise DatasetError(f"The folder {root} does not exist.")
    if not root.is_dir():
        raise DatasetError(
            f"{root} is a file, not a folder. Choose a folder that holds one sub-folder of images per class."
        )
    root = root.resolve()
    skipped: list[SkippedFile] = []
    dirs, loose = _children(root)
    for f in loose:
        skipped.append(SkippedFile(str(f), "not inside a class folder"))

    roles = _split_roles(root, dirs)
    layout = "flat" if roles is None else "train/test"
    split_dirs = {"all": root} if roles is None else {s: roles[s] for s in ("train", "val", "test") if s in roles}

    # The class folders of every split, checked for a usable layout before any file is opened.
    class_dirs: dict[str, dict[str, Path]] = {}
    for split, folder in split_dirs.items():
        sub, files = _children(folder) if folder != root else (dirs, [])
        if folder != root:
            skipped.extend(SkippedFile(str(f), "not inside a class folder") for f in files)
        class_dirs[split] = {d.name: d for d in sub}
    first = "all" if roles is None else "train"
    class_names = sorted(class_dirs[first])
    where = root if roles is None else split_dirs["train"]
    if not class_names:
        n_images = sum(1 for s in skipped if Path(s.path).suffix.lower() in IMAGE_EXTENSIONS)
        found = ""
        if n_images:
            found = f" (found {_plural(n_images, 'image')} directly in it; move them into class folders)"
        raise DatasetError(
            f"No class folders in {where}: put one sub-folder per class, e.g. cats/ and dogs/, each holding "
            f"that class's images{found}."
        )
    if len(class_names) < 2:
        raise DatasetError(
            f"{where} has only one class folder ({class_names[0]}/). A classifier needs at least two classes: "
            "add one sub-folder per class, e.g. cats/ and dogs/."
        )
    for split, by_name in class_dirs.items():
        if split == first:
            continue
        missing = sorted(set(class_names) - set(by_name))
        extra = sorted(set(by_name) - set(class_names))
        if missing or extra:
            name = split_dirs[split].name
            parts = []
            if missing:
                parts.append(f"{name}/ lacks {', '.join(missing)}")
            if extra:
                parts.append(f"{name}/ has {', '.join(extra)}, which train/ lacks")
            raise DatasetError(
                f"{split_dirs['train'].name}/ and {name}/ must hold the same class folders: {'; '.join(parts)}."
            )

    # Candidate files by (split, class); extension problems are known without opening anything.
    keys: list[tuple[str, int]] = []
    candidates: list[Path] = []
    for split in split_dirs:
        for ci, cname in enumerate(class_names):
            for f, problem in _walk_files(class_dirs[split][cname]):
                problem = problem or _extension_problem(f)
                if problem:
                    skipped.append(SkippedFile(str(f), problem))
                else:
                    keys.append((split, ci))
                    candidates.append(f)

    files = {split: [[] for _ in class_names] for split in split_dirs}
    heights, widths, grey = [], [], 0
    for (split, ci), f, result in zip(keys, candidates, _probe_all(candidates, reporter), strict=True):
        if isinstance(result, str):
            skipped.append(SkippedFile(str(f), result))
            continue
        (h, w), is_grey, _orientation = result
        files[split][ci].append(str(f))
        heights.append(h)
        widths.append(w)
        grey += is_grey

    empty = [(split, cname) for split in split_dirs for ci, cname in enumerate(class_names) if not files[split][ci]]
    if empty:
        shown = ", ".join(
            f"{cname}/" if split == "all" else f"{split_dirs[split].name}/{cname}/" for split, cname in empty
        )
        there = [s for s in skipped if any(Path(s.path).is_relative_to(class_dirs[sp][cn]) for sp, cn in empty)]
        note = ""
        if there:
            examples = "; ".join(f"{Path(s.path).name}: {s.reason}" for s in there[:3])
            more = ", ..." if len(there) > 3 else ""
            note = f" ({_plural(len(there), 'file')} there could not be used: {examples}{more})"
        raise DatasetError(
            f"No usable images in the class folder{'s' if len(empty) > 1 else ''} {shown}{note}. "
            "Every class needs images (PNG, JPEG, BMP, GIF or WebP).",
            detail="\n".join(f"{s.path}: {s.reason}" for s in skipped),
        )

    typical = (int(statistics.median(heights)), int(statistics.median(widths))) if heights else (0, 0)
    return FolderScan(
        path=str(root),
        layout=layout,
        class_names=class_names,
        files=files,
        skipped=skipped,
        typical_size=typical,
        grayscale_images=grey,
    )


# ---------------------------------------------------------------------------------------------
# From a scan to a Dataset


def resolve_image_size(image_size: int | tuple[int, int] | list[int] | None, scan: FolderScan) -> tuple[int, int]:
    """``(height, width)`` for ``image_size`` (an int means square; None: the scan's default)."""
    if image_size is None:
        return scan.default_image_size()
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif isinstance(image_size, (tuple, list)) and len(image_size) == 2:
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise DatasetError(f"The image size must be a number of pixels or (height, width), not {image_size!r}.")
    lo, hi = _SIZE_LIMITS
    if not all(lo <= s <= hi for s in size):
        raise DatasetError(f"The image size must be between {lo} and {hi} pixels, not {size[0]}x{size[1]}.")
    return size


def folder_dataset(
    scan: FolderScan,
    *,
    image_size: int | tuple[int, int] | None = None,
    color_mode: str = "auto",
    validation_split: float = 0.1,
    test_split: float = 0.2,
    seed: int = 42,
    limit: int | None = None,
) -> Dataset:
    """A :class:`Dataset` of file paths from a scan (see the module docstring for the splits)."""
    h, w = resolve_image_size(image_size, scan)
    mode = scan.color_mode if color_mode == "auto" else color_mode
    channels = 1 if mode == "grayscale" else 3

    def pool(split: str) -> Split:
        paths = [p for per_class in scan.files[split] for p in per_class]
        labels = np.concatenate(
            [np.full(len(per_class), ci, np.int32) for ci, per_class in enumerate(scan.files[split])]
        )
        return Split(labels, paths=paths)

    if scan.layout == "flat":
        everything = pool("all")
        rest_idx, test_idx = stratified_split(everything.labels, test_split, TEST_SEED)
        rest, test = everything.subset(rest_idx), everything.subset(test_idx)
    else:
        rest = pool("train")
        if "test" in scan.files:
            test = pool("test")
        else:
            rest_idx, test_idx = stratified_split(rest.labels, test_split, TEST_SEED)
            rest, test = rest.subset(rest_idx), rest.subset(test_idx)
    if "val" in scan.files:
        train, val = rest, pool("val")
    else:
        train_idx, val_idx = stratified_split(rest.labels, validation_split, seed)
        train, val = rest.subset(train_idx), rest.subset(val_idx)
    if limit is not None and limit < len(train):
        train = train.subset(stratified_subset(train.labels, limit, seed))

    folder = Path(scan.path)
    return Dataset(
        name=scan.path,
        title=f"Folder {folder.name or scan.path} ({_plural(scan.num_images, 'image')}, {scan.num_classes} classes)",
        class_names=list(scan.class_names),
        image_shape=(h, w, channels),
        train=train,
        val=val,
        test=test,
        source=f"Image folder {scan.path} ({scan.layout} layout)",
        skipped=list(scan.skipped),
    )


def load_folder(
    path: str | Path,
    *,
    image_size: int | tuple[int, int] | None = None,
    color_mode: str = "auto",
    validation_split: float = 0.1,
    test_split: float = 0.2,
    seed: int = 42,
    limit: int | None = None,
    reporter: Reporter | None = None,
) -> Dataset:
    scan = scan_folder(path, reporter=reporter)
    return folder_dataset(
        scan,
        image_size=image_size,
        color_mode=color_mode,
        validation_split=validation_split,
        test_split=test_split,
        seed=seed,
        limit=limit,
    )
