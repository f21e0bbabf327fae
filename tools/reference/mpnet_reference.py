"""Reference outputs of sentence-transformers/all-mpnet-base-v2 (PyTorch) for emozoo's parity tests.

Run ONCE, by hand, in a throwaway venv (never imported by emozoo; torch is not an emozoo dependency):

    python3 -m venv /tmp/refvenv_pt
    /tmp/refvenv_pt/bin/pip install torch==2.13.0 transformers sentence-transformers safetensors
    HF_HUB_OFFLINE=1 EMOZOO_DATA_DIR=/work/shared/data /tmp/refvenv_pt/bin/python \
        tools/reference/mpnet_reference.py --out tests/backbones/fixtures/mpnet_reference.npz

It loads the model from the emozoo weights folder (``~/.cache/emozoo/weights/mpnet`` or
``$EMOZOO_WEIGHTS_DIR/mpnet``) as all-mpnet-base-v2's ``modules.json`` declares it:
``Transformer(max_seq_length=384) -> Pooling(768, mean) -> Normalize``, and writes:

* ``texts`` (made-up sentences, stored whole) and ``refs`` (real corpus lines, stored only as
  ``corpus:locator`` + the sha256 of the text: the corpora may not be copied into the repo;
  the tests read those lines from ``EMOZOO_DATA_DIR``); ``is_real`` marks which row is which;
* ``token_ids`` int32 ``[n, 384]`` (padded with -1) and ``lengths``;
* ``embeddings`` float32 ``[n, 768]`` (L2-normalised, sentence-transformers ``encode``), and
  ``raw_norms`` (the norm before ``Normalize``);
* ``embeddings_hf`` float32: the same through plain ``transformers.AutoModel`` + mean pooling
  (a cross-check of the pipeline reading);
* ``rel_offsets``/``rel_buckets``: ``MPNetEncoder.relative_position_bucket`` of every offset
  in [-513, 513];
* ``versions``: JSON of the package versions used.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
from pathlib import Path

import numpy as np

MADE_UP = [
    "I can't believe you did that! I'm so happy for you.",
    "Café naïve — «Grüße aus Köln», 我爱北京天安门, İstanbul, 😀🎉 and a <mask> token.",
    "",
    "   \t ",
    " ".join(f"This is sentence number {i}, and it keeps going on and on without any end in sight."
             for i in range(40)),  # far beyond 384 tokens: truncation
]
REAL = [  # corpus:locator
    "iemocap_text:Ses01F_impro01:6",
    "iemocap_text:Ses05F_impro01:10",
    "meld:test_sent_emo.csv:2",
    "meld:test_sent_emo.csv:21",
]


def read_real(data_dir: Path, ref: str) -> str:
    """The text of a real corpus line named ``iemocap_text:<dialogue>:<index>`` or
    ``meld:<csv>:<Sr No.>`` (the same reader lives in the parity test)."""
    corpus, where, key = ref.split(":")
    if corpus == "iemocap_text":
        with open(data_dir / "iemocap_text" / "dialogues.jsonl", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                if d["dialogue"] == where:
                    return d["utterances"][int(key)]["text"]
    elif corpus == "meld":
        with open(data_dir / "meld" / where, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["Sr No."] == key:
                    return row["Utterance"]
    raise KeyError(ref)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="tests/backbones/fixtures/mpnet_reference.npz")
    p.add_argument("--weights", default=None, help="weights folder (default: the emozoo cache's mpnet)")
    args = p.parse_args()
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer, models
    from transformers.models.mpnet import modeling_mpnet

    torch.set_num_threads(2)
    folder = Path(args.weights or Path(os.environ.get("EMOZOO_WEIGHTS_DIR")
                                       or Path.home() / ".cache/emozoo/weights") / "mpnet")
    data_dir = Path(os.environ["EMOZOO_DATA_DIR"])
    real_texts = [read_real(data_dir, r) for r in REAL]
    texts = MADE_UP + real_texts
    is_real = np.array([False] * len(MADE_UP) + [True] * len(REAL))

    tr = models.Transformer(str(folder), max_seq_length=384)
    st = SentenceTransformer(modules=[tr, models.Pooling(768, "mean"), models.Normalize()], device="cpu")
    st.eval()
    features = st.tokenize(texts)
    ids = features["input_ids"].numpy()
    lengths = features["attention_mask"].numpy().sum(1).astype(np.int32)
    token_ids = np.full((len(texts), 384), -1, np.int32)
    for i, n in enumerate(lengths):
        token_ids[i, :n] = ids[i, :n]
    emb = st.encode(texts, batch_size=len(texts), convert_to_numpy=True, normalize_embeddings=False)

    # Cross-check without sentence-transformers: AutoModel + mean pooling + L2; and the raw norms.
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    with torch.no_grad():
        hidden = model(input_ids=features["input_ids"], attention_mask=features["attention_mask"]).last_hidden_state
    m = features["attention_mask"].unsqueeze(-1).float()
    raw = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    raw_norms = raw.norm(dim=1).numpy().astype(np.float32)
    emb_hf = torch.nn.functional.normalize(raw, p=2, dim=1).numpy().astype(np.float32)

    offsets = torch.arange(-513, 514)
    buckets = modeling_mpnet.MPNetEncoder.relative_position_bucket(offsets, num_buckets=32)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "sentence_transformers": sentence_transformers.__version__, "numpy": np.__version__,
                "safetensors_sha256": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
                "pipeline": "Transformer(max_seq_length=384) -> Pooling(768, mean) -> Normalize"}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        texts=np.array([t if not r else "" for t, r in zip(texts, is_real)]),
        refs=np.array([""] * len(MADE_UP) + REAL),
        ref_sha256=np.array([""] * len(MADE_UP) + [hashlib.sha256(t.encode()).hexdigest() for t in real_texts]),
        is_real=is_real, token_ids=token_ids, lengths=lengths,
        embeddings=emb.astype(np.float32), embeddings_hf=emb_hf, raw_norms=raw_norms,
        rel_offsets=offsets.numpy().astype(np.int32), rel_buckets=buckets.numpy().astype(np.int32),
        versions=np.array(json.dumps(versions)))
    print(f"wrote {out} ({out.stat().st_size} bytes): {len(texts)} texts, lengths {lengths.tolist()}")
    print("sentence-transformers vs AutoModel+mean: max abs diff", float(np.abs(emb - emb_hf).max()))
    print(json.dumps(versions))


if __name__ == "__main__":
    main()
