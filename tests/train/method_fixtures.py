"""Small generated stores for the per-method strategy tests (tests/train/test_strategy_methods.py).

Each builder writes, under ``root``, the store layout one registered experiment reads and returns
``(experiment name, overrides)`` for ``python -m emozoo.train``: the store paths, a tiny network,
dropout 0 (so a mirrored run differs from a default one only by how the batch is split over the
replicas), a few epochs, one fold, no TensorBoard. Batch sizes are chosen so that the last batch of
an epoch does not split evenly over two replicas (and, for the conversation runner, one replica of
the last step gets no conversation at all): a loss normalised per replica instead of by the global
batch, or a batch statistic taken per replica, changes the losses there.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import write_feature_store

LOOP = ["trainer.patience=0", "trainer.min_epochs=0", "trainer.tensorboard=false", "trainer.seeds=1"]
# DANN's L2 weight raised from the paper's 1e-5: a regulariser added once per replica instead of
# once per step must change the losses beyond the tolerance
DANN_L2 = "model.params.l2=0.01"


def uneven_store(path, *, corpus: str, speakers: int, per_class: int, dim: int, feature: str = "is10",
                 seed: int = 0, separation: float = 2.0) -> Path:
    """:func:`tests.helpers.write_feature_store` with ``uneven=True`` (speaker ``s`` has ``per_class -
    (s % 2)`` clips of its last class: odd batch sums), no unlabelled clips, the corpus as culture."""
    return write_feature_store(path, corpus=corpus, culture=corpus, speakers=speakers, per_class=per_class, dim=dim,
                               feature=feature, seed=seed, separation=separation, unlabelled=0, uneven=True)


def _stores(mapping: dict) -> str:
    return f"data.stores={json.dumps({k: str(v) for k, v in mapping.items()})}"


def adv_culture_cross(root: Path, mode: str = "adv"):
    """``adv_culture/cross/emodb_to_casia/is10/<mode>``: labelled EmoDB-like source (3 speakers x 4
    classes x 3), unlabelled CASIA-like target (3 x 4 x 4); upsampled to 48 + 48 rows, batch 14
    (two balanced cultures always give an even training side, so the last batch, 12, splits
    evenly; the multi-culture fixture has the uneven one)."""
    stores = {"emodb": write_feature_store(root / "adv_emodb", corpus="emodb", culture="german", speakers=3,
                                           per_class=3, dim=8, seed=1),
              "casia": write_feature_store(root / "adv_casia", corpus="casia", culture="mandarin", speakers=3,
                                           per_class=4, dim=8, seed=2, separation=1.5)}
    return (f"adv_culture/cross/emodb_to_casia/is10/{mode}",
            [_stores(stores), "model.params.dropout=0.0", "model.params.generator_units=[16,8]",
             "model.params.emotion_units=[8]", "model.params.culture_units=[8]", "optimizer.learning_rate=0.01",
             "trainer.batch_size=14", "trainer.epochs=3", *LOOP])


def adv_culture_multi(root: Path, mode: str = "adv"):
    """``adv_culture/multi/emodb+casia+ravdess/is10/<mode>``: three labelled cultures (softmax
    culture classifier), fold 0 of the 4 speaker folds, 141 training rows after upsampling
    (3 x 47), batch 16 (last batch 13 = 7 + 6)."""
    stores = {c: uneven_store(root / f"multi_{c}", corpus=c, speakers=5, per_class=2 + i, dim=8, seed=10 + i)
              for i, c in enumerate(("emodb", "casia", "ravdess"))}
    return (f"adv_culture/multi/emodb+casia+ravdess/is10/{mode}",
            [_stores(stores), "model.params.dropout=0.0", "model.params.generator_units=[16,8]",
             "model.params.emotion_units=[8]", "model.params.culture_units=[8]", "optimizer.learning_rate=0.01",
             "trainer.batch_size=16", "trainer.epochs=3", "data.folds=[0]", *LOOP])


def emodal(root: Path, variant: str = "both"):
    """``emodal/ravdess_av/4class/<variant>``: 12-dim ``mfcc_au`` vectors (8 "audio" + 4 "visual"),
    6 actors, 2 actor folds (fold 0: 23 training clips, 12 validation), 1 validation actor,
    batch 8 (last training batch 7 = 4 + 3)."""
    store = uneven_store(root / "emodal_av", corpus="ravdess_av", speakers=6, per_class=3, dim=12,
                         feature="mfcc_au", seed=3)
    return (f"emodal/ravdess_av/4class/{variant}",
            [_stores({"ravdess_av": store}), 'data.protocol_kwargs={"k": 2}', "data.valid_speakers=1",
             "data.folds=[0]", "model.params.dropout=0.0", "model.params.audio_dim=8", "model.params.visual_dim=4",
             "model.params.audio_units=[8]", "model.params.visual_units=[8]", "model.params.feature_dim=4",
             "optimizer.learning_rate=0.01", "trainer.batch_size=8", "trainer.epochs=3", *LOOP])


def dann_speech(root: Path, variant: str = "dann"):
    """``dann/speech/emodb/is10/<variant>``: LOSO fold 0 of 3 speakers (the held-out speaker's clips
    unlabelled domain rows), 47 training rows, batch 10 (last batch 7 = 4 + 3)."""
    store = uneven_store(root / "dann_emodb", corpus="emodb", speakers=3, per_class=4, dim=12, seed=4)
    return (f"dann/speech/emodb/is10/{variant}",
            [_stores({"emodb": store}), "data.folds=[0]", "model.params.dropout=0.0", DANN_L2,
             "model.params.num_domains=3", "model.params.encoder_units=[16,8]", "model.params.domain_units=[8]",
             "optimizer.learning_rate=0.01", "trainer.batch_size=10", "trainer.epochs=3", *LOOP])


def dann_conversation(root: Path, variant: str = "dann"):
    """``dann/iemocap/text/ts_123/<variant>``: the 10-conversation synthetic IEMOCAP store of
    tests/models/dann/test_dann_task.py, batch 3 conversations (the last step has one: a replica
    with no conversation)."""
    from tests.models.dann.test_dann_task import _write_store
    store = _write_store(Path(root) / "iemocap_text_minilm")
    return (f"dann/iemocap/text/ts_123/{variant}",
            [_stores({"iemocap_text": store}), "model.params.dropout=0.0", DANN_L2, "model.params.fusion_units=8",
             "model.params.gru_units=4", "model.params.num_heads=2", "model.params.domain_units=[8]",
             "optimizer.learning_rate=0.01", "trainer.batch_size=3", "trainer.epochs=3", *LOOP])


def epoch_records(model_dir: Path) -> list[dict]:
    """Per-epoch logs of seed 0 of a finished one-fold run: the generic trainer's
    ``<fold>/selection.json`` "epochs", or the "history" (``{key: [per epoch]}``) of a
    ``result.json`` (the conversation runner's ``seed_0/result.json``, or a fold's)."""
    seed = Path(model_dir) / "seed_0"
    selections = sorted(seed.glob("*/selection.json"))
    if selections:
        assert len(selections) == 1, selections
        return json.loads(selections[0].read_text())["epochs"]
    for res in [seed / "result.json", *sorted(seed.glob("*/result.json"))]:
        hist = json.loads(res.read_text()).get("history") if res.exists() else None
        if hist:
            return [{k: v[i] for k, v in hist.items()} for i in range(len(next(iter(hist.values()))))]
    raise AssertionError(f"no per-epoch records (selection.json or a result.json with history) under {seed}")
