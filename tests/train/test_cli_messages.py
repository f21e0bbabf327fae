"""What the data / evaluate commands tell a newcomer: how many examples were written unlabelled,
and where the reports and confusion matrices went."""
import shutil
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


def test_write_with_a_label_set_says_how_many_examples_are_unlabelled(tmp_path, capsys):
    from emozoo.data.__main__ import main

    for wav in (REPO / "examples").glob("clip_*.wav"):
        shutil.copy(wav, tmp_path / wav.name)
    rows = (REPO / "examples" / "manifest.csv").read_text().splitlines()
    shutil.copy(tmp_path / "clip_1_neutral.wav", tmp_path / "clip_5.wav")
    rows.append("clip_5.wav,surprise,spk3")   # outside 4class: written with label -1
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    rc = main(["write", "--corpus", "csv", "--manifest", str(tmp_path / "m.csv"), "--label-set", "4class",
               "--out", str(tmp_path / "store"), "--no-progress"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "1 of them unlabelled (label -1: emotion outside 4class" in out.out


def test_evaluate_says_where_the_reports_went(tmp_path, capsys):
    from emozoo.evaluate.__main__ import main

    fold = tmp_path / "run" / "seed_0" / "fold_a"
    fold.mkdir(parents=True)
    y = np.asarray([0, 1, 2, 3, 0, 1])
    np.savez(fold / "predictions.npz", y_true=y, y_pred=np.asarray([0, 1, 2, 3, 1, 1]),
             classes=np.asarray(["neutral", "happy", "angry", "sad"]))
    assert main(["--model-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    where = tmp_path / "run" / "evaluation"
    assert f"in {where}/" in out and (where / "seed_0_confusion.png").exists() and (where / "summary.json").exists()
