"""Train the face CNN of issue 9: per-culture JAFFE / CK+48 over 5 subject-disjoint splits with
cross-culture tests, and FER2013 (official splits) over seeds.

    EMOZOO_DATA_DIR=../shared/data python pipelines/face_cnn_prepare.py     # the face stores, once
    python pipelines/face_cnn_train.py --preset cpu --out runs/face_cnn       # committed results

Preset sizes: ``--preset gpu`` (the paper's Khorrami-size network, 100 epochs per culture split,
60 FER2013 epochs, 3 seeds; for a GPU machine, not run for the committed results) and ``--preset cpu`` (the ``cpu`` network: the same layers with a quarter of the channels,
80 culture epochs (decay 0.97 per epoch; JAFFE, with 7 steps per epoch, 300 epochs at decay 0.99,
``--per-corpus``), 6 FER2013 epochs (decay 0.8 per epoch), 3 seeds, for
the shared 2-core CPU: what the committed results used). Single arguments override the preset. FER2013 records the Fig. 4 curve every
``--eval-every`` steps (training error of the last mini-batches, error on a fixed random 1000 PublicTest faces).

Output (``--out``): ``culture/<corpus>/split{k}.{weights.h5,json}``, ``fer2013/seed{s}.{weights.h5,json}``,
``config_<tasks>.json``. ``pipelines/face_cnn_table.py`` turns them into tables, figures and TensorBoard logs.
Needs numpy + Keras only (no TensorFlow under the JAX backend).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PRESETS = {
    "gpu": {"arch": "khorrami", "culture_epochs": 100, "fer_epochs": 60, "seeds": "0,1,2",
            "culture_decay_rate": 0.97, "fer_decay_rate": 0.95, "per_corpus": "jaffe=400:0.99"},
    "cpu": {"arch": "cpu", "culture_epochs": 80, "fer_epochs": 6, "seeds": "0,1,2",
            "culture_decay_rate": 0.97, "fer_decay_rate": 0.8,
            # JAFFE has ~110 training faces (7 steps per epoch): as many SGD steps as CK+48's 80 epochs
            "per_corpus": "jaffe=300:0.99"},
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--stores", default=str(REPO / "tfrecords"), help="folder of the face_cnn_* stores")
    p.add_argument("--out", default=str(REPO / "runs" / "face_cnn"))
    p.add_argument("--tasks", default="culture,fer2013")
    p.add_argument("--corpora", default="jaffe,ckplus")
    p.add_argument("--train-on", help="train only these of --corpora (the others are still cross-culture test sets)")
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--arch")
    p.add_argument("--culture-epochs", type=int)
    p.add_argument("--fer-epochs", type=int)
    p.add_argument("--seeds")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--fer-batch-size", type=int, default=64)
    p.add_argument("--eval-every", type=int, default=100, help="FER2013 steps between Fig. 4 curve points")
    p.add_argument("--verbose", type=int, default=0, help="Keras fit verbosity (2: one line per epoch)")
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--decay-rate", type=float, help="exponential decay per epoch (both tasks; else the preset's)")
    p.add_argument("--culture-decay-rate", type=float)
    p.add_argument("--per-corpus", help="CORPUS=EPOCHS:DECAY[,...] culture schedule overrides ('' for none)")
    p.add_argument("--fer-decay-rate", type=float)
    p.add_argument("--fer-limit", type=int, default=0, help="first N FER2013 training faces only (smoke)")
    a = p.parse_args(argv)
    if a.decay_rate is not None:
        a.culture_decay_rate = a.fer_decay_rate = a.decay_rate
    for k, v in PRESETS[a.preset].items():
        if getattr(a, k) is None:
            setattr(a, k, v)

    import keras
    import numpy as np

    from emozoo.models.face_cnn.face_cnn_data import load_faces, store_dir
    from emozoo.models.face_cnn.face_cnn_task import TrainConfig, run_benchmark, run_culture

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    env = {"backend": keras.backend.backend(), "keras": keras.__version__, "machine": platform.node(),
           "python": platform.python_version(), "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:])}
    try:
        import jax
        env["devices"] = [str(d) for d in jax.devices()] if env["backend"] == "jax" else []
    except Exception:  # noqa: BLE001
        pass
    (out / f"config_{a.tasks.replace(',', '_')}.json").write_text(json.dumps({"args": vars(a), "env": env}, indent=1))
    print(json.dumps(env), flush=True)
    tasks = a.tasks.split(",")
    if "culture" in tasks:
        cfg = TrainConfig(arch=a.arch, epochs=a.culture_epochs, batch_size=a.batch_size, learning_rate=a.lr,
                          decay_rate=a.culture_decay_rate)
        stores = {c: load_faces(store_dir(c, a.stores)) for c in a.corpora.split(",")}
        explicit = any(x.startswith("--culture-epochs") or x.startswith("--culture-decay") or x.startswith("--decay-rate")
                       for x in (argv if argv is not None else sys.argv[1:]))
        overrides = {}
        if a.per_corpus and not (explicit and a.per_corpus == PRESETS[a.preset]["per_corpus"]):
            for item in a.per_corpus.split(","):
                name, _, sched = item.partition("=")
                ep, _, dec = sched.partition(":")
                overrides[name] = (int(ep), float(dec))
        for corpus in (a.train_on.split(",") if a.train_on else stores):
            t0 = time.time()
            ccfg = cfg
            if corpus in overrides:
                ccfg = dataclasses.replace(cfg, epochs=overrides[corpus][0], decay_rate=overrides[corpus][1])
            run_culture(stores, corpus, ccfg, n_splits=a.splits, out=out / "culture", verbose=a.verbose)
            print(f"{corpus}: {a.splits} splits in {time.time() - t0:.0f} s", flush=True)
    if "fer2013" in tasks:
        data = load_faces(store_dir("fer2013", a.stores))
        if a.fer_limit:
            keep = np.concatenate([np.flatnonzero(data["split"] == "train")[:a.fer_limit],
                                   np.flatnonzero(data["split"] != "train")])
            data = {k: (v[keep] if v.ndim and len(v) == len(data["y"]) else v) for k, v in data.items()}
        cfg = TrainConfig(arch=a.arch, epochs=a.fer_epochs, batch_size=a.fer_batch_size, learning_rate=a.lr,
                          decay_rate=a.fer_decay_rate, eval_every_steps=a.eval_every)
        run_benchmark(data, cfg, seeds=[int(s) for s in str(a.seeds).split(",")], out=out / "fer2013",
                      verbose=a.verbose)
    return 0


if __name__ == "__main__":
    sys.exit(main())
