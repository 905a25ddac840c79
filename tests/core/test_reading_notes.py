"""Transparent pictures are filled with the model's training background; animations say "first frame"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import cards, cli
from core.images import border_colour, open_image, reading_notes, to_model_input, training_background

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "weights" / "mnist-sample-simple-cnn-2.keras"


def _ink_drawing(path: Path, digit: np.ndarray, scale: int = 4) -> Path:
    """``digit`` (white on black, H x W) as a black-ink drawing on a transparent PNG, as drawing apps save it."""
    alpha = Image.fromarray(digit).resize((digit.shape[1] * scale, digit.shape[0] * scale), Image.Resampling.BILINEAR)
    rgba = Image.merge("RGBA", (*Image.new("RGB", alpha.size, (0, 0, 0)).split(), alpha))
    rgba.save(path)
    return path


@pytest.fixture(scope="module")
def sample():
    from core.datasets.sample import load_sample_arrays

    x, y = load_sample_arrays()
    return x[:60], y[:60]


def test_border_colour_is_the_typical_edge_of_the_training_images(sample):
    x, _ = sample
    assert border_colour(x) == [0]  # MNIST: white digits on black
    white = np.full((5, 8, 8, 3), 250, np.uint8)
    white[:, 3:5, 3:5] = 0
    assert border_colour(white) == [250, 250, 250]


def test_the_card_records_the_background_and_old_cards_have_none(sample):
    from core.datasets.base import Split

    x, y = sample
    bg = training_background(Split(y, images=x), (28, 28, 1))
    card = cards.make_card(
        class_names=list("0123456789"),
        input_shape=(28, 28, 1),
        dataset={},
        architecture={},
        hyperparameters={},
        background=bg,
    )
    assert cards.background(card) == (0,)
    card.pop("background")
    assert cards.background(card) is None  # an old card
    assert cards.background({"background": ["x"]}) is None  # a damaged one
    assert cards.read_card(SHIPPED)["background"] == [0]  # the shipped model's, from its training split


def test_a_black_ink_drawing_is_filled_with_the_training_background(sample, tmp_path):
    x, _ = sample
    img = open_image(_ink_drawing(tmp_path / "ink.png", x[0][:, :, 0], scale=1))
    got = to_model_input(img, (28, 28, 1), (0,))
    ink = x[0][:, :, 0] > 200
    assert got[..., 0][~(x[0][:, :, 0] > 0)].max() == 0  # the background is MNIST's black
    assert got[..., 0][ink].min() > 200  # the ink shows white, as MNIST's digits
    notes = reading_notes(img, (0,))
    assert len(notes) == 1 and "filled with black" in notes[0] and "drawn in white" in notes[0]
    # an old card (no background): today's white, and it says so
    plain = to_model_input(img, (28, 28, 1))
    assert plain[..., 0][~(x[0][:, :, 0] > 0)].min() == 255
    assert "filled with white" in reading_notes(img, None)[0] and "does not record" in reading_notes(img, None)[0]
    # an opaque picture gets no note
    assert reading_notes(Image.fromarray(x[0][:, :, 0]), (0,)) == []


def test_the_shipped_model_reads_transparent_drawings_right(sample, tmp_path):
    from core.ensemble import predict_files
    from core.inference import Predictor, load_model

    loaded = load_model(SHIPPED)
    x, y = sample
    predictor = Predictor(loaded)
    right = [i for i, p in enumerate(predictor.predict(x)) if int(np.argmax(p)) == int(y[i])][:20]
    files = [_ink_drawing(tmp_path / f"d{i}.png", x[i][:, :, 0]) for i in right]
    results = predict_files(predictor, files)
    got = [int(r.top[0][0]) for r in results]
    assert sum(g == int(y[i]) for g, i in zip(got, right, strict=True)) >= 18
    assert all("filled with black" in r.notes[0] for r in results)


def test_an_animated_gif_says_its_first_frame_was_predicted(sample, tmp_path, capsys):
    x, _ = sample
    frames = [Image.fromarray(x[i][:, :, 0]) for i in range(3)]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    still = tmp_path / "still.gif"
    frames[0].save(still)
    assert "only the first frame" in reading_notes(open_image(gif))[0]
    assert "3 frames" in reading_notes(open_image(gif))[0]
    assert reading_notes(open_image(still)) == []
    assert cli.run_cli(["predict", str(SHIPPED), str(gif), str(still)]) == 0
    out = capsys.readouterr().out
    assert out.count("note: animated image (3 frames): only the first frame was predicted") == 1


def test_training_records_the_background_in_the_card(tiny_dataset, tmp_path):
    from core.config import TrainConfig
    from core.images import training_background
    from core.reporting import NullReporter
    from core.training import train

    config = TrainConfig(dataset="tiny", model="simple-cnn-1", epochs=1, batch_size=8)
    result = train(config, NullReporter(), workspace=tmp_path, dataset=tiny_dataset)
    expected = training_background(tiny_dataset.train, tiny_dataset.image_shape)
    for name in ("model.keras", "last.keras"):
        assert cards.read_card(result.run_dir / name)["background"] == expected
