"""Write the Whisper parity fixtures from the reference runtime (CTranslate2), run once by hand.

Runs in a throwaway venv, never in emozoo's (see tools/reference/README.md):

    python -m venv /tmp/refvenv_ct2
    /tmp/refvenv_ct2/bin/pip install ctranslate2 numpy soundfile librosa
    /tmp/refvenv_ct2/bin/python tools/reference/whisper_reference.py \
        --data-dir /work/shared/data --out tests/backbones/fixtures/whisper_reference.npz

For each input (two real 16 kHz clips named by their path under the data dir, one synthetic
signal from :func:`synthetic_wave`, which the tests regenerate without any data) it stores:

- ``<key>/mel_head``, ``<key>/mel_mid``: the reference log-Mel (openai/whisper's recipe in numpy:
  ``librosa.stft`` centred with reflect padding, periodic Hann 400, hop 160, power, last frame
  dropped, ``librosa.filters.mel(sr=16000, n_fft=400, n_mels=80)``, log10 clamp max-8,
  (x+4)/4) on frames 0-3 and 4 middle frames, ``<key>/mel_mean`` its mean over time;
- ``<key>/enc_mean``, ``<key>/enc_frames``: CTranslate2 ``Whisper.encode`` (fp32 compute) on the
  clip's own length: the encoder output's mean over time and positions 0 and T//2;
- ``<key>/pad_enc_mean``, ``<key>/pad_enc_frames``: the same on the clip zero-padded to 30 s
  (Whisper's training condition), mean over the positions that cover the clip;
- ``<key>/tiny_enc_mean``: tiny.en's encoder output mean (clip length);
- ``meta``: JSON with the versions used, the clips and the settings.

All arrays float32; the file is a few tens of KB.
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

SR = 16000
CLIPS = {
    "casia": "casia/liuchanhg/angry/201.flac",
    "ravdess": "ravdess/Actor_01/03-01-05-01-01-01-01.flac",
}


def synthetic_wave(seconds: float = 2.5, sr: int = SR) -> np.ndarray:
    """A deterministic speech-like test signal (also in tests/backbones/test_whisper.py): a
    gliding 120-240 Hz harmonic tone with a 4 Hz syllable envelope and a weak 3 kHz tone."""
    t = np.arange(int(seconds * sr)) / sr
    f0 = 120.0 + 40.0 * t
    phase = 2 * np.pi * np.cumsum(f0) / sr
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    env = 0.5 * (1 - np.cos(2 * np.pi * 4.0 * t))
    return (0.1 * env * voiced + 0.01 * np.sin(2 * np.pi * 3000.0 * t)).astype(np.float32)


def reference_log_mel(wave: np.ndarray) -> np.ndarray:
    """openai/whisper ``log_mel_spectrogram`` in numpy/librosa -> ``[frames, 80]`` float32."""
    import librosa
    stft = librosa.stft(wave.astype(np.float32), n_fft=400, hop_length=160, window="hann", center=True,
                        pad_mode="reflect")
    power = np.abs(stft[:, :-1]) ** 2
    filters = librosa.filters.mel(sr=SR, n_fft=400, n_mels=80)
    mel = filters @ power
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).T.astype(np.float32)


def encode(model, mel: np.ndarray) -> np.ndarray:
    import ctranslate2
    x = ctranslate2.StorageView.from_array(np.ascontiguousarray(mel.T[None], dtype=np.float32))
    return np.array(model.encode(x, to_cpu=True))[0].astype(np.float32)


def main(argv=None):
    import ctranslate2
    import librosa
    import soundfile as sf

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--weights-dir", default=str(Path.home() / ".cache/emozoo/weights"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    base = ctranslate2.models.Whisper(str(Path(args.weights_dir) / "whisper_base"), device="cpu",
                                      compute_type="float32", intra_threads=2)
    tiny = ctranslate2.models.Whisper(str(Path(args.weights_dir) / "whisper_tiny_en"), device="cpu",
                                      compute_type="float32", intra_threads=2)
    waves = {"synthetic": synthetic_wave()}
    for key, rel in CLIPS.items():
        wave, sr = sf.read(Path(args.data_dir) / rel, dtype="float32")
        if sr != SR or wave.ndim != 1:
            raise SystemExit(f"{rel}: expected mono {SR} Hz, got {sr} Hz, shape {wave.shape}")
        waves[key] = wave
    out = {}
    for key, wave in waves.items():
        mel = reference_log_mel(wave)
        n = mel.shape[0]
        mid = n // 2
        out[f"{key}/mel_head"] = mel[:4]
        out[f"{key}/mel_mid"] = mel[mid:mid + 4]
        out[f"{key}/mel_mean"] = mel.mean(0)
        enc = encode(base, mel)
        t = enc.shape[0]
        out[f"{key}/enc_mean"] = enc.mean(0)
        out[f"{key}/enc_frames"] = enc[[0, t // 2]]
        padded = np.zeros(30 * SR, np.float32)
        padded[:len(wave)] = wave
        pad_enc = encode(base, reference_log_mel(padded))
        out[f"{key}/pad_enc_mean"] = pad_enc[:t].mean(0)
        out[f"{key}/pad_enc_frames"] = pad_enc[[0, t // 2]]
        out[f"{key}/tiny_enc_mean"] = encode(tiny, mel).mean(0)
        print(f"{key}: {len(wave)} samples, {n} frames, {t} positions")
    meta = {"generator": "tools/reference/whisper_reference.py", "clips": CLIPS,
            "synthetic": "synthetic_wave(2.5)", "compute_type": "float32",
            "versions": {"ctranslate2": ctranslate2.__version__, "numpy": np.__version__,
                         "librosa": librosa.__version__, "soundfile": sf.__version__,
                         "python": platform.python_version()},
            "weights": ["whisper_base/model.bin", "whisper_tiny_en/model.bin"]}
    out["meta"] = np.array(json.dumps(meta))
    np.savez(args.out, **out)
    print(f"wrote {args.out}: {Path(args.out).stat().st_size} bytes; {meta['versions']}")


if __name__ == "__main__":
    main()
