"""Retrain and publish the zoo model ``dann_speech``::

    python pipelines/publish_dann_speech.py            # one training run, ~1 min on 2 CPU cores

Trains :class:`~emozoo.models.dann.dann_model.DANNUtteranceModel` with lambda = 1 (Lian et al.
2019 eq. (5): ``L_y - lambda L_d``, speaker classifier behind the gradient reversal layer) on *all*
4-class clips of the IS10 stores ``tfrecords/{emodb,casia,ravdess}_is10`` together, every speaker
of the three corpora a domain, with the network and schedule of the registered experiments
``dann/speech/<corpus>/is10/dann`` (Dense 256 -> Dense 100, dropout 0.2, L2 1e-5, Adam 1e-3,
40 epochs, batch 32, last epoch) and the trainer's batching (``emozoo.train.trainer._dataset``).
It exports the inference path only (z-normalisation + encoder + emotion classifier; no GRL, no
speaker classifier) with the ``serve_features(features [N, 1582])`` signature and the ``features``
predictor kind (IS10 computed in Python with openSMILE from a file or waveform of any rate), and
publishes it with :func:`emozoo.zoo.publish`. The card (``dann_presets.PRESETS["dann_speech"]``)
gets the exact command, the training facts and the measured LOSO table of the recipe read from
``benchmarks/results/dann_speech_<corpus>_{ci,dann}.json`` (``python pipelines/dann_speech_table.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NAME = "dann_speech"
CORPORA = ("emodb", "casia", "ravdess")
FEATURE = "is10"


def loso_metrics(root: Path = ROOT) -> dict:
    """Measured LOSO metrics (mean +- std over seeds, %-free fractions) of CI and DANN per corpus."""
    from emozoo.errors import ExportError

    out = {}
    for c in CORPORA:
        for v in ("ci", "dann"):
            p = root / "benchmarks" / "results" / f"dann_speech_{c}_{v}.json"
            if not p.exists():
                raise ExportError(f"{p} is missing: run python pipelines/dann_speech_table.py --run")
            s = json.loads(p.read_text())
            out.setdefault(c, {})[v] = {m: {"mean": round(s["test"][m]["mean"], 4), "std": round(s["test"][m]["std"], 4)}
                                        for m in ("accuracy", "uar", "macro_f1")}
            out[c][v].update(num_seeds=s["test"]["num_runs"], folds=len(s["folds"]), experiment=s["experiment"])
    return out


def training_fold(root: Path = ROOT):
    """One trainer ``Fold`` whose training side is every 4-class clip of the three IS10 stores."""
    from emozoo.errors import SchemaError
    from emozoo.train.data import FeatureTable, Fold, load_table

    tables = [load_table(root / f"tfrecords/{c}_{FEATURE}", FEATURE, "4class") for c in CORPORA]
    for c, t in zip(CORPORA, tables):
        if t.classes != tables[0].classes:
            raise SchemaError(f"{c} has classes {t.classes}, {CORPORA[0]} has {tables[0].classes}")
    train = FeatureTable.concat(tables)
    counts = {c: len(t) for c, t in zip(CORPORA, tables)}
    return Fold("all/" + "+".join(CORPORA), train, None, None, {"train": len(train)}), tuple(tables[0].classes), counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zoo-dir", help="zoo folder (default saved_models/)")
    args = ap.parse_args(argv)

    import keras

    from emozoo.evaluation.metrics import classification_report
    from emozoo.experiments import get_experiment
    from emozoo.features.registry import get_extractor
    from emozoo.models import build_model, discover
    from emozoo.models.dann.dann_presets import PRESETS
    from emozoo.train.trainer import _dataset, make_optimizer
    from emozoo.zoo import publish

    discover()
    metrics = loso_metrics()
    cfg = get_experiment("dann/speech/emodb/is10/dann")   # network + schedule (same for every corpus)
    fold, classes, counts = training_fold()
    speakers = sorted({f"{c}/{s}" for c, s in zip(fold.train.meta["corpus"], fold.train.meta["speaker"])})
    params = {**cfg.model.params, "num_domains": len(speakers)}
    tr = cfg.trainer
    keras.utils.set_random_seed(args.seed)
    model = build_model(cfg.model.name, num_classes=len(classes), input_dim=fold.train.x.shape[1], **params)
    model.prepare_fold(fold)                      # speaker -> domain index, z-normalisation on all clips
    model.compile(optimizer=make_optimizer(cfg.optimizer))
    x, y = model.fold_arrays(fold, "train", seed=args.seed)
    print(f"training {NAME}: {counts} clips, {len(speakers)} speaker domains, {tr.epochs} epochs, batch "
          f"{tr.batch_size}, seed {args.seed}", flush=True)
    hist = model.fit(_dataset(x, y, None, tr.batch_size, shuffle=True, seed=args.seed, epochs=tr.epochs),
                     epochs=tr.epochs, steps_per_epoch=-(-len(y) // tr.batch_size), verbose=0, shuffle=False)
    prob = keras.ops.convert_to_numpy(keras.ops.softmax(model(fold.train.x.astype("float32")), -1))
    fit = classification_report(fold.train.y, prob.argmax(-1), classes)
    print(f"training-set fit (not a test): WA {fit['accuracy']:.4f} UAR {fit['uar']:.4f}", flush=True)

    ext = get_extractor(FEATURE)

    def build(folder: Path):
        model.export_inference(str(folder), classes=classes)
        (Path(folder) / "assets" / "preprocessing.json").write_text(json.dumps({
            "input": "features", "feature": FEATURE, "input_dim": int(model.input_dim), "extractor": ext.config,
            "sample_rate": ext.sample_rate,
            "normalisation": "z-normalisation inside the graph, fitted on all training clips of the three corpora"},
            indent=1))

    card = dict(PRESETS[NAME])
    card.update(command=f"python pipelines/publish_dann_speech.py" + (f" --seed {args.seed}" if args.seed else ""),
                metrics={"loso": metrics,
                         "note": "leave-one-speaker-out inside each corpus with the same network and schedule "
                                 "(ci: lambda 0, dann: lambda 1, the published recipe); fractions, mean/std over "
                                 "seeds; the published model is trained on all clips and has no held-out test"},
                training={"clips": counts, "speaker_domains": len(speakers), "epochs": tr.epochs,
                          "batch_size": tr.batch_size, "seed": args.seed,
                          "final": {k: round(float(v[-1]), 4) for k, v in hist.history.items()},
                          "training_set_wa": round(fit["accuracy"], 4), "training_set_uar": round(fit["uar"], 4)},
                experiment_config={**cfg.to_json(), "model": {"name": cfg.model.name, "params": params}},
                domains=speakers)
    entry = publish(NAME, build, card, args.zoo_dir)
    print(f"published {NAME} at saved_models/{entry['path']} ({len(entry['files'])} files)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
