"""Saliency grids per culture and class (Figs. 5-6 shape) and the eye / mouth saliency statistics (issue 9).

    python pipelines/face_cnn_saliency.py --runs runs --preset cpu

Reads the trainer's run folders of ``python -m emozoo.train --experiment face_cnn/tables/cpu``
(``runs/face_cnn_culture_{jaffe,ckplus}_cpu``, ``runs/face_cnn_fer2013_cpu``). For every culture
(JAFFE = Japanese, CK+48 = American) and each of its subject-disjoint splits (trainer seed k =
allocation k; the fold's ``result.json`` holds its ``parts``), the split's model explains its own held-out test faces from the softmax node of their true class
(as Section 4.2: "we backpropagated to each image only from its corresponding class node"), by
vanilla gradient and guided backpropagation. Per image, the share of ``|S|`` mass in the eye and
in the mouth region (MTCNN landmarks, :mod:`emozoo.explain.regions`) is averaged over the splits
in which the image was a test image; the cultures are compared per class and overall with the
two-sided Mann-Whitney U test (image level; and poser level, one mean per poser, overall).

Control: the FER2013 model (seed 0: ``runs/face_cnn_fer2013_cpu/seed_0/official``) explains every image of both
cultures, so that a difference seen with one fixed model comes from the faces, not from two
different models.

Writes ``docs/figures/face_cnn/saliency_{jaffe,ckplus}_{guided,vanilla}.png``,
``benchmarks/results/face_cnn_saliency.json`` and ``face_cnn_saliency.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

CULTURE = {"jaffe": "japanese", "ckplus": "american"}
METHODS = ("guided", "vanilla")
MEASURES = ("eyes", "mouth", "eye_preference")


def _explain(model, guided, x, targets, landmarks, batch: int = 64) -> dict:
    from emozoo.explain.regions import eye_preference, region_shares
    from emozoo.explain.saliency import class_gradient

    out = {m: [] for m in METHODS}
    maps = {m: [] for m in METHODS}
    probs = []
    for i in range(0, len(x), batch):
        xb, tb, lb = x[i:i + batch].astype(np.float32), targets[i:i + batch], landmarks[i:i + batch]
        g, p = class_gradient(guided, xb, tb)
        v, _ = class_gradient(model, xb, tb)
        probs.append(p)
        for m, s in (("guided", g), ("vanilla", v)):
            sh = region_shares(s, lb)
            out[m].append(np.column_stack([sh, eye_preference(sh)]))
            maps[m].append(s)
    return ({m: np.concatenate(out[m]) for m in METHODS}, {m: np.concatenate(maps[m]) for m in METHODS},
            np.concatenate(probs))


def _fold_results(run_dir: Path) -> list[dict]:
    """The fold result of every seed of a finished face CNN run, in seed order."""
    from emozoo.train.trainer import load_run
    return [f for s in load_run(run_dir)["seeds"] for f in s["folds"]]


def _load_model(run_dir: Path, rec: dict):
    """``(model, guided copy)`` of one fold result of a trainer run (its selected weights)."""
    from emozoo.models.face_cnn.face_cnn_export import model_from_config
    from emozoo.models.face_cnn.face_cnn_model import guided_copy

    cfg = dict(rec["model_config"])
    model = model_from_config(cfg, Path(run_dir) / f"seed_{rec['seed']}" / rec["fold"] / rec.get("weights", "best.weights.h5"))
    return model, guided_copy(model, cfg)


def compare(values: dict, data: dict, classes) -> dict:
    """Per method, measure and class (and 'all'): Mann-Whitney U japanese vs american (image level),
    plus poser-level tests on 'all'."""
    from emozoo.explain.regions import compare_groups

    res = {}
    for m in METHODS:
        res[m] = {}
        for j, meas in enumerate(MEASURES):
            res[m][meas] = {}
            for ci, c in enumerate(list(classes) + ["all"]):
                groups = []
                for corpus in ("jaffe", "ckplus"):
                    v = values[corpus][m][:, j]
                    sel = np.ones(len(v), bool) if c == "all" else data[corpus]["y"] == ci
                    groups.append(v[sel])
                res[m][meas][c] = compare_groups(groups[0], groups[1])
            pos = []
            for corpus in ("jaffe", "ckplus"):
                v, subj = values[corpus][m][:, j], data[corpus]["subject"]
                pos.append([np.nanmean(v[subj == s]) for s in np.unique(subj) if np.isfinite(v[subj == s]).any()])
            res[m][meas]["all_poser_level"] = compare_groups(pos[0], pos[1])
    return res


def main(argv=None) -> int:
    from emozoo.explain.figures import plot_grid
    from emozoo.models.face_cnn.face_cnn_data import load_faces, store_dir
    from emozoo.models.face_cnn.face_cnn_zoo import run_folder

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs", help="folder of the trainer's run folders")
    p.add_argument("--preset", default="cpu")
    p.add_argument("--stores", default=str(REPO / "tfrecords"))
    p.add_argument("--splits", type=int, default=0, help="the first N seeds (allocations) only; 0: all"
                   " of the run")
    p.add_argument("--per-row", type=int, default=5, help="faces per class row in the grids")
    p.add_argument("--figures", default=str(REPO / "docs" / "figures" / "face_cnn"))
    p.add_argument("--results", default=str(REPO / "benchmarks" / "results"))
    a = p.parse_args(argv)
    runs, figs, res_dir = Path(a.runs), Path(a.figures), Path(a.results)
    figs.mkdir(parents=True, exist_ok=True)
    res_dir.mkdir(parents=True, exist_ok=True)
    data = {c: load_faces(store_dir(c, a.stores)) for c in CULTURE}
    classes = [str(c) for c in data["jaffe"]["classes"]]
    values, counts, grids = {}, {}, {}
    for corpus, d in data.items():
        n = len(d["y"])
        acc = {m: np.zeros((n, len(MEASURES))) for m in METHODS}
        hits = {m: np.zeros((n, len(MEASURES))) for m in METHODS}
        grid = {m: {c: [] for c in classes} for m in METHODS}
        rng = np.random.default_rng(0)
        run_dir = run_folder(runs, f"face_cnn/culture/{corpus}/{a.preset}")
        recs = _fold_results(run_dir)
        for k, rec in enumerate(recs[:a.splits] if a.splits else recs):
            model, guided = _load_model(run_dir, rec)
            idx = np.asarray(rec["parts"]["test"])
            vals, maps, _ = _explain(model, guided, d["x"][idx], d["y"][idx], d["landmarks"][idx])
            for m in METHODS:
                ok = np.isfinite(vals[m])
                acc[m][idx] += np.where(ok, vals[m], 0)
                hits[m][idx] += ok
            if k == 0:          # grids: random held-out faces of split 0, per class
                for ci, c in enumerate(classes):
                    pick = rng.permutation(np.flatnonzero(d["y"][idx] == ci))[:a.per_row]
                    for m in METHODS:
                        for j in pick:
                            grid[m][c] += [("face", d["x"][idx][j]), maps[m][j]]
            print(f"{corpus} split {rec['seed']}: {len(idx)} test faces explained", flush=True)
        values[corpus] = {m: np.where(hits[m] > 0, acc[m] / np.maximum(hits[m], 1), np.nan) for m in METHODS}
        counts[corpus] = int(np.isfinite(values[corpus]["guided"][:, 0]).sum())
        grids[corpus] = grid
        for m in METHODS:
            plot_grid(grid[m], figs / f"saliency_{corpus}_{m}.png",
                      title=f"{CULTURE[corpus].capitalize()} ({corpus}) held-out faces and {m} saliency of their "
                            f"true class (split 0 model)")
    stats = compare(values, data, classes)
    # control: one fixed model (FER2013, seed 0) explains every image of both cultures
    control = None
    fer_dir = run_folder(runs, f"face_cnn/fer2013/{a.preset}")
    fer_json = fer_dir / "seed_0" / "official" / "result.json"
    if fer_json.exists():
        rec = json.loads(fer_json.read_text())
        fer_model, fer_guided = _load_model(fer_dir, rec)
        cvals = {}
        for corpus, d in data.items():
            t = np.asarray([rec["classes"].index(classes[i]) for i in d["y"]])
            cvals[corpus], _, probs = _explain(fer_model, fer_guided, d["x"], t, d["landmarks"])
            print(f"control: FER2013 model on all {corpus} faces", flush=True)
        control = compare(cvals, data, classes)
    summary = {"classes": classes, "faces_with_landmarks": counts,
               "faces": {c: int(len(d["y"])) for c, d in data.items()},
               "per_culture_models": stats, "fer2013_model_control": control,
               "mean_shares": {corpus: {m: {meas: {c: float(np.nanmean(values[corpus][m][data[corpus]["y"] == ci, j]))
                                                   for ci, c in enumerate(classes)}
                                            for j, meas in enumerate(MEASURES)} for m in METHODS} for corpus in data},
               "command": f"python pipelines/face_cnn_saliency.py --runs {a.runs} --preset {a.preset}"}
    (res_dir / "face_cnn_saliency.json").write_text(json.dumps(summary, indent=1))
    md = markdown(summary)
    (res_dir / "face_cnn_saliency.md").write_text(md)
    print(md)
    return 0


def _fmt_p(p):
    return "-" if p is None else (f"{p:.3g}" if p >= 1e-3 else f"{p:.1e}")


def markdown(s: dict) -> str:
    classes = s["classes"]
    L = [f"Share of |saliency| mass in the eye (eyes + brows) and mouth regions (MTCNN landmarks), per culture's own "
         f"model on its held-out faces, true-class node, averaged per image over the splits it was tested in "
         f"({s['faces_with_landmarks']['jaffe']} JAFFE and {s['faces_with_landmarks']['ckplus']} CK+48 faces with landmarks). "
         "Cells: median Japanese / median American, two-sided Mann-Whitney U p-value.", ""]
    for m in METHODS:
        L += [f"**{m} saliency**", "", "| measure | " + " | ".join(classes) + " | all (images) | all (posers) |",
              "|---" * (len(classes) + 3) + "|"]
        for meas in MEASURES:
            row = []
            for c in classes + ["all", "all_poser_level"]:
                r = s["per_culture_models"][m][meas][c]
                row.append("-" if r["p"] is None else f"{r['median_a']:.3f} / {r['median_b']:.3f} (p={_fmt_p(r['p'])})")
            L.append(f"| {meas} | " + " | ".join(row) + " |")
        L.append("")
    if s.get("fer2013_model_control"):
        L += ["Control, one fixed model (FER2013, seed 0) on every face of both cultures (guided saliency):", "",
              "| measure | " + " | ".join(classes) + " | all (images) | all (posers) |", "|---" * (len(classes) + 3) + "|"]
        for meas in MEASURES:
            row = []
            for c in classes + ["all", "all_poser_level"]:
                r = s["fer2013_model_control"]["guided"][meas][c]
                row.append("-" if r["p"] is None else f"{r['median_a']:.3f} / {r['median_b']:.3f} (p={_fmt_p(r['p'])})")
            L.append(f"| {meas} | " + " | ".join(row) + " |")
        L.append("")
    L += [f"Command: `{s['command']}`. Grids (Figs. 5-6 shape): `docs/figures/face_cnn/saliency_{{jaffe,ckplus}}_{{guided,vanilla}}.png`.", ""]
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
