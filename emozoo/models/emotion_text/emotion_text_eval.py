"""The measurements of ``emotion_text``: the head is chosen by cross-corpus validation only.

::

    python -m emozoo.models.emotion_text.emotion_text_eval --seeds 3            # everything below
    python -m emozoo.models.emotion_text.emotion_text_eval --seeds 5 --parts session5,meld

Parts (every run's report is kept in ``benchmarks/results/emotion_text_eval.json``; finished runs
are read back, so an interrupted command resumes; runs go seed by seed, every candidate per seed):

1. ``cross``: IEMOCAP -> MELD and MELD -> IEMOCAP on the 4 shared classes (MELD joy = happy,
   anger = angry, sadness = sad, neutral = neutral; every labelled 4-class turn of the source
   trains, every one of the target is scored) for the candidates ``linear``, ``ci``, ``dann`` of
   :data:`~.emotion_text_head.CANDIDATES` on MPNet. **Choice** (fixed before the runs): the
   candidate with the highest UAR averaged over the two directions and the seeds
   (:func:`choose`); IEMOCAP session 5 plays no part in it.
2. ``minilm``: the chosen candidate on MiniLM (``tfrecords/*_minilm``), cross-corpus when both
   MiniLM stores exist, and session 5.
3. ``session5``: the issue's goal protocol, IEMOCAP TS_1234 (train on sessions 1-4, test on the
   1242 labelled turns of session 5), 4 classes, WA and UAR, for the chosen candidate, and the same
   with every labelled MELD turn added to training (``+meld``: the flagship's data mix).
4. ``meld``: the ``meld7`` head (the chosen candidate trained on MELD's official train dialogues,
   7 classes), scored on the official test split (WA, UAR, weighted F1).
5. ``mix``: does adding the other corpus hurt? MELD official train -> test on the 4 shared classes,
   without and with every labelled IEMOCAP turn in training (the session-5 ``+meld`` row is the
   other side).

Example:

>>> res = run(Path("."), seeds=3)                            # doctest: +SKIP
>>> res["choice"]["head"]                                    # doctest: +SKIP
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from emozoo.errors import SchemaError  # noqa: E402

RESULTS = Path("benchmarks/results/emotion_text_eval.json")
PARTS = ("cross", "minilm", "session5", "meld", "mix")
DIRECTIONS = (("iemocap", "meld"), ("meld", "iemocap"))
CANDIDATE_ORDER = ("linear", "ci", "dann")
KEEP = ("accuracy", "uar", "macro_f1", "weighted_f1", "num_examples", "classes", "confusion_matrix")


def key(part: str, candidate: str, feature: str, setting: str, seed: int) -> str:
    """``part/candidate/feature/setting/seed`` (the run's key in the results JSON)."""
    return f"{part}/{candidate}/{feature}/{setting}/{seed}"


def group(k: str) -> str:
    """The key without its seed."""
    return k.rsplit("/", 1)[0]


def _fold(data, part: str, candidate: str, setting: str):
    from emozoo.models.emotion_text import emotion_text_head as H

    if part in ("cross", "minilm") and "->" in setting:
        source, target = setting.split("->")
        return H.cross_corpus_fold(data, source, target, candidate)
    if setting == "ts_1234":
        return H.session5_fold(data, candidate)
    if setting == "ts_1234+meld":
        return H.session5_fold(data, candidate, plus_meld=True)
    if setting == "official_test":
        return H.meld_fold(data, "meld7")
    if setting == "official_test_4class":
        return H.meld4_fold(data)
    if setting == "official_test_4class+iemocap":
        return H.meld4_fold(data, plus_iemocap=True)
    raise SchemaError(f"unknown setting {setting!r}")


def run_one(data, part: str, candidate: str, setting: str, seed: int) -> dict:
    """Train candidate ``candidate`` on the fold of ``setting`` with ``seed`` and score its test turns."""
    import keras

    from emozoo.models.emotion_text import emotion_text_head as H

    t0 = time.time()
    fold = _fold(data, part, candidate, setting)
    model = H.train_head(fold, candidate, seed)
    rep = H.score_head(model, fold.test, fold.classes)
    keras.backend.clear_session()
    out = {k: rep[k] for k in KEEP}
    out["recall"] = {c: rep["per_class"][c]["recall"] for c in rep["classes"]}
    out.update(seconds=round(time.time() - t0, 1), sizes=fold.sizes, seed=seed)
    return out


def summarise(runs: dict) -> dict:
    """``{part/candidate/feature/setting: {metric: {mean, std, values}, seeds}}`` (std ddof=1)."""
    import numpy as np

    groups: dict = {}
    for k, r in runs.items():
        groups.setdefault(group(k), []).append(r)
    out = {}
    for g, rs in sorted(groups.items()):
        rs = sorted(rs, key=lambda r: r["seed"])
        cell = {"seeds": [r["seed"] for r in rs]}
        for m in ("accuracy", "uar", "macro_f1", "weighted_f1"):
            v = np.asarray([r[m] for r in rs], np.float64)
            cell[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                       "values": [round(float(x), 4) for x in v]}
        out[g] = cell
    return out


def choose(runs: dict, feature: str = "mpnet", candidates=CANDIDATE_ORDER) -> dict:
    """The head of the highest cross-corpus UAR: per seed, the mean over the two directions; then the
    mean over the seeds every candidate has finished in both directions. Ties: the earlier of
    :data:`CANDIDATE_ORDER` (the simpler model)."""
    import numpy as np

    per = {}
    for c in candidates:
        seeds = {}
        for s, t in DIRECTIONS:
            for k, r in runs.items():
                if group(k) == f"cross/{c}/{feature}/{s}->{t}":
                    seeds.setdefault(r["seed"], {})[f"{s}->{t}"] = r["uar"]
        per[c] = {s: float(np.mean(list(v.values()))) for s, v in seeds.items() if len(v) == len(DIRECTIONS)}
    common = set.intersection(*(set(v) for v in per.values())) if per else set()
    if not common:
        raise SchemaError("no seed has every candidate in both cross-corpus directions yet: run part 'cross' first")
    score = {c: round(float(np.mean([per[c][s] for s in common])), 4) for c in candidates}
    best = max(candidates, key=lambda c: (score[c], -candidates.index(c)))
    return {"head": best, "rule": "highest UAR averaged over IEMOCAP->MELD and MELD->IEMOCAP, mean over seeds "
                                  f"{sorted(common)}", "mean_cross_uar": score, "seeds": sorted(common)}


def _load(path: Path) -> dict:
    if path.exists():
        return json.loads(path.read_text())
    return {"runs": {}}


def _save(path: Path, res: dict) -> None:
    from emozoo.utils import write_json_atomic

    res["summary"] = summarise(res["runs"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, res, indent=1)


def plan(parts, seeds: int, candidates, chosen: str | None, minilm_cross: bool) -> list:
    """The ``(part, candidate, feature, setting, seed)`` runs, seed by seed."""
    todo = []
    for s in range(seeds):
        if "cross" in parts:
            for c in candidates:
                todo += [("cross", c, "mpnet", f"{a}->{b}", s) for a, b in DIRECTIONS]
        if chosen is None:
            continue
        if "session5" in parts:
            todo += [("session5", chosen, "mpnet", "ts_1234", s), ("session5", chosen, "mpnet", "ts_1234+meld", s)]
        if "meld" in parts:
            todo.append(("meld", chosen, "mpnet", "official_test", s))
        if "mix" in parts:
            todo += [("mix", chosen, "mpnet", "official_test_4class", s),
                     ("mix", chosen, "mpnet", "official_test_4class+iemocap", s)]
        if "minilm" in parts:
            if minilm_cross:
                todo += [("minilm", chosen, "minilm", f"{a}->{b}", s) for a, b in DIRECTIONS]
            todo.append(("minilm", chosen, "minilm", "ts_1234", s))
    return todo


def run(repo: Path, seeds: int = 3, parts=PARTS, candidates=CANDIDATE_ORDER, out: Path | None = None,
        log=print) -> dict:
    """Run (or resume) the parts; returns the results dict written to ``out``."""
    from emozoo.models.emotion_text import emotion_text_head as H

    repo = Path(repo)
    out = out or repo / RESULTS
    res = _load(out)
    res["meta"] = {"command": "python -m emozoo.models.emotion_text.emotion_text_eval " + " ".join(sys.argv[1:]),
                   "candidates": {c: H.CANDIDATES[c] for c in candidates}, "directions": [list(d) for d in DIRECTIONS]}
    data = {"mpnet": None, "minilm": None}

    def corpora(feature, setting):
        if data[feature] is None:
            need = ("iemocap",) if feature == "minilm" and setting == "ts_1234" else H.CORPORA
            data[feature] = H.load_corpora(repo, feature, need)
        return data[feature]

    def execute(todo):
        for part, c, feature, setting, s in todo:
            k = key(part, c, feature, setting, s)
            if k in res["runs"]:
                continue
            r = run_one(corpora(feature, setting), part, c, setting, s)
            res["runs"][k] = r
            _save(out, res)
            log(f"{k}: WA {100 * r['accuracy']:.2f} UAR {100 * r['uar']:.2f} wF1 {100 * r['weighted_f1']:.2f} "
                f"[{r['seconds']} s]", flush=True)

    execute(plan(parts, seeds, candidates, None, False))
    if set(parts) - {"cross"}:
        res["choice"] = choose(res["runs"], candidates=candidates)
        chosen = res["choice"]["head"]
        log(f"chosen head: {chosen} ({res['choice']['mean_cross_uar']})", flush=True)
        minilm_cross = all((repo / H.STORES[c].format(feature="minilm") / "spec.json").exists() for c in H.CORPORA)
        execute(plan(set(parts) - {"cross"}, seeds, candidates, chosen, minilm_cross))
    elif all(any(group(k).startswith(f"cross/{c}/") for k in res["runs"]) for c in candidates):
        res["choice"] = choose(res["runs"], candidates=candidates)
    _save(out, res)
    return res


def table(res: dict) -> str:
    """Markdown tables (mean ± std in %) of the results."""
    s = res["summary"]
    lines = ["| part | head | features | setting | seeds | WA | UAR | macro-F1 | weighted F1 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for g, cell in s.items():
        part, c, feature, setting = g.split("/")
        f = lambda m: f"{100 * cell[m]['mean']:.2f} ± {100 * cell[m]['std']:.2f}"  # noqa: E731
        lines.append(f"| {part} | {c} | {feature} | {setting} | {len(cell['seeds'])} | {f('accuracy')} | {f('uar')} | "
                     f"{f('macro_f1')} | {f('weighted_f1')} |")
    return "\n".join(lines)


def plot(res: dict, path: Path) -> Path:
    """Grouped bars: cross-corpus UAR (mean ± std over seeds) of every head and feature, per direction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = res["summary"]
    rows = [g for g in s if "->" in g]
    heads = sorted({"/".join(g.split("/")[1:3]) for g in rows},
                   key=lambda h: (h.endswith("minilm"), CANDIDATE_ORDER.index(h.split("/")[0])))
    dirs = [f"{a}->{b}" for a, b in DIRECTIONS]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    w = 0.8 / max(len(heads), 1)
    for i, h in enumerate(heads):
        part = "minilm" if h.endswith("minilm") else "cross"
        cells = [s.get(f"{part}/{h}/{d}") for d in dirs]
        m = [100 * c["uar"]["mean"] if c else 0 for c in cells]
        e = [100 * c["uar"]["std"] if c else 0 for c in cells]
        n = max((len(c["seeds"]) for c in cells if c), default=0)
        ax.bar([j + i * w for j in range(len(dirs))], m, w, yerr=e, capsize=3, label=f"{h} ({n} seeds)")
    ax.axhline(25, color="grey", lw=0.8, ls=":", label="chance (4 classes)")
    ax.set_xticks([j + w * (len(heads) - 1) / 2 for j in range(len(dirs))], [d.replace("->", " -> ") for d in dirs])
    ax.set_ylabel("UAR (%)")
    ax.set_title("emotion_text: cross-corpus UAR, 4 shared classes")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emozoo.models.emotion_text.emotion_text_eval", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 of every run (default 3)")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--candidates", default=",".join(CANDIDATE_ORDER), help="heads of the cross-corpus choice")
    ap.add_argument("--out", type=Path, help=f"results JSON (default {RESULTS})")
    ap.add_argument("--repo", type=Path, default=Path("."), help="repository root (the tfrecords/ stores)")
    ap.add_argument("--table", action="store_true", help="print the tables of the results JSON and exit")
    ap.add_argument("--plot", type=Path, help="also draw the cross-corpus bars into this PNG")
    args = ap.parse_args(argv)
    parts = tuple(p for p in args.parts.split(",") if p)
    bad = [p for p in parts if p not in PARTS]
    cands = tuple(c for c in args.candidates.split(",") if c)
    if bad or not parts or any(c not in CANDIDATE_ORDER for c in cands) or args.seeds < 1:
        ap.error(f"--parts from {PARTS}, --candidates from {CANDIDATE_ORDER}, --seeds >= 1")
    out = args.out or args.repo / RESULTS
    if args.table:
        res = _load(out)
        if not res["runs"]:
            ap.error(f"{out} holds no run")
        res["summary"] = summarise(res["runs"])
        print(table(res))
        if "choice" in res:
            print(f"\nchoice: {res['choice']}")
        if args.plot:
            print(f"figure: {plot(res, args.plot)}")
        return 0
    res = run(args.repo, args.seeds, parts, cands, out)
    print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
