"""DANN "then better" study: the GRL's lambda schedule vs the speaker information left in r_i.

    nice -n 10 python pipelines/dann_lambda_study.py            # 5 variants x 3 seeds, CPU preset
    python pipelines/dann_lambda_study.py --summary-only        # rebuild the table from the JSON

The Table-2 pipeline showed that on IEMOCAP TS_1234 the paper's fixed ``lambda = 1`` gradient
reversal (Lian et al. 2019, eq. 5) does not remove speaker identity from ``r_i`` (linear speaker
probe 0.212 for DANN vs 0.145 for CI, ``pipelines/dann_tsne.py``). This study trains, on the same
fold (store ``tfrecords/iemocap_text_minilm``, speaker domain, test session 5) and with the
experiments' CPU preset (Adam 1e-3, 20 epochs, batches of 20 conversations, the paper's network
``E.MODEL``), the variants

* ``ci``: ``lambda = 0`` (the paper's CI baseline);
* ``dann``: ``lambda = 1`` fixed (the paper);
* ``dann_ganin``: Ganin et al. 2016 (sec. 5.2.2) schedule ``lambda_p = 2 / (1 + exp(-10 p)) - 1``,
  ``p`` = step / (epochs * steps per epoch), rising from 0 to ~1
  (:class:`emozoo.layers.gradient_reversal.GaninLambdaSchedule`);
* ``dann_l0.1``: ``lambda = 0.1`` fixed (a weaker adversary);
* ``dann_dom2``: ``lambda = 1`` with a deeper domain classifier (``domain_units=[100, 100]``),

and measures for each (variant, seed): session-5 WA (accuracy over turns) and UAR
(:func:`emozoo.evaluation.metrics.classification_report`), the last epoch's training domain
(speaker) accuracy of the domain classifier, and on ``r_i`` of every turn of every conversation
(:func:`emozoo.models.dann.dann_task.embeddings` of ``fold.train``, 7433 turns): the 5-fold
logistic-regression speaker probe accuracy (``pipelines/dann_tsne.py``'s ``probe``; chance 0.1)
and the same probe for emotion on the labelled training turns.

Each variant is the registered experiment ``dann/lambda_study/<variant>`` (the group
``dann/lambda_study``, kind study), trained by the one trainer (:func:`emozoo.train.trainer.run_experiment`
with :class:`emozoo.models.dann.dann_task.ConversationTask`, which applies the Ganin schedule of
``model.params.grl_schedule``) into ``runs/dann_lambda_study_<variant>/`` (``python -m emozoo.train
--experiment dann/lambda_study`` trains the same folders); the probes are computed from each seed's
``model.weights.h5`` and kept beside it (``probes.json``). Writes
``benchmarks/results/dann_lambda_study.json`` (every run; finished seeds are read back, so an
interrupted study resumes) and ``docs/methods/dann_lambda_study.md`` (mean +- std over seeds; a
`## Reading` section already in the doc is kept).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emozoo.utils import write_json_atomic  # noqa: E402

from emozoo.models.dann.dann_experiments import LAMBDA_STUDY as VARIANTS  # noqa: E402  name -> model params
DESCRIPTION = {
    "ci": "lambda = 0 (CI)",
    "dann": "lambda = 1 fixed (paper)",
    "dann_ganin": "Ganin schedule 2/(1+exp(-10p))-1, 0 -> 1",
    "dann_l0.1": "lambda = 0.1 fixed",
    "dann_dom2": "lambda = 1, domain MLP [100, 100]",
}
METRICS = ("wa", "uar", "domain_accuracy", "speaker_probe", "emotion_probe")
READING = "## Reading"
COMMAND = "nice -n 10 python pipelines/dann_lambda_study.py"


def _atomic_json(path: Path, obj) -> None:
    write_json_atomic(path, obj, indent=1)


def seed_dir(runs_dir: Path, variant: str, seed: int) -> Path:
    return Path(runs_dir) / f"dann/lambda_study/{variant}".replace("/", "_") / f"seed_{seed}"


def measure(runs_dir: Path, variant: str, seed: int, fold=None) -> dict:
    """The study's record of one finished (variant, seed) run of the trainer: its test report, the last
    epoch's domain accuracy and lambda, and the speaker / emotion probes on ``r_i`` of every turn
    (computed once from ``seed_<s>/<fold>/model.weights.h5`` and kept beside it as ``probes.json``)."""
    from emozoo.models.dann import dann_task as T
    from emozoo.train.trainer import seed_fold_dir
    from pipelines.dann_tsne import probe

    folder = seed_fold_dir(seed_dir(runs_dir, variant, seed).parent, seed)
    res = json.loads((folder / "result.json").read_text())
    probes_path = folder / "probes.json"
    if probes_path.exists():
        probes = json.loads(probes_path.read_text())
    else:
        model, fold, _ = T.load_trained(folder.parent.parent, seed, root=ROOT, fold=fold)
        emb = T.embeddings(model, fold.train)
        lab = emb["y"] >= 0
        probes = {"speaker_probe": probe(emb["r"], emb["speaker"]), "emotion_probe": probe(emb["r"][lab], emb["y"][lab]),
                  "probe_turns": int(len(emb["r"])), "probe_labelled_turns": int(lab.sum())}
        write_json_atomic(probes_path, probes)
    rep = res["test"]
    out = {"variant": variant, "seed": seed, "schedule": res.get("schedule"), "epochs": res["epochs"],
           "steps_per_epoch": res["steps_per_epoch"], "report": rep, "wa": float(rep["accuracy"]),
           "uar": float(rep["uar"]), "domain_accuracy": float(res["history"]["domain_accuracy"][-1]),
           "history": res["history"], "final_lambda": res["final_lambda"], "seconds": res["seconds"], **probes}
    if "lambda_history" in res:
        out["lambda_history"] = res["lambda_history"]
    return out


def summarise(results: dict) -> dict:
    out = {}
    for v, runs in results["runs"].items():
        if not runs:
            continue
        row = {"num_runs": len(runs), "seeds": sorted(int(s) for s in runs)}
        for m in METRICS:
            vals = np.array([r[m] for r in runs.values()], float)
            row[m] = {"mean": float(vals.mean()), "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0}
        out[v] = row
    return out


def study(variants, seeds: int, *, out: Path, runs_dir: Path, overrides=(), log=print) -> dict:
    """Train every (variant, seed) through the one trainer (the experiments ``dann/lambda_study/<variant>``
    into ``runs_dir``; seed-major order, so a partial study covers every variant; finished seeds are read
    back), measure each run (:func:`measure`) and write ``out`` after each; returns the results with their
    summary."""
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.models.dann import dann_task as T
    from emozoo.train.trainer import run_experiment

    cfgs = {v: apply_overrides(get_experiment(f"dann/lambda_study/{v}"), list(overrides)) for v in variants}
    c0 = cfgs[variants[0]]
    fold = T.experiment_fold(c0, ROOT)
    config = {"epochs": c0.trainer.epochs, "batch_size": c0.trainer.batch_size,
              "learning_rate": c0.optimizer.learning_rate, "fold": fold.name, "sizes": fold.sizes,
              "domains": len(fold.domains), "runs_dir": str(Path(runs_dir).resolve().relative_to(ROOT))
              if Path(runs_dir).resolve().is_relative_to(ROOT) else str(runs_dir)}
    results = {"config": config, "runs": {v: {} for v in variants}}
    for n in range(1, seeds + 1):
        for v in variants:
            folder = seed_dir(runs_dir, v, n - 1).parent
            run_experiment(cfgs[v], folder, seeds=n, log=lambda *a: None)
            res = measure(runs_dir, v, c0.trainer.seed + n - 1, fold)
            results["runs"][v][str(res["seed"])] = res
            results["summary"] = summarise(results)
            _atomic_json(out, results)
            log(f"{v} seed {res['seed']}: WA {100 * res['wa']:.2f} UAR {100 * res['uar']:.2f} dom_acc "
                f"{res['domain_accuracy']:.3f} spk_probe {res['speaker_probe']:.3f} emo_probe "
                f"{res['emotion_probe']:.3f} lambda_end {res['final_lambda']:.3f} ({res['seconds']} s)")
    results["summary"] = summarise(results)
    _atomic_json(out, results)
    return results


def _cell(row, m, pct):
    k = 100 if pct else 1
    fmt = "{:.2f} ± {:.2f}" if pct else "{:.3f} ± {:.3f}"
    return fmt.format(k * row[m]["mean"], k * row[m]["std"])


def markdown(results: dict, command: str | None = None) -> str:
    cfg, summary = results["config"], results["summary"]
    command = command or results.get("command", COMMAND)
    seeds = sorted({s for r in summary.values() for s in r["seeds"]})
    total = sum(r["seconds"] for runs in results["runs"].values() for r in runs.values())
    L = ["# DANN lambda study: lambda schedule vs speaker leakage (IEMOCAP TS_1234, text)", "",
         f"Measured with `{command}` (the JSON: `benchmarks/results/dann_lambda_study.json`; "
         f"`python pipelines/dann_lambda_study.py --summary-only` rewrites this table from it). "
         f"Fold {cfg['fold']}: {cfg['sizes']['train_labelled']} labelled training turns (sessions 1-4), all "
         f"{cfg['sizes']['domain_rows']} turns of sessions 1-5 in the speaker-domain loss ({cfg['domains']} "
         f"speakers), test = the {cfg['sizes']['test_labelled']} labelled turns of session 5. Network "
         f"`E.MODEL` (the paper's), CPU preset: Adam {cfg['learning_rate']:g}, {cfg['epochs']} epochs, batches of "
         f"{cfg['batch_size']} conversations; seeds {seeds}; {total / 60:.0f} min of training time (the probes "
         "not counted) on 2 shared CPU "
         "cores. Mean ± std (ddof=1) over seeds (n per row).", "",
         "* WA / UAR: session-5 test, % (`classification_report`);",
         "* dom acc: the domain (speaker) classifier's training accuracy over all turns in the last epoch "
         "(chance 0.1 for 10 speakers; the classifier keeps training under every lambda, under CI as a probe);",
         "* speaker probe: 5-fold logistic regression (standardised) predicting the speaker from `r_i` of all "
         f"{next(iter(next(iter(results['runs'].values())).values()))['probe_turns']} turns "
         "(`pipelines/dann_tsne.py` `probe`; chance 0.1); emotion probe: the same on the labelled training turns "
         "(4 classes).", "",
         "| variant | lambda | n | WA | UAR | dom acc | speaker probe | emotion probe |",
         "|---|---|---|---|---|---|---|---|"]
    for v in VARIANTS:
        if v not in summary:
            continue
        r = summary[v]
        L.append(f"| `{v}` | {DESCRIPTION[v]} | {r['num_runs']} | {_cell(r, 'wa', True)} | {_cell(r, 'uar', True)} | "
                 f"{_cell(r, 'domain_accuracy', False)} | {_cell(r, 'speaker_probe', False)} | "
                 f"{_cell(r, 'emotion_probe', False)} |")
    g = results["runs"].get("dann_ganin")
    if g:
        r0 = next(iter(g.values()))
        eps = r0["lambda_history"]["per_epoch_start"]
        L += ["", f"Ganin schedule as run ({r0['lambda_history']['steps']} steps, {r0['steps_per_epoch']} per epoch): "
              f"lambda at the start of epochs 1, 2, 5, 10, 20 = "
              + ", ".join(f"{eps[i]:.3f}" for i in (0, 1, 4, 9, len(eps) - 1) if i < len(eps))
              + f"; after training {r0['final_lambda']:.3f}."]
    return "\n".join(L) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, help="override trainer.epochs (default: the CPU preset's 20)")
    ap.add_argument("--runs-dir", default=str(ROOT / "runs"), help="parent of the trainer's run folders")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/dann_lambda_study.json"))
    ap.add_argument("--doc", default=str(ROOT / "docs/methods/dann_lambda_study.md"))
    ap.add_argument("--summary-only", action="store_true", help="only rewrite the doc from the JSON")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.summary_only:
        if not out.exists():
            raise SystemExit(f"{out} is missing: run python pipelines/dann_lambda_study.py first")
        results = json.loads(out.read_text())
    else:
        t0 = time.time()
        command = COMMAND + (f" --seeds {args.seeds}" if args.seeds != 3 else "") + \
            (f" --epochs {args.epochs}" if args.epochs else "")
        results = study(args.variants, args.seeds, out=out, runs_dir=Path(args.runs_dir),
                        overrides=[f"trainer.epochs={args.epochs}"] if args.epochs else [],
                        log=lambda m: print(f"[{time.time() - t0:6.0f}s] {m}", flush=True))
        results["command"] = command
        _atomic_json(out, results)
    text = markdown(results)
    doc = Path(args.doc)
    if doc.exists() and READING in doc.read_text():      # keep the hand-written reading of the numbers
        text += "\n" + READING + doc.read_text().split(READING, 1)[1]
    doc.parent.mkdir(parents=True, exist_ok=True)
    Path(args.doc).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
