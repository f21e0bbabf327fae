"""Throughput of the all-MiniLM-L6-v2 lexical extractor on one CPU core.

    EMOZOO_DATA_DIR=../shared/data python benchmarks/bench_lexical.py [--n 512] [--batch-size 64] [--repeats 3]

Takes the first ``--n`` utterances of MELD's ``train_sent_emo.csv`` (real
conversational English; without ``EMOZOO_DATA_DIR`` a fixed built-in set of
sentences is cycled instead), then times, with TensorFlow limited to one
intra-op and one inter-op thread and the process pinned to one core:

* ``tokenize``: the pure-Python WordPiece tokenizer alone;
* ``embed``: :func:`emozoo.features.lexical.embed_texts` end to end
  (tokenise, length-sorted batches, Keras encoder, mean pool, L2);
* ``saved_model_text``: the exported SavedModel's ``serving_default``
  signature (in-graph TF tokenizer + encoder), same batches.

Each is run ``--repeats`` times after a warm-up; the median is reported as
sentences/second. Prints JSON and writes ``benchmarks/results/bench_lexical.json``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")

FALLBACK = [
    "A man is eating food.",
    "I can't believe you did that to me!",
    "Well, maybe we should just go home and talk about it tomorrow, okay?",
    "Oh my God, that is the best news I have heard all year.",
    "No.",
    "You know what, forget it, it doesn't matter anymore.",
    "Could you please pass me the salt and the pepper over there?",
    "I'm so sorry for your loss; if there's anything I can do, just let me know.",
]


from _machine import cpu_name as _cpu_name  # noqa: E402  (benchmarks/ is on sys.path when run as a script)


def _texts(n: int) -> tuple[list[str], str]:
    data = os.environ.get("EMOZOO_DATA_DIR")
    path = Path(data) / "meld" / "train_sent_emo.csv" if data else None
    if path is not None and path.is_file():
        with path.open(encoding="utf-8", newline="") as f:
            rows = [r["Utterance"] for r in csv.DictReader(f)]
        return rows[:n], f"MELD train_sent_emo.csv, first {min(n, len(rows))} utterances"
    return [FALLBACK[i % len(FALLBACK)] for i in range(n)], "built-in sentences (EMOZOO_DATA_DIR unset)"


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (tracing, caches)
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=512, help="number of sentences")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--core", type=int, default=None, help="CPU core to pin to (default: lowest allowed)")
    p.add_argument("--no-saved-model", action="store_true", help="skip the SavedModel measurement")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_lexical.json"))
    args = p.parse_args(argv)
    from _machine import pin_one_core
    tf = pin_one_core(args.core)

    import numpy as np
    from emozoo.features import lexical

    texts, source = _texts(args.n)
    t = time.perf_counter()
    enc = lexical.get_encoder(True)
    load_s = time.perf_counter() - t
    n_tokens = [len(enc.tokenizer.encode(s)) for s in texts]

    results = {}
    sec = _time(lambda: [enc.tokenizer.encode(s) for s in texts], args.repeats)
    results["tokenize"] = {"sentences_per_s": len(texts) / sec, "seconds": sec}
    sec = _time(lambda: lexical.embed_texts(texts, batch_size=args.batch_size), args.repeats)
    results["embed"] = {"sentences_per_s": len(texts) / sec, "seconds": sec,
                        "ms_per_sentence": 1000 * sec / len(texts)}
    if not args.no_saved_model:
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            path = lexical.export_saved_model(Path(tmp) / "minilm", encoder=enc)
            export_s = time.perf_counter() - t
            serve = tf.saved_model.load(str(path)).signatures["serving_default"]
            # same length-sorted batches as embed_texts, so padding is comparable
            order = np.argsort(n_tokens, kind="stable")
            batches = [tf.constant([texts[i] for i in order[s: s + args.batch_size]])
                       for s in range(0, len(texts), args.batch_size)]
            sec = _time(lambda: [serve(texts=b) for b in batches], args.repeats)
            results["saved_model_text"] = {"sentences_per_s": len(texts) / sec, "seconds": sec,
                                           "export_seconds": export_s}

    report = {
        "benchmark": "bench_lexical", "model": lexical.MODEL_NAME, "texts": source, "n": len(texts),
        "tokens_mean": float(np.mean(n_tokens)), "tokens_max": int(max(n_tokens)),
        "batch_size": args.batch_size, "repeats": args.repeats, "threads": 1, "load_seconds": load_s,
        "cpu": _cpu_name(), "tensorflow": tf.__version__, "python": platform.python_version(),
        "load_average_1min": os.getloadavg()[0], "results": results,
        "command": "python benchmarks/bench_lexical.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
