"""Summarise tools/mutation.sh runs as Markdown: one row per area (killed / timeout / survived /
no test / total / caught %) and every surviving mutant with its one-line change.

    python tools/mutation_report.py /tmp/emozoo_mutation [MORE_WORK_DIRS ...] > /tmp/mutation.md

Each WORK_DIR holds one folder per area (``results.txt``: ``mutmut results --all true``;
``patterns.txt``: the selected mutant-name patterns, empty = every mutant of the area's files).
The change of a survivor is read with ``mutmut show`` in the area's folder. When an area appears in
several work dirs the newest ``results.txt`` wins.
"""
from __future__ import annotations

import collections
import fnmatch
import subprocess
import sys
from pathlib import Path

STATUSES = ("killed", "timeout", "survived", "no tests")


def area_dirs(work_dirs):
    found = {}
    for w in work_dirs:
        for d in sorted(Path(w).iterdir()):
            r = d / "results.txt"
            if r.is_file() and (d / "setup.cfg").is_file():
                if d.name not in found or r.stat().st_mtime > (found[d.name] / "results.txt").stat().st_mtime:
                    found[d.name] = d
    return found


def selected(d: Path):
    pats = [p for p in (d / "patterns.txt").read_text().splitlines() if p.strip()] if (d / "patterns.txt").is_file() else []
    out = {}
    for line in (d / "results.txt").read_text().splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in name and (not pats or any(fnmatch.fnmatch(name, p) for p in pats)):
            out[name] = status.strip()
    return out


def change(d: Path, name: str) -> str:
    try:
        diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], cwd=d, capture_output=True, text=True,
                              timeout=60).stdout
    except subprocess.TimeoutExpired:
        return "?"
    minus = [l[1:].strip() for l in diff.splitlines() if l.startswith("-") and not l.startswith("---")]
    plus = [l[1:].strip() for l in diff.splitlines() if l.startswith("+") and not l.startswith("+++")]
    return f"`{' / '.join(minus)[:110]}` -> `{' / '.join(plus)[:110]}`"


def main(argv) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    areas = area_dirs(argv)
    rows, survivors = [], []
    for area, d in sorted(areas.items()):
        res = selected(d)
        c = collections.Counter(res.values())
        total = len(res)
        caught = c["killed"] + c["timeout"]
        other = total - sum(c[s] for s in STATUSES)
        rows.append(f"| {area} | {c['killed']} | {c['timeout']} | {c['survived']} | {c['no tests']} | {other} | {total} | "
                    f"{100 * caught / total:.1f} % |" if total else f"| {area} | - | - | - | - | - | 0 | - |")
        for name, status in sorted(res.items()):
            if status in ("survived", "no tests"):
                survivors.append(f"| {area} | `{name.split('.')[-1]}` | {status} | {change(d, name)} |")
    print("| area | killed | timeout | survived | no test reaches it | not run | total | caught |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| area | mutant | status | change |")
    print("|---|---|---|---|")
    print("\n".join(survivors))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
