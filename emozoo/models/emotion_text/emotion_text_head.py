"""The heads of ``emotion_text`` and the data they are trained on.

Inputs of every head: MPNet (all-mpnet-base-v2) sentence embeddings of the turns of a
conversation, ``text [B, L, 768]`` with ``mask [B, L]`` (1 = a real turn), the values of the
``tfrecords/{iemocap_text,meld}_mpnet`` stores (:mod:`emozoo.backbones.mpnet`). Output: logits
``[B, L, K]``. The candidates (:data:`CANDIDATES`, fixed hyper-parameters decided before any run):

* ``linear``: utterance-level (no context): z-normalisation with the training turns' statistics,
  one dense layer, class-balanced cross-entropy, L2 1e-4, Adam 3e-3, batch 256, 10 epochs
  (the ``linear`` recipe of ``emotion_speech``'s head, in epochs);
* ``ci``: the DANN conversational model of Lian et al. 2019 (AT-Fusion d = 100 -> SA-GRU: bi-GRU
  50 + 50 and 4-head self-attention -> per-turn classifier), ``lambda = 0``, trained on the
  source corpus only (:class:`~emozoo.models.dann.dann_model.DANNConversationModel`, the CPU
  preset of ``dann/iemocap/mpnet/...``: Adam 1e-3, 20 epochs, batch 20 conversations, L2 1e-5);
* ``dann``: the same with the speaker adversary behind the gradient reversal layer
  (``lambda = 1``), speakers as domains on every turn of the training conversations AND of the
  (unlabelled) target conversations, as ``dann/iemocap/mpnet/ts_1234/dann`` does.

Label sets: ``4class`` (neutral, happy, angry, sad; IEMOCAP happy + excited = happy, frustrated
and other turns kept as unlabelled context; MELD joy = happy, anger = angry, sadness = sad,
neutral = neutral, its other turns unlabelled context) and ``meld7`` (MELD's seven, with the
names of the ``meld_mpnet`` store: angry, disgust, fear, happy, sad, surprise, neutral).

Example:

>>> data = load_corpora(".", "mpnet")                                     # doctest: +SKIP
>>> fold = cross_corpus_fold(data, "iemocap", "meld", "dann")             # doctest: +SKIP
>>> head = train_head(fold, "dann", seed=0)                              # doctest: +SKIP
>>> score_head(head, fold.test, fold.classes)["uar"]                     # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Sequence

import numpy as np

from emozoo.errors import SchemaError

CLASSES_4 = ("neutral", "happy", "angry", "sad")
#: MELD's seven emotions with the names of the ``meld_mpnet`` store (7basic, store order).
CLASSES_MELD7 = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
LABEL_SETS = {"4class": CLASSES_4, "meld7": CLASSES_MELD7}
#: store of each corpus for a feature (``{feature}`` = ``mpnet`` or ``minilm``)
STORES = {"iemocap": "tfrecords/iemocap_text_{feature}", "meld": "tfrecords/meld_{feature}"}
CORPORA = ("iemocap", "meld")

LINEAR = dict(epochs=10, batch_size=256, learning_rate=3e-3, l2=1e-4)
DANN_MODEL = dict(fusion_units=100, gru_units=50, num_heads=4, l2=1e-5, domain_units=[100], emotion_units=[])
DANN_PRESET = dict(epochs=20, batch_size=20, learning_rate=1e-3)
CANDIDATES = {
    "linear": {"kind": "linear", **LINEAR},
    "ci": {"kind": "conversation", "grl_lambda": 0.0, **DANN_MODEL, **DANN_PRESET},
    "dann": {"kind": "conversation", "grl_lambda": 1.0, **DANN_MODEL, **DANN_PRESET},
}
MIN_SPEAKER_TURNS = 50     # MELD: speakers with fewer turns share one 'other' domain (as dann/meld/...)


@dataclasses.dataclass
class Corpus:
    """The conversations of one store and the index of each turn's emotion in a label set."""

    name: str
    dialogues: list          # emozoo.models.dann.dann_task.Dialogue
    classes: tuple           # the store's classes

    def label(self, emotion: str, label_set: str = "4class") -> int:
        """Index of a store emotion name in ``label_set`` (-1: unlabelled, or outside the set)."""
        names = LABEL_SETS[label_set]
        return names.index(emotion) if emotion in names else -1


def load_corpora(repo: str | Path = ".", feature: str = "mpnet", corpora: Sequence[str] = CORPORA) -> dict:
    """``{corpus: Corpus}`` of the sentence-embedding stores (every turn, in spoken order)."""
    from emozoo.models.dann.dann_task import load_dialogues

    out = {}
    for c in corpora:
        store = Path(repo) / STORES[c].format(feature=feature)
        dialogues, classes = load_dialogues(store, feature)
        if c == "iemocap" and tuple(classes) != CLASSES_4:
            raise SchemaError(f"{store} holds classes {classes}; build it with --label-set 4class")
        if c == "meld" and tuple(classes) != CLASSES_MELD7:
            raise SchemaError(f"{store} holds classes {classes}; build it with --label-set 7basic")
        out[c] = Corpus(c, dialogues, tuple(classes))
    return out


# --- folds --------------------------------------------------------------------------------------------
def _fold(name, train_dialogues, labelled, test_dialogues, test_label, classes):
    """A :class:`~emozoo.models.dann.dann_task.ConvFold`: ``labelled(d, j) -> int`` gives the training
    labels (-1 none), ``test_label(d, j)`` the test ones; speaker domains on every training turn
    (with ``lambda = 0`` the domain classifier is only a probe: nothing reaches the encoder)."""
    from emozoo.models.dann.dann_task import ConvFold, _domain_index, pad

    names, dom_of = _domain_index(train_dialogues, "speaker", set(), MIN_SPEAKER_TURNS)
    L = max(len(d.clip_ids) for d in train_dialogues)
    train = pad(train_dialogues, labelled, dom_of, L)
    test = pad(test_dialogues, test_label, lambda d, j: -1, max(len(d.clip_ids) for d in test_dialogues))
    sizes = {"train_labelled": int((train.y >= 0).sum()), "domain_rows": int((train.domain >= 0).sum()),
             "test_labelled": int((test.y >= 0).sum()), "dialogues": len(train_dialogues),
             "test_dialogues": len(test_dialogues)}
    return ConvFold(name, train, test, tuple(classes), names, sizes)


def cross_corpus_fold(data: dict, source: str, target: str, candidate: str):
    """Train on every labelled 4-class turn of ``source``, test on every labelled 4-class turn of
    ``target``. ``dann`` also puts the target's conversations (unlabelled) into training, for the
    speaker adversary; ``ci`` and ``linear`` see the source only."""
    src, tgt = data[source], data[target]
    train_d = list(src.dialogues) + (list(tgt.dialogues) if candidate == "dann" else [])
    src_ids = {d.dialogue_id for d in src.dialogues}
    return _fold(f"{source}->{target}", train_d,
                 lambda d, j: src.label(d.emotion[j]) if d.dialogue_id in src_ids else -1,
                 list(tgt.dialogues), lambda d, j: tgt.label(d.emotion[j]), CLASSES_4)


def session5_fold(data: dict, candidate: str, plus_meld: bool = False):
    """IEMOCAP TS_1234 (train on sessions 1-4, test on session 5, 4 classes). Conversation
    candidates use :func:`emozoo.models.dann.dann_task.iemocap_fold` (every session's turns carry
    speaker domains; session 5 unlabelled), i.e. ``dann/iemocap/mpnet/ts_1234/{ci,dann}``.
    ``plus_meld``: every labelled 4-class MELD turn is added to training (session 5 never seen)."""
    from emozoo.models.dann.dann_task import iemocap_fold

    iem = data["iemocap"]
    if not plus_meld:
        return iemocap_fold(iem.dialogues, iem.classes, "TS_1234", domain="speaker")
    meld = data["meld"]
    test_d = [d for d in iem.dialogues if d.session == 5]
    meld_ids = {d.dialogue_id for d in meld.dialogues}
    label = lambda d, j: (meld.label(d.emotion[j]) if d.dialogue_id in meld_ids  # noqa: E731
                          else iem.label(d.emotion[j]) if d.session != 5 else -1)
    return _fold("iemocap/ts_1234+meld", list(iem.dialogues) + list(meld.dialogues), label, test_d,
                 lambda d, j: iem.label(d.emotion[j]), CLASSES_4)


def meld_fold(data: dict, label_set: str = "meld7"):
    """MELD official splits: train on the train dialogues' labels, test on the test dialogues;
    every turn of train, dev and test carries its speaker domain (dev/test unlabelled), as
    :func:`emozoo.models.dann.dann_task.meld_fold` / ``dann/meld/text/7class/dann``."""
    meld = data["meld"]
    test_d = [d for d in meld.dialogues if d.split == "test"]
    return _fold(f"meld/{label_set}", list(meld.dialogues),
                 lambda d, j: meld.label(d.emotion[j], label_set) if d.split == "train" else -1,
                 test_d, lambda d, j: meld.label(d.emotion[j], label_set), LABEL_SETS[label_set])


def meld4_fold(data: dict, plus_iemocap: bool = False):
    """MELD official train -> test on the 4 shared classes (other turns context); ``plus_iemocap``:
    every labelled IEMOCAP turn (sessions 1-5) is added to training (does mixing hurt MELD?)."""
    meld, iem = data["meld"], data["iemocap"]
    test_d = [d for d in meld.dialogues if d.split == "test"]
    iem_ids = {d.dialogue_id for d in iem.dialogues}
    label = lambda d, j: (iem.label(d.emotion[j]) if d.dialogue_id in iem_ids  # noqa: E731
                          else meld.label(d.emotion[j]) if d.split == "train" else -1)
    train_d = list(meld.dialogues) + (list(iem.dialogues) if plus_iemocap else [])
    return _fold("meld/4class" + ("+iemocap" if plus_iemocap else ""), train_d, label, test_d,
                 lambda d, j: meld.label(d.emotion[j]), CLASSES_4)


def all_turns_fold(data: dict, label_set: str, mix: bool = True):
    """The publish fold: ``4class`` = every labelled 4-class turn of IEMOCAP (sessions 1-5) and, with
    ``mix``, of MELD (all splits); ``meld7`` = MELD's train dialogues (so that the MELD test figures
    describe the published head). Its ``test`` batch is a placeholder (the first training dialogue)."""
    if label_set == "meld7":
        return meld_fold(data, "meld7")
    iem, meld = data["iemocap"], data["meld"]
    if not mix:
        return _fold("iemocap/4class", list(iem.dialogues), lambda d, j: iem.label(d.emotion[j]),
                     list(iem.dialogues)[:1], lambda d, j: iem.label(d.emotion[j]), CLASSES_4)
    meld_ids = {d.dialogue_id for d in meld.dialogues}
    label = lambda d, j: meld.label(d.emotion[j]) if d.dialogue_id in meld_ids else iem.label(d.emotion[j])  # noqa: E731
    dialogues = list(iem.dialogues) + list(meld.dialogues)
    return _fold("iemocap+meld/4class", dialogues, label, dialogues[:1], label, CLASSES_4)


# --- heads --------------------------------------------------------------------------------------------
def labelled_turns(batch) -> tuple[np.ndarray, np.ndarray]:
    """``(x [n, D], y [n])`` of the labelled turns of a padded batch."""
    keep = batch.y >= 0
    return batch.x[keep], batch.y[keep].astype(np.int64)


def build_linear(num_classes: int, dim: int, mean: np.ndarray, std: np.ndarray, l2: float = LINEAR["l2"]):
    """The ``linear`` head as a Keras model ``[..., D] -> logits [..., K]``: fixed z-normalisation
    (``(x - mean) / (std + 1e-5)``, the training turns' statistics), then one dense layer."""
    import keras

    inp = keras.Input((None, dim), name="text")
    norm = keras.layers.Normalization(axis=-1, mean=mean, variance=(np.asarray(std, np.float64) + 1e-5) ** 2,
                                      name="znorm")
    out = keras.layers.Dense(num_classes, kernel_regularizer=keras.regularizers.L2(l2), name="logits")(norm(inp))
    return keras.Model(inp, out, name="emotion_text_linear")


def train_linear(x: np.ndarray, y: np.ndarray, num_classes: int, seed: int = 0, **params):
    """Train the ``linear`` head on turns ``x [n, D]``, labels ``y [n]`` (class-balanced)."""
    import keras

    from emozoo.utils import balanced_sample_weights

    p = {**LINEAR, **params}
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.int64)
    if x.ndim != 2 or len(x) != len(y) or not len(x):
        raise SchemaError(f"train_linear needs x [n, D] and y [n], got {x.shape} and {y.shape}")
    keras.utils.set_random_seed(seed)
    model = build_linear(num_classes, x.shape[1], x.mean(0), x.std(0), p["l2"])
    model.compile(keras.optimizers.Adam(p["learning_rate"]),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x[:, None, :], y[:, None], sample_weight=balanced_sample_weights(y, num_classes)[:, None],
              batch_size=p["batch_size"], epochs=p["epochs"], shuffle=True, verbose=0)
    return model


def train_head(fold, candidate: str, seed: int = 0, verbose: int = 0):
    """Train candidate ``candidate`` (:data:`CANDIDATES`) on ``fold.train``; returns the Keras model."""
    if candidate not in CANDIDATES:
        raise SchemaError(f"unknown emotion_text head {candidate!r}; known: {sorted(CANDIDATES)}")
    p = dict(CANDIDATES[candidate])
    if p.pop("kind") == "linear":
        x, y = labelled_turns(fold.train)
        return train_linear(x, y, len(fold.classes), seed, **p)
    from emozoo.models.dann.dann_task import train_conversations

    epochs, batch_size = p.pop("epochs"), p.pop("batch_size")
    model, _ = train_conversations(fold, p, epochs=epochs, batch_size=batch_size, seed=seed, verbose=verbose)
    return model


def head_logits(model, x: np.ndarray, mask: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Logits ``[B, L, K]`` of either head kind on padded conversations."""
    x = np.asarray(x, np.float32)
    mask = np.asarray(mask, np.float32)
    if getattr(model, "name", "") == "emotion_text_linear":
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
    return np.asarray(model.predict({"text": x, "mask": mask}, batch_size=batch_size, verbose=0))


def score_head(model, batch, classes) -> dict:
    """Classification report (WA = accuracy, UAR, macro / weighted F1, confusion) on the labelled
    turns of a padded batch."""
    from emozoo.evaluation.metrics import classification_report

    logits = head_logits(model, batch.x, batch.mask)
    keep = batch.y >= 0
    return classification_report(batch.y[keep], logits[keep].argmax(-1), classes)


# --- export -------------------------------------------------------------------------------------------
def serving_fn(model):
    """``fn(text [B, L, D], mask [B, L]) -> logits [B, L, K]`` of a trained head (inference path
    only: no gradient reversal, no domain classifier) and the Keras objects it uses."""
    import tensorflow as tf

    if getattr(model, "name", "") == "emotion_text_linear":
        return (lambda text, mask: model(text, training=False)), (model,)
    fusion, sa, emo = model.fusion, model.sa_gru, model.emotion_classifier

    def fn(text, mask):
        f = fusion([text])
        return emo(sa(f, mask=tf.cast(mask, tf.bool), training=False), training=False)

    return fn, (fusion, sa, emo)


def _endpoint(fn):
    import tensorflow as tf

    def endpoint(text, mask):
        logits = fn(text, mask)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1)}

    return endpoint


def export_heads(heads: dict, out_dir, preprocessing: dict, dim: int = 768) -> None:
    """One SavedModel with a signature per label set: ``serve_<label_set>(text [B, L, dim], mask
    [B, L]) -> logits, probabilities [B, L, K]`` (``heads = {label_set: trained head}``).

    ``assets/labels.json`` = the first label set's classes (the default), ``assets/preprocessing.json``
    gets ``label_sets`` (every set's classes) added. No backbone weight is saved.
    """
    import json
    import os

    import keras
    import tensorflow as tf

    from emozoo.errors import ExportError

    if os.path.exists(out_dir):
        raise ExportError(f"{out_dir} already exists; export into a fresh folder")
    archive = keras.export.ExportArchive()
    spec = [tf.TensorSpec((None, None, dim), tf.float32, name="text"), tf.TensorSpec((None, None), tf.float32, name="mask")]
    for label_set, model in heads.items():
        fn, tracked = serving_fn(model)
        for obj in tracked:
            archive.track(obj)

        archive.add_endpoint(f"serve_{label_set}", _endpoint(fn), input_signature=spec)
    archive.write_out(str(out_dir), verbose=False)
    assets = Path(out_dir) / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    first = next(iter(heads))
    (assets / "labels.json").write_text(json.dumps(list(LABEL_SETS[first])))
    pre = {**preprocessing, "label_sets": {k: list(LABEL_SETS[k]) for k in heads}, "default_label_set": first}
    (assets / "preprocessing.json").write_text(json.dumps(pre, indent=1))


__all__ = ["CANDIDATES", "CLASSES_4", "CLASSES_MELD7", "LABEL_SETS", "Corpus", "load_corpora", "cross_corpus_fold",
           "session5_fold", "meld_fold", "meld4_fold", "all_turns_fold", "train_head", "train_linear", "build_linear",
           "head_logits", "score_head", "serving_fn", "export_heads"]
