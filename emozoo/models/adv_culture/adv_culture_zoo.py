"""Zoo models of the cross-culture adversarial method: training data, measured cards, export.

Both zoo models are trained in the multi-culture ADV setting on *all* labelled clips of their
cultures (every culture labelled, the smaller ones upsampled), with the CPU preset of the table
runner, and export the inference path only (culture z-normalisation + G + E; C is not exported):

* ``adv_culture_speech`` (``python -m emozoo.publish adv_culture_speech``): IS10 features of a
  waveform -> 4 emotions (:func:`export_features`, input kind ``features``);
* ``adv_culture_face`` (``python -m emozoo.publish adv_culture_face``): a face image -> MTCNN crop ->
  Dface (the zoo's ``dface_fer2013``, inside the SavedModel) -> G -> E -> 6 emotions
  (:func:`export_face`, input kind ``face``, served by :class:`emozoo.zoo.predictor.FacePredictor`).

Their cards carry the measured tables of the method (:func:`measured_tables`): every setting's
mean +- std over seeds per test culture, read from the table runner's results JSON.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

METRICS = ("accuracy", "uar", "macro_f1")


def results_path(features: str, repo: Path) -> Path:
    return repo / "benchmarks" / "results" / f"adv_culture{'' if features == 'is10' else '_' + features}.json"


def measured_tables(features: str, results: Path) -> dict:
    """Every setting's measured metrics (mean +- std over seeds, per test culture) from ``results``.

    Returns ``{"test_cultures_adv": multi ADV, "test_cultures_bsl_reference": multi BSL,
    "tables": {experiment: {culture: {metric: {mean, std}}}}, "protocol": ...}``.
    """
    from emozoo.errors import ExportError
    from emozoo.models.adv_culture import adv_culture_experiments as E

    if not Path(results).exists():
        raise ExportError(f"{results} is missing: run python pipelines/adv_culture_table.py --features {features}")
    res = json.loads(Path(results).read_text())
    summary = res.get("summary", {})

    def cells(s):
        return {c: {m: {"mean": round(v[m]["mean"], 4), "std": round(v[m]["std"], 4)} for m in METRICS}
                | {"num_seeds": v["num_runs"]} for c, v in s.items()}

    multi = {}
    for mode in ("adv", "bsl"):
        name = E.experiment_name("multi", mode, features=features)
        if name not in summary:
            raise ExportError(f"{results} has no summary of {name}: run python pipelines/adv_culture_table.py "
                              f"--features {features}")
        multi[mode] = cells(summary[name])
    cfg = res.get("config", {})
    who = "subject" if E.modality_of(features) == "face" else "speaker"
    return {"test_cultures_adv": multi["adv"], "test_cultures_bsl_reference": multi["bsl"],
            "setting": E.experiment_name("multi", "{adv,bsl}", features=features),
            "protocol": f"{who} {E.MULTI_K[E.modality_of(features)]}-fold inside every corpus, predictions pooled "
                        f"over folds per seed; {cfg.get('seeds')} seeds, {cfg.get('epochs')} epochs, batch "
                        f"{cfg.get('batch_size')}",
            "tables": {name: cells(s) for name, s in sorted(summary.items())}}


def all_labelled_fold(features: str, root: Path):
    """``(cfg, fold, classes, counts)``: the multi-culture ADV experiment of ``features`` with protocol
    ``"all"`` (every labelled clip of its corpora on the training side; no validation or test side, so the
    last epoch is kept) and that one fold, a :class:`emozoo.train.data.Fold` as the one trainer's
    feature-vector folds are (the model's ``fold_arrays`` gives culture ``j`` to the ``j``-th corpus and
    upsamples the smaller cultures to the largest)."""
    import dataclasses

    from emozoo.experiments import get_experiment
    from emozoo.models.adv_culture import adv_culture_experiments as E
    from emozoo.train.data import make_folds

    cfg = get_experiment(E.experiment_name("multi", "adv", features=features))
    data = dataclasses.replace(cfg.data, protocol="all", protocol_kwargs={}, valid_speakers=0)
    cfg = dataclasses.replace(cfg, data=data, trainer=dataclasses.replace(cfg.trainer, tensorboard=False))
    (fold,), classes = make_folds(data, root=str(root))
    corpus = fold.train.meta["corpus"].astype(str)
    return cfg, fold, tuple(classes), {c: int((corpus == c).sum()) for c in data.corpora}


def _heads(model):
    import tensorflow as tf

    std, gen, emo = model.standardization, model.feature_generator, model.emotion_classifier

    def heads(features, culture):
        z = gen(std(features, culture), training=False)
        logits = emo(z, training=False)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1), "embedding": z}

    return heads


def _write_assets(out_dir: Path, classes, pre: dict) -> None:
    assets = Path(out_dir) / "assets"
    assets.mkdir(exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    (assets / "preprocessing.json").write_text(json.dumps(pre, indent=1))


def export_features(model, out_dir: Path, classes, cultures, feature: str = "is10") -> None:
    """SavedModel of normalisation + G + E (no C) on feature vectors: ``serve_features(features)``
    (pooled normalisation row: culture unknown) and ``serve_features_culture(features, culture)``."""
    import tensorflow as tf

    from emozoo.features.registry import get_extractor

    heads = _heads(model)
    feat = tf.TensorSpec((None, model.input_dim), tf.float32, name="features")
    cult = tf.TensorSpec((None,), tf.int32, name="culture")
    mod = tf.Module(name="adv_culture_serving")
    mod.std, mod.gen, mod.emo = model.standardization, model.feature_generator, model.emotion_classifier
    mod.serve_features = tf.function(lambda features: heads(features, None), input_signature=[feat],
                                     autograph=False)
    mod.serve_features_culture = tf.function(heads, input_signature=[feat, cult], autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"serve_features": mod.serve_features,
                                                       "serve_features_culture": mod.serve_features_culture})
    ext = get_extractor(feature)
    _write_assets(out_dir, classes, {
        "input": "features", "feature": feature, "input_dim": int(model.input_dim),
        "extractor": ext.config, "sample_rate": ext.sample_rate,
        "normalisation": "culture-specific z-normalisation inside the graph; serve_features (culture unknown) "
                         f"uses the pooled row fitted on all {len(cultures)} cultures together",
        "cultures": list(cultures)})


def export_face(model, dface, out_dir: Path, classes, cultures, *, size: int, dface_version: str) -> None:
    """SavedModel of Dface + normalisation + G + E (no C) on 0..255 grey face crops ``[N, size, size, 1]``.

    Signatures: ``classify(face)`` -> probabilities/logits (pooled normalisation: culture unknown),
    ``classify_culture(face, culture)`` with a known culture's row, ``embed(face)`` -> the Dface
    embedding (the model's input features, as in the ``*_dface`` stores). ``dface`` is the
    restored ``dface_fer2013`` SavedModel; its variables are saved again inside this one.
    """
    import tensorflow as tf

    heads = _heads(model)
    face = tf.TensorSpec((None, size, size, 1), tf.float32, name="face")
    cult = tf.TensorSpec((None,), tf.int32, name="culture")

    def embed(face):
        return {"embedding": dface.embed(face)["embedding"]}

    mod = tf.Module(name="adv_culture_face_serving")
    mod.dface, mod.std, mod.gen, mod.emo = dface, model.standardization, model.feature_generator, \
        model.emotion_classifier
    mod.embed = tf.function(embed, input_signature=[face], autograph=False)
    mod.classify = tf.function(lambda face: heads(embed(face)["embedding"], None), input_signature=[face],
                               autograph=False)
    mod.classify_culture = tf.function(lambda face, culture: heads(embed(face)["embedding"], culture),
                                       input_signature=[face, cult], autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"classify": mod.classify, "embed": mod.embed,
                                                       "classify_culture": mod.classify_culture})
    _write_assets(out_dir, classes, {
        "input": "face", "size": size, "channels": 1, "pixel_range": [0, 255],
        "embedding_dim": int(model.input_dim),
        "cropping": f"emozoo.features.face.FaceCropper(size={size}, policy='full'): MTCNN largest face, square of "
                    "the box's longer side, ITU-R 601-2 grey, antialiased bilinear resize (the whole image when no "
                    "face is found), as the jaffe_dface / ckplus_dface stores were written",
        "backbone": f"zoo:dface_fer2013/{dface_version} (inside this SavedModel)",
        "normalisation": "culture-specific z-normalisation of the Dface embedding inside the graph; classify "
                         f"(culture unknown) uses the pooled row fitted on all {len(cultures)} cultures together",
        "cultures": list(cultures)})


def train_and_publish(name: str, features: str, *, repo: Path, zoo_dir=None, command: str, seed: int = 0) -> dict:
    """Train the multi-culture ADV model of ``features`` on all labelled clips and publish it as ``name``
    (the recipe of the presets ``adv_culture_speech`` / ``adv_culture_face``).

    Trains :class:`AdversarialCultureModel` in ADV mode (S_C=1, S_G=2, alpha=1, Adam 1e-4) with the
    CPU preset of the tables (batch 64, no model selection) on every labelled clip of the
    multi-culture experiment's stores (smaller cultures upsampled to the largest) through the one
    trainer (:func:`emozoo.train.trainer.train_fold` with ``return_model=True`` on the fold of
    :func:`all_labelled_fold`, in a temporary folder), then exports the
    inference path (culture z-normalisation + G + E, plus Dface for faces; C is not exported).
    The card is ``adv_culture_presets.PRESETS[name]`` plus the exact ``command``, the measured
    tables (:func:`measured_tables`) and the training facts.

    Args:
        name: zoo name (``adv_culture_speech`` or ``adv_culture_face``).
        features: ``"is10"`` (speech) or ``"dface"`` (faces).
        repo: folder holding ``tfrecords/`` (the stores) and ``benchmarks/results/`` (the tables).
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.
        seed: training seed.

    Example:
        >>> train_and_publish("adv_culture_speech", "is10", repo=Path("."),
        ...                   command="python -m emozoo.publish adv_culture_speech")  # doctest: +SKIP
    """
    import tempfile

    import tensorflow as tf

    from emozoo.errors import ExportError
    from emozoo.models import discover
    from emozoo.models.adv_culture import adv_culture_experiments as E
    from emozoo.models.adv_culture.adv_culture_presets import PRESETS
    from emozoo.train.trainer import train_fold
    from emozoo.zoo import publish

    discover()
    metrics = measured_tables(features, results_path(features, Path(repo)))
    cfg, fold, classes, counts = all_labelled_fold(features, Path(repo))
    epochs, batch = cfg.trainer.epochs, cfg.trainer.batch_size
    print(f"training {cfg.name} on all labelled clips {counts}, {epochs} epochs, batch {batch}, seed {seed}",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="adv_culture_zoo_") as tmp:   # the one trainer's fold (no validation side:
        res, model = train_fold(cfg, fold, 0, classes, seed, Path(tmp) / "fold",   # the last epoch is kept)
                                tf.distribute.get_strategy(), return_model=True)
        final = json.loads((Path(tmp) / "fold" / "selection.json").read_text())["epochs"][-1]
    # the pooled row must be the statistics of all training clips together (used when the culture is unknown)
    pooled = np.asarray(model.standardization.mean)[-1]
    if not np.allclose(pooled, fold.train.x.mean(0), atol=1e-3 * (1 + np.abs(fold.train.x).max())):
        raise ExportError("the pooled normalisation row is not the mean of all training clips")
    cultures = list(model.culture_names)

    card = dict(PRESETS[name])
    card.update(command=command, metrics=metrics,
                training={"clips": counts, "epochs": epochs, "batch_size": batch, "seed": seed,
                          "trainer": "emozoo.train.trainer.train_fold (fold 0, seed * 1009 initialisation)",
                          "epochs_run": res["epochs_run"], "kept_epoch": res["best_epoch"],
                          "upsampling": "each culture upsampled to the largest",
                          "final": {k: round(float(v), 4) for k, v in final.items() if k != "epoch" and v is not None}},
                experiment_config=cfg.to_json())
    if E.modality_of(features) == "face":
        from emozoo.models.dface.dface_export import load_dface

        dface, dentry = load_dface()
        size = int(json.loads((_zoo_folder(dentry) / "assets" / "preprocessing.json").read_text())["size"])
        card["backbone"] = {"name": "dface_fer2013", "version": dentry["path"].split("/")[-1]}

        def build(d):
            export_face(model, dface, Path(d), classes, cultures, size=size,
                        dface_version=dentry["path"].split("/")[-1])
    else:
        def build(d):
            export_features(model, Path(d), classes, cultures, feature=features)
    entry = publish(name, build, card, zoo_dir)
    return entry


def _zoo_folder(entry: dict) -> Path:
    from emozoo.zoo import zoo_dir

    return zoo_dir() / entry["path"]
