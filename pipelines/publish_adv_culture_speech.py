"""Retrain and publish the zoo model ``adv_culture_speech``::

    python pipelines/publish_adv_culture_speech.py            # ~1-2 min on 2 CPU cores

Trains :class:`AdversarialCultureModel` in ADV mode (S_C=1, S_G=2, alpha=1, Adam 1e-4) on *all*
labelled 4-class clips of the three IS10 stores ``tfrecords/{emodb,casia,ravdess}_is10``
(multi-culture, every culture labelled, smaller cultures upsampled to the largest), with the CPU
preset of the table runner (``adv_culture_experiments.CPU_PRESET``: 10 epochs, batch 64, seed 0),
then exports the inference path (culture z-normalisation + G + E; C is not exported) with
``tf.saved_model.save`` and publishes it atomically with :func:`emozoo.zoo.publish`.

Signatures: ``serve_features(features [N, 1582])`` uses the *pooled* normalisation row (culture
unknown), ``serve_features_culture(features, culture [N] int32)`` the row of a known culture
(0 emodb, 1 casia, 2 ravdess; -1 pooled). The model card (``adv_culture_presets.PRESETS``) gets
the measured multi-culture ADV metrics read from ``benchmarks/results/adv_culture.json``.
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

NAME = "adv_culture_speech"
COMMAND = "python pipelines/publish_adv_culture_speech.py"
RESULTS = REPO / "benchmarks" / "results" / "adv_culture.json"


def measured_metrics(results_path: Path = RESULTS) -> dict:
    """Multi-culture ADV (and BSL, for reference) metrics per test culture from the table runner's JSON."""
    from emozoo.errors import ExportError
    from emozoo.models.adv_culture import adv_culture_experiments as E

    res = json.loads(Path(results_path).read_text())
    out = {}
    for mode in ("adv", "bsl"):
        name = E.experiment_name("multi", mode)
        if name not in res.get("summary", {}):
            raise ExportError(f"{results_path} has no summary of {name}: run python pipelines/adv_culture_table.py")
        out[mode] = {c: {m: {"mean": round(s[m]["mean"], 4), "std": round(s[m]["std"], 4)}
                         for m in ("accuracy", "uar", "macro_f1")} | {"num_seeds": s["num_runs"]}
                     for c, s in res["summary"][name].items()}
    cfg = res.get("config", {})
    return {"test_cultures_adv": out["adv"], "test_cultures_bsl_reference": out["bsl"],
            "setting": name.rsplit("/", 1)[0] + "/{adv,bsl}",
            "protocol": f"speaker {E.MULTI_K}-fold inside every corpus, predictions pooled over folds per seed; "
                        f"{cfg.get('seeds')} seeds, {cfg.get('epochs')} epochs, batch {cfg.get('batch_size')}"}


def all_labelled_fold(root: Path):
    """One CultureFold whose training side is every labelled clip of the three stores."""
    import numpy as np

    from emozoo.models.adv_culture import adv_culture_experiments as E
    from emozoo.models.adv_culture.adv_culture_task import CultureFold, Part, load_culture_table

    from emozoo.experiments import get_experiment

    cfg = get_experiment(E.experiment_name("multi", "adv"))
    corpora = list(cfg.data.corpora)
    tables = {c: load_culture_table(cfg.data, c, root) for c in corpora}
    classes = tables[corpora[0]].classes
    parts = []
    for j, c in enumerate(corpora):
        t = tables[c]
        assert t.classes == classes, (c, t.classes, classes)
        parts.append(Part(t.x.astype("float32"), t.y.astype("int32"), np.full(len(t), j, np.int32), t.meta["corpus"]))
    train = Part.concat(parts)
    fold = CultureFold("multi/all", tuple(corpora), tuple(range(len(corpora))), train, Part.concat([]), {})
    return cfg, fold, tuple(classes), {c: len(tables[c]) for c in corpora}


def export(model, out_dir: Path, classes, cultures) -> None:
    """SavedModel of normalisation + G + E (no C), one copy of the variables."""
    import tensorflow as tf

    from emozoo.features.registry import get_extractor

    std, gen, emo = model.standardization, model.feature_generator, model.emotion_classifier
    feat = tf.TensorSpec((None, model.input_dim), tf.float32, name="features")
    cult = tf.TensorSpec((None,), tf.int32, name="culture")

    def heads(features, culture):
        z = gen(std(features, culture), training=False)
        logits = emo(z, training=False)
        return {"logits": logits, "probabilities": tf.nn.softmax(logits, -1), "embedding": z}

    mod = tf.Module(name="adv_culture_serving")
    mod.std, mod.gen, mod.emo = std, gen, emo
    mod.serve_features = tf.function(lambda features: heads(features, None), input_signature=[feat],
                                     autograph=False)
    mod.serve_features_culture = tf.function(heads, input_signature=[feat, cult], autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"serve_features": mod.serve_features,
                                                       "serve_features_culture": mod.serve_features_culture})
    assets = out_dir / "assets"
    assets.mkdir(exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    ext = get_extractor("is10")
    pre = {"input": "features", "feature": "is10", "input_dim": int(model.input_dim),
           "extractor": ext.config, "sample_rate": ext.sample_rate,
           "normalisation": "culture-specific z-normalisation inside the graph; serve_features (culture unknown) "
                            "uses the pooled row fitted on all three cultures together",
           "cultures": list(cultures)}
    (assets / "preprocessing.json").write_text(json.dumps(pre, indent=1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(REPO), help="folder the store paths (tfrecords/...) resolve against")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zoo-dir", help="zoo folder (default saved_models/)")
    args = ap.parse_args(argv)

    import numpy as np

    from emozoo.models import discover
    from emozoo.models.adv_culture import adv_culture_experiments as E
    from emozoo.models.adv_culture.adv_culture_presets import PRESETS
    from emozoo.models.adv_culture.adv_culture_task import train_fold
    from emozoo.zoo import publish

    discover()
    metrics = measured_metrics()
    cfg, fold, classes, counts = all_labelled_fold(Path(args.root))
    epochs, batch = cfg.trainer.epochs, cfg.trainer.batch_size
    assert (epochs, batch) == (E.CPU_PRESET["epochs"], E.CPU_PRESET["batch_size"])
    print(f"training {cfg.name} on all labelled clips {counts}, {epochs} epochs, batch {batch}, seed {args.seed}")
    model, hist = train_fold(fold, classes, dict(cfg.model.params), epochs=epochs, batch_size=batch,
                             learning_rate=cfg.optimizer.learning_rate, seed=args.seed)
    # the pooled row must be the statistics of all training clips together (used when the culture is unknown)
    std = model.standardization
    assert np.allclose(np.asarray(std.mean)[-1], fold.train.x.mean(0), atol=1e-3 * (1 + np.abs(fold.train.x).max()))

    card = dict(PRESETS[NAME])
    card.update(command=f"{COMMAND} --seed {args.seed}", metrics=metrics,
                training={"clips": counts, "epochs": epochs, "batch_size": batch, "seed": args.seed,
                          "upsampling": "each culture upsampled to the largest",
                          "final": {k: round(float(v[-1]), 4) for k, v in hist.items()}},
                experiment_config=cfg.to_json())
    entry = publish(NAME, lambda d: export(model, Path(d), classes, fold.cultures), card, args.zoo_dir)
    print(f"published {entry['name']} -> {entry['path']} ({len(entry['files'])} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
