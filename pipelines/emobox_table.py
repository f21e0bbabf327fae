"""EmoBox comparison: model selection, final runs on EmoBox's folds and our speaker-independent folds.

    python pipelines/emobox_table.py grid  --corpora emodb                   # model selection
    python pipelines/emobox_table.py grid  --corpora casia
    python pipelines/emobox_table.py grid  --corpora ravdess --folds 1,2,3   # CPU preset: 3 of 6 folds
    python pipelines/emobox_table.py spknorm --corpora emodb                 # + per-speaker z-norm
    python pipelines/emobox_table.py spknorm --corpora casia
    python pipelines/emobox_table.py spknorm --corpora ravdess --folds 1,2,3
    python pipelines/emobox_table.py final --corpora emodb,casia,ravdess --seeds 3
    python pipelines/emobox_table.py table                                   # JSON + Markdown

``grid``: every ``emobox/<corpus>/<feature>/<size>`` experiment (features is10, egemaps,
compare; sizes small, paper) on EmoBox's folds, seed 0, no refit. The configuration of each corpus is
chosen by the mean *validation* UAR over folds (validation drawn inside each fold's training
side, see :func:`emozoo.evaluate.emobox.validation_rows`): the test folds play no part in the choice.
The test scores of every candidate are kept in the JSON for transparency.

``spknorm``: the chosen feature/size again with per-speaker z-normalisation
(:func:`emozoo.evaluate.emobox.speaker_normalise`); the choice is re-made over all candidates by
validation UAR.

``final``: the chosen configuration with ``--seeds`` seeds, refit on each fold's whole training side
for the selected number of epochs, on EmoBox's folds and on our speaker-independent protocol on the
same clips and classes (EmoDB and CASIA leave-one-speaker-out, RAVDESS 6 speaker folds).

``table``: ``benchmarks/results/emobox.json`` and ``benchmarks/results/emobox_table.md`` (the
RESULTS section), with the EmoBox paper's numbers beside ours. Runs live under
``runs/emobox/`` (one ``fold.json`` per fold and seed: a re-run skips finished folds).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from emozoo.evaluate.emobox import EMOBOX_REFERENCE, FEATURES, run_protocol  # noqa: E402
from emozoo.experiments import get_experiment  # noqa: E402

RUNS = REPO / "runs" / "emobox"
RESULTS = REPO / "benchmarks" / "results"
GRID_SIZES = ("small", "paper")
OURS = {"emodb": ("loso", "leave-one-speaker-out (10 folds)"), "casia": ("loso", "leave-one-speaker-out (4 folds)"),
        "ravdess": ("speaker_kfold", "6 speaker folds (seed 0)")}
NAMES = {"emodb": "EmoDB", "casia": "CASIA", "ravdess": "RAVDESS"}


def grid(corpora, folds=(), log=print):
    """``folds``: select on these EmoBox folds only (RAVDESS on the CPU preset: folds 1-3)."""
    for c in corpora:
        for f in FEATURES:
            for s in GRID_SIZES:
                name = f"emobox/{c}/{f}/{s}"
                run_protocol(get_experiment(name), c, RUNS / "grid" / f"{c}_{f}_{s}", seeds=1, refit=False,
                             folds=folds, log=log)
        choose(c, log=log)


def spknorm(corpora, folds=(), log=print):
    """Second selection stage: the chosen feature/size with per-speaker z-normalisation."""
    for c in corpora:
        best = choose(c, log=log)
        f, s = best["chosen"].split("/")[2:4]
        run_protocol(get_experiment(f"emobox/{c}/{f}/{s}/spknorm"), c, RUNS / "grid" / f"{c}_{f}_{s}_spknorm",
                     seeds=1, refit=False, folds=folds, log=log)
        choose(c, log=log)


def wide_search(corpora, folds=(), log=print) -> dict:
    """A check beyond the committed selection: every feature x size (``small``, ``paper``,
    ``wide``) with per-speaker normalisation, seed 0, no refit, on the EmoBox folds. Prints and
    saves (``benchmarks/results/emobox_wide_search.json``) mean validation UAR and test UA per
    candidate, and which one validation would pick. It does not change the committed choice
    (``runs/emobox/selection``), which stays the two-stage rule of :func:`grid` + :func:`spknorm`."""
    from emozoo.evaluate.emobox import SIZES
    out = {}
    for c in corpora:
        rows = []
        for f in FEATURES:
            for s in SIZES:
                name = f"emobox/{c}/{f}/{s}/spknorm"
                sm = run_protocol(get_experiment(name), c, RUNS / "grid" / f"{c}_{f}_{s}_spknorm", seeds=1,
                                  refit=False, folds=folds, log=lambda *a: None)
                rows.append({"experiment": name, "mean_val_uar": sm["mean_val_uar"], "test_ua_no_refit": sm["ua"]["mean"]})
                log(f"[emobox] {name}: val UAR {100 * sm['mean_val_uar']:.2f}, test UA (no refit) "
                    f"{100 * sm['ua']['mean']:.2f}")
        pick = max(rows, key=lambda r: r["mean_val_uar"])
        best = max(rows, key=lambda r: r["test_ua_no_refit"])
        out[c] = {"candidates": rows, "validation_pick": pick["experiment"], "best_test": best["experiment"],
                  "reference_ua": EMOBOX_REFERENCE[c]}
        log(f"[emobox] {c}: validation would pick {pick['experiment']} (test UA {100 * pick['test_ua_no_refit']:.2f}); "
            f"best test UA {100 * best['test_ua_no_refit']:.2f} ({best['experiment']}); "
            f"wav2vec 2.0 base {EMOBOX_REFERENCE[c]['wav2vec 2.0 base']}")
    path = RESULTS / "emobox_wide_search.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**old, **out}, indent=1))
    return out


def choose(corpus, log=print) -> dict:
    cands = []
    for f in FEATURES:
        for s in GRID_SIZES:
            for norm in ("", "_spknorm"):
                p = RUNS / "grid" / f"{corpus}_{f}_{s}{norm}" / "summary.json"
                if p.exists():
                    sm = json.loads(p.read_text())
                    cands.append({"experiment": sm["experiment"], "feature": f, "size": s + norm.replace("_", "/"),
                                  "mean_val_uar": sm["mean_val_uar"], "folds": sm["folds"],
                                  "test_ua_no_refit": sm["ua"]["mean"], "test_wa_no_refit": sm["wa"]["mean"],
                                  "test_f1_no_refit": sm["macro_f1"]["mean"]})
    if not cands:
        raise SystemExit(f"no grid run for {corpus}: run `python pipelines/emobox_table.py grid --corpora {corpus}`")
    best = max(cands, key=lambda c: c["mean_val_uar"])
    out = {"corpus": corpus, "chosen": best["experiment"], "rule": "max mean validation UAR over EmoBox folds "
           "(validation inside each fold's training side), seed 0", "candidates": cands}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RUNS / "selection").mkdir(parents=True, exist_ok=True)
    (RUNS / "selection" / f"{corpus}.json").write_text(json.dumps(out, indent=1))
    log(f"[emobox] {corpus}: chose {best['experiment']} (mean val UAR {100 * best['mean_val_uar']:.2f})")
    return out


def chosen(corpus) -> str:
    p = RUNS / "selection" / f"{corpus}.json"
    if not p.exists():
        return choose(corpus)["chosen"]
    return json.loads(p.read_text())["chosen"]


def final(corpora, seeds, which=("emobox", "ours"), log=print):
    if "emobox" in which:
        for c in corpora:
            cfg = get_experiment(chosen(c))
            for n in range(1, seeds + 1):   # seed by seed: a summary exists after each (finished folds are kept)
                run_protocol(cfg, c, RUNS / "final" / f"{c}_emobox", seeds=n, log=log)
    if "ours" in which:
        for c in corpora:
            cfg = get_experiment(chosen(c))
            for n in range(1, seeds + 1):
                run_protocol(cfg, c, RUNS / "final" / f"{c}_{OURS[c][0]}", protocol=OURS[c][0], seeds=n, log=log)


def _pm(d, k, scale=100):
    return f"{scale * d[k]['mean']:.2f} ± {scale * d[k]['std']:.2f}"


def table(corpora, log=print):
    from emozoo.data.audit import audit_emobox
    res = {"generated": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "corpora": {}}
    md = []
    md.append("Commands (CPU preset, runs under `runs/emobox/`): stores `python -m emozoo.extract --corpus emodb "
              "--features is10,egemaps,compare --label-set emodb7 --out tfrecords/emodb_all` (casia: casia6) and "
              "`python pipelines/emobox_relabel_store.py --corpus ravdess`; then per corpus "
              "`python pipelines/emobox_table.py grid --corpora emodb` (casia; ravdess with `--folds 1,2,3`), "
              "`python pipelines/emobox_table.py spknorm --corpora emodb` (same), "
              "`python pipelines/emobox_table.py final --corpora emodb --seeds 3`, and "
              "`python pipelines/emobox_table.py table`. Metrics as EmoBox computes them (UA = balanced accuracy, "
              "WA = accuracy, macro-F1 = scikit-learn's), per fold, then the mean over folds; ± is the std over "
              "seeds of that mean. All classes of each corpus (EmoDB 7, CASIA 6, RAVDESS 8). EmoBox's numbers: "
              "its paper's Table 4 (UA %, frozen pre-trained encoders of 95M-1.5B parameters with a small head); "
              "ours: openSMILE functionals -> MLP, trained here on 2 shared CPU cores. `/spknorm`: per-speaker "
              "z-normalisation of the features (test speakers' features, never labels).\n")
    summary_rows = []
    for c in corpora:
        sel = json.loads((RUNS / "selection" / f"{c}.json").read_text())
        fe = RUNS / "final" / f"{c}_emobox" / "summary.json"
        fo = RUNS / "final" / f"{c}_{OURS[c][0]}" / "summary.json"
        if not fe.exists():
            log(f"[emobox] {c}: no final EmoBox run yet")
            continue
        se = json.loads(fe.read_text())
        so = json.loads(fo.read_text()) if fo.exists() else None
        audit = audit_emobox(c)
        res["corpora"][c] = {"selection": sel, "emobox": se, "ours": so, "audit": audit["summary"],
                             "reference_ua": EMOBOX_REFERENCE[c]}
        ref = EMOBOX_REFERENCE[c]
        ua = 100 * se["ua"]["mean"]
        summary_rows.append(
            f"| {NAMES[c]} | `{se['experiment']}` | {_pm(se, 'ua')} | {_pm(se, 'wa')} | {_pm(se, 'macro_f1')} | "
            f"{ref['wav2vec 2.0 base']:.2f} | {ref['best'][1]:.2f} ({ref['best'][0]}) | "
            f"{'yes' if ua > ref['wav2vec 2.0 base'] else 'no'} | {'yes' if ua > ref['best'][1] else 'no'} | "
            f"{len(se['seeds'])} | "
            + (f"{_pm(so, 'ua')} | {_pm(so, 'wa')} | {_pm(so, 'macro_f1')} | {len(so['seeds'])} |" if so
               else "- | - | - | - |"))
    md.append("**Summary** (UA/WA/F1 %, mean over folds, mean ± std over seeds):\n")
    md.append("| corpus | chosen model | EmoBox folds UA | WA | macro-F1 | EmoBox wav2vec 2.0 base UA | EmoBox best UA | "
              "beats w2v2 base? | beats best? | seeds | our speaker-indep. UA | WA | macro-F1 | seeds |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    md += summary_rows
    md.append("")
    goal = []
    for c in res["corpora"]:
        ua = 100 * res["corpora"][c]["emobox"]["ua"]["mean"]
        ref = EMOBOX_REFERENCE[c]
        goal.append(f"{NAMES[c]} {ua:.2f} vs wav2vec 2.0 base {ref['wav2vec 2.0 base']:.2f} "
                    f"({'reached' if ua > ref['wav2vec 2.0 base'] else 'NOT reached'})")
    if "casia" in res["corpora"]:
        ua = 100 * res["corpora"]["casia"]["emobox"]["ua"]["mean"]
        goal.append(f"CASIA {ua:.2f} vs EmoBox's best {EMOBOX_REFERENCE['casia']['best'][1]:.2f} "
                    f"({'reached' if ua > EMOBOX_REFERENCE['casia']['best'][1] else 'NOT reached'})")
    md.append("Goal, as measured (UA on EmoBox's folds): " + "; ".join(goal) + ".\n")
    md.append("Speaker-independent protocol (same clips, classes and model): " + "; ".join(
        f"{NAMES[c]} {OURS[c][1]}" for c in corpora) + ".\n")
    for c in res["corpora"]:
        se = res["corpora"][c]["emobox"]
        md.append(f"**{NAMES[c]}, EmoBox folds, per fold** (`{se['experiment']}`, refit; mean ± std over seeds):\n")
        md.append("| fold | test clips | UA | WA | macro-F1 |")
        md.append("|---|---|---|---|---|")
        sizes = [f["test_size"] for f in se["per_seed"][0]["folds"]]
        for i, name in enumerate(se["folds"]):
            md.append(f"| {name.split('_')[-1]} | {sizes[i]} | "
                      + " | ".join(f"{100 * se[k]['fold_mean'][i]:.2f} ± {100 * se[k]['fold_std'][i]:.2f}"
                                   for k in ("ua", "wa", "macro_f1")) + " |")
        md.append(f"| **mean** | | {_pm(se, 'ua')} | {_pm(se, 'wa')} | {_pm(se, 'macro_f1')} |")
        if se.get("missing", {}).get("distinct_missing"):
            m = se["missing"]
            md.append(f"\n{m['distinct_missing']} EmoBox entries have no clip in our copy (left out of training and "
                      "scoring, listed in `runs/emobox/final/ravdess_emobox/emobox_missing.json`): "
                      + ", ".join(f"fold {k} test {m['test_matched'][k]}/{m['test_entries'][k]}"
                                  for k in m["per_fold"]) + ".")
        md.append("")
        sel = res["corpora"][c]["selection"]
        fl = ", ".join(n.split("_")[-1] for n in sel["candidates"][0].get("folds", []))
        md.append(f"Model selection for {NAMES[c]} (seed 0, no refit, EmoBox folds {fl}; chosen by mean validation "
                  f"UAR only, chose `{sel['chosen']}`): "
                  + "; ".join(f"{x['feature']}/{x['size']} val {100 * x['mean_val_uar']:.1f} (test UA "
                              f"{100 * x['test_ua_no_refit']:.1f})" for x in sel["candidates"]) + ".\n")
    md.append("**Protocol audit** (`python -m emozoo.data audit --emobox CORPUS`):\n")
    md.append("| corpus | folds | speakers in train and test | test clips whose speaker is in train | "
              "duplicates | sentence overlap | class balance (max/min, whole corpus) |")
    md.append("|---|---|---|---|---|---|---|")
    for c in res["corpora"]:
        a = res["corpora"][c]["audit"]
        md.append(f"| {NAMES[c]} | {a['folds']} | {a['speaker_overlap']} | {a['test_seen_speaker_share']} | "
                  f"{a['duplicates']} | {a['content_overlap']} | {a['imbalance']} |")
    md.append("")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "emobox.json").write_text(json.dumps(res, indent=1, default=str))
    (RESULTS / "emobox_table.md").write_text("\n".join(md) + "\n")
    log(f"wrote {RESULTS / 'emobox.json'} and {RESULTS / 'emobox_table.md'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("grid", "spknorm", "final", "table", "wide-search"))
    ap.add_argument("--corpora", default="emodb,casia,ravdess")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--protocols", default="emobox,ours", help="final: emobox and/or ours (speaker-independent)")
    ap.add_argument("--folds", default="", help="grid: EmoBox fold numbers to select on (default all)")
    args = ap.parse_args(argv)
    corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
    if args.stage == "grid":
        grid(corpora, tuple(int(f) for f in args.folds.split(",") if f.strip()))
    elif args.stage == "spknorm":
        spknorm(corpora, tuple(int(f) for f in args.folds.split(",") if f.strip()))
    elif args.stage == "wide-search":
        wide_search(corpora, tuple(int(f) for f in args.folds.split(",") if f.strip()))
    elif args.stage == "final":
        final(corpora, args.seeds, tuple(p.strip() for p in args.protocols.split(",")))
    else:
        table(corpora)


if __name__ == "__main__":
    main()
