"""DANN's tables in the paper's shape, from the one trainer's run folders (the groups' ``layout``).

* :func:`iemocap_table2`: Lian et al. 2019, Table 2 (CI vs DANN over the IEMOCAP TS settings, session 5
  tested) with the paper's WA beside ours: layout of the groups ``dann/table2/text`` and ``dann/table2/mpnet``;
* :func:`meld_table`: CI vs DANN on MELD, 7 and 4 classes, test and dev: layout of ``dann/meld_table``.

``python -m emozoo.report GROUP`` prints them; ``pipelines/dann_iemocap_table.py`` and
``pipelines/dann_meld_table.py`` write them into the docs and ``benchmarks/results/``. Each reads the
finished runs only (``runs/<experiment with / as _>``); a missing run is a cell "n/a", never guessed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from emozoo.data.protocols import IEMOCAP_TS
from emozoo.report import run_dir
from emozoo.utils import shown_path

PAPER_TABLE2 = {"ci": {"TS_1234": 81.06, "TS_123": 80.82, "TS_134": 79.85, "TS_234": 78.89, "TS_23": 77.60},
                "dann": {"TS_1234": 81.14, "TS_123": 82.68, "TS_134": 82.27, "TS_234": 82.43, "TS_23": 81.39}}
VARIANTS = ("ci", "dann")
KEYS = ("accuracy", "uar", "macro_f1")
MELD_KEYS = ("accuracy", "uar", "weighted_f1", "macro_f1")
SUBSETS = ("7class", "4class")


def _command(group: str, config: dict | None, seeds: int) -> str:
    """The command that re-makes the runs: the group at the registered settings, plus the overrides a run's
    ``config.json`` shows (e.g. the paper preset's epochs and learning rate)."""
    from emozoo.experiments import get_experiment, group_members

    cmd = f"python -m emozoo.train --experiment {group} --by-seed --seeds {seeds}"
    if config:
        ref = get_experiment(group_members(group)[0])
        over = [f"trainer.{k}={config['trainer'][k]}" for k in ("epochs", "batch_size")
                if config["trainer"][k] != getattr(ref.trainer, k)]
        if config["optimizer"]["learning_rate"] != ref.optimizer.learning_rate:
            over.append(f"optimizer.learning_rate={config['optimizer']['learning_rate']}")
        cmd += "".join(f" --override {o}" for o in over)
    return cmd


def _finished(runs_root, names):
    """``(name, folder, run, config)`` of each finished run among ``names``, in order (``run`` as
    :func:`emozoo.train.trainer.load_run` reads it; ``config`` its ``config.json`` or ``None``)."""
    from emozoo.train.trainer import load_run

    for name in names:
        folder = run_dir(name, runs_root)
        if (folder / "summary.json").exists():
            yield name, folder, load_run(folder), _config(folder)


def _config(folder: Path) -> dict | None:
    path = Path(folder) / "config.json"
    return json.loads(path.read_text()) if path.exists() else None


def _cell(s, key):
    if s is None or key not in s:
        return "n/a"
    return f"{100 * s[key]['mean']:.2f} ± {100 * s[key]['std']:.2f} (n={s['num_runs']})"


def _pm(s, key):
    return f"{100 * s[key]['mean']:.2f} ± {100 * s[key]['std']:.2f}" if s and key in s else "-"


def _preset(meta: dict) -> str:
    if meta.get("epochs") is None:
        return "settings as registered"
    return f"{meta['epochs']} epochs, Adam {meta['learning_rate']:g}, batch {meta['batch_size']}"


def _summary_cells(summary: dict, side: dict, keys) -> dict:
    """The table's cells of one summary side (``test`` or an extra test): the metrics and the run count."""
    out = {k: v for k, v in side.items() if k in keys}
    out["num_runs"] = int(side.get("num_runs", len(summary.get("seeds", [])) or 1))
    return out


def iemocap_table2(group: str, runs_root: str | os.PathLike = "runs") -> dict:
    """Table 2 from the runs of ``group`` (``dann/table2/text``): ``{"markdown", "data"}``; ``data`` holds
    the summaries (mean +- std over seeds), every seed's test report and the run folders."""
    kind = group.rstrip("/").split("/")[-1]
    data = {"summary": {}, "runs": {}, "run_dirs": {}, "paper_table2_wa": PAPER_TABLE2}
    seconds, test_labelled, config = 0.0, set(), None
    names = [f"dann/iemocap/{kind}/{ts.lower()}/{v}" for ts in IEMOCAP_TS for v in VARIANTS]
    for name, folder, run, cfg in _finished(runs_root, names):
        config = config or cfg
        data["summary"][name] = _summary_cells(run["summary"], run["summary"]["test"], KEYS)
        data["run_dirs"][name] = shown_path(folder)
        data["runs"][name] = {}
        for seed in run["seeds"]:
            (res,) = seed["folds"]
            seconds += float(res.get("seconds", 0))
            test_labelled.add(int(res["sizes"]["test_labelled"]))
            data["runs"][name][str(seed["seed"])] = {
                "report": {k: res["test"][k] for k in KEYS + ("confusion_matrix",)},
                "final": res.get("final", {}), "seconds": res.get("seconds")}
    if len(test_labelled) > 1:
        from emozoo.errors import ExperimentError
        raise ExperimentError(f"the runs of {group} under {runs_root} count {sorted(test_labelled)} test turns; "
                              "every setting tests session 5: re-run the odd ones")
    seeds = min((s["num_runs"] for s in data["summary"].values()), default=0)
    tr = config["trainer"] if config else {}
    meta = {"command": _command(group, config, max(seeds, 1)), "seeds": seeds, "epochs": tr.get("epochs"),
            "learning_rate": config["optimizer"]["learning_rate"] if config else None,
            "batch_size": tr.get("batch_size"), "cpus": os.cpu_count(), "seconds": seconds,
            "test_labelled": test_labelled.pop() if test_labelled else 0}
    data.update(meta=meta, config={**{k: meta[k] for k in ("epochs", "learning_rate", "batch_size", "seeds")},
                                   "batching": "length_buckets"})
    encoder = {"text": "MiniLM", "mpnet": "all-mpnet-base-v2"}.get(kind, kind)
    L = [f"Measured with `{meta['command']}` (n = seeds per cell, {_preset(meta)} conversations; "
         f"{meta['seconds']:.0f} s of training "
         f"time summed over the runs on {meta['cpus']} CPU cores shared with other jobs). Test: the "
         f"{meta['test_labelled']} labelled turns of session 5 (4 classes, happy = happy + excited). Mean ± std "
         "(ddof=1) over seeds, %. WA = accuracy over turns (the paper's metric), UAR = unweighted average recall. "
         f"**Text only** ({encoder} sentence embeddings of the transcripts): the paper used ComParE audio + ELMo "
         "text, and IEMOCAP audio is not in shared data.", "",
         "| setting | CI WA (paper) | CI WA | DANN WA (paper) | DANN WA | CI UAR | DANN UAR |",
         "|---|---|---|---|---|---|---|"]
    if not data["summary"]:
        L = [f"No finished runs of {group} under {runs_root}: run `{meta['command']}`.", ""] + L[2:]
    for ts in IEMOCAP_TS:
        ci, da = (data["summary"].get(f"dann/iemocap/{kind}/{ts.lower()}/{v}") for v in VARIANTS)
        L.append(f"| {ts} | {PAPER_TABLE2['ci'][ts]:.2f} | {_cell(ci, 'accuracy')} | {PAPER_TABLE2['dann'][ts]:.2f} | "
                 f"{_cell(da, 'accuracy')} | {_cell(ci, 'uar')} | {_cell(da, 'uar')} |")
    return {"markdown": "\n".join(L) + "\n", "data": data}


def meld_table(group: str = "dann/meld_table", runs_root: str | os.PathLike = "runs") -> dict:
    """CI vs DANN on MELD from the runs of ``dann/meld/text/{7class,4class}/{ci,dann}``: ``{"markdown", "data"}``
    (test and official-dev cells over seeds; fold sizes and speaker domains as the runs recorded them)."""
    data = {"summary": {}, "run_dirs": {}}
    seconds, config, sizes, dev, domains = 0.0, None, {}, {}, []
    names = [f"dann/meld/text/{sub}/{v}" for sub in SUBSETS for v in VARIANTS]
    for name, folder, run, cfg in _finished(runs_root, names):
        sub = name.split("/")[3]
        config = config or cfg
        s = run["summary"]
        data["summary"][name] = {**_summary_cells(s, s["test"], MELD_KEYS),
                                 "dev": _summary_cells(s, s.get("extra_tests", {}).get("dev", {}), MELD_KEYS)}
        data["run_dirs"][name] = shown_path(folder)
        for sd in run["seeds"]:
            for f in sd["folds"]:
                seconds += float(f.get("seconds", 0))
                sizes[sub] = f.get("sizes", sizes.get(sub, {}))
                if "dev" in f.get("extra_tests", {}):
                    dev[sub] = int(f["extra_tests"]["dev"]["num_examples"])
                domains = f.get("domains", domains)
    seeds = min((s["num_runs"] for s in data["summary"].values()), default=0)
    tr = config["trainer"] if config else {}
    meta = {"command": _command(group, config, max(seeds, 1)), "seeds": seeds, "epochs": tr.get("epochs"),
            "learning_rate": config["optimizer"]["learning_rate"] if config else None,
            "batch_size": tr.get("batch_size"), "cpus": os.cpu_count(), "seconds": seconds,
            "domains": len(domains), "domain_names": list(domains), "sizes": sizes,
            "test_labelled": {sub: sizes[sub].get("test_labelled") for sub in sizes}, "dev_labelled": dev}
    data.update(meta=meta, config={**{k: meta[k] for k in ("epochs", "learning_rate", "batch_size", "seeds")},
                                   "batching": "length_buckets"})
    if not data["summary"]:
        return {"markdown": f"No finished runs of {group} under {runs_root}: run `{meta['command']}`.\n", "data": data}
    what = {"7class": "7 classes", "4class": "the 4-class subset neutral/joy/anger/sadness"}
    tests = ", ".join(f"{meta['test_labelled'][sub]} for {what[sub]}" for sub in SUBSETS if sub in sizes)
    L = [f"Measured with `{meta['command']}` ({_preset(meta)} dialogues; {meta['seconds']:.0f} s of run time on {meta['cpus']} CPU cores shared "
         "with other jobs). MELD official splits, text only (MiniLM sentence embeddings), speaker domain "
         f"({meta['domains']} classes: speakers with >= 50 turns + `other`), test = the official test turns "
         f"({tests}). Mean ± std (ddof=1) over n seeds, %. WA = accuracy, UAR = unweighted "
         "average recall, wF1 = support-weighted F1 (MELD's usual metric).", "",
         "| task | variant | n | WA | UAR | wF1 | dev wF1 |", "|---|---|---|---|---|---|---|"]
    for sub in SUBSETS:
        for v in VARIANTS:
            s = data["summary"].get(f"dann/meld/text/{sub}/{v}")
            if s is None:
                continue
            L.append(f"| {sub} | {'CI (λ=0)' if v == 'ci' else 'DANN (λ=1)'} | {s['num_runs']} | {_pm(s, 'accuracy')} | "
                     f"{_pm(s, 'uar')} | {_pm(s, 'weighted_f1')} | {_pm(s['dev'], 'weighted_f1')} |")
    return {"markdown": "\n".join(L) + "\n", "data": data}
