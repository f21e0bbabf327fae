"""Tables and ablation curves of the semi-supervised CT-GAN method (Liang, Chen, Jin 2019).

    python pipelines/ssgan_table.py --setting speech       # FSBase/SSBase/SSGAN x 10/20/50 % x 5 folds
    python pipelines/ssgan_table.py --setting face
    python pipelines/ssgan_table.py --setting multimodal   # MFSBase/MSSGAN
    python pipelines/ssgan_table.py --ablation unlabelled  # Fig. 6: 0x..3x unlabelled (MSSGAN, 10 %)
    python pipelines/ssgan_table.py --ablation normalisation   # Fig. 7: none/self/shift/combine
    python pipelines/ssgan_table.py --experiment ssgan/speech/frac20 [--override steps=600] [--json out.json]

Every cell is a registered experiment (the groups ``ssgan/table/<setting>``,
``ssgan/ablation/{unlabelled,normalisation}``; ``python -m emozoo.train --list``) trained by the one
trainer, :func:`emozoo.train.trainer.run_experiment` with the ``ssgan`` Task, exactly as
``python -m emozoo.train --experiment ssgan/face_dface/frac10`` does, into the same run folders
``<runs-dir>/<experiment with / as _>``: either command resumes the other's finished folds. With
``--override FIELD=VALUE`` (a :class:`~emozoo.models.ssgan.ssgan_task.RunSpec` field, given to the
trainer as ``model.params.run.FIELD``) or ``--folds N`` other than 5 the run folders get a suffix
naming them. This script only reads the runs back (:func:`emozoo.train.trainer.load_run`) and writes
the summaries (mean +- std over the folds) to ``benchmarks/results/ssgan_<name>.json`` and ``.md``,
the curves to ``docs/methods/ssgan_*.png``.
Needs ``EMOZOO_DATA_DIR`` and the stores ``tfrecords/{ravdess,emodb,casia}_{fbank,egemaps}``.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emozoo.experiments import apply_overrides, get_experiment, group_members  # noqa: E402
from emozoo.experiments.config import parse_value  # noqa: E402
from emozoo.models.ssgan import ssgan_task as T  # noqa: E402
from emozoo.models.ssgan.ssgan_experiments import CPU_PRESETS, FOLDS, FRACTIONS, NORMALISATION_FRACTION, \
    UNLABELLED_FRACTION, UNLABELLED_RATIOS, experiment_name  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "methods"
RUNS = ROOT / "runs"
LABEL = {"fsbase": "FSBase", "ssbase": "SSBase", "ssgan": "SSGAN", "mfsbase": "MFSBase", "mssgan": "MSSGAN"}
KEYS = ("uar", "macro_f1", "macro_f1_uar_map", "accuracy")


def trainer_overrides(overrides, folds: int = FOLDS) -> list[str]:
    """``FIELD=VALUE`` of :class:`RunSpec` -> the trainer's ``model.params.run.FIELD=VALUE`` (as
    ``python -m emozoo.train --override`` takes them); ``folds`` below 5 -> ``data.folds=[0..N-1]``."""
    fields = {f.name for f in dataclasses.fields(T.RunSpec)}
    out = []
    for o in overrides or ():
        k, sep, v = o.partition("=")
        if not sep or k not in fields:
            raise SystemExit(f"--override {o}: RunSpec has no field {k!r}; it has {sorted(fields)}")
        parse_value(v)
        out.append(f"model.params.run.{k}={v}")
    if folds != FOLDS:
        out.append(f"data.folds={json.dumps(list(range(folds)))}")
    return out


def run_dir(name: str, overrides, runs_dir: Path = RUNS) -> Path:
    """``<runs-dir>/<name with / as _>`` (the folder ``python -m emozoo.train --experiment name``
    uses), with a suffix naming the overrides when there are any (another config, another folder)."""
    tag = "__".join(re.sub(r"[^A-Za-z0-9=.,_-]+", "_", o.replace("model.params.run.", "")) for o in overrides)
    if len(tag) > 60:              # a long list: its start and a hash of the whole (file names stay short)
        tag = f"{tag[:40]}_{hashlib.sha1(json.dumps(list(overrides)).encode()).hexdigest()[:10]}"
    return Path(runs_dir) / (name.replace("/", "_") + (f"__{tag}" if tag else ""))


def run_cells(names, overrides, runs_dir: Path = RUNS, log=print) -> dict:
    """Train (or read back) every experiment of ``names``; ``{name: (cfg, trainer.load_run(run folder))}``."""
    from emozoo.train.trainer import load_run, run_experiment
    out = {}
    for name in names:
        cfg = apply_overrides(get_experiment(name), overrides)
        model_dir = run_dir(name, overrides, runs_dir)
        run_experiment(cfg, model_dir, data_root=ROOT, log=log)
        out[name] = (cfg, load_run(model_dir))
    return out


def fold_results(run: dict) -> list[dict]:
    """Every fold of every seed of a read-back run (the runs the summary's per-model rows are over)."""
    return [r for s in run["seeds"] for r in s["folds"]]


def cell(run: dict, model: str) -> dict:
    """One model's row of a run: ``n`` and ``{mean, std, values}`` per metric, from the trainer's
    ``summary["models"]`` (mean +- std, ddof 1, over every fold of every seed)."""
    s = run["summary"]["models"][model]
    return {"n": s["n"], **{k: {"mean": s[k]["mean"], "std": s[k]["std"],
                                "values": [round(float(a), 4) for a in s[k]["values"]]} for k in KEYS}}


def _fmt(m) -> str:
    return f"{100 * m['mean']:.2f} +- {100 * m['std']:.2f}"


def _command(base: str, overrides, folds: int) -> str:
    return " ".join([base] + [f"--override {o}" for o in overrides or ()]
                    + ([f"--folds {folds}"] if folds != FOLDS else []))


def table(setting: str, fractions, folds: int, overrides, log=print, runs_dir: Path = RUNS) -> dict:
    """The rows FSBase / SSBase / SSGAN (or MFSBase / MSSGAN) x labelled fraction of one setting."""
    ov = trainer_overrides(overrides, folds)
    names = [experiment_name(setting, f) for f in fractions]
    runs = run_cells(names, ov, runs_dir, log)
    rows = []
    for f, name in zip(fractions, names):
        cfg, run = runs[name]
        rs = fold_results(run)
        for m in T.spec_of(cfg).models:
            rows.append({"fraction": f, "model": m, **cell(run, m), "sizes": rs[0]["sizes"],
                         "best_step": [r["models"][m]["best_step"] for r in rs],
                         "seconds": [r["models"][m]["seconds_total"] for r in rs]})
    res = {"setting": setting, "folds": folds, "spec": dataclasses.asdict(T.spec_of(runs[names[0]][0])),
           "command": _command(f"python pipelines/ssgan_table.py --setting {setting}", overrides, folds), "rows": rows,
           "run_dirs": {n: os.path.relpath(run_dir(n, ov, runs_dir), ROOT) for n in names},
           "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    lines = ["| labelled | model | UAR | MAF1 (usual) | MAF1 (eq. 8) | ACC |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {int(round(100 * r['fraction']))} % ({r['sizes']['labelled']}) | {LABEL[r['model']]} | "
                     f"{_fmt(r['uar'])} | {_fmt(r['macro_f1'])} | {_fmt(r['macro_f1_uar_map'])} | {_fmt(r['accuracy'])} |")
    _write(f"ssgan_{setting}", res, "\n".join(lines))
    return res


def _write(stem, res, md):
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=1))
    (RESULTS / f"{stem}.md").write_text(md + "\n")
    print(md)


def _plot(path, xs, series, xlabel, title, xticks=None):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, (m, s) in series.items():
        ax.errorbar(xs, m, yerr=s, marker="o", capsize=3, label=name)
    if xticks:
        ax.set_xticks(xs)
        ax.set_xticklabels(xticks)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test score (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    DOCS.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def ablation_unlabelled(folds: int, overrides, log=print, runs_dir: Path = RUNS) -> dict:
    """Sec. V-A / Fig. 6: MSSGAN with 0x .. 3x the labelled count of unlabelled pairs (MFSBase
    beside): the group ``ssgan/ablation/unlabelled``."""
    ov = trainer_overrides(overrides, folds)
    names = group_members("ssgan/ablation/unlabelled")
    runs = run_cells(names, ov, runs_dir, log)
    fs_cfg, fs = runs["ssgan/ablation/unlabelled/mfsbase"]
    pts = []
    for u in UNLABELLED_RATIOS:
        _, run = runs[f"ssgan/ablation/unlabelled/x{u:g}"]
        pts.append({"ratio": u, "unlabelled": fold_results(run)[0]["sizes"]["unlabelled"], **cell(run, "mssgan")})
    ref = cell(fs, "mfsbase")
    fraction = UNLABELLED_FRACTION
    base = dataclasses.replace(T.spec_of(fs_cfg), models=tuple(CPU_PRESETS["multimodal"]["models"]))
    res = {"ablation": "unlabelled", "fraction": fraction, "folds": folds,
           "labelled": fold_results(fs)[0]["sizes"]["labelled"], "mfsbase": ref, "points": pts,
           "spec": dataclasses.asdict(base),
           "command": _command("python pipelines/ssgan_table.py --ablation unlabelled", overrides, folds),
           "run_dirs": {n: os.path.relpath(run_dir(n, ov, runs_dir), ROOT) for n in names}}
    lines = ["| unlabelled (x labelled) | pairs | MSSGAN UAR | MSSGAN MAF1 |", "|---|---|---|---|"]
    lines += [f"| {p['ratio']:g}x | {p['unlabelled']} | {_fmt(p['uar'])} | {_fmt(p['macro_f1'])} |" for p in pts]
    lines.append(f"| MFSBase (no GAN) | - | {_fmt(ref['uar'])} | {_fmt(ref['macro_f1'])} |")
    _write("ssgan_ablation_unlabelled", res, "\n".join(lines))
    xs = [p["ratio"] for p in pts]
    _plot(DOCS / "ssgan_unlabelled.png", xs,
          {"MSSGAN UAR": ([100 * p["uar"]["mean"] for p in pts], [100 * p["uar"]["std"] for p in pts]),
           "MSSGAN macro-F1": ([100 * p["macro_f1"]["mean"] for p in pts], [100 * p["macro_f1"]["std"] for p in pts]),
           "MFSBase UAR": ([100 * ref["uar"]["mean"]] * len(xs), [0] * len(xs))},
          "unlabelled pairs (multiple of the labelled count)",
          f"RAVDESS AV, {int(100 * fraction)} % labelled, actor folds 0-{folds - 1} of 5 (mean +- std)")
    return res


def ablation_normalisation(folds: int, overrides, log=print, runs_dir: Path = RUNS) -> dict:
    """Sec. V-B / Fig. 7: the four normalisation strategies of the unlabelled data (SSGAN, dense,
    eGeMAPS): the group ``ssgan/ablation/normalisation``."""
    ov = trainer_overrides(overrides, folds)
    names = group_members("ssgan/ablation/normalisation")
    runs = run_cells(names, ov, runs_dir, log)
    pts = [{"normalisation": T.spec_of(cfg).normalisation, **cell(run, "ssgan")} for cfg, run in runs.values()]
    fraction = NORMALISATION_FRACTION
    base = T.spec_of(runs["ssgan/ablation/normalisation/self"][0])
    res = {"ablation": "normalisation", "fraction": fraction, "folds": folds, "points": pts,
           "spec": dataclasses.asdict(base),
           "command": _command("python pipelines/ssgan_table.py --ablation normalisation", overrides, folds),
           "run_dirs": {n: os.path.relpath(run_dir(n, ov, runs_dir), ROOT) for n in names}}
    lines = ["| normalisation | SSGAN UAR | SSGAN MAF1 |", "|---|---|---|"]
    lines += [f"| {p['normalisation']} | {_fmt(p['uar'])} | {_fmt(p['macro_f1'])} |" for p in pts]
    _write("ssgan_ablation_normalisation", res, "\n".join(lines))
    xs = list(range(len(pts)))
    _plot(DOCS / "ssgan_normalisation.png", xs,
          {"UAR": ([100 * p["uar"]["mean"] for p in pts], [100 * p["uar"]["std"] for p in pts]),
           "macro-F1": ([100 * p["macro_f1"]["mean"] for p in pts], [100 * p["macro_f1"]["std"] for p in pts])},
          "normalisation of the unlabelled data",
          f"SSGAN, RAVDESS eGeMAPS {int(100 * fraction)} % labelled, EmoDB+CASIA unlabelled, {folds} folds",
          xticks=[p["normalisation"] for p in pts])
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setting", choices=sorted(CPU_PRESETS))
    ap.add_argument("--experiment", help="one registered experiment (ssgan/<setting>/frac<p>[/paper]), all folds")
    ap.add_argument("--ablation", choices=("unlabelled", "normalisation"))
    ap.add_argument("--fractions", default=",".join(str(f) for f in FRACTIONS))
    ap.add_argument("--folds", type=int, default=FOLDS, help="folds 0..N-1 of the 5 (default: all)")
    ap.add_argument("--override", action="append", default=[], help="RunSpec field=value (steps=600)")
    ap.add_argument("--runs-dir", default=str(RUNS), help="the trainer's run folders (<runs-dir>/<experiment with / "
                                                          "as _>; finished folds are kept)")
    ap.add_argument("--json", help="with --experiment: write the summary (mean +- std per model, every fold's "
                                   "test scores, the command) to this JSON file")
    a = ap.parse_args(argv)
    runs_dir = Path(a.runs_dir)
    if a.experiment:
        ov = trainer_overrides(a.override, a.folds)
        cfg, run = run_cells([a.experiment], ov, runs_dir)[a.experiment]
        spec, rs = T.spec_of(cfg), fold_results(run)
        summary = {}
        for m in spec.models:
            s = summary[m] = cell(run, m)
            print(f"{a.experiment} {LABEL[m]}: UAR {_fmt(s['uar'])}, MAF1 {_fmt(s['macro_f1'])}")
        if a.json:
            from emozoo.utils import write_json_atomic
            cmd = " ".join(["python pipelines/ssgan_table.py", "--experiment", a.experiment]
                           + [f"--override '{o}'" for o in a.override] + ["--folds", str(a.folds)])
            write_json_atomic(a.json, {
                "experiment": a.experiment, "overrides": a.override, "folds": a.folds, "command": cmd,
                "spec": dataclasses.asdict(spec), "summary": summary,
                "run_dir": os.path.relpath(run_dir(a.experiment, ov, runs_dir), ROOT),
                "runs": [{"fold": r["fold_index"], **{m: {k: v for k, v in r["models"][m]["test"].items()
                                                          if k in KEYS + ("confusion_matrix",)}
                                                      | {"best_step": r["models"][m]["best_step"]}
                                                      for m in spec.models}} for r in rs]})
            print(f"wrote {a.json}")
    elif a.setting:
        table(a.setting, tuple(float(f) for f in a.fractions.split(",")), a.folds, a.override, runs_dir=runs_dir)
    elif a.ablation == "unlabelled":
        ablation_unlabelled(a.folds, a.override, runs_dir=runs_dir)
    elif a.ablation == "normalisation":
        ablation_normalisation(a.folds, a.override, runs_dir=runs_dir)
    else:
        ap.error("give --setting, --experiment or --ablation")


if __name__ == "__main__":
    main()
