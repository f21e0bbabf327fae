"""Assemble the ``adv_culture`` section of benchmarks/RESULTS.md from the measured files::

    python pipelines/adv_culture_report.py            # prints the section
    python pipelines/adv_culture_report.py --write    # ... and replaces it in benchmarks/RESULTS.md

Reads the tables ``pipelines/adv_culture_table.py`` writes (``docs/methods/adv_culture_table.md``,
``adv_culture_table_dface.md``; the eGeMAPS tables are linked), the remedies study
(``benchmarks/results/adv_culture_study.json``, ``pipelines/adv_culture_study.py``), the t-SNE probe
figures of ``benchmarks/results/adv_culture_dface.json`` and the step benchmark
(``benchmarks/results/bench_adv_culture.json``, ``benchmarks/bench_adv_culture.py``). Nothing here
is typed by hand: every number comes from one of those files.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RES = REPO / "benchmarks" / "results"
DOCS = REPO / "docs" / "methods"
VARIANTS = {"adv": "paper ADV", "adv_a0.1": "alpha 0.1", "adv_sc5": "S_C = 5",
            "adv_ramp": "alpha ramped with Ganin's schedule"}


def _json(name):
    p = RES / name
    return json.loads(p.read_text()) if p.exists() else None


def _pm(cell, scale=100.0):
    return f"{cell['mean'] * scale:+.2f} ± {cell['std'] * scale:.2f}"


def study_line() -> str:
    s = _json("adv_culture_study.json")
    if not s or "vs_bsl" not in s.get("summary", {}):
        return ""
    vs = s["summary"]["vs_bsl"]
    cells = [f"{VARIANTS.get(v, v)} {_pm(vs[v]['accuracy'])}" for v in VARIANTS if v in vs]
    seeds = max(len(vs[v]["seeds"]) for v in vs)
    return (f"**Remedies study** (`{s.get('command', 'python pipelines/adv_culture_study.py')}`, IS10 cross-culture, "
            f"{vs[next(iter(vs))]['directions']} directions x {seeds} seeds, paired with BSL by seed; mean over "
            f"directions of variant - BSL, ACC points): " + ", ".join(cells)
            + " ([docs/methods/adv_culture_study.md](../docs/methods/adv_culture_study.md)).")


def bench_table() -> list[str]:
    b = _json("bench_adv_culture.json")
    if not b:
        return []
    load = ", ".join(f"{x:.1f}" for x in b.get("load_average", [])[:3])
    out = ["#### Train-step speed, ADV (S_C=1, S_G=2) vs BSL (`python benchmarks/bench_adv_culture.py`)", "",
           f"Batch {b['batch_size']} of IS10 vectors, {b['estimator']} over {b['repeats']} interleaved repeats "
           f"(median ratio beside it), {b['cpu_count']} shared CPU cores (load average {load} at the time, "
           f"{b['date']}); goal {b['goal']}.", "",
           "| path | jit_compile | ADV ms/step | BSL ms/step | ADV/BSL (min) | ADV/BSL (median) |",
           "|---|---|---|---|---|---|"]
    for r in b["rows"]:
        out.append(f"| {r['path']} | {r['jit_compile']} | {r['adv_ms_per_step']:.2f} | {r['bsl_ms_per_step']:.2f} | "
                   f"{r['adv_over_bsl_time_per_step']:.2f} | {r.get('median_adv_over_bsl', float('nan')):.2f} |")
    out += ["", "XLA on CPU (`jit_compile=True`) slows the single-update BSL step down (see docs/methods/adv_culture.md); "
                "the ratio to compare is the non-jit one."]
    return out


def section() -> str:
    out = ["## Cross-culture adversarial (seed 000): speech, IS10 (`pipelines/adv_culture_table.py`)", "",
           (DOCS / "adv_culture_table.md").read_text().strip(), ""]
    line = study_line()
    if line:
        out += [line, ""]
    out += ["eGeMAPS tables: [docs/methods/adv_culture_table_egemaps.md](../docs/methods/adv_culture_table_egemaps.md); "
            "analysis of why ADV does not beat BSL here: [docs/methods/adv_culture.md](../docs/methods/adv_culture.md).", ""]
    face = DOCS / "adv_culture_table_dface.md"
    if face.exists():
        out += ["### Faces, Dface: JAFFE (Japanese) vs CK+48 (American) "
                "(`pipelines/adv_culture_table.py --features dface`)", "", face.read_text().strip(), ""]
        d = _json("adv_culture_dface.json") or {}
        t = d.get("tsne") or {}
        probes = ", ".join(f"{m.upper()} {100 * t[m]['culture_probe_accuracy']:.0f} %" for m in ("bsl", "adv", "adv_conf")
                           if m in t)
        if probes:
            out += [f"Fig. 2 for faces: `docs/methods/adv_culture_tsne_dface.png` (linear culture probe on z: {probes}).", ""]
    out += ["Zoo: `adv_culture_face` (`python -m emozoo.publish adv_culture_face`), `adv_culture_speech` "
            "(`python -m emozoo.publish adv_culture_speech`); their cards carry the tables they were published "
            "with (`emozoo.load(name).card[\"metrics\"][\"tables\"]`).", ""]
    out += bench_table()
    return "\n".join(out).rstrip() + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true",
                    help="replace the <!-- BEGIN adv_culture --> ... <!-- END adv_culture --> section of "
                         "benchmarks/RESULTS.md")
    args = ap.parse_args(argv)
    text = section()
    print(text)
    if args.write:
        sys.path.insert(0, str(REPO))
        from emozoo.utils import replace_marked_section
        replace_marked_section(REPO / "benchmarks" / "RESULTS.md", "adv_culture", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
