"""Inputs that carry no emotion are refused, not labelled (issue 16, section 2).

Real zoo models (baseline_emodb_is10, ssgan_speech, face_cnn_fer2013, dann_iemocap) on generated
garbage: DC, silence, one sample, 10 ms, noise; noise and flat grey images, 1x1 and 1x4000
strips; a conversation file of control bytes. Real clips and faces still predict.
"""
import json
from pathlib import Path

import numpy as np
import pytest

import emozoo
from emozoo.errors import EmozooError, InputRefused
from emozoo.predict.__main__ import main
from emozoo.zoo.input_checks import check_speech, check_text, voiced_frames

REPO = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((REPO / "saved_models" / "registry.json").read_text())["models"]
SR = 16000
SPEECH_MODELS = [m for m in ("baseline_emodb_is10", "ssgan_speech") if m in REGISTRY]
FACE_MODEL = "face_cnn_fer2013"


def _garbage_audio():
    rng = np.random.default_rng(0)
    return {
        "dc": (np.full(2 * SR, 0.5, np.float32), "DC offset only"),
        "silence": (np.zeros(2 * SR, np.float32), "silent"),
        "one_sample": (np.array([0.3], np.float32), "too short"),
        "10ms": (rng.normal(0, 0.1, SR // 100).astype(np.float32), "too short"),
        "noise": (rng.normal(0, 0.1, 2 * SR).astype(np.float32), "no voiced speech"),
        "dc_plus_hiss": (0.4 + rng.normal(0, 0.02, 2 * SR).astype(np.float32), "no voiced speech"),
    }


@pytest.fixture(scope="module")
def speech_models():
    return {m: emozoo.load(m) for m in SPEECH_MODELS}


def test_check_speech_states_the_minimum():
    with pytest.raises(InputRefused, match=r"too short .*the minimum is 0\.25 s"):
        check_speech(np.ones(100, np.float32), SR, "x.wav")
    t = np.arange(SR) / SR
    voiced = (0.3 * np.sin(2 * np.pi * 150 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    assert voiced_frames(voiced, SR) > 50
    check_speech(voiced, SR)                              # periodic in the F0 range: accepted
    assert isinstance(InputRefused("x"), EmozooError)


@pytest.mark.parametrize("kind", list(_garbage_audio()))
@pytest.mark.parametrize("name", SPEECH_MODELS)
def test_speech_models_refuse_garbage_waveforms(speech_models, name, kind):
    wav, match = _garbage_audio()[kind]
    with pytest.raises(InputRefused, match=match):
        speech_models[name].predict(wav, sample_rate=SR)


@pytest.mark.parametrize("name", SPEECH_MODELS)
def test_speech_models_refuse_garbage_files(speech_models, name, tmp_path):
    import soundfile as sf
    for kind, (wav, match) in _garbage_audio().items():
        f = tmp_path / f"{kind}.wav"
        sf.write(f, wav, SR)
        with pytest.raises(InputRefused, match=match):
            speech_models[name].predict(str(f))


@pytest.mark.data
def test_cli_rows_say_why_and_exit_code(tmp_path, capsys, data_dir):
    import soundfile as sf
    files = []
    for kind, (wav, _) in _garbage_audio().items():
        files.append(tmp_path / f"{kind}.wav")
        sf.write(files[-1], wav, SR)
    code = main(["--model", "baseline_emodb_is10", "--json", *map(str, files)])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and "every input was refused" in err
    assert [r["prediction"] for r in rows] == [None] * len(files)
    assert all(r["refused"] and r["probabilities"] is None for r in rows)
    assert "DC offset" in rows[0]["refused"] and "minimum is 0.25 s" in rows[2]["refused"]
    real = data_dir / "emodb" / "wav" / "03a01Fa.flac"
    code = main(["--model", "baseline_emodb_is10", str(files[0]), str(real)])
    out, _ = capsys.readouterr()
    assert code == 0                                      # one input predicted: success
    lines = out.splitlines()
    assert "refused: a DC offset" in lines[1] and lines[2].split()[1] in emozoo.load("baseline_emodb_is10").labels


@pytest.mark.data
@pytest.mark.parametrize("name", SPEECH_MODELS)
def test_real_speech_still_predicts(speech_models, name, data_dir):
    files = [str(data_dir / "emodb" / "wav" / f) for f in ("03a01Fa.flac", "03a01Wa.flac", "08a02Ab.flac")]
    p = speech_models[name].predict(files)
    assert p.shape == (3, len(speech_models[name].labels)) and np.allclose(p.sum(1), 1, atol=1e-4)


@pytest.mark.data
def test_no_emodb_clip_is_refused(data_dir):
    from emozoo.data.audio import load_audio
    for f in sorted((data_dir / "emodb" / "wav").glob("*.flac"))[::5]:     # every 5th of the 535 clips
        check_speech(load_audio(f, SR)[0], SR, str(f))


# ------------------------------------------------------------------ faces

@pytest.fixture(scope="module")
def face_model():
    if FACE_MODEL not in REGISTRY:
        pytest.skip(f"{FACE_MODEL} is not published")
    return emozoo.load(FACE_MODEL)


def _images(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    out = {}
    for name, arr, match in [
            ("noise.png", rng.integers(0, 256, (256, 256, 3), dtype=np.uint8), "no face found"),
            ("grey.png", np.full((256, 256), 128, np.uint8), "flat"),
            ("one.png", np.full((1, 1), 200, np.uint8), "1x1 pixels, under this model's minimum of 48x48"),
            ("strip.png", rng.integers(0, 256, (1, 4000), dtype=np.uint8), "4000x1 pixels"),
            ("small.png", rng.integers(0, 256, (40, 300), dtype=np.uint8), "300x40 pixels")]:
        Image.fromarray(arr).save(tmp_path / name)
        out[name] = (tmp_path / name, match)
    return out


def test_face_model_refuses_images_without_a_face(face_model, tmp_path):
    for name, (path, match) in _images(tmp_path).items():
        with pytest.raises(InputRefused, match=match):
            face_model.predict(str(path))


def test_face_policy_full_on_request(face_model, tmp_path):
    path, _ = _images(tmp_path)["noise.png"]
    face_model.no_face = "full"
    try:
        assert face_model.predict(str(path)).shape == (1, len(face_model.labels))
        with pytest.raises(InputRefused, match="flat"):          # a flat image is refused under any policy
            face_model.predict(str(_images(tmp_path)["grey.png"][0]))
    finally:
        face_model.no_face = "skip"
    with pytest.raises(EmozooError, match="no_face must be"):
        face_model.no_face = "guess"


def test_face_cli_no_face_row(tmp_path, capsys):
    if FACE_MODEL not in REGISTRY:
        pytest.skip(f"{FACE_MODEL} is not published")
    imgs = _images(tmp_path)
    code = main(["--model", FACE_MODEL, "--json", *(str(p) for p, _ in imgs.values())])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 2 and len(rows) == len(imgs)
    assert rows[0]["prediction"] is None and "no face found" in rows[0]["refused"]
    code = main(["--model", FACE_MODEL, "--no-face", "full", "--json", str(imgs["noise.png"][0])])
    row = json.loads(capsys.readouterr().out)
    assert code == 0 and row["prediction"] in row["probabilities"]


@pytest.mark.data
def test_real_faces_still_predict(face_model, data_dir):
    jaffe = sorted((data_dir / "jaffe").glob("*.HA*.tiff"))[:2]
    ck = sorted((data_dir / "ckplus48" / "happy").glob("*.png"))[:2]
    p = face_model.predict([str(f) for f in jaffe + ck])
    assert p.shape == (4, len(face_model.labels)) and np.allclose(p.sum(1), 1, atol=1e-4)


# ------------------------------------------------------------------ conversations

def test_check_text():
    assert check_text("F: hello\tthere\r\nM: hi\n") .startswith("F:")
    with pytest.raises(InputRefused, match="NUL"):
        check_text("F: hi\x00\n")
    with pytest.raises(InputRefused, match="control characters"):
        check_text("".join(chr(i) for i in range(1, 32)) * 4)


@pytest.mark.skipif("dann_iemocap" not in REGISTRY, reason="dann_iemocap not published")
def test_conversation_of_control_bytes_is_refused(tmp_path, capsys):
    f = tmp_path / "ctrl.txt"
    f.write_bytes(bytes(b for b in range(1, 32) if b not in (9, 10, 13)) * 8 + b"\n" * 128)
    code = main(["--model", "dann_iemocap", str(f)])
    _, err = capsys.readouterr()
    assert code == 2 and "not a text file" in err
    f.write_bytes(b"\x00\x01\x02binary\n" * 128)
    code = main(["--model", "dann_iemocap", str(f)])
    assert code == 2 and "NUL" in capsys.readouterr().err


@pytest.mark.skipif("dann_iemocap" not in REGISTRY, reason="dann_iemocap not published")
def test_huge_conversation_file_is_refused_before_reading(tmp_path, monkeypatch):
    from emozoo.models.dann.dann_predictor import ConversationPredictor
    from emozoo.zoo import input_checks
    f = tmp_path / "big.txt"
    f.write_text("F: hello there\n" * 2000)                     # 30 kB
    monkeypatch.setattr(input_checks, "MAX_TEXT_BYTES", 10_000)
    with pytest.raises(InputRefused, match="over the 0 MB"):
        ConversationPredictor.read_conversation(f)


def test_help_and_list_do_not_import_tensorflow():
    import subprocess
    import sys
    code = ("import sys, contextlib, io\nfrom emozoo.predict.__main__ import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--list'])\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print('tensorflow' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.stdout.strip() == "False", p.stderr
