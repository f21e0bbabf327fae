"""Build the EMODal feature stores of the real paired audio-visual data (RAVDESS AV)::

    EMOZOO_DATA_DIR=../shared/data python pipelines/emodal_build_stores.py      # ~10 s

Reads ``ravdess_av_features/au_mfcc_features.npz`` through the corpus reader
(:mod:`emozoo.data.corpora.ravdess_av`) and writes two TFRecord stores (git-ignored)::

    tfrecords/ravdess_av_emodal_4class/   label set 4class (neutral/happy/angry/sad: 672 clips)
    tfrecords/ravdess_av_emodal_8class/   label set ravdess8 (all 8 emotions: 1440 clips)

with one float feature ``mfcc_au`` per clip: the 259-dim MFCC-derived audio vector followed by
the 35 OpenFace action units (17 intensities AU01_r..AU45_r, 18 presences AU01_c..AU45_c) of the
same recording: 294 values, audio first, which is how :class:`EMODalModel` (dense visual branch,
``audio_dim=259, visual_dim=35``) splits a flat input. Speaker = actor (24), so protocols are
actor-independent.
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

FEATURE = "mfcc_au"
AUDIO_DIM, VISUAL_DIM = 259, 35
STORES = {"4class": "tfrecords/ravdess_av_emodal_4class", "ravdess8": "tfrecords/ravdess_av_emodal_8class"}


def build(label_set: str, out: Path, data_dir=None) -> Path:
    import numpy as np

    from emozoo.data.corpora.base import load_manifest
    from emozoo.data.corpora.ravdess_av import load_features
    from emozoo.data.labels import get_label_set
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, meta_values, write_store

    manifest = load_manifest("ravdess_av", data_dir=data_dir).with_label_set(label_set)
    arrays = load_features(manifest[0].path)
    audio = np.asarray(arrays["X_audio_mfcc"], np.float32)
    visual = np.asarray(arrays["X_visual_au"], np.float32)
    assert audio.shape[1] == AUDIO_DIM and visual.shape[1] == VISUAL_DIM, (audio.shape, visual.shape)
    classes = get_label_set(label_set).classes
    examples = []
    for row in manifest:
        i = int(row.extras["index"])
        examples.append({**meta_values(row, classes), FEATURE: np.concatenate([audio[i], visual[i]])})
    spec = StoreSpec.with_meta([FeatureSpec(FEATURE, "float32", (AUDIO_DIM + VISUAL_DIM,),
                                            "RAVDESS AV: 259-dim MFCC audio vector then 35 OpenFace AUs")],
                               classes=classes, label_set=label_set,
                               description="EMODal paired audio-visual features of RAVDESS (ravdess_av_features)")
    write_store(examples, out, spec, split="all", num_shards=1)
    manifest.to_jsonl(out / "manifest.jsonl")
    (out / "extract.json").write_text(json.dumps({
        "features": {FEATURE: "ravdess_av_features/au_mfcc_features.npz:X_audio_mfcc[259]+X_visual_au[35]"},
        "classes": list(classes), "label_set": label_set, "corpus": "ravdess_av",
        "command": "python pipelines/emodal_build_stores.py"}, indent=1))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=str(REPO), help="folder the store paths resolve against")
    ap.add_argument("--data-dir", default=None, help="EMOZOO_DATA_DIR override")
    args = ap.parse_args(argv)
    for ls, rel in STORES.items():
        out = build(ls, Path(args.root) / rel, args.data_dir)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
