"""EMODal zoo recipe: retrain, export and publish ``emodal_ravdess_av``
(``python -m emozoo.publish emodal_ravdess_av``).

:func:`publish_ravdess_av` trains :class:`~emozoo.models.emodal.emodal_model.EMODalModel` as the
registered experiment ``emodal/ravdess_av/4class/both`` on the 4-class clips of 22 of the 24
RAVDESS actors, exports it with :func:`~emozoo.models.emodal.emodal_video.export_feature_model`
and publishes it; the card gets the measured cross-validated metrics of the recipe
(:func:`measured_metrics`, from ``benchmarks/results/emodal_4class.json``).
"""
from __future__ import annotations

import json
from pathlib import Path

NAME = "emodal_ravdess_av"
RESULTS = Path("benchmarks/results/emodal_4class.json")


def measured_metrics(results_path: Path) -> dict:
    """The measured 4-class table (``python pipelines/emodal_table.py --classes 4class``) as card
    metrics: per variant (audio, visual, both) accuracy/UAR/macro-F1 mean +- std over seeds. Parts
    written by parallel runs (``emodal_4class_*.json``) are merged in."""
    from emozoo.errors import ExportError
    from emozoo.models.emodal import emodal_experiments as E

    results_path = Path(results_path)
    if not results_path.exists():
        raise ExportError(f"{results_path} is missing: run python pipelines/emodal_table.py --classes 4class")
    res = json.loads(results_path.read_text())
    for part in sorted(results_path.parent.glob(f"{results_path.stem}_*.json")):   # parts run in parallel
        for name, r in json.loads(part.read_text())["experiments"].items():
            res["experiments"].setdefault(name, r)
    out = {}
    for v in E.VARIANTS:
        r = res["experiments"].get(E.experiment_name("4class", v))
        if r is None:
            if v == "both":
                raise ExportError(f"{results_path} has no {E.experiment_name('4class', v)}: run "
                                  "python pipelines/emodal_table.py --classes 4class")
            continue
        s = r["summary"]
        out[v] = {m: {"mean": round(s[m]["mean"], 4), "std": round(s[m]["std"], 4)}
                  for m in ("accuracy", "uar", "macro_f1")} | {"num_seeds": s["num_runs"]}
    return {"published_variant": "both", "variants": out,
            "protocol": "actor-independent 6-fold CV (4 test actors per fold, 2 validation actors), predictions "
                        "pooled over folds per seed; mean +- std over seeds"}


def publish_ravdess_av(*, repo: Path, zoo_dir=None, command: str, seed: int = 0) -> dict:
    """Recipe of the preset ``emodal_ravdess_av``.

    Trains EMODal (audio 259 -> 128-64-10, visual 35 AUs -> 128-64-10, common + classify + specific
    losses, Adam 1e-3, batch 32) as ``emodal/ravdess_av/4class/both`` on the 4-class clips of 22 of
    the 24 RAVDESS actors; the other 2 actors (drawn with the seed) select the epoch by validation
    UAR (patience as the table's CPU preset). Exported with the signature
    ``serve_features(audio [N, 259], visual [N, 35])``, z-normalisation inside.

    Args:
        repo: folder holding the ``ravdess_av`` store (``tfrecords/``) and ``benchmarks/results/``.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.
        seed: training seed (also draws the 2 validation actors).

    Example:
        >>> publish_ravdess_av(repo=Path("."), command="python -m emozoo.publish emodal_ravdess_av")  # doctest: +SKIP
    """
    import dataclasses
    import tempfile

    import tensorflow as tf

    from emozoo.experiments import get_experiment
    from emozoo.models import discover
    from emozoo.models.emodal import emodal_experiments as E
    from emozoo.models.emodal.emodal_presets import PRESETS
    from emozoo.models.emodal.emodal_video import export_feature_model
    from emozoo.train.data import make_folds
    from emozoo.train.trainer import train_fold
    from emozoo.zoo import publish

    repo = Path(repo)
    discover()
    metrics = measured_metrics(repo / RESULTS)
    cfg = get_experiment(E.experiment_name("4class", "both"))
    data = dataclasses.replace(cfg.data, protocol="all", protocol_kwargs={"seed": seed})
    cfg = dataclasses.replace(cfg, data=data, trainer=dataclasses.replace(cfg.trainer, tensorboard=False))
    (fold,), classes = make_folds(data, root=str(repo))
    with tempfile.TemporaryDirectory(prefix="emodal_zoo_") as tmp:    # the one trainer's fold (selection, early stop)
        res, model = train_fold(cfg, fold, 0, classes, seed, Path(tmp) / "fold", tf.distribute.get_strategy(),
                                return_model=True)
        epochs = json.loads((Path(tmp) / "fold" / "selection.json").read_text())["epochs"]
    best = res["best_epoch"] + 1                       # 1-based, as on the card before
    hist = {k: [e.get(k) for e in epochs] for k in epochs[0] if k != "epoch"}
    valid_actors = sorted(set(fold.valid.meta["speaker"].tolist()))
    print(f"trained on {len(fold.train)} clips ({len(set(fold.train.meta['speaker']))} actors), best epoch {best}, "
          f"validation UAR {hist['val_uar'][best - 1]:.3f} (actors {valid_actors})", flush=True)
    card = dict(PRESETS[NAME])
    card.update(command=command, metrics=metrics,
                protocol=f"all 4-class clips of 22 RAVDESS actors (train, {len(fold.train)} clips), actors "
                         f"{', '.join(valid_actors)} held out for model selection (validation UAR, best epoch "
                         f"{best} of {len(hist['loss'])}); Adam {cfg.optimizer.learning_rate}, batch "
                         f"{cfg.trainer.batch_size}, seed {seed}",
                training={"clips": len(fold.train), "validation_clips": len(fold.valid), "best_epoch": best,
                          "validation_uar": round(hist["val_uar"][best - 1], 4), "seed": seed,
                          "final": {k: round(v[best - 1], 4) for k, v in hist.items()
                                    if k != "val_uar" and v[best - 1] is not None}},
                experiment_config=cfg.to_json())
    pre = {"audio": PRESETS[NAME]["input"]["audio"], "visual": PRESETS[NAME]["input"]["visual"],
           "flat_order": "audio then visual"}
    entry = publish(NAME, lambda d: export_feature_model(model, Path(d), classes, preprocessing=pre), card, zoo_dir)
    return entry


__all__ = ["NAME", "measured_metrics", "publish_ravdess_av"]
