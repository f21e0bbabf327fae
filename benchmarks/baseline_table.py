"""Print the baseline results table (Markdown) from the runs of benchmarks/baseline.sh and save
the per-experiment summaries (mean, std and per-seed values of every metric) as JSON.

Usage: python benchmarks/baseline_table.py [RUNS_DIR] [--json benchmarks/results/baseline.json]
"""
import argparse
import json
import platform
import time
from pathlib import Path

ap = argparse.ArgumentParser()
ap.add_argument("runs", nargs="?", default="runs/benchmarks")
ap.add_argument("--json", default="benchmarks/results/baseline.json")
args = ap.parse_args()

runs = Path(args.runs)
rows, saved = [], {}
for s in sorted(runs.glob("baseline_*/summary.json")):
    d = json.loads(s.read_text())
    if "test" not in d:
        continue
    t = d["test"]
    name = d["experiment"]
    saved[name] = {"seeds": d["seeds"], "folds": d["folds"], "classes": d["classes"], "test": t,
                   "test_fold_mean": d.get("test_fold_mean")}
    setting = ("LOSO " + name.split("/")[1]) if name.endswith("/loso") else name.split("/")[2].replace("_to_", " -> ")
    fmt = lambda k: f"{100 * t[k]['mean']:.1f} +- {100 * t[k]['std']:.1f}"  # noqa: E731
    rows.append((0 if "loso" in name else 1, setting, len(d["seeds"]), len(d["folds"]), fmt("accuracy"), fmt("uar"),
                 fmt("macro_f1"), fmt("macro_f1_uar_map"), name))
print("| setting | seeds | folds | ACC (WA) | UAR | macro-F1 | macro-F1 (UAR/MAP) | experiment |")
print("|---|---|---|---|---|---|---|---|")
for r in sorted(rows):
    print("| " + " | ".join(str(v) for v in r[1:8]) + f" | `{r[8]}` |")
if args.json:
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
                               "experiments": saved}, indent=1))
