"""Decoding image files inside ``tf.data`` (TensorFlow graph ops only: runs in tf.data's threads, off the GIL).

:func:`decode_image_file` is what ``Split.tf_dataset`` maps over a folder dataset's file paths
(core/datasets/base.py); it follows :func:`core.images.to_model_input`, the decoding used at
prediction time, so a picture looks to a model in training as it does when predicted.
"""

from __future__ import annotations

_PNG_SIGNATURE = (0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A)
_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, the weights of Pillow's convert("L")


def decode_image_file(path_tensor, image_shape, orientation=None):
    """Read one image file as a uint8 tensor of ``image_shape`` (height, width, channels 1 or 3).

    Built from TensorFlow ops only, for ``tf.data.Dataset.map``. Follows what
    :func:`core.images.to_model_input` does with a picture at prediction time: the first frame of
    an animation, transparency flattened onto white, grey by the ITU-R 601-2 weights (Pillow's),
    stretched to the size (aspect ratio not kept) with antialiased bilinear resampling, and turned
    upright by ``orientation``, the EXIF orientation (1-8) the scan read from the file's header
    (TensorFlow's decoders ignore EXIF; Keras' ``image_dataset_from_directory`` trains on phone
    photos lying on their side). An undecodable file raises at run time, which the pipeline's
    ``ignore_errors()`` turns into a dropped element.

    WebP needs care: TensorFlow's WebP decoder demands the file's own channel count (3, or 4 with
    alpha) and never a grey output, and with ``channels=0`` it crashes the process on animated WebP.
    So the header is read here to ask for exactly 3 or 4 channels, and animated WebP is refused
    with an ordinary (droppable) error before it reaches the decoder.
    """
    import tensorflow as tf

    height, width, channels = (int(v) for v in image_shape)
    contents = tf.io.read_file(path_tensor)
    head = tf.io.decode_raw(tf.strings.substr(contents, 0, 32), tf.uint8, fixed_length=32)
    head = tf.cast(head, tf.int32)

    def matches(offset: int, expected: bytes | tuple[int, ...]):
        return tf.reduce_all(tf.equal(head[offset : offset + len(expected)], tf.constant(list(expected), tf.int32)))

    def flatten_alpha(rgba):
        rgba = tf.cast(rgba, tf.float32)
        alpha = rgba[..., 3:] / 255.0
        return rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)

    def decode_png():
        return flatten_alpha(tf.io.decode_png(contents, channels=4))

    def decode_webp():
        is_vp8x, is_vp8l = matches(12, b"VP8X"), matches(12, b"VP8L")
        flags = head[20]
        has_alpha = tf.logical_or(
            tf.logical_and(is_vp8x, tf.bitwise.bitwise_and(flags, 0x10) > 0),
            tf.logical_and(is_vp8l, tf.bitwise.bitwise_and(tf.bitwise.right_shift(head[24], 4), 1) > 0),
        )
        animated = tf.logical_and(is_vp8x, tf.bitwise.bitwise_and(flags, 0x02) > 0)
        check = tf.debugging.Assert(tf.logical_not(animated), ["animated WebP is not supported:", path_tensor])
        with tf.control_dependencies([check]):
            return tf.cond(
                has_alpha,
                lambda: flatten_alpha(tf.io.decode_image(contents, channels=4, expand_animations=False)),
                lambda: tf.cast(tf.io.decode_image(contents, channels=3, expand_animations=False), tf.float32),
            )

    def decode_other():  # JPEG, GIF (first frame), BMP
        return tf.cast(tf.io.decode_image(contents, channels=3, expand_animations=False), tf.float32)

    is_png = matches(0, _PNG_SIGNATURE)
    is_webp = tf.logical_and(matches(0, b"RIFF"), matches(8, b"WEBP"))
    rgb = tf.cond(is_png, decode_png, lambda: tf.cond(is_webp, decode_webp, decode_other))
    rgb = tf.ensure_shape(rgb, [None, None, 3])
    if orientation is not None:
        rgb = apply_exif_orientation(rgb, orientation)
    image = tf.image.resize(rgb, (height, width), method="bilinear", antialias=True)
    if channels == 1:
        image = tf.reduce_sum(image * tf.constant(_LUMA, tf.float32), axis=-1, keepdims=True)
    image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
    return tf.ensure_shape(image, [height, width, channels])


def apply_exif_orientation(image, orientation):
    """Turn an HxWxC tensor upright for EXIF ``orientation`` 1-8 (as Pillow's ``exif_transpose``)."""
    import tensorflow as tf

    def transpose():
        return tf.transpose(image, [1, 0, 2])

    branches = [
        lambda: image,  # 0: not used (EXIF counts from 1)
        lambda: image,  # 1: upright
        lambda: tf.reverse(image, [1]),  # 2: mirrored left-right
        lambda: tf.image.rot90(image, 2),  # 3: upside down
        lambda: tf.reverse(image, [0]),  # 4: mirrored top-bottom
        transpose,  # 5: mirrored along the main diagonal
        lambda: tf.image.rot90(image, 3),  # 6: needs a quarter turn clockwise
        lambda: tf.image.rot90(transpose(), 2),  # 7: mirrored along the anti-diagonal
        lambda: tf.image.rot90(image, 1),  # 8: needs a quarter turn anticlockwise
    ]
    index = tf.clip_by_value(tf.cast(orientation, tf.int32), 0, 8)
    return tf.switch_case(index, branches)
