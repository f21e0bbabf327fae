"""Tables and ablation curves of the semi-supervised CT-GAN method (Liang, Chen, Jin 2019).

    python pipelines/ssgan_table.py --setting speech       # FSBase/SSBase/SSGAN x 10/20/50 % x 5 folds
    python pipelines/ssgan_table.py --setting face
    python pipelines/ssgan_table.py --setting multimodal   # MFSBase/MSSGAN
    python pipelines/ssgan_table.py --ablation unlabelled  # Fig. 6: 0x..3x unlabelled (MSSGAN, 10 %)
    python pipelines/ssgan_table.py --ablation normalisation   # Fig. 7: none/self/shift/combine
    python pipelines/ssgan_table.py --experiment ssgan/speech/frac20 [--override steps=600] [--json out.json]

Every run (one fold/seed of one fraction) is cached as JSON under ``runs/ssgan/...`` (a re-run
skips finished runs); the summaries (mean +- std over the folds/seeds) go to
``benchmarks/results/ssgan_<name>.json`` and ``.md``, the curves to ``docs/methods/ssgan_*.png``.
Needs ``EMOZOO_DATA_DIR`` and the stores ``tfrecords/{ravdess,emodb,casia}_{fbank,egemaps}``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emozoo.experiments import get_experiment  # noqa: E402
from emozoo.experiments.config import parse_value  # noqa: E402
from emozoo.models.ssgan import ssgan_task as T  # noqa: E402
from emozoo.models.ssgan.ssgan_experiments import CPU_PRESETS, FOLDS, FRACTIONS, experiment_name  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "methods"
LABEL = {"fsbase": "FSBase", "ssbase": "SSBase", "ssgan": "SSGAN", "mfsbase": "MFSBase", "mssgan": "MSSGAN"}


def _spec(run: dict, overrides) -> T.RunSpec:
    fields = {f.name for f in dataclasses.fields(T.RunSpec)}
    run = {k: (tuple(v) if isinstance(v, list) else v) for k, v in run.items() if k in fields}
    for o in overrides or ():
        k, v = o.split("=", 1)
        if k not in fields:
            raise SystemExit(f"--override {o}: RunSpec has no field {k!r}; it has {sorted(fields)}")
        run[k] = parse_value(v)
    return T.RunSpec(**run)


def _tag(spec: T.RunSpec) -> str:
    return (f"{spec.setting}/frac{int(round(100 * spec.fraction))}_{spec.normalisation}"
            + (f"_u{spec.unlabelled_ratio:g}" if spec.unlabelled_ratio >= 0 else "")
            + f"_s{spec.steps}"
            # the CT form and the unlabelled pool change the SSGAN: runs of other settings are not reused
            + f"_ct{spec.model.get('ct_form', spec.ct_form)[:3]}" + ("" if spec.unlabelled_with_rest else "_norest")
            # a feature other than the setting's own (the backbone presets) gets its own folders
            + ("" if spec.feature == SETTING_FEATURE.get(spec.setting, spec.feature) else f"_{spec.feature}"))


#: the feature each setting's runs were cached under before the backbone presets existed
SETTING_FEATURE = {"speech": "fbank", "functionals": "egemaps", "face_dface": "dface"}


def run_folds(spec: T.RunSpec, folds: int, log=print) -> list[dict]:
    out = []
    for k in range(folds):
        s = dataclasses.replace(spec, fold=k, seed=k)
        r = T.run_one(s, ROOT / "runs" / "ssgan" / _tag(s) / f"fold{k}.json", log=log)
        r.pop("_models", None)
        out.append(r)
    return out


def _fmt(m) -> str:
    return f"{100 * m['mean']:.2f} +- {100 * m['std']:.2f}"


def table(setting: str, fractions, folds: int, overrides, log=print) -> dict:
    """Fold-major order: every fraction gets fold k before any gets fold k+1."""
    specs = {f: _spec({**get_experiment(experiment_name(setting, f)).model.params["run"]}, overrides)
             for f in fractions}
    runs = {f: [] for f in fractions}
    for k in range(folds):
        for f in fractions:
            s = dataclasses.replace(specs[f], fold=k, seed=k)
            r = T.run_one(s, ROOT / "runs" / "ssgan" / _tag(s) / f"fold{k}.json", log=log)
            r.pop("_models", None)
            runs[f].append(r)
    rows = []
    for f in fractions:
        for m in specs[f].models:
            rows.append({"fraction": f, "model": m, **T.summarise(runs[f], m),
                         "sizes": runs[f][0]["sizes"], "best_step": [r["models"][m]["best_step"] for r in runs[f]],
                         "seconds": [r["models"][m]["seconds_total"] for r in runs[f]]})
    res = {"setting": setting, "folds": folds, "spec": dataclasses.asdict(specs[fractions[0]]),
           "command": f"python pipelines/ssgan_table.py --setting {setting}", "rows": rows,
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


def ablation_unlabelled(folds: int, overrides, ratios=(0, 0.5, 1, 2, 3), fraction: float = 0.1, log=print) -> dict:
    """Sec. V-A / Fig. 6: MSSGAN with 0x .. 3x the labelled count of unlabelled pairs (MFSBase beside)."""
    base = _spec({**CPU_PRESETS["multimodal"], "fraction": fraction}, overrides)
    fs = run_folds(dataclasses.replace(base, models=("mfsbase",)), folds, log)
    pts = []
    for u in ratios:
        rs = run_folds(dataclasses.replace(base, models=("mssgan",), unlabelled_ratio=float(u)), folds, log)
        pts.append({"ratio": u, "unlabelled": rs[0]["sizes"]["unlabelled"], **T.summarise(rs, "mssgan")})
    ref = T.summarise(fs, "mfsbase")
    res = {"ablation": "unlabelled", "fraction": fraction, "folds": folds, "labelled": fs[0]["sizes"]["labelled"],
           "mfsbase": ref, "points": pts, "spec": dataclasses.asdict(base),
           "command": "python pipelines/ssgan_table.py --ablation unlabelled"}
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


def ablation_normalisation(folds: int, overrides, fraction: float = 0.2, log=print) -> dict:
    """Sec. V-B / Fig. 7: the four normalisation strategies of the unlabelled data (SSGAN, dense, eGeMAPS)."""
    base = _spec({**CPU_PRESETS["functionals"], "fraction": fraction, "models": ("ssgan",)}, overrides)
    pts = []
    for n in T.NORMALISATIONS:
        rs = run_folds(dataclasses.replace(base, normalisation=n), folds, log)
        pts.append({"normalisation": n, **T.summarise(rs, "ssgan")})
    res = {"ablation": "normalisation", "fraction": fraction, "folds": folds, "points": pts,
           "spec": dataclasses.asdict(base), "command": "python pipelines/ssgan_table.py --ablation normalisation"}
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
    ap.add_argument("--folds", type=int, default=FOLDS)
    ap.add_argument("--override", action="append", default=[], help="RunSpec field=value (steps=600)")
    ap.add_argument("--json", help="with --experiment: write the summary (mean +- std per model, every fold's "
                                   "test scores, the command) to this JSON file")
    a = ap.parse_args(argv)
    if a.experiment:
        spec = _spec(get_experiment(a.experiment).model.params["run"], a.override)
        rs = run_folds(spec, a.folds)
        summary = {}
        for m in spec.models:
            s = summary[m] = T.summarise(rs, m)
            print(f"{a.experiment} {LABEL[m]}: UAR {_fmt(s['uar'])}, MAF1 {_fmt(s['macro_f1'])}")
        if a.json:
            from emozoo.utils import write_json_atomic
            cmd = " ".join(["python pipelines/ssgan_table.py", "--experiment", a.experiment]
                           + [f"--override '{o}'" for o in a.override] + ["--folds", str(a.folds)])
            write_json_atomic(a.json, {
                "experiment": a.experiment, "overrides": a.override, "folds": a.folds, "command": cmd,
                "spec": dataclasses.asdict(spec), "summary": summary,
                "runs": [{"fold": k, **{m: r["models"][m]["test"] | {"best_step": r["models"][m]["best_step"]}
                                        for m in spec.models}} for k, r in enumerate(rs)]})
            print(f"wrote {a.json}")
    elif a.setting:
        table(a.setting, tuple(float(f) for f in a.fractions.split(",")), a.folds, a.override)
    elif a.ablation == "unlabelled":
        ablation_unlabelled(a.folds, a.override)
    elif a.ablation == "normalisation":
        ablation_normalisation(a.folds, a.override)
    else:
        ap.error("give --setting, --experiment or --ablation")


if __name__ == "__main__":
    main()
