"""Regenerate the sample inputs of this folder: ``python examples/make_examples.py`` (fixed seed)."""
from pathlib import Path

import numpy as np
import soundfile as sf

EX = Path(__file__).resolve().parent
TALK = """A: I finally got the offer from the lab in Lyon!
B: No way, that's wonderful. When do you start?
A: In March. I can't stop smiling.
B: I'm going to miss you, though. It won't be the same here.
A: Don't say that, you'll make me sad.
B: Sorry. I'm just annoyed they never gave me a chance like that.
"""


def main():
    (EX / "talk.txt").write_text(TALK)
    rate, rng = 16000, np.random.default_rng(16)
    rows = ["path,label,speaker"]
    for i, (label, f0, rise) in enumerate([("neutral", 120, 0.0), ("happy", 220, 60.0), ("angry", 180, 30.0),
                                           ("sad", 110, -20.0)]):
        t = np.arange(int(1.5 * rate)) / rate
        phase = 2 * np.pi * np.cumsum(f0 + rise * t) / rate
        x = sum((0.5 / k) * np.sin(k * phase) for k in range(1, 6))
        env = np.sin(np.pi * t / t[-1]) ** 0.5 * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
        x = (0.3 * env * x + 0.003 * rng.normal(size=t.size)).astype(np.float32)
        name = f"clip_{i + 1}_{label}.wav"
        sf.write(EX / name, x, rate, subtype="PCM_16")
        rows.append(f"{name},{label},spk{1 + i % 2}")
    (EX / "manifest.csv").write_text("\n".join(rows) + "\n")
    n = 3
    np.savez(EX / "av_features.npz", X_audio_mfcc=rng.normal(0, 1, (n, 259)).astype(np.float32),
             X_visual_au=np.abs(rng.normal(0.5, 0.5, (n, 35))).astype(np.float32))


if __name__ == "__main__":
    main()
