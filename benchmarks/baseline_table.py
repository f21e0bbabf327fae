"""Print the baseline results table (Markdown) from the runs of benchmarks/baseline.sh.

Usage: python benchmarks/baseline_table.py [RUNS_DIR]
"""
import json
import sys
from pathlib import Path

runs = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/benchmarks")
rows = []
for s in sorted(runs.glob("baseline_*/summary.json")):
    d = json.loads(s.read_text())
    if "test" not in d:
        continue
    t = d["test"]
    name = d["experiment"]
    setting = ("LOSO " + name.split("/")[1]) if name.endswith("/loso") else name.split("/")[2].replace("_to_", " -> ")
    fmt = lambda k: f"{100 * t[k]['mean']:.1f} +- {100 * t[k]['std']:.1f}"  # noqa: E731
    rows.append((0 if "loso" in name else 1, setting, len(d["seeds"]), len(d["folds"]), fmt("accuracy"), fmt("uar"),
                 fmt("macro_f1"), fmt("macro_f1_uar_map"), name))
print("| setting | seeds | folds | ACC (WA) | UAR | macro-F1 | macro-F1 (UAR/MAP) | experiment |")
print("|---|---|---|---|---|---|---|---|")
for r in sorted(rows):
    print("| " + " | ".join(str(v) for v in r[1:8]) + f" | `{r[8]}` |")
