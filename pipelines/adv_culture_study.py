"""Cross-culture adversarial "then better" study: do the usual remedies make ADV beat BSL?

    nice -n 10 python pipelines/adv_culture_study.py                # 5 variants x 6 directions x 3 seeds
    python pipelines/adv_culture_study.py --summary-only            # rebuild the doc from the JSON

``pipelines/adv_culture_table.py`` found that the paper's ADV (Liang et al. 2019, Algorithm 1,
``L_gen = L_emo - alpha * L_cul``, eq. 5, alpha 1, S_C 1, S_G 2) does not beat BSL in our
cross-culture setting on IS10 (EmoDB, CASIA, RAVDESS; 4 classes). This study trains, on the same
folds (``adv_culture/cross/<src>_to_<tgt>/is10/*``: emotion labels of the source, C sees source and
unlabelled target, tested on all of the target), with the same CPU preset (10 epochs, batch 64,
Adam 1e-4, the paper's network, culture-balanced batches), in one script so every variant is paired
with BSL by seed:

* ``bsl``: G + E on L_emo only (the paper's baseline);
* ``adv``: the paper (alpha 1, S_C 1, S_G 2);
* ``adv_a0.1``: alpha 0.1 (a weaker adversary);
* ``adv_sc5``: S_C = 5 (five C updates per round of Algorithm 1: a stronger culture classifier);
* ``adv_ramp``: alpha ramped 0 -> 1 with Ganin et al. 2016's schedule ``2 / (1 + exp(-10 p)) - 1``,
  ``p`` = step / (epochs * steps per epoch)
  (:class:`emozoo.models.adv_culture.adv_culture_model.CultureAlphaSchedule`).

For every (direction, variant, seed): target ACC (WA), macro-F1 and UAR
(:func:`emozoo.evaluation.metrics.classification_report`, as the table), C's training culture
accuracy in the last epoch (ADV variants), and a linear culture probe on ``z = G(x)``: 5-fold
logistic regression (standardised; ``pipelines/dann_tsne.py``'s ``probe``) predicting the culture
from z of the source and target rows, each culture subsampled to the smaller one's count (chance 0.5).

Writes ``benchmarks/results/adv_culture_study.json`` (every run; finished (direction, variant, seed)
runs are kept and skipped on re-run, so an interrupted study resumes) and
``docs/methods/adv_culture_study.md`` (mean +- std over seeds; a ``## Reading`` section already in
the doc is kept).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emozoo.errors import ExperimentError  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

# name -> (model-parameter overrides on the experiment's, alpha schedule); "ganin" = CultureAlphaSchedule
# from 0 to the configured alpha (1) over the run
VARIANTS = {
    "bsl": ({"mode": "bsl"}, None),
    "adv": ({"mode": "adv"}, None),
    "adv_a0.1": ({"mode": "adv", "alpha": 0.1}, None),
    "adv_sc5": ({"mode": "adv", "culture_steps": 5}, None),
    "adv_ramp": ({"mode": "adv", "alpha": 1.0}, "ganin"),
}
DESCRIPTION = {
    "bsl": "BSL: G + E on L_emo",
    "adv": "ADV (paper): alpha 1, S_C 1, S_G 2",
    "adv_a0.1": "alpha 0.1",
    "adv_sc5": "S_C 5",
    "adv_ramp": "alpha 0 -> 1, Ganin schedule",
}
CORPORA = ("emodb", "casia", "ravdess")
DIRECTIONS = tuple((a, b) for a in CORPORA for b in CORPORA if a != b)
METRICS = ("accuracy", "macro_f1", "uar")
EXTRA = ("culture_probe", "culture_accuracy", "culture_loss")
NAMES = {"emodb": "EmoDB", "casia": "CASIA", "ravdess": "RAVDESS"}
READING = "## Reading"
COMMAND = "nice -n 10 python pipelines/adv_culture_study.py"


def _atomic_json(path: Path, obj) -> None:
    write_json_atomic(path, obj, indent=1)


def direction_name(src: str, tgt: str) -> str:
    return f"{src}_to_{tgt}"


def culture_probe(model, fold, target: str, seed: int) -> tuple[float, int]:
    """Linear culture probe on z of the source (``fold.train``) and target rows, each culture
    subsampled to the smaller count (chance 0.5); returns ``(accuracy, rows per culture)``."""
    from pipelines.dann_tsne import probe

    src, tgt = fold.train, fold.test[target]
    n = min(len(src), len(tgt))
    rng = np.random.default_rng(seed)
    xs = np.concatenate([src.x[rng.permutation(len(src))[:n]], tgt.x[rng.permutation(len(tgt))[:n]]])
    cs = np.concatenate([np.zeros(n, np.int32), np.ones(n, np.int32)])
    z = np.asarray(model.embed({"features": xs, "culture": cs}))
    return probe(z, cs, seed=seed), int(n)


def reset_dropout_streams(model, seed: int) -> None:
    """Restart every dropout layer's random stream from ``seed``: ``reinitialize`` redraws the weights
    and optimiser states but a Keras ``SeedGenerator`` keeps counting across ``fit`` calls, so
    without this a reused model's dropout masks would depend on the runs made before."""
    import keras

    drops = [l for l in model._flatten_layers() if isinstance(l, keras.layers.Dropout)]
    for k, layer in enumerate(drops):
        if getattr(layer, "seed_generator", None) is None:   # rate 0: Keras makes no generator
            continue
        layer.seed_generator.state.assign(np.asarray([seed * 7919 + 104729 + k, 0], np.int64))


def run_one(fold, classes, target: str, variant: str, seed: int, *, base_params: dict, epochs: int,
            batch_size: int, learning_rate: float, model=None):
    """Train one (variant, seed) on the cross-culture ``fold`` and measure it; returns ``(result, model)``.

    ``model``: the model of an earlier seed of the same (direction, variant), re-initialised and reused
    (no re-tracing); every run is re-initialised from ``seed`` (``adv_culture_task.reinitialize`` for
    weights and optimiser states, :func:`reset_dropout_streams` for dropout), so its result does not
    depend on the order the runs are made in (``tests/models/adv_culture/test_adv_culture_study.py``).
    """
    from emozoo.evaluation.metrics import classification_report
    from emozoo.models.adv_culture import adv_culture_task as T
    from emozoo.models.adv_culture.adv_culture_model import CultureAlphaSchedule

    if variant not in VARIANTS:
        raise ExperimentError(f"unknown variant {variant!r}; choose from {sorted(VARIANTS)}")
    overrides, schedule = VARIANTS[variant]
    params = {k: v for k, v in base_params.items() if k != "balance_cultures"}
    params.update(overrides)
    balance = bool(base_params.get("balance_cultures", True))
    run_seed = seed * 1009   # the seed of fold 0 in the table's earlier run_setting loop (one fold here)
    t0 = time.time()
    if model is None:
        model = T.build_model(fold, classes, params, learning_rate=learning_rate)
    model.set_alpha(params.get("alpha", 1.0))
    reset_dropout_streams(model, run_seed)
    callbacks, sched = [], None
    steps_per_epoch = -(-len(T.training_arrays(fold, balance=balance, seed=run_seed)) // batch_size)
    if schedule == "ganin":
        sched = CultureAlphaSchedule(total_steps=epochs * steps_per_epoch, max_alpha=params.get("alpha", 1.0))
        callbacks.append(sched)
    model, hist = T.train_fold(fold, classes, params, epochs=epochs, batch_size=batch_size,
                               learning_rate=learning_rate, seed=run_seed, balance=balance, callbacks=callbacks,
                               model=model)
    train_seconds = time.time() - t0
    test = fold.test[target]
    pred = T.predict(model, test).argmax(-1)
    rep = classification_report(test.y, pred, classes)
    probe, probe_rows = culture_probe(model, fold, target, seed)
    res = {"variant": variant, "seed": seed, "run_seed": run_seed, "schedule": schedule,
           "params": {k: params[k] for k in ("mode", "alpha", "culture_steps", "generator_steps") if k in params},
           "steps_per_epoch": steps_per_epoch, "report": rep,
           **{m: float(rep[m]) for m in METRICS},
           "culture_probe": probe, "probe_rows_per_culture": probe_rows,
           "culture_accuracy": float(hist["culture_accuracy"][-1]) if "culture_accuracy" in hist else None,
           "final": {k: float(v[-1]) for k, v in hist.items()},
           "alpha_after": model.current_alpha,
           "train_seconds": round(train_seconds, 1), "seconds": round(time.time() - t0, 1)}
    if sched is not None:
        h = sched.history
        res["alpha_history"] = {"steps": len(h), "first": h[0], "last": h[-1],
                                "per_epoch_start": [h[i] for i in range(0, len(h), steps_per_epoch)]}
    return res, model


def _stat(vals):
    vals = np.asarray([v for v in vals if v is not None], float)
    if not len(vals):
        return None
    return {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0,
            "values": vals.tolist()}


def _value(run: dict, key: str):
    """A run's scalar ``key``; ``culture_loss`` is the last epoch's training L_cul (``final``)."""
    return run[key] if key in run else run.get("final", {}).get(key)


def summarise(results: dict) -> dict:
    """``per_direction[direction][variant][metric]`` = mean/std over seeds; ``vs_bsl[variant][metric]``
    = the per-seed mean over directions of (variant - BSL), paired by seed, then mean/std over the
    seeds that have every direction for both."""
    runs = results["runs"]
    per = {}
    for d, by_v in runs.items():
        per[d] = {}
        for v, by_s in by_v.items():
            if by_s:
                per[d][v] = {"num_runs": len(by_s), "seeds": sorted(int(s) for s in by_s),
                             **{m: _stat([_value(r, m) for r in by_s.values()]) for m in METRICS + EXTRA}}
    dirs = sorted(runs)
    vs = {}
    for v in VARIANTS:
        if v == "bsl":
            continue
        seeds = [s for s in {s for d in dirs for s in runs[d].get(v, {})}
                 if all(s in runs[d].get(v, {}) and s in runs[d].get("bsl", {}) for d in dirs)]
        if not seeds or not dirs:
            continue
        row = {"seeds": sorted(int(s) for s in seeds), "directions": len(dirs)}
        for m in METRICS + ("culture_probe",):
            row[m] = _stat([np.mean([runs[d][v][s][m] - runs[d]["bsl"][s][m] for d in dirs]) for s in seeds])
        vs[v] = row
    diff = {}   # per direction: (variant - BSL) paired by seed, mean/std over the seeds both have
    for d in dirs:
        for v in VARIANTS:
            common = [s for s in runs[d].get(v, {}) if s in runs[d].get("bsl", {})]
            if v != "bsl" and common:
                diff.setdefault(d, {})[v] = {m: _stat([runs[d][v][s][m] - runs[d]["bsl"][s][m] for s in common])
                                             for m in METRICS + ("culture_probe",)}
    return {"per_direction": per, "vs_bsl": vs, "per_direction_vs_bsl": diff}


def load_folds(directions, *, epochs: int, root: Path):
    """``{direction: (fold, classes, target, cfg)}`` from the registered cross-culture IS10 experiments."""
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.models.adv_culture import adv_culture_experiments as E
    from emozoo.models.adv_culture.adv_culture_task import make_culture_folds

    out = {}
    for src, tgt in directions:
        cfg = apply_overrides(get_experiment(E.experiment_name("cross", "adv", source=src, target=tgt)),
                              [f"trainer.epochs={epochs}"])
        folds, classes = make_culture_folds(cfg.data, root=root)
        if len(folds) != 1:
            raise ExperimentError(f"{cfg.name}: expected the transductive cross-culture setting (one fold), "
                                  f"got {len(folds)} folds")
        out[direction_name(src, tgt)] = (folds[0], classes, tgt, cfg)
    return out


def study(folds: dict, variants, seeds, *, out: Path, epochs: int, batch_size: int, learning_rate: float,
          base_params: dict | None = None, log=print) -> dict:
    """Run every (direction, variant, seed) not yet in ``out`` (seed-major, so a cut study has whole
    seeds of every variant), saving the JSON after each run; returns the results with their summary.

    ``folds``: ``{direction: (fold, classes, target, cfg)}`` (:func:`load_folds`); ``base_params``
    (default: each direction's experiment's ``model.params``) before the variant's overrides.
    """
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ExperimentError(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    out = Path(out)
    config = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
              "base_params": None if base_params is None else dict(base_params)}
    results = json.loads(out.read_text()) if out.exists() else {}
    if results.get("config") != json.loads(json.dumps(config)):
        results = {}                                   # a different configuration: start over
    results.setdefault("runs", {})
    results["config"] = config
    results.setdefault("sizes", {}).update(
        {d: {"source": len(f[0].train), "target": len(f[0].test[f[2]])} for d, f in folds.items()})
    models = {}
    for s in seeds:
        for d, (fold, classes, target, cfg) in folds.items():
            for v in variants:
                runs = results["runs"].setdefault(d, {}).setdefault(v, {})
                if str(s) in runs:
                    continue
                params = dict(cfg.model.params) if base_params is None else dict(base_params)
                res, models[(d, v)] = run_one(fold, classes, target, v, s, base_params=params, epochs=epochs,
                                              batch_size=batch_size, learning_rate=learning_rate,
                                              model=models.get((d, v)))
                runs[str(s)] = res
                results["summary"] = summarise(results)
                _atomic_json(out, results)
                log(f"{d} {v} seed {s}: ACC {100 * res['accuracy']:.2f} MAF1 {100 * res['macro_f1']:.2f} "
                    f"UAR {100 * res['uar']:.2f} probe {res['culture_probe']:.3f} C_acc "
                    f"{res['culture_accuracy'] if res['culture_accuracy'] is None else round(res['culture_accuracy'], 3)}"
                    f" ({res['seconds']} s)")
    results["summary"] = summarise(results)
    _atomic_json(out, results)
    return results


def _cell(stat, pct=True, signed=False):
    if stat is None:
        return "-"
    k, f = (100, "{:+.2f} ± {:.2f}" if signed else "{:.2f} ± {:.2f}") if pct else (1, "{:.3f} ± {:.3f}")
    if signed and not pct:
        f = "{:+.3f} ± {:.3f}"
    return f.format(k * stat["mean"], k * stat["std"])


def markdown(results: dict, command: str | None = None) -> str:
    cfg, summary = results["config"], results["summary"]
    command = command or results.get("command", COMMAND)
    per, vs = summary["per_direction"], summary["vs_bsl"]
    seeds = sorted({s for d in per.values() for r in d.values() for s in r["seeds"]})
    total = sum(r["seconds"] for by_v in results["runs"].values() for by_s in by_v.values() for r in by_s.values())
    L = ["# Cross-culture adversarial study: do the usual remedies make ADV beat BSL? (IS10)", "",
         f"Measured with `{command}` (JSON: `benchmarks/results/adv_culture_study.json`; "
         "`python pipelines/adv_culture_study.py --summary-only` rewrites this page from it). Setting: the "
         "cross-culture experiments `adv_culture/cross/<src>_to_<tgt>/is10/*` (emotion labels of the source "
         "only; C sees the source and the unlabelled target; tested on all of the target; 4 classes), the "
         f"CPU preset of `pipelines/adv_culture_table.py`: the paper's network, Adam {cfg['learning_rate']:g}, "
         f"{cfg['epochs']} epochs, batch {cfg['batch_size']}, culture-balanced batches, no model selection. "
         f"Seeds {seeds}; every variant paired with BSL by seed (same initialisation seed, data order and "
         f"batches); {total / 60:.0f} min of run time on 2 shared CPU cores. Mean ± std (ddof=1) over seeds.", "",
         "* ACC (weighted accuracy), MAF1 (macro-F1), UAR: on the target culture, % "
         "(`classification_report`);",
         "* C acc / C loss: the culture classifier's training accuracy and L_cul (eq. 4) in the last epoch "
         "(ADV variants; chance: 0.5, and 2 ln 2 = 1.386 for L_cul with two cultures: eq. 4 sums one mean "
         "per culture, each ln 2 at chance);",
         "* probe: 5-fold logistic regression (standardised; `pipelines/dann_tsne.py` `probe`) predicting the "
         "culture from z = G(x) of source and target rows, each culture subsampled to the smaller one "
         "(chance 0.5).", "",
         "Variants: " + "; ".join(f"`{v}`: {DESCRIPTION[v]}" for v in VARIANTS) + ".", "",
         "## Mean difference to BSL over the directions", "",
         "Per seed, the mean over the directions of (variant - BSL); then mean ± std over seeds "
         "(percentage points; probe in accuracy units).", "",
         "| variant | n seeds | ΔACC | ΔMAF1 | ΔUAR | Δprobe |", "|---|---|---|---|---|---|"]
    for v in VARIANTS:
        if v in vs:
            r = vs[v]
            L.append(f"| `{v}` | {len(r['seeds'])} | " + " | ".join(_cell(r[m], signed=True) for m in METRICS)
                     + f" | {_cell(r['culture_probe'], pct=False, signed=True)} |")
    diff = summary.get("per_direction_vs_bsl", {})
    known = [direction_name(a, b) for a, b in DIRECTIONS]
    order = [d for d in known if d in per] + sorted(d for d in per if d not in known)
    adv_variants = [v for v in VARIANTS if v != "bsl"]
    if diff:
        L += ["", "ΔACC per direction (variant - BSL paired by seed, mean ± std over seeds, points):", "",
              "| source -> target | " + " | ".join(f"`{v}`" for v in adv_variants) + " |",
              "|---|" + "---|" * len(adv_variants)]
        for d in order:
            src, tgt = d.split("_to_", 1)
            L.append(f"| {NAMES.get(src, src)} -> {NAMES.get(tgt, tgt)} | " + " | ".join(
                _cell(diff.get(d, {}).get(v, {}).get("accuracy"), signed=True) for v in adv_variants) + " |")
    L += ["", "## Per direction", "",
          "| source -> target | variant | n | ACC | MAF1 | UAR | C acc | C loss | probe |",
          "|---|---|---|---|---|---|---|---|---|"]
    for d in order:
        src, tgt = d.split("_to_", 1)
        for v in VARIANTS:
            r = per.get(d, {}).get(v)
            if not r:
                continue
            L.append(f"| {NAMES.get(src, src)} -> {NAMES.get(tgt, tgt)} | `{v}` | {r['num_runs']} | "
                     + " | ".join(_cell(r[m]) for m in METRICS)
                     + f" | {_cell(r['culture_accuracy'], pct=False)} | {_cell(r['culture_loss'], pct=False)} | "
                     f"{_cell(r['culture_probe'], pct=False)} |")
    ramp = [(d, r) for d, by_v in results["runs"].items() for r in by_v.get("adv_ramp", {}).values()]
    if ramp:
        d0, r0 = ramp[0]
        eps = r0["alpha_history"]["per_epoch_start"]
        src, tgt = d0.split("_to_", 1)
        L += ["", f"Ganin schedule as run ({NAMES.get(src, src)} -> {NAMES.get(tgt, tgt)}: "
              f"{r0['alpha_history']['steps']} steps, {r0['steps_per_epoch']} per epoch; the other directions "
              "follow the same curve over their own step counts): alpha at the start of epochs " + ", ".join(str(i + 1) for i in range(len(eps))) + " = "
              + ", ".join(f"{a:.3f}" for a in eps) + f"; last step {r0['alpha_history']['last']:.3f}."]
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    from emozoo.errors import EmozooError
    from emozoo.models.adv_culture import adv_culture_experiments as E

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--directions", nargs="*", default=[direction_name(a, b) for a, b in DIRECTIONS],
                    choices=[direction_name(a, b) for a, b in DIRECTIONS])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=E.EPOCHS["speech"])
    ap.add_argument("--root", default=str(ROOT), help="folder the store paths (tfrecords/...) resolve against")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/adv_culture_study.json"))
    ap.add_argument("--doc", default=str(ROOT / "docs/methods/adv_culture_study.md"))
    ap.add_argument("--summary-only", action="store_true", help="only rewrite the doc from the JSON")
    args = ap.parse_args(argv)
    out = Path(args.out)
    try:
        if args.summary_only:
            if not out.exists():
                raise SystemExit(f"{out} is missing: run {COMMAND} first")
            results = json.loads(out.read_text())
            results["summary"] = summarise(results)
        else:
            dirs = [tuple(d.split("_to_")) for d in args.directions]
            folds = load_folds(dirs, epochs=args.epochs, root=Path(args.root))
            t0 = time.time()
            command = COMMAND + (f" --seeds {args.seeds}" if args.seeds != 3 else "") + \
                (f" --epochs {args.epochs}" if args.epochs != E.EPOCHS["speech"] else "") + \
                (" --variants " + " ".join(args.variants) if args.variants != list(VARIANTS) else "")
            results = study(folds, args.variants, range(args.seeds), out=out, epochs=args.epochs,
                            batch_size=E.CPU_PRESET["batch_size"], learning_rate=E.LEARNING_RATE,
                            log=lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True))
            results["command"] = command
            _atomic_json(out, results)
    except EmozooError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = markdown(results)
    doc = Path(args.doc)
    if doc.exists() and READING in doc.read_text():      # keep the hand-written reading of the numbers
        text += "\n" + READING + doc.read_text().split(READING, 1)[1]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
