"""Reading image files and turning them into model input, with Pillow and numpy only.

Every model in the app takes raw 0-255 pixels of a fixed ``(height, width, channels)`` with one
(grayscale) or three (RGB) channels, and rescales them itself. This module gets any image a person
may point at into that form:

* :func:`open_image` reads a file, refuses what is not a usable image with an :class:`ImageError`
  whose message is a short reason for a person ("file is empty (0 bytes)"), applies the EXIF
  orientation a camera recorded and keeps the first frame of an animation;
* :func:`to_model_input` converts whatever colour mode the file had (palette, 16-bit, CMYK, with or
  without alpha, 1-bit) to 8-bit grayscale or RGB and resizes it;
* :func:`load_for_model` does both and also returns an RGB copy for display.

Transparent pixels are flattened onto the background the model was trained on (``background``:
the training images' typical border colour, recorded in the model card, :func:`border_colour`), so
a black drawing on a transparent PNG becomes white ink on black for an MNIST model. Without a
recorded background they are flattened onto white, not black: drawings and icons with transparency
are drawn to be seen on a light background, and Pillow's plain ``convert("RGB")`` would drop alpha
and reveal whatever colour happened to be stored under it (often black). :func:`reading_notes` says
what was done to an image (transparency filled, which colour; an animation's first frame).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageError

#: Images with more pixels than this are refused before being decoded (a decompression bomb: a
#: small file that expands to gigabytes). 50 megapixels covers every camera most people own.
MAX_PIXELS = 50_000_000

WHITE = (255, 255, 255)
#: A one-ink drawing whose ink is this close to the background (0-255, in every channel) would vanish
#: on it; "one ink": its opaque pixels vary less than INK_SPREAD (standard deviation) in every channel.
INK_CONTRAST = 48
INK_SPREAD = 32
#: ``Image.info`` key in which :func:`open_image` keeps how many frames an animated file had.
FRAMES_KEY = "cnn_workbench_frames"

# How a file starts when it claims to be an image Pillow can read; used to tell "not an image at
# all" from "an image whose data is cut short or damaged" when Pillow cannot identify it.
_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF, little-endian
    b"MM\x00*",  # TIFF, big-endian
)

_ALPHA_MODES = frozenset({"LA", "La", "PA", "RGBA", "RGBa"})

# Errors Pillow raises while decoding damaged data (a truncated stream is an OSError, a broken PNG
# chunk a SyntaxError, odd headers ValueError/EOFError, ...).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


def _looks_like_image(head: bytes) -> bool:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return True
    return any(head.startswith(sig) for sig in _SIGNATURES)


def megapixels(pixels: float) -> str:
    """Pixels as a person reads megapixels: ``51.2``, ``10,000`` (never ``1e+04``)."""
    value = pixels / 1e6
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def too_large_text(pixels: int) -> str:
    """Why an image of ``pixels`` is refused (training's folder scan and Predict say the same)."""
    return f"image is too large ({megapixels(pixels)} megapixels; the limit is {megapixels(MAX_PIXELS)})"


def _too_large(pixels: int) -> ImageError:
    return ImageError(too_large_text(pixels), detail=f"{pixels} pixels > MAX_PIXELS = {MAX_PIXELS}")


def open_image(path: str | Path, *, min_size: int | None = None) -> Image.Image:
    """Read an image file fully into memory, upright and as a single frame.

    Raises :class:`ImageError` whose message is only the reason ("not an image file", "file is
    empty (0 bytes)", "image is truncated or corrupt", "image is too large (...)", "file not
    found", ...); callers add the file name where they show it. ``detail`` holds the path and
    Pillow's own words.

    ``min_size`` lets JPEG files decode at a reduced scale (1/2, 1/4 or 1/8) as long as both sides
    stay at least ``min_size`` pixels: several times faster for camera photos that are about to be
    shrunk to a small model input anyway. The returned image is then smaller than the file.
    """
    path = path if isinstance(path, Path) else Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
            if not head:
                raise ImageError("file is empty (0 bytes)", detail=str(path))
            fh.seek(0)
            img = _decode(fh, head, path, min_size)
            frames = _frame_count(img)
            img = _upright(img)
            if frames > 1:
                img.info[FRAMES_KEY] = frames  # only the first frame is kept: reading_notes says so
            return img
    except FileNotFoundError as exc:
        raise ImageError("file not found", detail=f"{path}: {exc}") from exc
    except IsADirectoryError as exc:
        raise ImageError("this is a folder, not an image file", detail=str(path)) from exc
    except PermissionError as exc:
        raise ImageError("permission denied: the file cannot be read", detail=f"{path}: {exc}") from exc
    except ImageError:
        raise
    except OSError as exc:  # a read error of the disk or network share, not of the image data
        raise ImageError("the file cannot be read", detail=f"{path}: {exc}") from exc


def _decode(fh, head: bytes, path: Path, min_size: int | None) -> Image.Image:
    try:
        img = Image.open(fh)
    except Image.DecompressionBombError as exc:  # Pillow's own, far higher, limit
        match = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_large(int(match.group(1)) if match else MAX_PIXELS + 1) from exc
    except UnidentifiedImageError as exc:
        reason = "image is truncated or corrupt" if _looks_like_image(head) else "not an image file"
        raise ImageError(reason, detail=f"{path}: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise ImageError("image is truncated or corrupt", detail=f"{path}: {exc}") from exc

    width, height = img.size
    if width * height > MAX_PIXELS:
        raise _too_large(width * height)
    if width <= 0 or height <= 0:
        raise ImageError("image is truncated or corrupt", detail=f"{path}: size {img.size}")
    try:
        # A freshly opened file is at its first frame, so an animation yields its first frame.
        if min_size and img.format == "JPEG":
            img.draft(img.mode, (min_size, min_size))
        img.load()
    except _DECODE_ERRORS as exc:
        raise ImageError("image is truncated or corrupt", detail=f"{path}: {exc}") from exc
    return img


def _frame_count(img: Image.Image) -> int:
    try:
        return max(1, int(getattr(img, "n_frames", 1) or 1))
    except _DECODE_ERRORS:  # a damaged later frame: the first one was read
        return 1


def frame_count(img: Image.Image) -> int:
    """How many frames the file of ``img`` had (an animated GIF, PNG or WebP: more than 1)."""
    return int(img.info.get(FRAMES_KEY, 1))


def has_transparency(img: Image.Image) -> bool:
    """True when ``img`` has pixels that are not fully opaque (an alpha channel or a transparent colour)."""
    if img.mode not in _ALPHA_MODES and "transparency" not in img.info:
        return False
    try:
        low, _high = img.convert("RGBA").getchannel("A").getextrema()
    except ValueError:
        return False
    return low < 255


def _rgb(background) -> tuple[int, int, int]:
    values = [int(v) for v in (background or WHITE)]
    return (values[0],) * 3 if len(values) == 1 else tuple(values[:3])


def colour_name(background) -> str:
    """A background colour in words: "black", "white", "grey 128", "RGB 10, 20, 30"."""
    r, g, b = _rgb(background)
    if r == g == b:
        return "black" if r <= 16 else "white" if r >= 239 else f"grey {r}"
    return f"RGB {r}, {g}, {b}"


def border_colour(images: np.ndarray) -> list[int]:
    """The typical border colour of uint8 images ``(N, H, W, C)``: each channel's median over the
    outermost rows and columns (what surrounds the subject; ``[0]`` for MNIST's black)."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.ndim != 4 or not len(x):
        raise ValueError(f"expected images (N, H, W, C), got shape {x.shape}")
    edges = np.concatenate([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], axis=1)  # (N, 2W + 2H, C)
    return [int(v) for v in np.rint(np.median(edges.reshape(-1, x.shape[-1]), axis=0))]


def training_background(split, image_shape, sample: int = 256) -> list[int] | None:
    """The typical border colour (:func:`border_colour`) of up to ``sample`` images of a training
    ``split`` (a :class:`core.datasets.base.Split`), evenly spread: what the model card records.

    Cheap: in-memory images are only indexed; a folder dataset decodes ``sample`` files.
    """
    n = len(split)
    if n == 0:
        return None
    rows = np.unique(np.linspace(0, n - 1, min(n, sample)).astype(int))
    return border_colour(split.subset(rows).load_images(tuple(image_shape)))


def reading_notes(img: Image.Image, background=None) -> list[str]:
    """What a person should know about how ``img`` was read for a model (``background``: the model's).

    An animation: only its first frame is predicted. Transparency: filled with the model's training
    background, or with white when the model's card does not record one.
    """
    notes = []
    frames = frame_count(img)
    if frames > 1:
        notes.append(f"animated image ({frames} frames): only the first frame was predicted")
    if has_transparency(img):
        swap = ink_swap(img, background)
        if swap is not None:
            notes.append(
                f"transparent pixels filled with {colour_name(background)}, the background of the model's "
                f"training images; the drawing's ink, about that colour, drawn in {colour_name(swap)}"
            )
        elif background is None:
            notes.append(
                "transparent pixels filled with white (the model's card does not record the background "
                "of its training images)"
            )
        else:
            notes.append(
                f"transparent pixels filled with {colour_name(background)}, the background of the model's "
                "training images"
            )
    return notes


def _upright(img: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says, detached from the file (a plain copy)."""
    try:
        upright = ImageOps.exif_transpose(img)
    except _DECODE_ERRORS:  # damaged EXIF data must not cost an otherwise good picture
        upright = None
    return upright if upright is not None else img.copy()


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    """A single-channel image with more than 8 bits ('I;16*', 'I', 'F') as 'L', scaled, not clipped.

    Pillow's own ``convert("L")`` clips these at 255, which turns almost every 16-bit photo white.
    16-bit data maps 0..65535 to 0..255. 32-bit integers and floats hold whatever the writer chose,
    so their range decides: data already within 0..255 is kept, 0..65535 is treated as 16-bit,
    floats within 0..1 are scaled by 255, and anything else is stretched from its minimum to its
    maximum.
    """
    data = np.asarray(img).astype(np.float64)
    if data.size == 0:
        return Image.new("L", img.size)
    lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
    if img.mode.startswith("I;16"):
        scaled = data / 257.0
    elif img.mode == "F" and lo >= 0.0 and hi <= 1.0:
        scaled = data * 255.0
    elif lo >= 0.0 and hi <= 255.0:
        scaled = data
    elif img.mode == "I" and lo >= 0.0 and hi <= 65535.0:
        scaled = data / 257.0
    else:
        scaled = (data - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(data)
    scaled = np.nan_to_num(scaled, nan=0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def ink_swap(rgba: Image.Image, background) -> tuple[int, int, int] | None:
    """For a drawing in one ink about the colour of ``background`` (black strokes on a transparent
    PNG, for a model trained on black): the opposite colour to draw its ink in, else None.

    Filled onto that background the drawing would vanish; its shape is in the alpha channel, so it
    is drawn in the opposite colour (white strokes on black, as MNIST's digits are). Only with a
    recorded background, and only for one ink: a picture of several colours is never recoloured.
    """
    if background is None:
        return None
    arr = np.asarray(rgba.convert("RGBA") if rgba.mode != "RGBA" else rgba)
    opaque = arr[..., 3] >= 128
    if not opaque.any():
        return None
    ink = arr[..., :3][opaque].astype(np.float32)
    under = np.asarray(_rgb(background), np.float32)
    if np.abs(ink.mean(axis=0) - under).max() >= INK_CONTRAST or ink.std(axis=0).max() >= INK_SPREAD:
        return None
    r, g, b = (255 - int(v) for v in under)
    return (r, g, b)


def _flatten_alpha(img: Image.Image, background=None) -> Image.Image:
    """An 'RGBA' image composited onto ``background`` (``[v]`` grey or ``[r, g, b]``; white if None),
    as 'RGB'; a one-ink drawing in the background's colour is drawn in the opposite one (:func:`ink_swap`)."""
    swap = ink_swap(img, background)
    if swap is not None:
        img = Image.merge("RGBA", (*Image.new("RGB", img.size, swap).split(), img.getchannel("A")))
    under = Image.new("RGBA", img.size, (*_rgb(background), 255))
    return Image.alpha_composite(under, img).convert("RGB")


def to_8bit(img: Image.Image, channels: int, background=None) -> Image.Image:
    """``img`` as 8-bit 'L' (``channels == 1``) or 'RGB' (``channels == 3``), alpha flattened onto
    ``background`` (the model's training background, ``[v]`` or ``[r, g, b]``; white when None).

    Handles every mode Pillow opens: '1', 'L', 'LA', 'La', 'P' (with or without transparency),
    'PA', 'RGB', 'RGBA', 'RGBa', 'RGBX', 'CMYK', 'YCbCr', 'I;16' variants, 'I' and 'F'.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    target = "L" if channels == 1 else "RGB"
    mode = img.mode
    try:
        if mode in ("I", "F") or mode.startswith("I;16"):
            img = _scale_to_8bit(img)
        elif mode in _ALPHA_MODES or "transparency" in img.info:
            # 'LA', 'La', 'PA', 'RGBA', 'RGBa', and 'P'/'L'/'RGB' with a transparent colour key.
            img = _flatten_alpha(img.convert("RGBA"), background)
        elif mode not in ("L", "RGB"):
            # '1', 'P', 'CMYK', 'YCbCr', 'RGBX', 'HSV', ...: go through RGB so colours survive
            # (a palette converted straight to 'L' would be fine too, but CMYK -> 'L' is not).
            img = img.convert("RGB")
        return img if img.mode == target else img.convert(target)
    except ValueError as exc:  # "conversion from LAB to RGB not supported" and the like
        raise ImageError(f"unsupported colour mode {mode!r}", detail=str(exc)) from exc


def to_display(img: Image.Image) -> Image.Image:
    """An 8-bit RGB copy for showing on screen (same conversion the model input gets, no resize)."""
    out = to_8bit(img, 3)
    return out.copy() if out is img else out


def to_model_input(img: Image.Image, input_shape: tuple[int, int, int], background=None) -> np.ndarray:
    """``img`` as a uint8 array of ``input_shape`` (height, width, channels) for a model; transparency
    filled with ``background`` (the model card's, see :func:`to_8bit`).

    The image is stretched to the model's size (aspect ratio not kept), as Keras'
    ``image_dataset_from_directory`` and ``tf.image.resize`` do when a model is trained, so a
    picture looks to the model the way its training pictures did.

    Resampling is ``BILINEAR``: upsizing a small image matches the bilinear interpolation of the
    training pipelines, and when shrinking Pillow widens the filter with the scale factor, so
    large photos are averaged over the area each output pixel covers rather than aliased (unlike
    LANCZOS it adds no ringing halos around edges). ``reducing_gap`` first shrinks huge images by
    fast whole-pixel box averaging down to three times the target, which costs nothing visible.
    """
    height, width, channels = (int(v) for v in input_shape)
    if height <= 0 or width <= 0:
        raise ValueError(f"invalid input shape {tuple(input_shape)}")
    img = to_8bit(img, channels, background)
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    arr = np.asarray(img, dtype=np.uint8)
    if channels == 1:
        arr = arr[:, :, np.newaxis]
    return np.ascontiguousarray(arr)


def decode_min_size(input_shape: tuple[int, int, int]) -> int:
    """How small :func:`open_image` may decode a JPEG for a model of ``input_shape`` (twice its longer side)."""
    return 2 * max(int(input_shape[0]), int(input_shape[1]))


def file_to_model_input(path: str | Path, input_shape: tuple[int, int, int]) -> np.ndarray:
    """An image file as a uint8 array of ``input_shape``: THE decoding of a file for a model.

    Training (``tf.data``, core/datasets/decode.py), Predict and the Gallery all read files this
    way, so a picture looks the same to a model in training as when it is predicted. Raises
    :class:`ImageError` for a file that cannot be used.
    """
    return to_model_input(open_image(path, min_size=decode_min_size(input_shape)), input_shape)


def load_for_model(path: str | Path, input_shape: tuple[int, int, int]) -> tuple[Image.Image, np.ndarray]:
    """``(original, model_input)``: the upright image as RGB for display, and :func:`to_model_input`."""
    img = open_image(path)
    return to_8bit(img, 3), to_model_input(img, input_shape)


def array_to_model_input(image: np.ndarray, input_shape: tuple[int, int, int]) -> np.ndarray:
    """An image array (``H x W``, ``H x W x C``; uint8 or float 0-255) as uint8 of ``input_shape``.

    The one conversion from an array to what a model takes (the gallery's test images, Grad-CAM,
    the Inside tab's activations): returned as it is when it already has the model's shape,
    otherwise converted and resized by :func:`to_model_input` like a file would be.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, np.newaxis]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image (height, width, channels), got shape {np.asarray(image).shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
    if tuple(arr.shape) == tuple(int(v) for v in input_shape):
        return arr
    img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    return to_model_input(img, input_shape)
