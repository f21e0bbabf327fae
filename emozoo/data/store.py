"""Write a corpus (manifest) into a TFRecord store of raw media, text or given features.

The raw-media store is what the foundation provides before feature extraction:
audio as a float32 waveform at a fixed rate, images as grey float32 crops,
text as UTF-8 strings, pre-extracted vectors (RAVDESS AV) as they are. Feature
stores (IS10, Fbank, Dface ...) are written the same way by ``emozoo.extract``.

A clip that cannot be decoded never stops the run: the others are written,
and the failures are listed in ``<store>/failures.jsonl`` and raised at the end
as one :class:`~emozoo.errors.EmozooError` naming them.

Reading a store whose shard was truncated or overwritten (TensorFlow's ``DataLossError`` /
``InvalidArgumentError``) is reported as a :class:`CorruptShardError` naming the shard and the
command that rewrites it (:func:`rebuild_command`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from emozoo.data.labels import get_label_set
from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.tfrecord import FeatureSpec, StoreSpec, meta_values, write_store
from emozoo.errors import EmozooError, SchemaError


class StoreWriteError(EmozooError):
    """Some clips could not be decoded; the rest were written."""

    def __init__(self, failures: list[dict], store: Path):
        self.failures, self.store = failures, store
        listed = "\n".join(f"  {f['clip_id']}: {f['error']}" for f in failures[:20])
        more = f"\n  ... and {len(failures) - 20} more" if len(failures) > 20 else ""
        super().__init__(f"{len(failures)} clip(s) could not be decoded and were left out of {store} "
                         f"(listed in {store / 'failures.jsonl'}):\n{listed}{more}")


class CorruptShardError(SchemaError):
    """A shard of a store does not decode (truncated, overwritten, not TFRecord); names it and the fix."""

    def __init__(self, store, shard: str | None, reason: str, records_read: int | None = None):
        self.store, self.shard, self.reason = Path(store), shard, reason
        after = "" if records_read is None else f" after {records_read} record(s)"
        what = f"shard {shard} does not decode{after}" if shard else "a shard is short"
        super().__init__(
            f"store {self.store}: {what} ({reason}); the file was truncated or "
            f"overwritten. Delete the bad shard and rewrite the store with `{rebuild_command(self.store)}`; "
            f"`python -m emozoo.validate {self.store}` checks every shard")


def rebuild_command(store: str | os.PathLike) -> str:
    """The command that (re)writes ``store``: ``emozoo.extract`` with the settings of its
    ``extract.json`` (a rerun rewrites only missing shards), else ``emozoo.data write``.

    Example:
        >>> rebuild_command("tfrecords/emodb_is10")  # doctest: +SKIP
        'python -m emozoo.extract --corpus emodb --features is10 --label-set 4class --out tfrecords/emodb_is10'
    """
    store = Path(store)
    try:
        ext = json.loads((store / "extract.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ext = None
    if isinstance(ext, dict) and isinstance(ext.get("corpus"), str) and isinstance(ext.get("features"), dict):
        cmd = f"python -m emozoo.extract --corpus {ext['corpus']} --features {','.join(ext['features'])}"
        if ext.get("label_set"):
            cmd += f" --label-set {ext['label_set']}"
        seg = ext.get("segment_seconds")
        if isinstance(seg, (list, tuple)) and len(seg) == 2:
            cmd += f" --segment {seg[0]} --segment-hop {seg[1]}"
        elif isinstance(seg, (int, float)):
            cmd += f" --segment {seg}"
        if ext.get("compression"):
            cmd += " --gzip"
        return cmd + f" --out {store}"
    return f"python -m emozoo.data write --corpus <corpus> --out {store}"


def framing_problem(path: str | os.PathLike) -> str | None:
    """Why an uncompressed TFRecord file's framing is broken (a partial record at its end, which
    TensorFlow may skip silently), or None when every record is complete."""
    import struct

    size, pos = os.path.getsize(path), 0
    with open(path, "rb") as f:
        while pos < size:
            head = f.read(12)
            if len(head) < 12:
                return f"{len(head)} trailing byte(s) after the last complete record at offset {pos}"
            (length,) = struct.unpack("<Q", head[:8])
            end = pos + 12 + length + 4
            if end > size:
                return f"record at offset {pos} declares {length} bytes, the file ends {end - size} byte(s) short"
            f.seek(end)
            pos = end
    return None


def tf_read_error(exc) -> str:
    """The first line of a TensorFlow read error, without the op name TensorFlow appends."""
    import re

    msg = (str(getattr(exc, "message", "") or exc).strip().splitlines() or [type(exc).__name__])[0]
    msg = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", msg)
    return msg.split(" [Op:")[0].strip() or type(exc).__name__


def media_features(modality: str, *, sample_rate: int = 16000, image_size: int = 48,
                   feature_dims: dict | None = None) -> tuple[list[FeatureSpec], Callable[[ManifestRow], dict]]:
    """Feature specs and a row -> features function for a corpus modality."""
    if modality == "audio":
        from emozoo.data.audio import load_audio

        def fn(row):
            x, _ = load_audio(row.path, sample_rate)
            return {"audio": x.astype(np.float32), "sample_rate": sample_rate}
        return [FeatureSpec("audio", "float32", (None,), f"mono waveform at {sample_rate} Hz"),
                FeatureSpec("sample_rate", "int64", (), "waveform sample rate")], fn
    if modality == "image":
        from emozoo.data.image import load_image

        def fn(row):
            if "#" in row.path and row.corpus == "fer2013":
                from emozoo.data.corpora.fer2013 import csv_image
                img = csv_image(row.path)
                if image_size != 48:
                    from emozoo.data.image import resize
                    img = resize(img, image_size)
            else:
                img = load_image(row.path, grey=True, size=image_size)
            return {"image": img.astype(np.float32) / 255.0}
        return [FeatureSpec("image", "float32", (image_size, image_size, 1),
                            f"grey image in [0, 1], {image_size}x{image_size}")], fn
    if modality == "text":
        return [FeatureSpec("text", "string", (), "transcript (UTF-8)")], lambda row: {"text": row.transcript}
    if modality == "features":
        from emozoo.data.corpora.ravdess_av import load_features
        cache: dict = {}

        def fn(row):
            if row.path not in cache:
                cache[row.path] = load_features(row.path)
            data, i = cache[row.path], int(row.extras["index"])
            return {"visual_au": data["X_visual_au"][i], "audio_mfcc": data["X_audio_mfcc"][i]}
        return [FeatureSpec("visual_au", "float32", (35,), "OpenFace action units per clip"),
                FeatureSpec("audio_mfcc", "float32", (259,), "MFCC-derived audio vector per clip")], fn
    raise SchemaError(f"no raw-media store for modality {modality!r}")


def write_manifest_store(manifest: Manifest, out_dir: str | os.PathLike, *, modality: str,
                         label_set: str | Sequence[str] | None = None, split_by: str = "split",
                         num_shards: int | None = None, compression: str | None = None,
                         sample_rate: int = 16000, image_size: int = 48, progress: bool = True) -> Path:
    """Decode every clip of ``manifest`` and write it, one store split per value of ``split_by``.

    Rows whose emotion is outside ``label_set`` are written unlabelled (label -1).
    Returns the store folder; raises :class:`StoreWriteError` after writing when
    some clips failed.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ls = get_label_set(label_set) if label_set else None
    classes = ls.classes if ls else tuple(sorted({r.emotion for r in manifest if r.emotion}))
    feats, fn = media_features(modality, sample_rate=sample_rate, image_size=image_size)
    spec = StoreSpec.with_meta(feats, classes=classes, label_set=ls.name if ls else "",
                               description=f"{manifest.name} {modality} store")
    failures: list[dict] = []

    def examples(rows: list[ManifestRow]) -> Iterator[dict]:
        it = rows
        if progress:
            from tqdm.auto import tqdm
            it = tqdm(rows, desc=f"{manifest.name}", unit="clip", leave=False)
        for row in it:
            if ls is not None:
                row = _with_label(row, ls)
            try:
                media = fn(row)
            except EmozooError as exc:
                failures.append({"clip_id": row.clip_id, "path": row.path, "error": str(exc)})
                continue
            yield {**meta_values(row, classes), **media}

    groups: dict[str, list[ManifestRow]] = {}
    for row in manifest:
        groups.setdefault(str(getattr(row, split_by)) or "all", []).append(row)
    for split, rows in groups.items():
        write_store(examples(rows), out_dir, spec, split=split, num_shards=num_shards,
                    num_examples=len(rows), compression=compression)
    manifest.to_jsonl(out_dir / "manifest.jsonl")
    fail_path = out_dir / "failures.jsonl"
    if failures:
        fail_path.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures))
        raise StoreWriteError(failures, out_dir)
    fail_path.unlink(missing_ok=True)
    return out_dir


def _with_label(row: ManifestRow, ls) -> ManifestRow:
    import dataclasses
    emotion = ls.harmonise(row.emotion) if row.emotion and ls.maps(row.emotion) else ""
    return dataclasses.replace(row, emotion=emotion)
