"""Data assembly, training and scoring of the DANN settings (Lian et al. 2019, sec. 3).

Conversations come from a sentence-embedding store that keeps *every* turn (``iemocap_text_minilm``:
unlabelled turns have emotion ""; ``meld_minilm``), joined with the store's ``manifest.jsonl``
(dialogue id, turn index, speaker, session, split). A :class:`ConvFold` holds padded arrays:

* ``train``: every conversation the method may see during training: emotion labels only on the
  labelled turns of the *training* side (other turns -1: frustrated/other turns kept as context,
  unlabelled sessions, the test session); domain index on every real turn of every conversation
  (training AND unlabelled target data feed the domain classifier, eq. 5);
* ``test``: the test conversations with their true labels (scored on labelled turns only).

IEMOCAP: the TS settings of :func:`emozoo.data.protocols.iemocap_ts` (train on the listed
sessions, test on session 5, the remaining sessions unlabelled). MELD: official splits, test
dialogues unlabelled in training. Domains: ``speaker`` (one class per speaker; MELD lumps speakers
with fewer than ``min_speaker_turns`` turns into one ``other`` class) or ``set`` (0 = training side,
1 = unlabelled/test side).
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from emozoo.data import protocols
from emozoo.data.labels import get_label_set
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.tfrecord import load_spec, read_store
from emozoo.errors import SchemaError, SplitError
from emozoo.evaluation.metrics import classification_report

DOMAINS = ("speaker", "set")


@dataclasses.dataclass
class Dialogue:
    dialogue_id: str
    clip_ids: list
    x: np.ndarray            # [L, D]
    emotion: list            # class names ("" = unlabelled)
    speaker: list
    session: int
    split: str


def load_dialogues(store: str | os.PathLike, feature: str = "minilm") -> tuple[list[Dialogue], tuple]:
    """All conversations of a store (every turn, in spoken order) and the store's classes."""
    store = Path(store)
    if not (store / "spec.json").exists() or not (store / "manifest.jsonl").exists():
        raise SchemaError(f"no conversation store at {store} (spec.json + manifest.jsonl); build it with "
                          f"`python -m emozoo.extract --corpus iemocap_text --features {feature} --out {store}`")
    spec = load_spec(store)
    if feature not in spec.names:
        raise SchemaError(f"store {store} has no feature {feature!r}; it has {spec.names}")
    vec = {}
    for ex in read_store(store, features=["clip_id", feature]).as_numpy_iterator():
        vec[ex["clip_id"].decode()] = ex[feature]
    rows = {}
    with open(store / "manifest.jsonl") as f:
        for line in f:
            r = json.loads(line)
            if not r.get("dialogue_id"):
                raise SchemaError(f"{store}/manifest.jsonl row {r.get('clip_id')!r} has no dialogue_id: "
                                  "conversational models need dialogue_id and turn_index")
            rows.setdefault(r["dialogue_id"], []).append(r)
    classes = tuple(spec.classes)
    out = []
    for did, rs in rows.items():
        rs.sort(key=lambda r: int(r["turn_index"]))
        missing = [r["clip_id"] for r in rs if r["clip_id"] not in vec]
        if missing:
            raise SchemaError(f"{store}: turns {missing[:3]} of dialogue {did} are in manifest.jsonl but not in "
                              "the TFRecords; re-extract the store")
        emo = [r["emotion"] if r["emotion"] in classes else "" for r in rs]
        out.append(Dialogue(did, [r["clip_id"] for r in rs], np.stack([vec[r["clip_id"]] for r in rs]).astype(np.float32),
                            emo, [r["speaker"] for r in rs], int((rs[0].get("extras") or {}).get("session", 0) or 0),
                            rs[0].get("split", "")))
    return out, classes


def _manifest(dialogues: Sequence[Dialogue], corpus: str) -> Manifest:
    rows = []
    for d in dialogues:
        for i, (cid, emo, spk) in enumerate(zip(d.clip_ids, d.emotion, d.speaker)):
            rows.append(ManifestRow(clip_id=cid, corpus=corpus, speaker=spk, emotion=emo, dialogue_id=d.dialogue_id,
                                    turn_index=i, split=d.split, extras={"session": d.session}))
    return Manifest(rows, name=corpus)


@dataclasses.dataclass
class Batch:
    """Padded conversations: ``x [N, L, D]``, ``mask [N, L]``, ``y [N, L]`` (-1 = no label),
    ``domain [N, L]`` (-1 = none), ``speaker`` / ``clip_id`` ``[N, L]`` str ("" on padding)."""

    x: np.ndarray
    mask: np.ndarray
    y: np.ndarray
    domain: np.ndarray
    speaker: np.ndarray
    clip_id: np.ndarray
    dialogue_id: list

    def inputs(self, modality: str = "text", with_domain: bool = True) -> dict:
        d = {modality: self.x, "mask": self.mask}
        if with_domain:
            d["domain"] = self.domain
        return d

    def __len__(self):
        return len(self.x)


@dataclasses.dataclass
class ConvFold:
    name: str
    train: Batch
    test: Batch
    classes: tuple
    domains: tuple
    sizes: dict
    #: further labelled sides scored with the test side (name -> padded batch), e.g. MELD's official dev
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def slug(self) -> str:
        """The fold's folder name in a run (``iemocap/ts_123`` -> ``iemocap_ts_123``)."""
        return self.name.replace("/", "_")


def pad(dialogues: Sequence[Dialogue], y_of, dom_of, max_len: int | None = None) -> Batch:
    L = max_len or max(len(d.clip_ids) for d in dialogues)
    n, D = len(dialogues), dialogues[0].x.shape[1]
    x = np.zeros((n, L, D), np.float32)
    mask = np.zeros((n, L), np.float32)
    y = np.full((n, L), -1, np.int32)
    dom = np.full((n, L), -1, np.int32)
    spk = np.full((n, L), "", dtype=object)
    cid = np.full((n, L), "", dtype=object)
    for i, d in enumerate(dialogues):
        k = min(L, len(d.clip_ids))
        x[i, :k] = d.x[:k]
        mask[i, :k] = 1
        for j in range(k):
            y[i, j] = y_of(d, j)
            dom[i, j] = dom_of(d, j)
            spk[i, j] = d.speaker[j]
            cid[i, j] = d.clip_ids[j]
    return Batch(x, mask, y, dom, spk.astype(str), cid.astype(str), [d.dialogue_id for d in dialogues])


def _domain_index(dialogues, domain: str, train_side: set, min_turns: int = 0):
    if domain == "set":
        return ("train", "target"), lambda d, j: 0 if d.clip_ids[j] in train_side else 1
    if domain != "speaker":
        raise SplitError(f"domain must be one of {DOMAINS}, got {domain!r}")
    counts = Counter(s for d in dialogues for s in d.speaker)
    keep = sorted(s for s, c in counts.items() if c >= min_turns)
    names = tuple(keep) + (("other",) if len(keep) < len(counts) else ())
    index = {s: i for i, s in enumerate(keep)}
    other = len(keep)
    return names, lambda d, j: index.get(d.speaker[j], other)


def iemocap_fold(dialogues: Sequence[Dialogue], classes, setting: str = "TS_1234", *, domain: str = "speaker",
                 label_set: str = "4class") -> ConvFold:
    """One TS setting (Table 2): emotion labels of the listed sessions' labelled turns; domain labels
    on every turn of every session (sessions not listed, including 5, are unlabelled target data);
    tested on session 5's labelled turns."""
    split = protocols.iemocap_ts(_manifest(dialogues, "iemocap_text"), setting)
    train_ids = {r.clip_id for r in split.train}
    test_ids = {r.clip_id for r in split.test}
    cls = {c: i for i, c in enumerate(classes)}
    names, dom_of = _domain_index(dialogues, domain, train_ids)
    L = max(len(d.clip_ids) for d in dialogues)
    train = pad(dialogues, lambda d, j: cls[d.emotion[j]] if d.clip_ids[j] in train_ids and d.emotion[j] else -1,
                dom_of, L)
    test_d = [d for d in dialogues if d.clip_ids[0] in test_ids]
    test = pad(test_d, lambda d, j: cls[d.emotion[j]] if d.emotion[j] else -1, lambda d, j: -1, L)
    sizes = {"train_labelled": int((train.y >= 0).sum()), "domain_rows": int((train.domain >= 0).sum()),
             "test_labelled": int((test.y >= 0).sum()), "dialogues": len(dialogues), "test_dialogues": len(test_d)}
    return ConvFold(f"iemocap/{setting.lower()}", train, test, tuple(classes), names, sizes)


MELD_4CLASS = {"neutral": "neutral", "joy": "happy", "anger": "angry", "sadness": "sad"}
# the meld_minilm store holds the harmonised 7basic names (emozoo.data.labels.harmonise): its 4-class subset
MELD_7BASIC_4CLASS = {"neutral": "neutral", "happy": "happy", "angry": "angry", "sad": "sad"}


def meld_fold(dialogues: Sequence[Dialogue], classes, *, subset: str = "7class", domain: str = "speaker",
              min_speaker_turns: int = 50, max_len: int | None = None) -> ConvFold:
    """MELD official splits: emotion labels of train; domain labels on train, dev and test turns
    (test unlabelled target data); tested on the official test dialogues. ``subset="4class"`` keeps
    neutral/joy/anger/sadness (as neutral/happy/angry/sad) and leaves the other turns unlabelled
    (context); scored on those four only."""
    if subset == "4class":
        names4 = ("neutral", "happy", "angry", "sad")
        table = MELD_7BASIC_4CLASS if tuple(classes) == get_label_set("7basic").classes else MELD_4CLASS
        mapping = {c: table[c] for c in classes if c in table}
        if len(mapping) != 4:
            raise SchemaError(f"MELD store classes {classes} lack one of {sorted(MELD_4CLASS)}")
        label = lambda e: names4.index(mapping[e]) if e in mapping else -1  # noqa: E731
        out_classes = names4
    elif subset == "7class":
        label = lambda e: classes.index(e) if e else -1  # noqa: E731
        out_classes = tuple(classes)
    else:
        raise SplitError(f"MELD subset must be 7class or 4class, got {subset!r}")
    train_side = {c for d in dialogues if d.split == "train" for c in d.clip_ids}
    names, dom_of = _domain_index(dialogues, domain, train_side, min_speaker_turns)
    L = max_len or max(len(d.clip_ids) for d in dialogues)
    train = pad(dialogues, lambda d, j: label(d.emotion[j]) if d.split == "train" else -1, dom_of, L)
    test_d = [d for d in dialogues if d.split == "test"]
    test = pad(test_d, lambda d, j: label(d.emotion[j]), lambda d, j: -1, L)
    sizes = {"train_labelled": int((train.y >= 0).sum()), "domain_rows": int((train.domain >= 0).sum()),
             "test_labelled": int((test.y >= 0).sum()), "dialogues": len(dialogues), "test_dialogues": len(test_d)}
    return ConvFold(f"meld/{subset}", train, test, out_classes, names, sizes)


def meld_dev(dialogues: Sequence[Dialogue], classes, *, subset: str = "7class", domain: str = "speaker",
             min_speaker_turns: int = 50) -> Batch:
    """MELD's official dev dialogues padded with their labels through :func:`meld_fold`'s own label
    mapping (a fold whose "test" is the dev split): the dev scores of the MELD table."""
    dev_side = [Dialogue(d.dialogue_id, d.clip_ids, d.x, d.emotion, d.speaker, d.session,
                         {"valid": "test", "test": "valid"}.get(d.split, d.split)) for d in dialogues]
    return meld_fold(dev_side, classes, subset=subset, domain=domain, min_speaker_turns=min_speaker_turns).test


def build_conversation_model(fold: ConvFold, params: dict, modality: str = "text"):
    from emozoo.models.dann.dann_model import DANNConversationModel
    params = dict(params)
    params.pop("grl_schedule", None)           # a training schedule of lambda (ConversationTask), not a layer setting
    lr = float(params.pop("learning_rate", 1e-4))
    model = DANNConversationModel(num_classes=len(fold.classes), input_dims=(fold.train.x.shape[-1],),
                                  modalities=(modality,), num_domains=len(fold.domains), learning_rate=lr, **params)
    model.compile()
    return model


def predict_turns(model, batch: Batch, modality: str = "text", batch_size: int = 32):
    """Probabilities ``[n_labelled, K]``, true labels, speakers and clip ids of the labelled turns."""
    prob = np.asarray(model.predict(batch.inputs(modality, with_domain=False), batch_size=batch_size, verbose=0))
    keep = batch.y >= 0
    return prob[keep], batch.y[keep], batch.speaker[keep], batch.clip_id[keep]


def score_turns(model, batch: Batch, classes, modality: str = "text") -> dict:
    """Classification report (WA = accuracy, UAR, F1, confusion) of ``model`` on the labelled turns
    of ``batch``."""
    prob, y, _, _ = predict_turns(model, batch, modality)
    return classification_report(y, prob.argmax(-1), classes)


def train_conversations(fold: ConvFold, params: dict, *, epochs: int, batch_size: int, seed: int,
                        callbacks=(), verbose: int = 0):
    """Train one model on ``fold`` (all conversations, ``batch_size`` conversations per step)."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    model = build_conversation_model(fold, params)
    if tf.distribute.get_strategy().num_replicas_in_sync > 1:
        # Keras builds a distributed model from the replicas' first batches averaged, which fails when
        # a batch of conversations splits unevenly (3 = 2 + 1): build from one replica's batch instead
        from emozoo.train.strategies import patch_multi_worker_build
        patch_multi_worker_build(model)
    batches = LengthBucketBatches(fold.train, batch_size, seed)
    hist = model.fit(batches.dataset(epochs), epochs=epochs, steps_per_epoch=len(batches), shuffle=False,
                     verbose=verbose, callbacks=list(callbacks))
    return model, hist.history


def run_conversation(fold: ConvFold, params: dict, *, epochs: int, batch_size: int, seed: int,
                     callbacks=(), verbose: int = 0) -> dict:
    """Train and score; returns the classification report (WA = accuracy, UAR) and facts."""
    t0 = time.time()
    model, hist = train_conversations(fold, params, epochs=epochs, batch_size=batch_size, seed=seed,
                                      callbacks=callbacks, verbose=verbose)
    rep = score_turns(model, fold.test, fold.classes)
    return {"fold": fold.name, "seed": seed, "report": rep, "sizes": fold.sizes, "epochs": epochs,
            "final": {k: float(v[-1]) for k, v in hist.items()},
            "history": {k: [float(x) for x in v] for k, v in hist.items()},   # per-epoch logs (issue 19)
            "seconds": round(time.time() - t0, 1), "model": model}


def embeddings(model, batch: Batch, modality: str = "text") -> dict:
    """``r_i`` of every real turn of ``batch`` with its speaker, label (-1 none) and clip id."""
    r = np.asarray(model.embed(batch.inputs(modality, with_domain=False)))
    keep = batch.mask > 0
    return {"r": r[keep].astype(np.float32), "speaker": batch.speaker[keep], "y": batch.y[keep],
            "clip_id": batch.clip_id[keep]}


class LengthBucketBatches:
    """Batches of ``batch_size`` conversations of similar length ("sortish" batching): every epoch
    the conversations are sorted by ``length + uniform(0, jitter)`` noise, cut into batches, the
    batch order shuffled; each batch is cut to its longest conversation rounded up to
    ``multiple`` turns. Same examples and batch size as random batching, about half the padded
    GRU steps on IEMOCAP (sum of batch lengths 461 vs 8 x 110). :meth:`dataset` is a
    ``tf.data.Dataset`` that draws a new plan every time it is iterated (every epoch of ``fit``);
    ``dataset(epochs=E)`` draws the E plans up front (the same plans, in the same order) and is one
    stream of ``E * len(self)`` batches that every iteration replays from its start: fit it with
    ``steps_per_epoch=len(self)``. Under a distribution strategy Keras iterates the input once
    more before training (to build the model), which shifted every epoch's plan by one with the
    per-iteration draw."""

    def __init__(self, batch: Batch, batch_size: int, seed: int = 0, modality: str = "text", jitter: float = 10.0,
                 multiple: int = 16):
        self.b, self.bs, self.modality = batch, int(batch_size), modality
        self.lengths = batch.mask.sum(1).astype(np.int64)
        self.jitter, self.multiple = float(jitter), int(multiple)
        self.rng = np.random.default_rng(seed)

    def plan(self) -> list:
        order = np.argsort(self.lengths + self.rng.uniform(0, self.jitter, len(self.lengths)), kind="stable")
        groups = [np.sort(order[i:i + self.bs]) for i in range(0, len(order), self.bs)]
        return [groups[i] for i in self.rng.permutation(len(groups))]

    def __len__(self):
        return -(-len(self.lengths) // self.bs)

    def batch(self, idx):
        L = int(self.lengths[idx].max())
        L = min(self.b.x.shape[1], -(-L // self.multiple) * self.multiple)
        inputs = {self.modality: self.b.x[idx, :L], "mask": self.b.mask[idx, :L], "domain": self.b.domain[idx, :L]}
        return inputs, self.b.y[idx, :L]

    def __iter__(self):
        for idx in self.plan():
            yield self.batch(idx)

    def dataset(self, epochs: int | None = None):
        import tensorflow as tf
        D = self.b.x.shape[-1]
        sig = ({self.modality: tf.TensorSpec((None, None, D), tf.float32),
                "mask": tf.TensorSpec((None, None), tf.float32), "domain": tf.TensorSpec((None, None), tf.int32)},
               tf.TensorSpec((None, None), tf.int32))
        if epochs is None:
            gen, n = self.__iter__, len(self)
        else:
            plans = [self.plan() for _ in range(int(epochs))]

            def gen():
                for plan in plans:
                    for idx in plan:
                        yield self.batch(idx)
            n = len(self) * int(epochs)
        # the number of batches is known: saying so lets Keras count steps (and not warn that the
        # input "ran out of data" at the end of every epoch, which a generator of unknown length does)
        ds = tf.data.Dataset.from_generator(gen, output_signature=sig)
        from emozoo.train.data import finalize
        # one iterator per epoch (or per fit): with tf.data autotuning off its end does not wait (issue 21)
        return finalize(ds.apply(tf.data.experimental.assert_cardinality(n)))


def experiment_fold(cfg, data_root: str | os.PathLike = ".") -> ConvFold:
    """The :class:`ConvFold` of a registered ``dann_conversation`` experiment: its store, and its
    protocol ``ts_1234`` ... ``ts_23`` (IEMOCAP) or ``official`` (MELD)."""
    data = cfg.data
    if len(data.corpora) != 1:
        raise SplitError(f"a conversation experiment trains on one corpus, got {list(data.corpora)}")
    store = Path(data.store_for(data.corpora[0]))
    store = store if store.is_absolute() else Path(data_root) / store
    dialogues, classes = load_dialogues(store, data.features)
    kw = dict(data.protocol_kwargs)
    p = data.protocol.lower()
    if p.startswith("ts_"):
        return iemocap_fold(dialogues, classes, p.upper(), domain=kw.get("domain", "speaker"))
    if p == "official":
        opts = dict(subset=kw.get("subset", "7class"), domain=kw.get("domain", "speaker"),
                    min_speaker_turns=int(kw.get("min_speaker_turns", 50)))
        fold = meld_fold(dialogues, classes, **opts)
        fold.extra["dev"] = meld_dev(dialogues, classes, **opts)     # scored beside the test side
        return fold
    raise SplitError(f"protocol {data.protocol!r} is not a conversation protocol (ts_1234 ... ts_23, official)")


def load_trained(run_dir: str | os.PathLike, seed: int = 0, *, root: str | os.PathLike = ".", fold=None):
    """``(model, fold, cfg)`` of seed ``seed`` of a finished conversation run of the trainer: the config from
    its ``config.json``, the fold rebuilt from the store under ``root`` (or the given ``fold``), the model
    with the fold's ``model.weights.h5`` (:func:`emozoo.train.trainer.seed_fold_dir`)."""
    from emozoo.experiments import ExperimentConfig
    from emozoo.train.trainer import seed_fold_dir

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise SplitError(f"{run_dir} holds no run: train it with python -m emozoo.train --experiment <its experiment> "
                         f"--model-dir {run_dir}")
    folder = seed_fold_dir(run_dir, seed)
    cfg = ExperimentConfig.from_json(json.loads((run_dir / "config.json").read_text()))
    fold = fold if fold is not None else experiment_fold(cfg, root)
    model = build_conversation_model(fold, {**cfg.model.params, "learning_rate": cfg.optimizer.learning_rate})
    model.load_weights(str(folder / "model.weights.h5"))
    return model, fold, cfg


class ConversationTask:
    """The conversational DANN as a :class:`emozoo.train.task.Task`: ``python -m emozoo.train
    --experiment dann/{iemocap,meld}/...`` runs it inside the one trainer's loop (seeds, strategy,
    resume, pooled reports and the summary over seeds, as for every method).

    * :meth:`build_folds`: the experiment's one conversation fold (:func:`experiment_fold`: an
      IEMOCAP TS setting or MELD's official splits) and its classes;
    * :meth:`train_fold`: builds :class:`DANNConversationModel` in the strategy's scope, trains it
      with :func:`run_conversation` (``trainer.epochs`` epochs, ``trainer.batch_size`` conversations
      per step, no model selection: the paper's protocol), scores the labelled test turns (and the
      fold's ``extra`` sides, MELD's dev turns, as ``"extra_tests"``) and writes
      ``<fold>/model.weights.h5``, ``<fold>/logs`` (TensorBoard, every loss) and ``<fold>/result.json``
      (the test report, every epoch's logs under ``"history"``, the final epoch's under ``"final"``).
    """

    def build_folds(self, cfg, *, data_root=".", log=print):
        fold = experiment_fold(cfg, data_root)
        log(f"[emozoo.train] {cfg.name}: {fold.name}, {fold.sizes}, {len(fold.domains)} domains")
        return [fold], tuple(fold.classes)

    def train_fold(self, cfg, fold, fold_index, classes, seed, fold_dir, strategy, *, is_chief=True, verbose=0):
        import keras

        from emozoo.utils import write_json_atomic

        tr = cfg.trainer
        params = {**cfg.model.params, "learning_rate": float(cfg.optimizer.learning_rate)}
        schedule = params.pop("grl_schedule", None)
        callbacks, sched = [], None
        steps_per_epoch = len(LengthBucketBatches(fold.train, tr.batch_size, seed))
        if schedule == "ganin":      # lambda rises 0 -> 1 over the run (Ganin et al. 2016, sec. 5.2.2)
            from emozoo.layers.gradient_reversal import GaninLambdaSchedule
            sched = GaninLambdaSchedule(total_steps=tr.epochs * steps_per_epoch)
            callbacks.append(sched)
        elif schedule is not None:
            raise SplitError(f"{cfg.name}: model.params.grl_schedule must be 'ganin' or absent, got {schedule!r}")
        if tr.tensorboard and is_chief:
            callbacks.append(keras.callbacks.TensorBoard(str(Path(fold_dir) / "logs"), write_graph=False))
        with strategy.scope():
            run = run_conversation(fold, params, epochs=tr.epochs, batch_size=tr.batch_size, seed=seed,
                                   callbacks=callbacks, verbose=verbose)
        model, rep = run.pop("model"), run.pop("report")
        result = {**run, "fold_index": fold_index, "grl_lambda": float(params.get("grl_lambda", 1.0)),
                  "domains": list(fold.domains), "epochs_run": tr.epochs, "test": rep,
                  "steps_per_epoch": steps_per_epoch, "schedule": schedule,
                  "final_lambda": float(keras.ops.convert_to_numpy(model.grl.hp_lambda))}
        if sched is not None:
            h = sched.history
            result["lambda_history"] = {"steps": len(h), "first": h[0], "last": h[-1],
                                        "per_epoch_start": [h[i] for i in range(0, len(h), steps_per_epoch)]}
        if fold.extra:          # e.g. MELD's dev turns: scored with the same weights as the test turns
            result["extra_tests"] = {name: score_turns(model, batch, fold.classes) for name, batch in fold.extra.items()}
        fold_dir = Path(fold_dir)
        fold_dir.mkdir(parents=True, exist_ok=True)
        model.save_weights(str(fold_dir / "model.weights.h5"))
        if is_chief:
            write_json_atomic(fold_dir / "result.json", result)
        return result
