"""core.images: every colour mode to 8-bit model input, upright, and clear reasons for bad files."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core import images
from core.errors import ImageError
from core.images import load_for_model, open_image, to_8bit, to_display, to_model_input


def _save(img: Image.Image, path, fmt: str | None = None, **kw):
    img.save(path, fmt, **kw)
    return path


def _noise_rgb(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


# ---------------------------------------------------------------------------------------------- modes


def test_rgba_transparent_pixels_become_white():
    arr = np.zeros((4, 4, 4), np.uint8)
    arr[..., 0] = 200  # red under the alpha, must not show where fully transparent
    arr[0, 0] = (10, 20, 30, 255)  # opaque
    arr[0, 1] = (0, 0, 0, 128)  # half-transparent black -> mid grey
    img = Image.fromarray(arr, "RGBA")

    out = to_model_input(img, (4, 4, 3))
    assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
    assert tuple(out[3, 3]) == (255, 255, 255)
    assert tuple(out[0, 0]) == (10, 20, 30)
    assert all(abs(int(v) - 127) <= 1 for v in out[0, 1])

    grey = to_model_input(img, (4, 4, 1))
    assert grey.shape == (4, 4, 1) and grey[3, 3, 0] == 255


def test_la_flattens_onto_white():
    arr = np.zeros((3, 3, 2), np.uint8)
    arr[0, 0] = (40, 255)
    img = Image.fromarray(arr, "LA")
    out = to_model_input(img, (3, 3, 1))
    assert out[0, 0, 0] == 40 and out[2, 2, 0] == 255
    assert tuple(to_model_input(img, (3, 3, 3))[1, 1]) == (255, 255, 255)


def test_palette_with_and_without_transparency(tmp_path):
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    pal.putpixel((0, 0), 0)
    out = to_model_input(pal, (4, 4, 3))
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[1, 1]) == (0, 0, 255)

    # Index 1 (blue) transparent, saved as a PNG with a tRNS chunk: blue pixels turn white.
    path = _save(pal, tmp_path / "pal.png", transparency=1)
    img = open_image(path)
    assert img.mode == "P"
    out = to_model_input(img, (4, 4, 3))
    assert tuple(out[0, 0]) == (255, 0, 0) and tuple(out[1, 1]) == (255, 255, 255)


def test_16bit_grayscale_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 1000, 30000, 65535]], np.uint16)
    path = _save(Image.fromarray(values), tmp_path / "g16.png")
    img = open_image(path)
    assert img.mode.startswith("I")  # 'I;16' (or 'I' in older Pillow)
    out = to_model_input(img, (1, 5, 1))[0, :, 0]
    assert out.tolist() == [0, 1, 4, 117, 255]

    ramp = (np.arange(64 * 64, dtype=np.uint32) * 16).astype(np.uint16).reshape(64, 64)
    out = to_model_input(Image.fromarray(ramp), (64, 64, 1))[..., 0].reshape(-1)
    assert np.all(np.diff(out.astype(int)) >= 0), "monotonic"
    assert out[0] == 0 and out[-1] >= 250 and len(np.unique(out)) > 200
    assert to_model_input(Image.fromarray(ramp), (64, 64, 3)).shape == (64, 64, 3)


def test_32bit_and_float_modes():
    as_i = Image.fromarray(np.array([[0, 32896, 65535]], np.int32))
    assert as_i.mode == "I"
    assert np.asarray(to_8bit(as_i, 1)).tolist() == [[0, 128, 255]]
    small = Image.fromarray(np.array([[0, 100, 255]], np.int32))
    assert np.asarray(to_8bit(small, 1)).tolist() == [[0, 100, 255]]
    unit = Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32))
    assert np.asarray(to_8bit(unit, 1)).tolist() == [[0, 128, 255]]
    wide = Image.fromarray(np.array([[-10.0, 0.0, 10.0]], np.float32))
    assert np.asarray(to_8bit(wide, 1)).tolist() == [[0, 128, 255]]


def test_cmyk_and_one_bit(tmp_path):
    cmyk = Image.new("CMYK", (2, 2), (0, 0, 0, 0))
    cmyk.putpixel((0, 0), (0, 0, 0, 255))
    out = to_model_input(cmyk, (2, 2, 3))
    assert tuple(out[1, 1]) == (255, 255, 255) and tuple(out[0, 0]) == (0, 0, 0)
    jpeg = open_image(_save(cmyk.resize((16, 16)), tmp_path / "cmyk.jpg"))
    assert jpeg.mode == "CMYK" and to_model_input(jpeg, (8, 8, 3)).shape == (8, 8, 3)

    bits = Image.new("1", (3, 3), 1)
    bits.putpixel((0, 0), 0)
    out = to_model_input(bits, (3, 3, 1))
    assert out[0, 0, 0] == 0 and out[1, 1, 0] == 255
    assert tuple(to_model_input(bits, (3, 3, 3))[1, 1]) == (255, 255, 255)


def test_resize_and_grayscale_channel_axis():
    img = _noise_rgb(100, 50)
    out = to_model_input(img, (16, 32, 1))
    assert out.shape == (16, 32, 1) and out.dtype == np.uint8 and out.flags.c_contiguous
    # Shrinking averages: a fine checkerboard becomes even grey instead of aliasing to black/white.
    board = (np.indices((64, 64)).sum(axis=0) % 2 * 255).astype(np.uint8)
    small = to_model_input(Image.fromarray(board), (8, 8, 1))
    assert np.all(np.abs(small.astype(int) - 128) <= 2)
    with pytest.raises(ValueError):
        to_8bit(img, 2)


def test_to_display_is_rgb_copy():
    img = _noise_rgb(5, 4)
    shown = to_display(img)
    assert shown.mode == "RGB" and shown is not img and shown.size == (5, 4)
    assert to_display(Image.new("L", (3, 3))).mode == "RGB"


# ------------------------------------------------------------------------------------------ reading


def test_exif_orientation_is_applied(tmp_path):
    img = _noise_rgb(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    path = _save(img, tmp_path / "rotated.jpg", exif=exif.tobytes())
    assert Image.open(path).size == (40, 20)
    opened = open_image(path)
    assert opened.size == (20, 40)
    original, model_input = load_for_model(path, (10, 5, 3))
    assert original.size == (20, 40) and original.mode == "RGB"
    assert model_input.shape == (10, 5, 3)


def test_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    img = open_image(path)
    assert getattr(img, "n_frames", 1) == 1
    out = to_model_input(img, (4, 4, 3))
    assert tuple(out[0, 0]) == (255, 0, 0)


def _reason(path, **kw) -> str:
    with pytest.raises(ImageError) as info:
        open_image(path, **kw)
    assert str(path.name) in info.value.detail
    return str(info.value)


def test_bad_files_give_specific_reasons(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert _reason(empty) == "file is empty (0 bytes)"

    text = tmp_path / "notes.png"
    text.write_text("this is not a picture\n")
    assert _reason(text) == "not an image file"

    noise = tmp_path / "noise.jpg"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 500, dtype=np.uint8).tobytes())
    assert _reason(noise) == "not an image file"

    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 20)
    assert _reason(corrupt) == "image is truncated or corrupt"

    assert _reason(tmp_path / "missing.png") == "file not found"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files(tmp_path, fmt):
    buf = io.BytesIO()
    _noise_rgb(64, 64).save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"cut.{fmt.lower()}"
    path.write_bytes(data[: len(data) // 2])
    assert _reason(path) == "image is truncated or corrupt"
    path.write_bytes(data[:40])  # cut inside the header
    assert _reason(path) == "image is truncated or corrupt"


def test_folder_is_not_an_image(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        open_image(tmp_path)


def test_decompression_bomb_guard(tmp_path, monkeypatch):
    path = _save(Image.new("RGB", (30, 20)), tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 500)
    with pytest.raises(ImageError, match=r"image is too large \(0\.0006 megapixels; the limit is 0\.0005\)"):
        open_image(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 600)
    assert open_image(path).size == (30, 20)


def test_min_size_decodes_large_jpeg_at_reduced_scale(tmp_path):
    path = _save(_noise_rgb(400, 300), tmp_path / "photo.jpg", quality=90)
    assert open_image(path).size == (400, 300)
    small = open_image(path, min_size=64)
    assert small.size == (100, 75)  # 1/4 scale: the smallest with both sides >= 64
    assert to_model_input(small, (32, 32, 3)).shape == (32, 32, 3)
    png = _save(_noise_rgb(400, 300), tmp_path / "photo.png")
    assert open_image(png, min_size=64).size == (400, 300)  # only JPEG has reduced-scale decoding


def test_megapixels_read_as_people_write_them():
    from core.images import MAX_PIXELS, megapixels, too_large_text

    assert megapixels(10_000_000_000) == "10,000"  # not "1e+04"
    assert megapixels(51_200_000) == "51.2"
    assert too_large_text(10_000_000_000) == "image is too large (10,000 megapixels; the limit is 50)"
    assert megapixels(MAX_PIXELS) == "50"
