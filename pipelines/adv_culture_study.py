"""Cross-culture adversarial "then better" study: do the usual remedies make ADV beat BSL?

    nice -n 10 python pipelines/adv_culture_study.py                # 5 variants x 6 directions x 3 seeds
    python pipelines/adv_culture_study.py --summary-only            # rebuild the doc from the JSON

``pipelines/adv_culture_table.py`` found that the paper's ADV (Liang et al. 2019, Algorithm 1,
``L_gen = L_emo - alpha * L_cul``, eq. 5, alpha 1, S_C 1, S_G 2) does not beat BSL in our
cross-culture setting on IS10 (EmoDB, CASIA, RAVDESS; 4 classes). This study trains, on the same
folds as ``adv_culture/cross/<src>_to_<tgt>/is10/*`` (emotion labels of the source, C sees source and
unlabelled target, tested on all of the target) and with the same CPU preset (10 epochs, batch 64,
Adam 1e-4, the paper's network, culture-balanced batches, no model selection), the variants
(``adv_culture_experiments.STUDY_VARIANTS``), every one paired with BSL by seed:

* ``bsl``: G + E on L_emo only (the paper's baseline);
* ``adv``: the paper (alpha 1, S_C 1, S_G 2);
* ``adv_a0.1``: alpha 0.1 (a weaker adversary);
* ``adv_sc5``: S_C = 5 (five C updates per round of Algorithm 1: a stronger culture classifier);
* ``adv_ramp``: alpha ramped 0 -> 1 with Ganin et al. 2016's schedule ``2 / (1 + exp(-10 p)) - 1``,
  ``p`` = step / (epochs * steps per epoch) (``model.params.alpha_schedule="ganin"``: the model gives
  the trainer a :class:`emozoo.models.adv_culture.adv_culture_model.CultureAlphaSchedule` callback).

Each (direction, variant) is the registered experiment ``adv_culture/study/<src>_to_<tgt>/is10/<variant>``
(the group ``adv_culture/study``, kind study), trained by the one trainer
(:func:`emozoo.train.trainer.run_experiment`, seed-major, so a cut study has whole seeds of every cell) into
``<runs-dir>/adv_culture_study_<src>_to_<tgt>_is10_<variant>/`` (``python -m emozoo.train --experiment
adv_culture/study`` trains the same folders; finished folds are read back, so an interrupted study resumes).
For every (direction, variant, seed): target ACC (WA), macro-F1 and UAR (the trainer's
:func:`emozoo.evaluation.metrics.classification_report`), C's training culture accuracy and L_cul in the
last epoch (the fold's ``selection.json``; ADV variants), and a linear culture probe on ``z = G(x)``: the
model rebuilt from the run's ``config.json`` as the trainer builds it, the fold's ``best.weights.h5``
loaded, then 5-fold logistic regression (standardised; ``pipelines/dann_tsne.py``'s ``probe``) predicting
the culture from z of the source and target rows, each culture subsampled to the smaller one's count
(chance 0.5); kept beside the weights as ``probes.json``.

Writes ``benchmarks/results/adv_culture_study.json`` and ``docs/methods/adv_culture_study.md`` (mean +- std
over seeds; a ``## Reading`` section already in the doc is kept).
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
from emozoo.models.adv_culture.adv_culture_experiments import STUDY_SEEDS, STUDY_VARIANTS as VARIANTS  # noqa: E402
from emozoo.models.adv_culture.adv_culture_experiments import study_name  # noqa: E402
from emozoo.utils import write_json_atomic  # noqa: E402

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


def run_dir(runs_dir: Path, direction: str, variant: str) -> Path:
    """The trainer's run folder of one (direction, variant): ``<runs_dir>/<experiment with / as _>``."""
    src, tgt = direction.split("_to_", 1)
    return Path(runs_dir) / study_name(src, tgt, variant).replace("/", "_")


def culture_probe(model, fold, seed: int) -> tuple[float, int]:
    """Linear culture probe on z of the source (``fold.train``) and target (``fold.test``) rows, each
    culture subsampled to the smaller count (chance 0.5); returns ``(accuracy, rows per culture)``."""
    from pipelines.dann_tsne import probe

    src, tgt = fold.train, fold.test
    n = min(len(src), len(tgt))
    rng = np.random.default_rng(seed)
    xs = np.concatenate([src.x[rng.permutation(len(src))[:n]], tgt.x[rng.permutation(len(tgt))[:n]]])
    cs = np.concatenate([np.zeros(n, np.int32), np.ones(n, np.int32)])
    z = np.asarray(model.embed({"features": xs.astype(np.float32), "culture": cs}))
    return probe(z, cs, seed=seed), int(n)


def alpha_history(alpha: float, steps_per_epoch: int, epochs: int) -> dict:
    """The alphas :class:`CultureAlphaSchedule` sets over a run of ``epochs * steps_per_epoch`` steps."""
    from emozoo.layers.gradient_reversal import ganin_lambda

    total = epochs * steps_per_epoch
    h = [ganin_lambda(i / total, max_lambda=alpha) for i in range(total)]
    return {"steps": total, "first": h[0], "last": h[-1], "per_epoch_start": h[::steps_per_epoch]}


def measure(model_dir: Path, direction: str, variant: str, seed: int, fold=None, classes=None, *,
            root: Path = ROOT) -> dict:
    """The study's record of one finished (direction, variant, seed) run of the trainer: its test report,
    the last epoch's training logs (``selection.json``) and the culture probe on z (computed once from the
    fold's ``best.weights.h5`` and kept beside it as ``probes.json``)."""
    from emozoo.experiments import ExperimentConfig
    from emozoo.models.adv_culture.adv_culture_runs import load_fold, rebuild_model, seed_fold_dir

    src, tgt = direction.split("_to_", 1)
    folder = seed_fold_dir(model_dir, seed, study_name(src, tgt, variant))
    res = json.loads((folder / "result.json").read_text())
    cfg = ExperimentConfig.from_json(json.loads((Path(model_dir) / "config.json").read_text()))
    epochs = json.loads((folder / "selection.json").read_text())["epochs"]
    final = {k: float(v) for k, v in epochs[-1].items() if k != "epoch" and v is not None}
    probes_path = folder / "probes.json"
    if probes_path.exists():
        probes = json.loads(probes_path.read_text())
    else:
        if fold is None:
            fold, classes = load_fold(cfg, root)
        model = rebuild_model(cfg, fold, classes, folder / "best.weights.h5")
        acc, rows = culture_probe(model, fold, seed)
        train_y = model.fold_arrays(fold, "train", seed=seed)[1]
        probes = {"culture_probe": acc, "probe_rows_per_culture": rows, "weights": "best.weights.h5",
                  "steps_per_epoch": -(-len(train_y) // cfg.trainer.batch_size)}
        write_json_atomic(probes_path, probes)
    params = cfg.model.params
    rep = res["test"]
    out = {"variant": variant, "seed": seed, "run_seed": seed * 1009, "schedule": params.get("alpha_schedule"),
           "params": {k: params[k] for k in ("mode", "alpha", "culture_steps", "generator_steps") if k in params},
           "steps_per_epoch": probes["steps_per_epoch"], "report": rep, **{m: float(rep[m]) for m in METRICS},
           "culture_probe": probes["culture_probe"], "probe_rows_per_culture": probes["probe_rows_per_culture"],
           "culture_accuracy": final.get("culture_accuracy"), "final": final,
           "run_dir": os.path.relpath(model_dir, ROOT) if Path(model_dir).resolve().is_relative_to(ROOT)
           else str(model_dir), "seconds": res["seconds"]}
    if "culture_loss" in final and final["culture_loss"]:
        # the alpha the last epoch's generator_loss was logged with (generator_loss = emotion_loss - alpha L_cul):
        # what the trained model's alpha variable held, read back from the trainer's own logs
        out["alpha_after"] = (final["emotion_loss"] - final["generator_loss"]) / final["culture_loss"]
    if params.get("alpha_schedule") == "ganin":
        out["alpha_history"] = alpha_history(float(params.get("alpha", 1.0)), out["steps_per_epoch"],
                                             cfg.trainer.epochs)
    return out


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


def study(directions, variants, seeds: int, *, out: Path, runs_dir: Path, root: Path = ROOT, overrides=(),
          log=print) -> dict:
    """Train every (direction, variant) for ``seeds`` seeds through the one trainer (the experiments
    ``adv_culture/study/<direction>/is10/<variant>`` into ``runs_dir``; seed-major order; finished folds
    are read back, not retrained), measure each run (:func:`measure`) and write ``out`` after each;
    returns the results with their summary. ``overrides``: ``--override`` strings applied to every
    experiment (tests: tiny networks and stores)."""
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.models import discover
    from emozoo.models.adv_culture.adv_culture_runs import load_fold
    from emozoo.train.trainer import run_experiment

    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ExperimentError(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")
    discover()
    cfgs = {(d, v): apply_overrides(get_experiment(study_name(*d.split("_to_", 1), v)), list(overrides))
            for d in directions for v in variants}
    c0 = next(iter(cfgs.values()))
    folds = {d: load_fold(cfgs[(d, variants[0])], root) for d in directions}
    config = {"epochs": c0.trainer.epochs, "batch_size": c0.trainer.batch_size,
              "learning_rate": c0.optimizer.learning_rate, "base_params": None, "trainer": "emozoo.train.trainer",
              "runs_dir": os.path.relpath(runs_dir, ROOT) if Path(runs_dir).resolve().is_relative_to(ROOT)
              else str(runs_dir)}
    results = {"config": config, "runs": {d: {v: {} for v in variants} for d in directions},
               "sizes": {d: {"source": len(f.train), "target": len(f.test)} for d, (f, _) in folds.items()}}
    for n in range(1, seeds + 1):
        seed = c0.trainer.seed + n - 1
        for d in directions:
            for v in variants:
                model_dir = run_dir(runs_dir, d, v)
                run_experiment(cfgs[(d, v)], model_dir, seeds=n, data_root=root, log=lambda *a: None)
                res = measure(model_dir, d, v, seed, *folds[d], root=root)
                results["runs"][d][v][str(seed)] = res
                results["summary"] = summarise(results)
                _atomic_json(out, results)
                log(f"{d} {v} seed {seed}: ACC {100 * res['accuracy']:.2f} MAF1 {100 * res['macro_f1']:.2f} "
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
         "`python pipelines/adv_culture_study.py --summary-only` rewrites this page from it). Each cell is the "
         "registered experiment `adv_culture/study/<src>_to_<tgt>/is10/<variant>` (group `adv_culture/study`), "
         "trained by the one trainer (`emozoo.train.trainer.run_experiment`) into "
         f"`{cfg.get('runs_dir', 'runs')}/adv_culture_study_<src>_to_<tgt>_is10_<variant>/`. Setting: the "
         "cross-culture experiments `adv_culture/cross/<src>_to_<tgt>/is10/*` (emotion labels of the source "
         "only; C sees the source and the unlabelled target; tested on all of the target; 4 classes), their "
         f"CPU preset: the paper's network, Adam {cfg['learning_rate']:g}, "
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

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--directions", nargs="*", default=[direction_name(a, b) for a, b in DIRECTIONS],
                    choices=[direction_name(a, b) for a, b in DIRECTIONS])
    ap.add_argument("--seeds", type=int, default=STUDY_SEEDS)
    ap.add_argument("--epochs", type=int, help="override trainer.epochs (default: the CPU preset's 10; another "
                                               "value needs another --runs-dir: a run folder holds one config)")
    ap.add_argument("--root", default=str(ROOT), help="folder the store paths (tfrecords/...) resolve against")
    ap.add_argument("--runs-dir", default=str(ROOT / "runs"), help="parent of the trainer's run folders")
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
            t0 = time.time()
            command = COMMAND + (f" --seeds {args.seeds}" if args.seeds != STUDY_SEEDS else "") + \
                (f" --epochs {args.epochs}" if args.epochs else "") + \
                (" --variants " + " ".join(args.variants) if args.variants != list(VARIANTS) else "") + \
                (" --directions " + " ".join(args.directions) if len(args.directions) != len(DIRECTIONS) else "")
            results = study(args.directions, args.variants, args.seeds, out=out, runs_dir=Path(args.runs_dir),
                            root=Path(args.root), overrides=[f"trainer.epochs={args.epochs}"] if args.epochs else [],
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
