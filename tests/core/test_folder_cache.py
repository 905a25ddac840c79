"""A folder whose decoded images fit in memory is decoded once, not every epoch (core.memory.cache_plan)."""

from __future__ import annotations

import numpy as np
from PIL import Image


def _folder(root, per_class=20):
    for c in ("a", "b"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.new("L", (8, 8), i * 10 + (c == "b")).save(root / c / f"{i:03d}.png")
    return root


def _count_decodes(monkeypatch) -> list[str]:
    import core.images

    decoded: list[str] = []
    real = core.images.file_to_model_input
    monkeypatch.setattr(core.images, "file_to_model_input", lambda p, s: decoded.append(p) or real(p, s))
    return decoded


def test_a_folder_that_fits_is_cached_and_one_that_does_not_streams(tmp_path):
    from core import memory
    from core.datasets import load_dataset

    ds = load_dataset(_folder(tmp_path / "data"), test_split=0.2, validation_split=0.2)
    cache, notice = memory.cache_plan(ds, available=10 * 1024**3)
    assert cache and "decoded images in memory" in notice and f"{len(ds.train) + len(ds.val):,}" in notice
    assert memory.cache_plan(ds, available=1000) == (False, None)  # too little free memory: stream
    sample = load_dataset("mnist-sample", limit=200)
    assert memory.cache_plan(sample, available=10 * 1024**3) == (False, None)  # in memory already


def test_a_cached_folder_decodes_each_file_once_over_several_epochs_and_still_reshuffles(tmp_path, monkeypatch):
    from core.datasets import load_dataset
    from core.training import train_pipeline

    ds = load_dataset(_folder(tmp_path / "data"), test_split=0, validation_split=0)
    n = len(ds.train)
    decoded = _count_decodes(monkeypatch)
    pipeline, steps = train_pipeline(ds.train, ds.image_shape, 8, seed=0, cache=True)
    batches = iter(pipeline)
    passes = [np.concatenate([next(batches)[0].numpy()[:, 0, 0, 0] for _ in range(steps)]) for _ in range(3)]
    assert len(decoded) == n, "each file is decoded once, however many epochs"
    assert not np.array_equal(passes[1], passes[2])  # still shuffled again each epoch

    decoded.clear()
    streamed, steps = train_pipeline(ds.train, ds.image_shape, 8, seed=0)  # without the cache: every epoch
    batches = iter(streamed)
    for _ in range(3 * steps):
        next(batches)
    assert len(decoded) >= 2 * n


def test_training_on_a_folder_that_fits_says_it_keeps_the_images_in_memory(tmp_path):
    from core.config import TrainConfig
    from core.reporting import NullReporter
    from core.training import train

    messages: list[str] = []

    class Collect(NullReporter):
        def on_message(self, text):
            messages.append(text)

    config = TrainConfig(
        dataset=str(_folder(tmp_path / "data")), model="simple-cnn-1", epochs=2, batch_size=8, tensorboard=False,
        model_options={"filters": 4, "dense_units": 8},
    )  # fmt: skip
    result = train(config, reporter=Collect(), workspace=tmp_path / "ws")
    assert result.test_accuracy is not None
    assert any("decoded images in memory" in m for m in messages), messages
