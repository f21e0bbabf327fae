"""Retrain and publish the zoo model ``emodal_ravdess_av``::

    EMOZOO_DATA_DIR=../shared/data python pipelines/emodal_build_stores.py     # stores, once
    python pipelines/publish_emodal_ravdess_av.py                              # ~1 min on 2 CPU cores

Trains :class:`EMODalModel` (audio 259 -> 128-64-10, visual 35 AUs -> 128-64-10, common +
classify + specific losses, Adam 1e-3, batch 32) as the registered experiment
``emodal/ravdess_av/4class/both`` on the 4-class clips of 22 of the 24 RAVDESS actors, the other
2 actors (drawn with the seed) selecting the epoch by validation UAR (patience as the table's CPU
preset), exports it with :func:`emozoo.models.emodal.emodal_video.export_feature_model`
(signature ``serve_features(audio [N, 259], visual [N, 35])``, z-normalisation inside) and
publishes it atomically with :func:`emozoo.zoo.publish`. The card (``emodal_presets.PRESETS``)
gets the measured cross-validated metrics from ``benchmarks/results/emodal_4class.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NAME = "emodal_ravdess_av"
COMMAND = "python pipelines/publish_emodal_ravdess_av.py"
RESULTS = REPO / "benchmarks" / "results" / "emodal_4class.json"


def measured_metrics(results_path: Path = RESULTS) -> dict:
    from emozoo.errors import ExportError
    from emozoo.models.emodal import emodal_experiments as E

    results_path = Path(results_path)
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(REPO))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zoo-dir", help="zoo folder (default saved_models/)")
    args = ap.parse_args(argv)

    import dataclasses

    from emozoo.experiments import get_experiment
    from emozoo.models import discover
    from emozoo.models.emodal import emodal_experiments as E
    from emozoo.models.emodal.emodal_presets import PRESETS
    from emozoo.models.emodal.emodal_task import FoldTrainer
    from emozoo.models.emodal.emodal_video import export_feature_model
    from emozoo.train.data import make_folds
    from emozoo.zoo import publish

    discover()
    metrics = measured_metrics()
    cfg = get_experiment(E.experiment_name("4class", "both"))
    data = dataclasses.replace(cfg.data, protocol="all", protocol_kwargs={"seed": args.seed})
    (fold,), classes = make_folds(data, root=args.root)
    trainer = FoldTrainer(cfg, classes, fold.train.x.shape[1])
    hist, best = trainer.fit(fold, args.seed)
    valid_actors = sorted(set(fold.valid.meta["speaker"].tolist()))
    print(f"trained on {len(fold.train)} clips ({len(set(fold.train.meta['speaker']))} actors), best epoch {best}, "
          f"validation UAR {hist['val_uar'][best - 1]:.3f} (actors {valid_actors})")
    model = trainer.model
    card = dict(PRESETS[NAME])
    card.update(command=f"{COMMAND} --seed {args.seed}", metrics=metrics,
                protocol=f"all 4-class clips of 22 RAVDESS actors (train, {len(fold.train)} clips), actors "
                         f"{', '.join(valid_actors)} held out for model selection (validation UAR, best epoch "
                         f"{best} of {len(hist['loss'])}); Adam {cfg.optimizer.learning_rate}, batch "
                         f"{cfg.trainer.batch_size}, seed {args.seed}",
                training={"clips": len(fold.train), "validation_clips": len(fold.valid), "best_epoch": best,
                          "validation_uar": round(hist["val_uar"][best - 1], 4), "seed": args.seed,
                          "final": {k: round(v[best - 1], 4) for k, v in hist.items() if k != "val_uar"}},
                experiment_config=cfg.to_json())
    pre = {"audio": PRESETS[NAME]["input"]["audio"], "visual": PRESETS[NAME]["input"]["visual"],
           "flat_order": "audio then visual"}
    entry = publish(NAME, lambda d: export_feature_model(model, Path(d), classes, preprocessing=pre), card,
                    args.zoo_dir)
    print(f"published {entry['name']} -> {entry['path']} ({len(entry['files'])} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
