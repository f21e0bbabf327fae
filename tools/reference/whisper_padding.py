"""How much do Whisper features change when a clip is encoded at its own length instead of
zero-padded to 30 s (Whisper's training condition)?

    EMOZOO_DATA_DIR=/work/shared/data python tools/reference/whisper_padding.py [--per-corpus 3]

For the first ``--per-corpus`` clips (sorted by clip id) of EmoDB, CASIA and RAVDESS, it computes
the per-layer mean-pooled hidden states ``[L + 1, d]`` twice: (a) the clip alone (what the
``whisper_base`` extractor stores) and (b) the clip zero-padded to 30 s, pooled over the
positions that cover the clip (``ceil((n // 160) / 2)``); and (c) for reference, (b) pooled over
all 1500 positions. Prints, per layer, the cosine of (a) vs (b) and (a) vs (c), mean and min
over the clips.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-corpus", type=int, default=3)
    ap.add_argument("--preset", default="whisper_base")
    args = ap.parse_args(argv)
    import tensorflow as tf

    from emozoo.backbones.whisper.backbone import WhisperBackbone
    from emozoo.data.audio import load_audio
    from emozoo.data.corpora.base import load_manifest

    data = Path(os.environ["EMOZOO_DATA_DIR"])
    backbone = WhisperBackbone.from_preset(args.preset)
    fn = tf.function(backbone, input_signature=[tf.TensorSpec([None, None], tf.float32)])
    cos = lambda a, b: np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))  # noqa: E731
    res_b, res_c, names = [], [], []
    for corpus in ("emodb", "casia", "ravdess"):
        rows = sorted(load_manifest(corpus, data_dir=data), key=lambda r: r.clip_id)[:args.per_corpus]
        for row in rows:
            wave, _ = load_audio(row.path, target_rate=16000)
            own = fn(wave[None])[0].numpy()
            t = own.shape[1]
            padded = np.zeros((1, 480000), np.float32)
            padded[0, :wave.size] = wave[:480000]
            pad = fn(padded)[0].numpy()
            a = own.mean(1)
            res_b.append(cos(a, pad[:, :t].mean(1)))
            res_c.append(cos(a, pad.mean(1)))
            names.append(f"{corpus}/{row.clip_id} {wave.size / 16000:.2f}s")
            print(names[-1], "cos(own, padded-clip-positions) per layer:", np.round(res_b[-1], 4))
    res_b, res_c = np.array(res_b), np.array(res_c)
    print(f"\n{len(names)} clips; per layer (row 0 = input to block 1, last = after the final norm)")
    print("| layer | cos own vs padded (clip positions), mean | min | cos own vs padded (all 1500), mean | min |")
    print("|---|---|---|---|---|")
    for layer in range(res_b.shape[1]):
        print(f"| {layer} | {res_b[:, layer].mean():.4f} | {res_b[:, layer].min():.4f} | "
              f"{res_c[:, layer].mean():.4f} | {res_c[:, layer].min():.4f} |")


if __name__ == "__main__":
    main()
