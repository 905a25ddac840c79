"""Decoding image files inside ``tf.data``: the same Pillow code Predict uses, called from the pipeline.

:func:`decode_image_file` is what ``Split.tf_dataset`` maps over a folder dataset's file paths
(core/datasets/base.py). It runs :func:`core.images.file_to_model_input`, the decoding Predict
and the Gallery use, inside ``tf.numpy_function``: one code path, so a picture looks to a model in
training exactly as it does when predicted (pixel for pixel). TensorFlow's own decoders were used
here before and differed from Pillow in ways that cost accuracy silently: a 1-, 2- or 4-bit grey
PNG came out blank white (its transparency misread), EXIF orientation and several colour modes
needed rules of their own.

Pillow releases the GIL while it decodes and resizes, so tf.data's parallel calls still overlap.
"""

from __future__ import annotations

import numpy as np


def _decode_to_array(path, height, width, channels) -> np.ndarray:
    import os

    from core.images import file_to_model_input

    path = np.asarray(path).item()  # bytes (a 0-d array when called eagerly)
    try:
        return file_to_model_input(os.fsdecode(path), (int(height), int(width), int(channels)))
    except Exception as exc:  # noqa: BLE001 - any failure drops the file (see below)
        # A ValueError reaches tf.data as InvalidArgumentError, which the pipeline's ignore_errors()
        # drops. Other exceptions could arrive as OutOfRangeError (IndexError) and end the dataset.
        raise ValueError(f"{path!r} cannot be decoded: {exc}") from exc


def decode_image_file(path_tensor, image_shape):
    """Read one image file as a uint8 tensor of ``image_shape`` (height, width, channels 1 or 3).

    For ``tf.data.Dataset.map``: :func:`core.images.file_to_model_input` (the first frame of an
    animation, upright by its EXIF orientation, every colour mode converted as Predict converts
    it, transparency flattened onto white, stretched to the size) run by ``tf.numpy_function``.
    An undecodable file raises ``InvalidArgumentError`` at run time, which the pipeline's
    ``ignore_errors()`` turns into a dropped element.
    """
    import tensorflow as tf

    height, width, channels = (int(v) for v in image_shape)
    image = tf.numpy_function(
        _decode_to_array,
        [path_tensor, height, width, channels],
        tf.uint8,
        stateful=False,
        name="decode_with_pillow",
    )
    return tf.ensure_shape(image, [height, width, channels])
