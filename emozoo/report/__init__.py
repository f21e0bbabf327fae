"""Tables of experiment groups: ``python -m emozoo.report GROUP`` -> Markdown + JSON + PNG.

A group is a registered experiment prefix (``loco/speech``); each member's ``summary.json``
is read from its run folder (``runs/<member with / as _>`` by default, as ``python -m
emozoo.train`` writes it). Members without a finished run are listed as missing, never guessed.

* leave-one-corpus-out groups (runner ``loco``): one row per member and adaptation condition,
  UAR per target corpus, mean UAR / WA / macro-F1 over targets (mean +- std over seeds), and a
  grouped-bar figure (mean LOCO UAR per row, one bar per condition, std as error bars);
* any other group: one row per member with the pooled test accuracy / UAR / macro-F1
  (``summary["test"]``, mean +- std over seeds) and a bar figure of the UAR;
* a group registered with a ``layout`` (e.g. ``dann/table2/text``: Lian et al.'s Table 2 with the
  paper's numbers beside ours) also gets its table in the paper's shape, above those rows.

Example::

    python -m emozoo.train --experiment loco/speech --seeds 5
    python -m emozoo.report loco/speech --doc docs/benchmark.md --doc benchmarks/RESULTS.md

``--doc FILE`` replaces the section between ``<!-- BEGIN report:GROUP -->`` and
``<!-- END report:GROUP -->`` of FILE with the table and a link to the figure.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import ExperimentError

CONDITION_NAMES = {"none": "no adaptation (pooled training statistics)", "adapt10": "adapt, 10 target clips",
                   "adapt50": "adapt, 50 target clips", "adapt_all": "adapt, all target clips",
                   "transductive": "transductive (target clips unlabelled in training)"}
#: conditions drawn in the figure (the others are in the table)
FIGURE_CONDITIONS = ("none", "adapt_all", "transductive")


def run_dir(name: str, runs_root: str | os.PathLike = "runs") -> Path:
    return Path(runs_root) / name.replace("/", "_")


def collect(group: str, runs_root: str | os.PathLike = "runs") -> tuple[dict, list]:
    """``({member: summary}, [missing members])`` of the group's finished runs."""
    from emozoo.experiments import group_members

    members = group_members(group)
    if not members:
        raise ExperimentError(f"{group!r} is not an experiment group; list the experiments with "
                              "`python -m emozoo.train --list`")
    found, missing = {}, []
    for name in members:
        path = run_dir(name, runs_root) / "summary.json"
        if path.exists():
            try:
                found[name] = json.loads(path.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ExperimentError(f"{path} is not a readable summary ({exc}); re-run "
                                      f"`python -m emozoo.train --experiment {name}`") from None
        else:
            missing.append(name)
    if not found:
        raise ExperimentError(f"no member of {group!r} has a finished run under {runs_root}/ (looked for "
                              f"{run_dir(members[0], runs_root)}/summary.json ...); run "
                              f"`python -m emozoo.train --experiment {group}` first")
    return found, missing


def _pm(d: dict) -> str:
    return f"{d['mean']:.1f} ± {d['std']:.1f}"


def loco_markdown(group: str, found: dict, missing: list) -> str:
    first = next(iter(found.values()))
    corpora = first["corpora"]
    seeds = sorted({len(s["seeds"]) for s in found.values()})
    lines = [f"Leave-one-corpus-out over {', '.join(corpora)} ({len(first['classes'])} classes: "
             f"{', '.join(first['classes'])}); UAR / WA / macro-F1 in %, mean ± std over "
             f"{'/'.join(map(str, seeds))} seeds (\"mean\": the targets averaged per seed first). "
             f"Command: `python -m emozoo.train --experiment {group} --seeds 5 && python -m emozoo.report {group}`.",
             "",
             "| row | target normalisation / training | " + " | ".join(f"{c} UAR" for c in corpora)
             + " | mean UAR | mean WA | mean macro-F1 |",
             "|---|---|" + "---|" * (len(corpora) + 3)]
    for name, s in found.items():
        row = name.rsplit("/", 1)[-1]
        loco = s["loco"]
        for c in s["conditions"]:
            cells = [_pm(loco[t][c]["uar"]) if t in loco else "-" for t in corpora]
            if "mean" in loco:
                cells += [_pm(loco["mean"][c][m]) for m in ("uar", "wa", "macro_f1")]
            else:
                cells += ["-"] * 3
            lines.append(f"| {row} | {CONDITION_NAMES.get(c, c)} | " + " | ".join(cells) + " |")
    if missing:
        lines += ["", "Not run yet: " + ", ".join(f"`{m}`" for m in missing) + "."]
    return "\n".join(lines)


def table_rows(found: dict) -> list[tuple[str, int, dict | None]]:
    """``(row label, runs, test metrics)`` of a group's non-LOCO summaries, in member order: the
    pooled test of the trainer's and most runners' ``summary["test"]``; one row per model of an
    SSGAN summary (``summary["models"]``: FSBase / SSBase / SSGAN); a face CNN's cross-culture tests
    (``summary["cross"]``) as extra rows."""
    rows = []
    for name, s in found.items():
        runs = len(s.get("seeds", s.get("folds", []))) or int(s.get("runs", 0))
        if "models" in s:
            rows += [(f"{name} · {m}", int(t.get("n", runs)), t) for m, t in s["models"].items()]
            continue
        rows.append((name, runs, s.get("test")))
        rows += [(f"{name} · tested on {other}", runs, t) for other, t in s.get("cross", {}).items()]
        rows += [(f"{name} · {corpus} only", runs, t) for corpus, t in s.get("test_by_corpus", {}).items()]
        rows += [(f"{name} · {side}", runs, t) for side, t in s.get("extra_tests", {}).items()]
    return rows


def generic_markdown(group: str, found: dict, missing: list) -> str:
    from emozoo.experiments import get_group

    g = get_group(group)
    lines = ([f"{g.title}."] if g else []) + [
        f"Command: `python -m emozoo.train --experiment {group} && python -m emozoo.report {group}`; test "
        "metrics pooled over folds, mean ± std over seeds (SSGAN: over folds), in %.", "",
        "| experiment | runs | ACC (WA) | UAR | macro-F1 |", "|---|---|---|---|---|"]
    for label, runs, t in table_rows(found):
        lines.append(f"| {label} | {runs} | " + " | ".join(
            f"{100 * t[m]['mean']:.1f} ± {100 * t[m]['std']:.1f}" if t and m in t else "-"
            for m in ("accuracy", "uar", "macro_f1")) + " |")
    if missing:
        lines += ["", "Not run yet: " + ", ".join(f"`{m}`" for m in missing) + "."]
    return "\n".join(lines)


def _short_labels(names: list[str]) -> list[str]:
    """Row labels without the path parts every row shares (``adv_culture/cross/emodb_to_casia/is10/adv``
    -> ``emodb_to_casia/adv`` when all rows are ``adv_culture/cross/*/is10/*``)."""
    parts = [n.split(" · ")[0].split("/") for n in names]
    same = {i for i in range(min(map(len, parts))) if len({p[i] for p in parts}) == 1} if len(parts) > 1 else \
        set(range(len(parts[0]) - 1))
    out = []
    for n, p in zip(names, parts):
        rest = n.split(" · ", 1)[1:]
        out.append(" · ".join(["/".join(x for i, x in enumerate(p) if i not in same) or p[-1]] + rest))
    return out


def figure(group: str, found: dict, out: Path) -> Path:
    """Grouped bars: one group of bars per member, one bar per condition (LOCO) or the UAR (others)."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    loco = all("loco" in s for s in found.values())
    table = [] if loco else table_rows(found)
    names = list(found) if loco else [label for label, _, _ in table]
    rows = [n.rsplit("/", 1)[-1] for n in names] if loco else _short_labels(names)
    conds = [c for c in FIGURE_CONDITIONS if any(c in s.get("conditions", ()) for s in found.values())] if loco \
        else ["test"]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(rows) + 2), 4.4), dpi=110)
    width = 0.8 / len(conds)
    for j, c in enumerate(conds):
        means, stds = [], []
        for n in names:
            if loco:
                s = found[n]
                d = s["loco"].get("mean", {}).get(c, {}).get("uar")
                means.append(d["mean"] if d else np.nan)
                stds.append(d["std"] if d else 0.0)
            else:
                t = table[names.index(n)][2]
                d = (t or {}).get("uar")
                means.append(100 * d["mean"] if d else np.nan)
                stds.append(100 * d["std"] if d else 0.0)
        xs = np.arange(len(names)) + (j - (len(conds) - 1) / 2) * width
        bars = ax.bar(xs, means, width, yerr=stds, capsize=2, label=CONDITION_NAMES.get(c, "UAR"), color=f"C{j}")
        for b, m in zip(bars, means):
            if np.isfinite(m):
                ax.text(b.get_x() + b.get_width() / 2, m + 1, f"{m:.0f}", ha="center", va="bottom", fontsize=7)
    if loco:
        k = len(next(iter(found.values()))["classes"])
        ax.axhline(100 / k, color="grey", ls=":", lw=1, label=f"chance ({100 / k:.0f})")
    ax.set_xticks(np.arange(len(names)), rows, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("mean UAR over held-out corpora (%)" if loco else "UAR (%)")
    ax.set_title(f"{group}: " + ("leave-one-corpus-out, mean ± std over seeds" if loco else "test UAR"))
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def paper_layout(group: str, runs_root: str | os.PathLike = "runs") -> dict | None:
    """The group's table in the paper's shape (its registered ``layout``), or ``None`` if it has none:
    ``{"markdown": str, "data": dict}`` from the finished runs under ``runs_root``."""
    import importlib

    from emozoo.experiments import get_group

    g = get_group(group)
    if g is None or not g.layout:
        return None
    module, function = g.layout.split(":", 1)
    out = getattr(importlib.import_module(module), function)(g.name, Path(runs_root))
    if not (isinstance(out, dict) and isinstance(out.get("markdown"), str) and isinstance(out.get("data"), dict)):
        raise ExperimentError(f"the layout {g.layout} of {group!r} must return {{'markdown': str, 'data': dict}}")
    return out


def report(group: str, *, runs_root: str | os.PathLike = "runs", out_dir: str | os.PathLike | None = None,
           docs=(), figure_path: str | os.PathLike | None = None) -> dict:
    """Write ``<out_dir>/<group>.{md,json,png}`` (and the ``--doc`` sections); returns the paths and text."""
    found, missing = collect(group, runs_root)
    loco = all("loco" in s for s in found.values())
    text = loco_markdown(group, found, missing) if loco else generic_markdown(group, found, missing)
    paper = paper_layout(group, runs_root)
    if paper is not None:        # the paper-shaped table first, then one row per experiment
        text = f"{paper['markdown'].rstrip()}\n\nPer experiment:\n\n{text}"
    stem = group.strip("/").replace("/", "_")
    out_dir = Path(out_dir or Path(runs_root) / "reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    png = figure(group, found, Path(figure_path) if figure_path else out_dir / f"{stem}.png")
    md = out_dir / f"{stem}.md"
    md.write_text(f"# {group}\n\n{text}\n\n![{group}]({os.path.relpath(png, out_dir)})\n", encoding="utf-8")
    js = out_dir / f"{stem}.json"
    js.write_text(json.dumps({"group": group, "members": found, "missing": missing,
                              **({"paper": paper["data"]} if paper is not None else {})}, indent=1), encoding="utf-8")
    from emozoo.utils import replace_marked_section
    for doc in docs:
        doc = Path(doc)
        rel = os.path.relpath(png, doc.parent)
        replace_marked_section(doc, f"report:{group}", f"{text}\n\n![{group}]({rel})")
    return {"markdown": str(md), "json": str(js), "png": str(png), "text": text, "missing": missing}
