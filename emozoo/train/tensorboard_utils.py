"""TensorBoard extras: projector embeddings with label and domain metadata."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf


def write_projector(log_dir, embeddings: np.ndarray, metadata: dict, name: str = "representation") -> Path:
    """Write ``embeddings`` ``[N, d]`` and a metadata TSV (one column per key: label, speaker,
    corpus, culture, split ...) so the TensorBoard projector can colour points by each of them."""
    from tensorboard.plugins import projector

    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    keys = list(metadata)
    n = len(embeddings)
    for k in keys:
        if len(metadata[k]) != n:
            raise ValueError(f"metadata column {k!r} has {len(metadata[k])} values for {n} embeddings")
    clean = lambda v: str(v).replace("\t", " ").replace("\n", " ") or "-"  # noqa: E731
    with open(log_dir / "metadata.tsv", "w", encoding="utf-8") as f:
        f.write("\t".join(keys) + "\n")
        for i in range(n):
            f.write("\t".join(clean(metadata[k][i]) for k in keys) + "\n")
    var = tf.Variable(np.asarray(embeddings, np.float32), name=name)
    ckpt = tf.train.Checkpoint(embedding=var)
    ckpt.save(str(log_dir / "embedding.ckpt"))
    config = projector.ProjectorConfig()
    emb = config.embeddings.add()
    emb.tensor_name = "embedding/.ATTRIBUTES/VARIABLE_VALUE"
    emb.metadata_path = "metadata.tsv"
    projector.visualize_embeddings(str(log_dir), config)
    return log_dir
