"""The extraction of :func:`emozoo.extract.extract_corpus` as an Apache Beam pipeline.

``python -m emozoo.extract --corpus emodb --features is10 --runner DirectRunner --workers 2``
runs the same extraction as the in-process runner, on Beam::

    Create(units)                     one unit = a chunk of one shard's clips (manifest rows as dicts)
      | ParDo(ExtractUnitFn)          extractors built once per worker (DoFn.setup); per unit:
                                      serialised examples + failures of every target store
      | GroupByKey(shard)             the units of each shard
      | ParDo(WriteShardFn)           each store's shard written to ``.tmp``, its progress record
                                      (count, failures), then renamed: the in-process layout

The shards, their order of examples (chunks sorted by index, rows in plan order)
and the serialisation (sorted feature keys) are the in-process runner's, so a
Beam store is byte-identical to an in-process one. ``extract_corpus`` plans the
shards before (skipping finished ones: resumable) and writes ``spec.json``,
``schema.pbtxt``, ``manifest.jsonl``, ``failures.jsonl`` (from the shards'
progress records) and the validation after the pipeline, as for any runner.

Runners: ``DirectRunner`` runs Beam's FnApiRunner (the batch engine of the Python
DirectRunner) with ``--direct_running_mode=multi_processing`` and
``--direct_num_workers=<workers>`` unless given otherwise. It is built directly:
Beam's own ``DirectRunner`` first tries Prism, a Go binary it downloads from
GitHub at run time, which ignores ``direct_num_workers`` (and cannot be fetched
offline). Any other runner name (``FlinkRunner``, ``SparkRunner``,
``DataflowRunner``) is passed to Beam with ``pipeline_args``; its workers need
emozoo installed and the store folder on a file system they all see.

``apache_beam`` is imported by this module, which ``extract_corpus`` imports only
when a runner is requested (``pip install -e ".[beam]"``).
"""
from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Sequence

from emozoo.errors import EmozooError

try:
    import apache_beam as beam
except ImportError as _exc:
    raise EmozooError(f"--runner needs Apache Beam ({_exc}); install it with: pip install -e \".[beam]\" "
                      "(or pip install \"apache-beam>=2.60\")") from _exc

# clips per unit of work when no extractor asks for larger batches (audio clips decode one by one)
AUDIO_CHUNK = 8


def _direct_args(pipeline_args: Sequence[str], workers: int) -> list[str]:
    args = list(pipeline_args)
    if not any(a.startswith("--direct_num_workers") for a in args):
        args.append(f"--direct_num_workers={max(1, workers)}")
    if not any(a.startswith("--direct_running_mode") for a in args):
        args.append("--direct_running_mode=multi_processing")
    if not any(a.startswith("--default_sdk_harness_log_level") for a in args):
        args.append("--default_sdk_harness_log_level=WARNING")   # the workers' INFO lines drown the output
    return args


def plan_units(jobs: Sequence[tuple], chunk: int) -> list[tuple]:
    """``(shard, chunk index, rows as dicts)`` units of the shard jobs ``(shard, rows, targets)``."""
    units = []
    for shard, rows, _ in jobs:
        for k, s in enumerate(range(0, max(len(rows), 1), chunk)):
            units.append((shard, k, [dataclasses.asdict(r) for r in rows[s: s + chunk]]))
    return units


class ExtractUnitFn(beam.DoFn):
    """Features of one unit of clips -> ``(shard, (chunk index, [records per target], [failures per target]))``.

    Args:
        targets: shard -> ``[(store path, feature names, StoreSpec json)]`` (the stores that still need it).
        classes: the label set's classes (label indices).
        segment: ``(seconds, hop)`` or None (see ``extract_corpus``).
    """

    def __init__(self, targets: dict, classes: Sequence[str], segment=None):
        super().__init__()
        self.targets, self.classes, self.segment = targets, tuple(classes), segment

    def setup(self):
        # once per worker: the extractors (openSMILE, TF graphs, the MiniLM encoder ...) and the specs
        from emozoo.data.tfrecord import StoreSpec
        from emozoo.features.registry import get_extractor
        names = dict.fromkeys(n for ts in self.targets.values() for _, ns, _ in ts for n in ns)
        self.extractors = {n: get_extractor(n) for n in names}
        self.specs = {shard: [(p, tuple(ns), StoreSpec.from_json(spec)) for p, ns, spec in ts]
                      for shard, ts in self.targets.items()}
        self.clips = beam.metrics.Metrics.counter("emozoo.extract", "clips")

    def process(self, unit):
        from emozoo.data.manifest import ManifestRow
        from emozoo.extract.runner import _shard_records
        shard, index, row_dicts = unit
        rows = [ManifestRow(**d) for d in row_dicts]
        targets = self.specs[shard]
        needed = [self.extractors[n] for n in dict.fromkeys(n for _, ns, _ in targets for n in ns)]
        records = [[] for _ in targets]
        failures = [[] for _ in targets]
        for i, record, failure in _shard_records(rows, needed, targets, self.classes, self.segment):
            if failure is not None:
                failures[i].append(failure)
            else:
                records[i].append(record)
        self.clips.inc(len(rows))
        yield shard, (index, records, failures)


class WriteShardFn(beam.DoFn):
    """All units of one shard -> that shard of every target store, atomically, with its progress record.

    Args:
        targets: as for :class:`ExtractUnitFn`.
        compression: "" or "GZIP".
    """

    def __init__(self, targets: dict, compression: str = ""):
        super().__init__()
        self.targets, self.compression = targets, compression

    def process(self, item):
        import tensorflow as tf

        from emozoo.extract.runner import _commit_shard
        shard, units = item
        units = sorted(units, key=lambda u: u[0])
        if [u[0] for u in units] != list(range(len(units))):
            raise EmozooError(f"shard {shard}: got units {[u[0] for u in units]}, not 0..{len(units) - 1}")
        opts = tf.io.TFRecordOptions(compression_type=self.compression or None)
        counts = []
        for i, (path, _, _) in enumerate(self.targets[shard]):
            path = Path(path)
            tmp = path / (shard + ".tmp")
            count = 0
            try:
                with tf.io.TFRecordWriter(str(tmp), opts) as writer:
                    for _, records, _ in units:
                        for record in records[i]:
                            writer.write(record)
                            count += 1
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            _commit_shard(path, shard, count, [f for _, _, fails in units for f in fails[i]])
            counts.append(count)
        yield shard, counts


def build_pipeline(pipeline, jobs: Sequence[tuple], classes: Sequence[str], compression: str,
                   segment=None):
    """Add the extraction of the shard ``jobs`` (``(shard, rows, [(path, names, StoreSpec)])``) to ``pipeline``.

    Returns the PCollection of ``(shard, [examples written per target store])``.
    """
    from emozoo.extract.runner import _chunk_size
    from emozoo.features.registry import get_extractor
    names = dict.fromkeys(n for _, _, ts in jobs for _, ns, _ in ts for n in ns)
    chunk = _chunk_size([get_extractor(n) for n in names], AUDIO_CHUNK)
    targets = {shard: [(str(Path(p).resolve()), list(ns), spec.to_json()) for p, ns, spec in ts]
               for shard, _, ts in jobs}
    return (pipeline
            | "Units" >> beam.Create(plan_units(jobs, chunk))
            | "Extract" >> beam.ParDo(ExtractUnitFn(targets, classes, segment))
            | "ByShard" >> beam.GroupByKey()
            | "WriteShards" >> beam.ParDo(WriteShardFn(targets, compression)))


def run_pipeline(jobs: Sequence[tuple], classes: Sequence[str], compression: str, *, segment=None,
                 runner: str = "DirectRunner", pipeline_args: Sequence[str] = (), workers: int = 1,
                 progress: bool = True) -> dict:
    """Run the extraction of ``jobs`` on Beam ``runner``; blocks until done.

    Returns ``{"runner", "clips", "shards", "seconds"}``. Raises :class:`EmozooError`
    when Beam is missing or the pipeline fails.
    """
    from apache_beam.options.pipeline_options import PipelineOptions
    logging.getLogger("apache_beam").setLevel(logging.WARNING)
    if runner in ("DirectRunner", "direct"):
        from apache_beam.portability.api import beam_provision_api_pb2
        from apache_beam.runners.portability.fn_api_runner import fn_runner
        from apache_beam.runners.portability.portable_runner import JobServiceHandle
        options = PipelineOptions(_direct_args(pipeline_args, workers))
        info = fn_runner.ExtendedProvisionInfo(beam_provision_api_pb2.ProvisionInfo(
            pipeline_options=JobServiceHandle.encode_pipeline_options(options.get_all_options())))
        beam_runner = fn_runner.FnApiRunner(provision_info=info)
    else:
        options = PipelineOptions(list(pipeline_args) + [f"--runner={runner}"])
        beam_runner = None
    clips = sum(len(rows) for _, rows, _ in jobs)
    start = time.perf_counter()
    if progress:
        print(f"beam {runner}: extracting {clips} clips in {len(jobs)} shard(s) "
              f"[{' '.join(_shown(options))}]", flush=True)
    try:
        pipeline = beam.Pipeline(runner=beam_runner, options=options)
        build_pipeline(pipeline, jobs, classes, compression, segment)
        result = pipeline.run()
        result.wait_until_finish()
    except EmozooError:
        raise
    except Exception as exc:  # a Beam/worker failure: say which runner, keep the cause
        raise EmozooError(f"Beam pipeline on {runner} failed: {type(exc).__name__}: {exc}") from exc
    seconds = time.perf_counter() - start
    if progress:
        print(f"beam {runner}: {clips} clips in {seconds:.1f} s ({clips / seconds:.1f} clips/s)", flush=True)
    return {"runner": runner, "clips": clips, "shards": len(jobs), "seconds": seconds}


def _shown(options) -> list[str]:
    return [f"--{k}={v}" for k, v in sorted(options.get_all_options(drop_default=True).items())]
