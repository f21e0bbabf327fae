"""Extract features of every clip of a manifest into sharded TFRecord stores.

Layout and guarantees
---------------------
Without ``out``, each feature gets its own store ``<out_root>/<corpus>_<feature>``
(``tfrecords/emodb_is10``, ``tfrecords/emodb_fbank`` ...); with ``out`` all
requested features go into one store at ``out``, one example per clip holding
them all. Every example also carries the manifest columns
(:data:`emozoo.data.tfrecord.META_FEATURES`), written with
:meth:`StoreSpec.with_meta`.

* **Deterministic partition.** The clips of each store split (the manifest's
  ``split`` column, ``all`` when empty) are sorted by ``clip_id`` and dealt
  round-robin over ``ceil(n / examples_per_shard)`` shards: shard ``k`` holds
  clips ``k, k + n_shards, ...``. The same manifest and settings always give
  the same shards with the same content.
* **Resumable.** A shard is written to ``.tmp`` and renamed when complete,
  after its record ``progress/<shard>.json`` (count, failures). A rerun skips
  every shard whose file and record both exist, so an interrupted extraction
  picks up where it stopped.
* **Parallel.** ``workers > 1`` extracts shards in separate (spawned) processes;
  examples are serialised with sorted keys, so shards are byte-identical for
  any number of workers and across runs.
* **Idempotent and safe.** ``extract.json`` holds everything that determines
  the values (extractor configs, label set, the clip ids of every shard). A
  rerun with other settings or another manifest refuses to mix them into the
  store (:class:`~emozoo.errors.SchemaError`) unless ``overwrite=True``.
* **Segments.** ``segment_seconds`` cuts long recordings (AMI meetings) into
  fixed-length examples ``<clip_id>#<k>``.
* **Failures are listed, not fatal.** A clip that cannot be decoded or whose
  features cannot be computed is left out, listed in ``<store>/failures.jsonl``,
  and, once everything else is written and validated, raised as one
  :class:`~emozoo.data.store.StoreWriteError` naming them all.
* **Validated.** ``spec.json`` + ``schema.pbtxt`` are written last, then the
  store's statistics, inferred schema and anomalies
  (:func:`emozoo.validate.validate_store`) go to ``<store>/validation/``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Sequence

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.data.store import StoreWriteError
from emozoo.data.tfrecord import (SCHEMA_FILE, SPEC_FILE, StoreSpec, _shard_name, encode_example, meta_values,
                                  save_spec)
from emozoo.errors import EmozooError, FeatureError, SchemaError

EXTRACT_FILE = "extract.json"
PROGRESS_DIR = "progress"
FAILURES_FILE = "failures.jsonl"


@dataclasses.dataclass
class ExtractResult:
    """What one store of an extraction run ended with."""

    store: Path
    features: tuple
    counts: dict            # split -> examples written
    shards_written: int
    shards_skipped: int
    failures: list          # [{"clip_id", "path", "error"}]
    anomalies: int | None = None   # findings of the validation (None when not validated)
    validation_summary: str = ""

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))


def store_paths(corpus: str, features: Sequence[str], out: str | os.PathLike | None = None,
                out_root: str | os.PathLike = "tfrecords") -> list[tuple[Path, tuple]]:
    """``[(store folder, feature names)]``: one combined store at ``out``, else one per feature."""
    if out is not None:
        return [(Path(out), tuple(features))]
    return [(Path(out_root) / f"{corpus}_{f}", (f,)) for f in features]


def plan_shards(manifest: Manifest, *, split_by: str = "split",
                examples_per_shard: int = 256) -> dict[str, list[list[ManifestRow]]]:
    """The deterministic partition: split -> shards -> rows (see the module docstring)."""
    if examples_per_shard < 1:
        raise SchemaError(f"examples_per_shard must be >= 1, got {examples_per_shard}")
    groups: dict[str, list[ManifestRow]] = {}
    for row in manifest:
        groups.setdefault(str(getattr(row, split_by)) or "all", []).append(row)
    plan = {}
    for split in sorted(groups):
        rows = sorted(groups[split], key=lambda r: r.clip_id)
        ids = [r.clip_id for r in rows]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise SchemaError(f"split {split!r} has duplicate clip ids {dup}: a store needs unique ids")
        n = max(1, math.ceil(len(rows) / examples_per_shard))
        plan[split] = [rows[k::n] for k in range(n)]
    return plan


def _fingerprint(rows: Sequence[ManifestRow], with_text: bool = False) -> str:
    """Hash of what the stored values depend on; ``with_text``: the (non-empty) transcripts too,
    for stores of row extractors (text embeddings), so an edited transcript is not skipped on resume."""
    h = hashlib.sha256()
    for r in rows:
        key = [r.clip_id, r.path, r.emotion, r.speaker, r.culture, r.split]
        if with_text and r.transcript:
            key.append(r.transcript)
        h.update(json.dumps(key, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]


def _plan_record(plan, extractors, classes, label_set, compression) -> dict:
    with_text = any(e.input == "row" for e in extractors)
    return {
        "features": {e.name: e.config for e in extractors},
        "classes": list(classes), "label_set": label_set, "compression": compression,
        "shards": {split: [[_shard_name(split, k, len(shards), compression), len(rows),
                            _fingerprint(rows, with_text)]
                           for k, rows in enumerate(shards)] for split, shards in plan.items()},
    }


def _prepare_store(path: Path, record: dict, overwrite: bool) -> None:
    """Create the store folder, or check that an existing one was made with the same settings."""
    path.mkdir(parents=True, exist_ok=True)
    old_path = path / EXTRACT_FILE
    if old_path.exists():
        try:
            old = json.loads(old_path.read_text())
        except json.JSONDecodeError:
            old = None
        if old != record:
            if not overwrite:
                names = {"features": "features/configs", "label_set": "label set", "classes": "label set",
                         "shards": "clips/partition", "segment_seconds": "segmenting", "corpus": "corpus",
                         "compression": "compression"}
                what = ", ".join(sorted({names.get(k, k) for k in set(old) | set(record)
                                         if old.get(k) != record.get(k)})) if isinstance(old, dict) \
                    else "an unreadable extract.json"
                raise SchemaError(f"{path} holds an extraction with other settings ({what} differ); "
                                  "rerun with --overwrite to replace it, or choose another --out")
            _clear_store(path)
    elif (path / SPEC_FILE).exists() and not overwrite:
        raise SchemaError(f"{path} holds a store not written by emozoo.extract (no {EXTRACT_FILE}); "
                          "choose another --out or pass --overwrite")
    elif overwrite:
        _clear_store(path)
    path.mkdir(parents=True, exist_ok=True)
    tmp = path / (EXTRACT_FILE + ".tmp")
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, old_path)


def _clear_store(path: Path) -> None:
    """Remove what an extraction writes (shards, records, spec, validation), nothing else."""
    for p in path.iterdir():
        if p.name.endswith((".tfrecord", ".tfrecord.gz", ".tmp")) or p.name in (
                SPEC_FILE, SCHEMA_FILE, EXTRACT_FILE, FAILURES_FILE, "manifest.jsonl"):
            p.unlink()
        elif p.is_dir() and p.name in (PROGRESS_DIR, "validation"):
            shutil.rmtree(p)


def _shard_done(path: Path, shard: str) -> dict | None:
    rec = path / PROGRESS_DIR / (shard + ".json")
    if (path / shard).exists() and rec.exists():
        try:
            return json.loads(rec.read_text())
        except json.JSONDecodeError:
            return None
    return None


def _error_message(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, EmozooError) else f"{type(exc).__name__}: {exc}"


def _batched_row_values(rows: Sequence[ManifestRow], extractors) -> dict:
    """``{feature: {clip_id: array | Exception}}`` of the row extractors, ``Extractor.batch`` per chunk.

    One batched call (e.g. one encoder pass) covers up to ``batch_size`` rows; a
    failure of the whole call is listed for each of its rows.
    """
    out = {}
    for ext in extractors:
        if ext.input != "row":
            continue
        got = {}
        for s in range(0, len(rows), ext.batch_size):
            chunk = list(rows[s: s + ext.batch_size])
            try:
                values = ext.batch(chunk)
            except Exception as exc:  # the batch call itself failed: every row of it is a failure
                values = [exc] * len(chunk)
            got.update(zip((r.clip_id for r in chunk), values))
        out[ext.name] = got
    return out


def _compute(row: ManifestRow, extractors, cache_audio: dict, ready: dict | None = None) -> tuple[dict, dict]:
    """Features of one clip: ``({feature: value}, {feature: error message})``.

    ``ready``: row-extractor values computed beforehand in batches (:func:`_batched_row_values`).
    """
    from emozoo.data.audio import load_audio
    values, errors = {}, {}
    for ext in extractors:
        try:
            if ext.input == "row":
                value = ready[ext.name][row.clip_id] if ready and ext.name in ready else ext(row)
                if isinstance(value, BaseException):
                    raise value
                values[ext.name] = value
                continue
            if ext.sample_rate not in cache_audio:
                cache_audio[ext.sample_rate] = load_audio(row.path, ext.sample_rate)[0]
            values[ext.name] = ext(cache_audio[ext.sample_rate], ext.sample_rate)
        except Exception as exc:  # a library error on one clip must not lose the others: list it
            errors[ext.name] = _error_message(exc)
    return values, errors


def _units(row: ManifestRow, extractors, segment: tuple | None, ready: dict | None = None):
    """``(clip_id, values, errors)`` of each example a clip gives: itself, or its segments.

    With ``segment = (seconds, hop_seconds)`` the clip's audio is cut into windows
    of ``seconds`` every ``hop_seconds`` (the tail shorter than a window dropped;
    a clip shorter than one window is one example as it is), each an example
    ``<clip_id>#<k>`` (k from 0, five digits).
    """
    if segment is None:
        yield (row.clip_id, *_compute(row, extractors, {}, ready))
        return
    from emozoo.data.audio import load_audio, segment as cut
    rate = extractors[0].sample_rate
    try:
        x = load_audio(row.path, rate)[0]
    except EmozooError as exc:
        yield row.clip_id, {}, {e.name: str(exc) for e in extractors}
        return
    length, hop = int(round(segment[0] * rate)), int(round(segment[1] * rate))
    pieces = cut(x, length, hop, pad_last=False) if len(x) >= length else x[None]
    for k, piece in enumerate(pieces):
        yield (f"{row.clip_id}#{k:05d}", *_compute(row, extractors, {rate: piece}))


def _chunk_size(extractors, default: int) -> int:
    """Rows per batched step: the smallest ``batch_size`` of the row extractors, else ``default``."""
    sizes = [e.batch_size for e in extractors if e.input == "row" and e.compute_batch is not None]
    return min(sizes) if sizes else default


def _shard_records(rows: Sequence[ManifestRow], extractors, targets: Sequence[tuple], classes: Sequence[str],
                   segment: tuple | None = None, on_clip=None):
    """``(target index, serialised example or None, failure or None)`` for each example of ``rows``.

    ``targets`` are ``(store path, feature names, StoreSpec)``; row extractors run
    batched, chunk by chunk, in row order. The serialised examples have sorted
    feature keys: byte-identical in every process, run and runner.
    """
    import tensorflow as tf
    step = _chunk_size(extractors, len(rows) or 1)
    for s in range(0, len(rows), step):
        chunk = rows[s: s + step]
        ready = _batched_row_values(chunk, extractors)
        for row in chunk:
            meta = meta_values(row, classes)
            for clip_id, values, errors in _units(row, extractors, segment, ready):
                for i, (_, names, spec) in enumerate(targets):
                    errs = [f"{n}: {errors[n]}" for n in names if n in errors]
                    if errs:
                        yield i, None, {"clip_id": clip_id, "path": row.path, "error": "; ".join(dict.fromkeys(errs))}
                        continue
                    record = encode_example({**meta, "clip_id": clip_id, **{n: values[n] for n in names}}, spec)
                    # re-serialised with sorted feature keys: byte-identical shards in every process and run
                    yield i, tf.train.Example.FromString(record).SerializeToString(deterministic=True), None
            if on_clip is not None:
                on_clip()


def _extract_shard(shard: str, rows: Sequence[ManifestRow], targets: Sequence[tuple], classes: Sequence[str],
                   compression: str, on_clip=None, segment: tuple | None = None) -> None:
    """Write one shard into every target store ``(path, feature names, spec)``; atomic per store."""
    import tensorflow as tf

    from emozoo.features.registry import get_extractor
    opts = tf.io.TFRecordOptions(compression_type=compression or None)
    needed = [get_extractor(n) for n in dict.fromkeys(n for _, names, _ in targets for n in names)]
    paths = [Path(p) for p, _, _ in targets]
    writers = [tf.io.TFRecordWriter(str(p / (shard + ".tmp")), opts) for p in paths]
    failures = [[] for _ in targets]
    counts = [0 for _ in targets]
    try:
        for i, record, failure in _shard_records(rows, needed, targets, classes, segment, on_clip):
            if failure is not None:
                failures[i].append(failure)
            else:
                writers[i].write(record)
                counts[i] += 1
    except BaseException:
        for w, p in zip(writers, paths):
            w.close()
            (p / (shard + ".tmp")).unlink(missing_ok=True)
        raise
    for i, (w, p) in enumerate(zip(writers, paths)):
        w.close()
        _commit_shard(p, shard, counts[i], failures[i])


def _commit_shard(path: Path, shard: str, count: int, failures: list) -> None:
    """Record a written ``<shard>.tmp`` as finished: progress record first, then the rename."""
    rec = path / PROGRESS_DIR / (shard + ".json")
    tmp = rec.with_name(rec.name + ".tmp")
    tmp.write_text(json.dumps({"count": count, "failures": failures}, ensure_ascii=False))
    os.replace(tmp, rec)
    os.replace(path / (shard + ".tmp"), path / shard)


def extract_corpus(manifest: Manifest, features: Sequence[str], *, corpus: str | None = None,
                   out: str | os.PathLike | None = None, out_root: str | os.PathLike = "tfrecords",
                   label_set: str | Sequence[str] | None = None, split_by: str = "split",
                   examples_per_shard: int = 256, compression: str | None = None, overwrite: bool = False,
                   validate: bool = True, progress: bool = True, workers: int = 1,
                   segment_seconds: float | None = None, segment_hop: float | None = None,
                   raise_on_failures: bool = True, runner: str | None = None,
                   pipeline_args: Sequence[str] = ()) -> list[ExtractResult]:
    """Extract ``features`` of every clip of ``manifest`` into validated TFRecord stores.

    Args:
        manifest: the clips (audio paths + labels), e.g. ``load_manifest("emodb")``.
        features: extractor names (:func:`emozoo.features.registry.extractor_names`).
        corpus: name used in default store names (default: the manifest's corpus).
        out: one store holding all ``features``; default one store per feature at
            ``<out_root>/<corpus>_<feature>``.
        label_set: map emotions onto this label set (``4class``); clips outside it
            are kept unlabelled (``label`` -1, ``emotion`` "").
        split_by: manifest column naming the store splits.
        examples_per_shard: shard size of the deterministic partition.
        compression: ``None`` or ``"GZIP"``.
        overwrite: replace a store written with other settings instead of refusing.
        validate: compute statistics/anomalies into ``<store>/validation``.
        workers: extract this many shards at once in separate processes (default 1:
            in-process). Shards are independent, so the stores are the same either way.
        segment_seconds, segment_hop: cut every clip into windows of this many seconds
            every ``segment_hop`` (default: the window length), one example each with
            ``clip_id`` ``<clip>#<k>`` (long unlabelled recordings such as AMI meetings,
            seed 003's "utterances"); audio extractors only.
        raise_on_failures: raise :class:`StoreWriteError` at the end when clips failed
            (else only report them in the results).
        runner: ``None`` (default): in this process (or ``workers`` local processes);
            an Apache Beam runner name (``DirectRunner``, ``FlinkRunner``, ``SparkRunner``,
            ``DataflowRunner`` ...): the same extraction as a Beam pipeline
            (:mod:`emozoo.extract.beam`), same shards, spec and validation.
        pipeline_args: further Beam pipeline options (``--flink_master=...``); with
            ``DirectRunner``, ``workers`` becomes ``--direct_num_workers`` (multi-processing).

    Returns one :class:`ExtractResult` per store.
    """
    from emozoo.data.labels import get_label_set
    from emozoo.features.registry import get_extractor

    if not features:
        raise FeatureError("no features requested; pass e.g. features=['is10']")
    if workers < 1:
        raise SchemaError(f"workers must be >= 1, got {workers}")
    if runner is not None:
        from emozoo.extract.beam import run_pipeline   # before touching any store: fails when Beam is missing
    segment = None
    if segment_seconds is not None:
        hop = segment_seconds if segment_hop is None else segment_hop
        if not (segment_seconds > 0 and hop > 0):
            raise SchemaError(f"segment length and hop must be > 0 seconds, got {segment_seconds}, {hop}")
        segment = (float(segment_seconds), float(hop))
    elif segment_hop is not None:
        raise SchemaError("segment_hop needs segment_seconds")
    features = list(dict.fromkeys(features))
    extractors = {name: get_extractor(name) for name in features}
    if segment is not None:
        if any(e.input != "audio" for e in extractors.values()):
            raise SchemaError("segmenting (segment_seconds) works with audio extractors only")
        if len({e.sample_rate for e in extractors.values()}) > 1:
            raise SchemaError("segmenting needs extractors of one sample rate")
    if len(manifest) == 0:
        raise SchemaError(f"manifest {manifest.name!r} has no clips to extract")
    missing_path = [r.clip_id for r in manifest if not r.path]
    if missing_path and any(e.input == "audio" for e in extractors.values()):
        raise SchemaError(f"{len(missing_path)} clip(s) have no media path (e.g. {missing_path[:3]}): "
                          "acoustic features need audio files")
    corpus = corpus or (manifest[0].corpus if len(manifest) else manifest.name)
    ls = get_label_set(label_set) if label_set else None
    if ls is not None:
        manifest = _relabel(manifest, ls)
    classes = ls.classes if ls else tuple(sorted({r.emotion for r in manifest if r.emotion}))
    compression = (compression or "").upper()
    if compression not in ("", "GZIP"):
        raise SchemaError(f"compression must be None or 'GZIP', got {compression!r}")
    plan = plan_shards(manifest, split_by=split_by, examples_per_shard=examples_per_shard)

    stores = []
    for path, names in store_paths(corpus, features, out, out_root):
        exts = [extractors[n] for n in names]
        spec = StoreSpec.with_meta([e.spec for e in exts], classes=classes, label_set=ls.name if ls else "",
                                   description=f"{corpus} {'+'.join(names)} features (emozoo.extract)",
                                   compression=compression)
        record = _plan_record(plan, exts, classes, spec.label_set, compression)
        record["corpus"] = corpus
        if segment is not None:
            record["segment_seconds"] = list(segment)
        _prepare_store(path, record, overwrite)
        (path / PROGRESS_DIR).mkdir(exist_ok=True)
        stores.append({"path": path, "names": names, "spec": spec, "written": 0, "skipped": 0})

    total = sum(len(r) for shards in plan.values() for r in shards)
    bar = None
    if progress and runner is None:       # a Beam run prints its own start and end lines
        from tqdm.auto import tqdm
        bar = tqdm(total=total, desc=f"extract {corpus} [{','.join(features)}]", unit="clip")
    jobs = []
    for split, shards in plan.items():
        for k, rows in enumerate(shards):
            shard = _shard_name(split, k, len(shards), compression)
            todo = [s for s in stores if _shard_done(s["path"], shard) is None]
            for s in stores:
                s["skipped" if s not in todo else "written"] += 1
            if todo:
                jobs.append((shard, rows, [(str(s["path"]), s["names"], s["spec"]) for s in todo]))
            elif bar is not None:
                bar.update(len(rows))
    if runner is not None:
        if jobs:
            run_pipeline(jobs, classes, compression, segment=segment, runner=runner,
                         pipeline_args=pipeline_args, workers=workers, progress=progress)
    elif workers <= 1 or len(jobs) <= 1:
        for shard, rows, targets in jobs:
            _extract_shard(shard, rows, targets, classes, compression,
                           on_clip=(lambda: bar.update(1)) if bar is not None else None, segment=segment)
    else:
        import concurrent.futures
        import multiprocessing
        # spawn: TensorFlow and openSMILE hold threads and locks that fork would copy half-taken
        with concurrent.futures.ProcessPoolExecutor(min(workers, len(jobs)),
                                                    mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_extract_shard, shard, rows, targets, classes, compression, None, segment):
                       len(rows)
                       for shard, rows, targets in jobs}
            for fut in concurrent.futures.as_completed(futures):
                fut.result()
                if bar is not None:
                    bar.update(futures[fut])
    if bar is not None:
        bar.close()

    results = []
    for s in stores:
        results.append(_finish_store(s, plan, compression, manifest, validate))
    if raise_on_failures:
        for r in results:
            if r.failures:
                raise StoreWriteError(r.failures, r.store)
    return results


def _relabel(manifest: Manifest, ls) -> Manifest:
    """Emotions mapped onto label set ``ls``; clips outside it kept with emotion "" (label -1)."""
    rows = []
    for r in manifest:
        emotion = ls.harmonise(r.emotion) if r.emotion and ls.maps(r.emotion) else ""
        rows.append(dataclasses.replace(r, emotion=emotion))
    return Manifest(rows, name=manifest.name)


def _finish_store(s: dict, plan, compression: str, manifest: Manifest, validate: bool) -> ExtractResult:
    path, spec = s["path"], s["spec"]
    failures: list = []
    for split, shards in plan.items():
        names = [_shard_name(split, k, len(shards), compression) for k in range(len(shards))]
        count = 0
        for name in names:
            rec = _shard_done(path, name)
            if rec is None:
                raise SchemaError(f"{path}: shard {name} is missing after extraction; rerun the command")
            count += int(rec["count"])
            failures.extend(rec["failures"])
        spec.shards[split] = names
        spec.counts[split] = count
    save_spec(spec, path)
    manifest.to_jsonl(path / "manifest.jsonl")
    fail_path = path / FAILURES_FILE
    if failures:
        fail_path.write_text("".join(json.dumps(f, ensure_ascii=False) + "\n" for f in failures))
    else:
        fail_path.unlink(missing_ok=True)
    result = ExtractResult(path, s["names"], dict(spec.counts), s["written"], s["skipped"], failures)
    if validate and result.total:
        from emozoo.validate import validate_store, write_outputs
        v = validate_store(path)
        write_outputs(v, path / "validation", plot=True)
        result.anomalies = len(v.findings)
        result.validation_summary = v.summary()
    return result
