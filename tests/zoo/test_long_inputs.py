"""Bounded time and memory for any input size (issue 16, section 4).

Long recordings are predicted window by window while decoded block by block (memory does not
grow with the length), a whole file over 60 s is refused with the hint to use windows, and an
8000 x 8000 JPEG is shrunk while decoding, before face detection.
"""
import json
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import emozoo
from emozoo.errors import InputRefused
from emozoo.predict.__main__ import main
from emozoo.zoo.windows import predict_windows, windows

REPO = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((REPO / "saved_models" / "registry.json").read_text())["models"]
SR = 16000


def _tone(seconds, rate=SR, f0=150.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * f0 * t) * (1 + 0.3 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def _write_long(path, seconds, rate=SR, block=60):
    """A ``seconds`` long voiced recording written block by block (never whole in memory)."""
    import soundfile as sf
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        left = seconds
        while left > 0:
            f.write(_tone(min(block, left), rate))
            left -= block
    return path


def test_windows_cut_the_file_exactly(tmp_path):
    import soundfile as sf
    rate = 22050
    x = np.random.default_rng(0).uniform(-0.5, 0.5, int(10.3 * rate)).astype(np.float32)
    f = tmp_path / "x.wav"
    sf.write(f, x, rate, subtype="FLOAT")
    got = list(windows(f, 3.0, 1.5, block_seconds=0.7))          # blocks smaller than a window
    assert [(s, e) for s, e, _, _ in got] == [(0, 3), (1.5, 4.5), (3, 6), (4.5, 7.5), (6, 9), (7.5, 10.5 - 0.2)]
    for s, e, w, r in got:
        assert r == rate
        np.testing.assert_array_equal(w, x[int(round(s * rate)):int(round(e * rate))])
    short = list(windows(f, 30.0, 15.0))                        # shorter than one window: one window
    assert len(short) == 1 and short[0][:2] == (0.0, 10.3)
    gaps = list(windows(f, 1.0, 4.0))                           # hop > window: audio between is skipped
    assert [s for s, *_ in gaps] == [0.0, 4.0, 8.0]


def test_window_memory_does_not_grow_with_length(tmp_path):
    peaks = {}
    for _ in windows(_write_long(tmp_path / "warm.wav", 5), 3.0, 1.5):     # imports, decoder set-up
        pass
    for minutes in (1, 5):
        f = _write_long(tmp_path / f"{minutes}.wav", 60 * minutes)
        tracemalloc.start()
        n = sum(1 for _ in windows(f, 3.0, 1.5))
        peaks[minutes] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert n == 40 * minutes - 1                # starts 0, 1.5, ... 57 s per minute
    # a 5-minute recording as float32 is 19 MB: the windower holds a block and a window (< 2 MB)
    assert peaks[5] < 8e6 and peaks[5] < 1.5 * peaks[1], peaks


@pytest.fixture(scope="module")
def ssgan():
    if "ssgan_speech" not in REGISTRY:
        pytest.skip("ssgan_speech not published")
    return emozoo.load("ssgan_speech")


def test_whole_long_file_refused_with_the_window_hint(ssgan, tmp_path):
    f = _write_long(tmp_path / "long.wav", 61)
    with pytest.raises(InputRefused, match=r"61\.0 s long, over the 60 s.*--window 3 --hop 1\.5"):
        ssgan.predict(str(f))


def test_predict_windows_rows_and_refused_pauses(ssgan, tmp_path):
    import soundfile as sf
    x = np.concatenate([_tone(4), np.zeros(5 * SR, np.float32), _tone(3)])     # a pause at 4-9 s
    f = tmp_path / "talk.wav"
    sf.write(f, x, SR, subtype="FLOAT")
    rows = list(predict_windows(ssgan, f, 2.0, 1.0))
    assert [(r["start"], r["end"]) for r in rows] == [(float(s), float(s + 2)) for s in range(11)]
    refused = [r["start"] for r in rows if r["refused"]]
    assert refused == [4.0, 5.0, 6.0, 7.0] and all("silent" in r["refused"] for r in rows if r["refused"])
    for r in rows:
        assert (r["prediction"] is None) == (r["probabilities"] is None) == bool(r["refused"])
        if r["probabilities"]:
            assert abs(sum(r["probabilities"].values()) - 1) < 1e-4
    # a window's probabilities are the model's on that slice of the file
    np.testing.assert_allclose(list(rows[1]["probabilities"].values()),
                               ssgan.predict(x[SR:3 * SR], sample_rate=SR)[0], atol=1e-5)


def test_cli_window_json_stream_and_plot(ssgan, tmp_path, capsys):
    f = _write_long(tmp_path / "call.wav", 12)
    png = tmp_path / "timeline.png"
    code = main(["--model", "ssgan_speech", str(f), "--window", "3", "--hop", "1.5", "--json", "--plot", str(png)])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0, err
    assert [(r["start"], r["end"]) for r in rows] == [(1.5 * k, 1.5 * k + 3) for k in range(7)]
    assert all(r["file"] == str(f) and r["prediction"] in r["probabilities"] for r in rows)
    from PIL import Image
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 400 and img.height > 200
    code = main(["--model", "ssgan_speech", str(f), "--window", "3"])          # table, default hop 1.5
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and len(lines) == 1 + 7 and "1.5-4.5s" in lines[2]
    with pytest.raises(SystemExit):
        main(["--model", "ssgan_speech", str(f), "--plot", str(png)])         # --plot needs --window


def test_cli_list_into_a_closed_pipe():
    import subprocess
    import sys
    # `head -0` exits before reading: the listing always meets a closed pipe
    for reader in ("head -1", "head -0"):
        p = subprocess.run(["bash", "-c", f"set -o pipefail; {sys.executable} -m emozoo.predict --list | {reader}"],
                           cwd=REPO, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "Traceback" not in p.stderr and "BrokenPipe" not in p.stderr, p.stderr


def _status_kb(field):
    return int(next(line for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith(field)).split()[1])


def _reset_peak_rss() -> bool:
    """Reset the process's peak RSS (VmHWM) to its current RSS; False where Linux does not allow it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@pytest.mark.data
def test_8000px_jpeg_is_shrunk_before_face_detection(tmp_path, data_dir):
    from PIL import Image
    if "face_cnn_fer2013" not in REGISTRY:
        pytest.skip("face_cnn_fer2013 not published")
    model = emozoo.load("face_cnn_fer2013")
    src = sorted((data_dir / "jaffe").glob("*.HA*.tiff"))[0]
    big = tmp_path / "big.jpg"
    with Image.open(src) as img:
        img.convert("RGB").resize((8000, 8000), Image.Resampling.BILINEAR).save(big, quality=90)
    small = model.predict(str(src))
    model.predict(str(src))                                           # MTCNN built, caches warm
    from emozoo.data.image import load_image
    measured = _reset_peak_rss()
    before = _status_kb("VmRSS")
    assert load_image(big, grey=False, max_side=1024).shape == (1024, 1024, 3)
    if measured:                  # decoded whole, the 8000x8000 RGB image alone would be 192 MB
        decode_mb = (_status_kb("VmHWM") - before) / 1024
        assert decode_mb < 100, decode_mb
    measured = _reset_peak_rss()
    before = _status_kb("VmRSS")
    t = time.perf_counter()
    p = model.predict(str(big))
    seconds = time.perf_counter() - t
    assert seconds < 20, seconds                                      # was 163-228 s
    if measured:                  # decoding + MTCNN on the shrunk image (was 6.5 GB)
        grew_mb = (_status_kb("VmHWM") - before) / 1024
        assert grew_mb < 400, grew_mb
    assert p.argmax() == small.argmax()


def test_windows_of_a_compressed_file_decoded_frame_by_frame(tmp_path):
    """m4a / mp3 / video soundtracks go through PyAV frames (not libsndfile blocks)."""
    av = pytest.importorskip("av")
    x = _tone(5)
    f = tmp_path / "t.m4a"
    with av.open(str(f), "w") as c:
        s = c.add_stream("aac", rate=SR)
        s.layout = "mono"
        for i in range(0, len(x), 1024):
            frame = av.AudioFrame.from_ndarray(x[None, i:i + 1024], format="fltp", layout="mono")
            frame.sample_rate = SR
            for p in s.encode(frame):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    got = list(windows(f, 2.0, 1.0))
    assert [s for s, *_ in got] == [0.0, 1.0, 2.0, 3.0, 4.0] and all(r == SR for *_, r in got)
    assert all(w.size == 2 * SR for _, _, w, _ in got[:4]) and 5.0 <= got[-1][1] < 5.2   # + AAC priming/padding
    # the decoded tone is the tone (lossy, and delayed by the encoder's priming: best correlation within 0.15 s)
    seg = got[1][2][SR // 2:SR]
    best = max(np.corrcoef(seg, x[SR + SR // 2 - lag:2 * SR - lag])[0, 1] for lag in range(0, 2400, 8))
    assert best > 0.9
