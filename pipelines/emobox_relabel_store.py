"""Build ``tfrecords/<corpus>_all`` (all classes) from the existing per-feature 4-class stores.

    python pipelines/emobox_relabel_store.py --corpus ravdess            # -> tfrecords/ravdess_all

The 4-class stores ``tfrecords/<corpus>_{is10,egemaps,compare}`` hold every clip of the corpus
(clips outside neutral/happy/angry/sad with label -1) and each clip's harmonised emotion, computed
by the same openSMILE extractors at 16 kHz as ``python -m emozoo.extract``. This script copies the
three feature vectors of every clip into one store labelled with the corpus's native label set
(``emodb7``, ``casia6``, ``ravdess8``): the same store as

    python -m emozoo.extract --corpus ravdess --features is10,egemaps,compare --label-set ravdess8 \\
        --out tfrecords/ravdess_all

without decoding the audio again (the extraction takes ~25 min for RAVDESS on a loaded 2-core
machine, this a few seconds). ``--check STORE`` compares the result with an extracted store
(used on EmoDB: identical features and labels).
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

from emozoo.data.emobox import corpus_info  # noqa: E402
from emozoo.data.labels import get_label_set  # noqa: E402
from emozoo.data.tfrecord import META_FEATURES, load_spec, read_store, write_store  # noqa: E402

FEATURES = ("is10", "egemaps", "compare")
META = [f.name for f in META_FEATURES]


def _read(store: Path, feature: str) -> dict:
    out = {}
    for ex in read_store(store, features=META + [feature]).as_numpy_iterator():
        d = {k: (v.decode("utf-8") if isinstance(v, bytes) else v) for k, v in ex.items()}
        out[d["clip_id"]] = d
    return out


def build(corpus: str, out: Path, src_pattern: str = "tfrecords/{corpus}_{feature}") -> Path:
    from emozoo.errors import SchemaError
    label_set = get_label_set(corpus_info(corpus).label_set)
    from emozoo.data.corpora import load_manifest
    # the 4-class stores blank the emotion of clips outside the set: take it from the corpus reader
    emotions = {r.clip_id: r.emotion for r in load_manifest(corpus)}
    tables = {f: _read(REPO / src_pattern.format(corpus=corpus, feature=f), f) for f in FEATURES}
    ids = sorted(tables[FEATURES[0]])
    for f in FEATURES[1:]:
        if sorted(tables[f]) != ids:
            raise SchemaError(f"stores of {corpus} hold different clips for {FEATURES[0]} and {f}")
    examples = []
    for cid in ids:
        base = tables[FEATURES[0]][cid]
        if base["emotion"] and base["emotion"] != emotions.get(cid):
            raise SchemaError(f"{cid}: store emotion {base['emotion']!r}, corpus reader {emotions.get(cid)!r}")
        emo = emotions[cid]
        ex = {k: base[k] for k in META}
        ex["emotion"] = emo
        ex["label"] = label_set.index(emo) if emo and label_set.maps(emo) else -1
        for f in FEATURES:
            if tables[f][cid]["emotion"] != base["emotion"]:
                raise SchemaError(f"{cid}: emotion differs between the {FEATURES[0]} and {f} stores")
            ex[f] = np.asarray(tables[f][cid][f], np.float32)
        examples.append(ex)
    specs = [load_spec(REPO / src_pattern.format(corpus=corpus, feature=f))[f] for f in FEATURES]
    from emozoo.data.tfrecord import StoreSpec
    spec = StoreSpec.with_meta(specs, classes=label_set.classes, label_set=label_set.name,
                               description=f"{corpus} is10+egemaps+compare, label set {label_set.name} "
                                           "(pipelines/emobox_relabel_store.py)")
    out.mkdir(parents=True, exist_ok=True)
    write_store(examples, out, spec, split="all")
    prov = {f: json.loads((REPO / src_pattern.format(corpus=corpus, feature=f) / "extract.json").read_text())
            ["features"][f] for f in FEATURES}
    (out / "extract.json").write_text(json.dumps({"features": prov, "classes": list(label_set.classes),
                                                  "label_set": label_set.name, "corpus": corpus,
                                                  "built_by": "pipelines/emobox_relabel_store.py"}, indent=1))
    print(f"wrote {len(examples)} clips to {out} ({label_set.name}: {sum(e['label'] >= 0 for e in examples)} labelled)")
    return out


def check(a: Path, b: Path) -> None:
    for f in FEATURES:
        ta, tb = _read(a, f), _read(b, f)
        assert sorted(ta) == sorted(tb), f"clip sets differ for {f}"
        diff = max(float(np.max(np.abs(np.asarray(ta[c][f]) - np.asarray(tb[c][f])))) for c in ta)
        same_label = all(ta[c]["label"] == tb[c]["label"] and ta[c]["emotion"] == tb[c]["emotion"] for c in ta)
        print(f"{f}: {len(ta)} clips, max |difference| {diff:.3g}, labels identical: {same_label}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--out", help="default tfrecords/<corpus>_all")
    ap.add_argument("--check", help="an extracted store to compare the result with")
    args = ap.parse_args(argv)
    out = build(args.corpus, Path(args.out or REPO / "tfrecords" / f"{args.corpus}_all"))
    if args.check:
        check(out, Path(args.check))


if __name__ == "__main__":
    main()
