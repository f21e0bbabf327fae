"""``python -m emozoo.export --model-dir RUN --preset NAME [--metrics SUMMARY.json] [--seed S] [--fold F]``

Rebuilds the model of a finished training run from its ``config.json`` and selected weights,
exports it as a SavedModel and publishes it atomically to the zoo (``saved_models/``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def export_run(model_dir, name: str, card: dict, *, seed: int | None = None, fold: str | None = None,
               root=None) -> dict:
    """Export the fold ``fold`` of seed ``seed`` of run ``model_dir`` as zoo model ``name``."""
    from emozoo.errors import ExportError
    from emozoo.experiments import ExperimentConfig
    from emozoo.export import export_feature_classifier
    from emozoo.models import build_model
    from emozoo.zoo import publish

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise ExportError(f"{model_dir} is not a training run (no config.json)")
    cfg = ExperimentConfig.from_json(json.loads((model_dir / "config.json").read_text()))
    seeds = sorted(model_dir.glob("seed_*"), key=lambda p: int(p.name.split("_")[1]))
    seed_dir = model_dir / f"seed_{seed}" if seed is not None else (seeds[0] if seeds else None)
    if seed_dir is None or not seed_dir.is_dir():
        raise ExportError(f"{model_dir}: no seed folder {seed_dir}")
    folds = sorted(p for p in seed_dir.iterdir() if (p / "result.json").exists())
    if fold:
        folds = [p for p in folds if p.name == fold]
    if len(folds) != 1:
        raise ExportError(f"{seed_dir}: pick one finished fold with --fold (have {[p.name for p in folds]})")
    fdir = folds[0]
    result = json.loads((fdir / "result.json").read_text())
    weights = fdir / "best.weights.h5"
    if not weights.exists():
        raise ExportError(f"{fdir} has no best.weights.h5")
    model = build_model(cfg.model.name, num_classes=len(result["classes"]), input_dim=result["input_dim"],
                        **cfg.model.params)
    model.load_weights(weights)
    from emozoo.features.registry import get_extractor
    try:
        ext = get_extractor(result["feature"])
        pre = {"extractor": ext.config, "sample_rate": ext.sample_rate}
    except Exception:  # noqa: BLE001 - a feature without a registered extractor: features-only model
        pre = {}
    full = {**card, "experiment_config": cfg.to_json(), "selected": {"seed": result["seed"], "fold": result["fold"],
            "best_epoch": result["best_epoch"], "best_val_uar": result["best_val_uar"]}}
    return publish(name, lambda d: export_feature_classifier(model, d, classes=result["classes"],
                                                             feature=result["feature"],
                                                             input_dim=result["input_dim"], preprocessing=pre),
                   full, root)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emozoo.export", description=__doc__)
    ap.add_argument("--model-dir", required=True, help="a finished `python -m emozoo.train` run")
    ap.add_argument("--preset", required=True, help="zoo name whose card is in a method's *_presets.py")
    ap.add_argument("--metrics", help="summary.json of the benchmark run that measures this recipe")
    ap.add_argument("--seed", type=int)
    ap.add_argument("--fold")
    ap.add_argument("--zoo-dir")
    args = ap.parse_args(argv)
    from emozoo.errors import EmozooError, ExportError
    from emozoo.models import discover

    try:
        discover()
        from emozoo.publish import all_presets
        card = all_presets().get(args.preset)
        if card is None:
            raise ExportError(f"no preset {args.preset!r} in any emozoo/models/*/*_presets.py")
        card = dict(card)
        if args.metrics:
            s = json.loads(Path(args.metrics).read_text())
            if "test" not in s:
                raise ExportError(f"{args.metrics} has no test metrics")
            card["metrics"] = {k: {"mean": round(v["mean"], 4), "std": round(v["std"], 4)}
                               for k, v in s["test"].items() if isinstance(v, dict)}
            card["metrics"]["num_seeds"] = s["test"]["num_runs"]
        entry = export_run(args.model_dir, args.preset, card, seed=args.seed, fold=args.fold, root=args.zoo_dir)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"published {entry['name']} -> {entry['path']} ({len(entry['files'])} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
