"""A corpus brought as a manifest CSV: read, split, write TFRecords, validate; no code change.

Everything goes through the command lines a user would type.
"""
import csv
import json

import numpy as np
import pytest
import soundfile as sf

from emozoo.data import pipelines, protocols
from emozoo.data.__main__ import main as data_main
from emozoo.data.corpora import get_reader
from emozoo.data.tfrecord import load_spec
from emozoo.validate.__main__ import main as validate_main

CLASSES = ("neutral", "happy", "angry", "sad")


def _run_user_flow(tmp_path, csv_path, extra_args, capsys, n_speakers):
    # 1. inspect
    assert data_main(["inspect", "--corpus", "csv", "--manifest", str(csv_path), *extra_args]) == 0
    printed = capsys.readouterr().out
    assert f"speaker ({n_speakers})" in printed
    # 2. split: leave one speaker out, first fold, saved as a CSV with a split column
    reader = get_reader("csv")(csv_path, corpus="mycorpus",
                               label_map=extra_args[1] if extra_args else None)
    manifest = reader.read().with_label_set("4class")
    folds = protocols.leave_one_speaker_out(manifest, valid_speakers=1)
    assert len(folds) == n_speakers
    split = protocols.check_speaker_disjoint(folds[0])
    split_csv = tmp_path / "fold0.csv"
    split.to_manifest().to_csv(split_csv)
    # 3. write the store, one store split per protocol part
    store = tmp_path / "store"
    assert data_main(["write", "--corpus", "csv", "--manifest", str(split_csv), "--label-set", "4class",
                      "--out", str(store), "--no-progress"]) == 0
    spec = load_spec(store)
    assert spec.counts == {k: v for k, v in split.sizes().items() if v}
    # 4. validate: zero anomalies against the store's declared schema
    assert validate_main([str(store), "--fail-on-anomalies"]) == 0
    assert "no anomalies" in capsys.readouterr().out
    assert (store / "validation" / "report.png").exists()
    # the store feeds training
    xs, ys = next(iter(pipelines.from_store(store, "train", features="audio", batch_size=4)))
    assert xs.shape[0] == ys.shape[0] == 4
    return manifest, split


def test_manifest_csv_corpus_end_to_end_synthetic(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = []
    for s in range(4):
        for k, emo in enumerate(CLASSES):
            for j in range(2):
                rate = (16000, 22050, 44100)[(s + j) % 3]
                t = np.arange(int(rate * 0.6)) / rate
                x = 0.2 * np.sin(2 * np.pi * (150 + 50 * k) * t) + 0.01 * rng.normal(size=t.size)
                path = tmp_path / "clips" / f"s{s}_{emo}_{j}.wav"
                path.parent.mkdir(exist_ok=True)
                sf.write(path, np.stack([x, x], 1) if j else x, rate)
                rows.append({"path": f"clips/{path.name}", "label": emo, "speaker": f"s{s}",
                             "gender": "f" if s % 2 else "m", "culture": "toy"})
    csv_path = tmp_path / "my_corpus.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    manifest, split = _run_user_flow(tmp_path, csv_path, [], capsys, n_speakers=4)
    # from_manifest decodes, resamples and down-mixes the raw files directly
    xs, ys = next(iter(pipelines.from_manifest(manifest, CLASSES, crop_seconds=0.5, batch_size=8)))
    assert xs.shape == (8, 8000) and ys.dtype.name == "int64"


@pytest.mark.data
def test_manifest_csv_corpus_end_to_end_real(data_dir, tmp_path, capsys):
    """EmoDB files described by a user's CSV with the corpus's own German letter codes and a label map."""
    from emozoo.data.corpora import load_manifest
    emodb = load_manifest("emodb", data_dir=data_dir)
    speakers = sorted({r.speaker for r in emodb})[:3]
    picked = [r for s in speakers for r in [r for r in emodb if r.speaker == s][:20]]
    csv_path = tmp_path / "emodb_subset.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label", "speaker", "culture"])
        for r in picked:
            w.writerow([r.path, r.clip_id[5], r.speaker, "german"])     # EmoDB's emotion letter
    label_map = tmp_path / "map.json"
    label_map.write_text(json.dumps({"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy",
                                     "T": "sad", "N": "neutral"}))
    manifest, _ = _run_user_flow(tmp_path, csv_path, ["--label-map", str(label_map)], capsys, n_speakers=3)
    by_id = {r.clip_id: r.emotion for r in load_manifest("emodb", data_dir=data_dir).with_label_set("4class")}
    from pathlib import Path
    for r in manifest:
        assert r.emotion == by_id[Path(r.path).stem]
