"""Text backbone speed and memory: sentences/s of all-mpnet-base-v2 vs all-MiniLM-L6-v2.

    EMOZOO_DATA_DIR=../shared/data python benchmarks/backbones_text.py [--repeats 3] [--threads 1,2]

Input: the first ``--n`` (256) utterances of IEMOCAP (``iemocap_text/dialogues.jsonl``, in file
order; real conversational English, 1-100 words). Each encoder embeds them end to end with
``embed(texts, batch_size=32)`` (pure-Python tokenizer, length-sorted batches, the graph-compiled
Keras encoder, mean pooling, L2): :class:`emozoo.backbones.mpnet.MPNetEncoder` and
:class:`emozoo.features.lexical.MiniLMEncoder`.

TensorFlow's thread pools are fixed when it starts, so each thread count runs in a fresh process,
pinned to that many cores (TF intra-op = threads, inter-op 1). The process loads both encoders
(``load_rss_mb``: how much the resident memory grew while loading that one), runs one untimed
warm-up pass of each (tracing; ``first_s``), then ``--repeats`` timed rounds that alternate the
two encoders, so machine load spreads over both. Rows report sentences/s (median and best
round) and ms per sentence, and ``peak_rss_mb``: the process's peak resident memory during that
encoder's calls (``VmHWM`` reset before each call through ``/proc/self/clear_refs``; it includes
TensorFlow and both models' weights, not the model alone).

``run(args) -> list[dict]`` (one row per encoder x threads) is what
``benchmarks/bench_backbones.py`` imports; run alone, it prints a table and writes
``benchmarks/results/backbones_text.json``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "backbones_text.json"
ENCODERS = ("mpnet", "minilm")


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--repeats", type=int, default=3, help="timed rounds per encoder (interleaved)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--n", type=int, default=256, help="IEMOCAP utterances embedded per round")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--data-dir", default=None, help="corpora folder (default $EMOZOO_DATA_DIR)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def iemocap_sentences(data_dir, n: int) -> list:
    """The first ``n`` IEMOCAP utterances in file order."""
    if not data_dir:
        raise SystemExit("backbones_text needs the real corpora: set EMOZOO_DATA_DIR (or --data-dir)")
    path = Path(data_dir) / "iemocap_text" / "dialogues.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} not found: backbones_text reads IEMOCAP transcripts from there")
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out += [u["text"] for u in json.loads(line)["utterances"]]
            if len(out) >= n:
                break
    return out[:n]


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _worker(cfg: dict) -> list:
    threads = int(cfg["threads"])
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, set(allowed[:threads]))
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, str(REPO))
    from emozoo.backbones.mpnet.encoder import MPNetEncoder
    from emozoo.features.lexical import MiniLMEncoder

    texts = cfg["texts"]
    encoders, info = {}, {}
    for name, cls in (("minilm", MiniLMEncoder), ("mpnet", MPNetEncoder)):
        before, t = _rss_mb("VmRSS"), time.perf_counter()
        encoders[name] = cls()
        info[name] = {"load_s": time.perf_counter() - t, "load_rss_mb": _rss_mb("VmRSS") - before,
                      "times": [], "peaks": []}
    for name, enc in encoders.items():
        t = time.perf_counter()
        enc.embed(texts, batch_size=cfg["batch_size"])
        info[name]["first_s"] = time.perf_counter() - t
    for _ in range(cfg["repeats"]):
        for name, enc in encoders.items():
            _reset_peak()
            t = time.perf_counter()
            enc.embed(texts, batch_size=cfg["batch_size"])
            info[name]["times"].append(time.perf_counter() - t)
            info[name]["peaks"].append(_rss_mb("VmHWM"))
    rows = []
    for name in ENCODERS:
        i, n = info[name], len(texts)
        rows.append({"encoder": name, "dim": encoders[name].dim, "threads": threads, "batch": cfg["batch_size"],
                     "sentences": n, "sent_per_s_median": round(n / statistics.median(i["times"]), 1),
                     "sent_per_s_best": round(n / min(i["times"]), 1),
                     "ms_per_sent_min": round(1000 * min(i["times"]) / n, 2),
                     "ms_per_sent_median": round(1000 * statistics.median(i["times"]) / n, 2),
                     "first_s": round(i["first_s"], 2), "load_s": round(i["load_s"], 1),
                     "load_rss_mb": round(i["load_rss_mb"]), "peak_rss_mb": round(max(i["peaks"])),
                     "repeats": len(i["times"]), "tf": tf.__version__})
    return rows


def run(args=None) -> list:
    """Rows ``{encoder, threads, batch, sent_per_s_median, sent_per_s_best, ms_per_sent_*, peak_rss_mb, ...}``."""
    if args is None or isinstance(args, list):
        args = add_arguments(argparse.ArgumentParser()).parse_args(args or [])
    defaults = add_arguments(argparse.ArgumentParser()).parse_args([])
    get = lambda k: getattr(args, k, None) if getattr(args, k, None) is not None else getattr(defaults, k)
    texts = iemocap_sentences(get("data_dir") or os.environ.get("EMOZOO_DATA_DIR"), int(get("n")))
    rows = []
    for threads in [int(t) for t in str(get("threads")).split(",") if t]:
        cfg = {"threads": threads, "repeats": int(get("repeats")), "batch_size": int(get("batch_size")),
               "texts": texts}
        proc = subprocess.run([sys.executable, __file__, "--worker", "-"], input=json.dumps(cfg),
                              capture_output=True, text=True, cwd=str(REPO))
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith("ROWS ")]
        if proc.returncode != 0 or not line:
            raise SystemExit(f"text worker (threads={threads}) failed:\n{proc.stderr[-3000:]}")
        rows += json.loads(line[-1][5:])
    mp = {r["threads"]: r for r in rows if r["encoder"] == "mpnet"}
    for r in rows:
        if r["encoder"] == "minilm" and r["threads"] in mp:
            r["speed_vs_mpnet"] = round(r["sent_per_s_median"] / mp[r["threads"]]["sent_per_s_median"], 2)
    return rows


def main(argv=None):
    args = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)
    if args.worker:
        cfg = json.loads(sys.stdin.read())
        print("ROWS " + json.dumps(_worker(cfg)), flush=True)
        return
    load_before, t0 = os.getloadavg(), time.time()
    rows = run(args)
    keys = [k for k in rows[0] if k != "tf"] + ["speed_vs_mpnet"]
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
    load_after = os.getloadavg()
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}; {time.time() - t0:.0f} s")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _machine import cpu_name
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": "python benchmarks/backbones_text.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "cpu": cpu_name(),
        "cores": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after], "rows": rows}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
