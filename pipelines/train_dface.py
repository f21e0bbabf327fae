"""Train the Dface DenseNet-BC on FER2013 (48x48 grey) on CPU, under a time budget.

    EMOZOO_DATA_DIR=../shared/data python pipelines/train_dface.py --max-minutes 70 --out runs/dface_fer2013

Protocol (FER2013's official splits, read by :mod:`emozoo.data.corpora.fer2013`):

* ``train`` (Training, 28 709 faces) trains, with light augmentation done by Keras layers
  (random horizontal flip, random shifts of up to ``--shift`` of the side);
* ``valid`` (PublicTest, 3 589) selects the model: the epoch with the best PublicTest accuracy
  (ties: lower PublicTest loss) is kept as ``best.weights.h5``;
* ``test`` (PrivateTest, 3 589) is evaluated ONCE, at the end, with the selected weights.

Learning rate: Adam, cosine decay from ``--lr`` to 0. With ``--epochs N`` the cosine runs over
N epochs (the run is exactly reproducible from the command). With ``--epochs 0`` (the default)
the cosine runs over the wall-clock budget ``--max-minutes``: the rate of each epoch is
``lr * 0.5 * (1 + cos(pi * elapsed / budget))`` and training stops when the next epoch would
not fit, so a slower machine runs fewer epochs; the epochs actually run are written to
``results.json``.

Checkpoints in ``--out``: ``last.keras`` (model + optimizer, Keras zip format, no pickle) and
``state.json`` after every epoch (``--resume`` continues from them), ``best.weights.h5``,
``history.jsonl`` (one line per epoch) and ``results.json`` (final PrivateTest metrics; also
copied to ``benchmarks/results/dface_fer2013_train.json``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def load_split(manifest, split: str):
    """All faces of one FER2013 split as uint8 ``[N, 48, 48, 1]`` and int labels ``[N]``."""
    from emozoo.data.image import load_image

    rows = [r for r in manifest if r.split == split]
    x = np.empty((len(rows), 48, 48, 1), np.uint8)
    y = np.empty((len(rows),), np.int32)
    for i, r in enumerate(rows):
        x[i] = load_image(r.path, grey=True, size=48)
        y[i] = CLASSES.index(r.label)
    return x, y


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("EMOZOO_DATA_DIR", ""),
                   help="folder holding fer2013/ (default: $EMOZOO_DATA_DIR)")
    p.add_argument("--out", default="runs/dface_fer2013", help="checkpoint/result folder")
    p.add_argument("--epochs", type=int, default=0,
                   help="cosine over this many epochs; 0 = cosine over the --max-minutes budget")
    p.add_argument("--max-minutes", type=float, default=60.0, help="wall-clock training budget")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--shift", type=float, default=0.1, help="max random shift, fraction of the side")
    p.add_argument("--growth-rate", type=int, default=12)
    p.add_argument("--block-layers", default="6,12,20")
    p.add_argument("--stem-channels", type=int, default=24)
    p.add_argument("--compression", type=float, default=0.5)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="use only N training faces (smoke tests)")
    p.add_argument("--resume", action="store_true", help="continue from --out/last.keras")
    return p.parse_args(argv)


def lr_at(args, epoch: int, elapsed_s: float) -> float:
    frac = epoch / args.epochs if args.epochs > 0 else elapsed_s / (args.max_minutes * 60.0)
    return args.lr * 0.5 * (1.0 + math.cos(math.pi * min(1.0, frac)))


def main(argv=None):
    args = parse_args(argv)
    import keras
    import tensorflow as tf

    from emozoo.data.corpora import load_manifest
    from emozoo.models.dface import DFaceBackbone, DFaceClassifier

    if not args.data_dir:
        sys.exit("give --data-dir or set EMOZOO_DATA_DIR (the folder holding fer2013/)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    t0 = time.time()
    manifest = load_manifest("fer2013", data_dir=args.data_dir)
    x_tr, y_tr = load_split(manifest, "train")
    x_va, y_va = load_split(manifest, "valid")
    if args.limit:
        x_tr, y_tr = x_tr[:args.limit], y_tr[:args.limit]
    print(f"loaded train {len(x_tr)} valid {len(x_va)} in {time.time() - t0:.0f}s", flush=True)

    n_cls = len(CLASSES)
    augment = keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=args.seed),
        keras.layers.RandomTranslation(args.shift, args.shift, fill_mode="nearest", seed=args.seed + 1),
    ], name="augment")
    train_ds = (tf.data.Dataset.from_tensor_slices((x_tr, y_tr))
                .shuffle(len(x_tr), seed=args.seed, reshuffle_each_iteration=True)
                .batch(args.batch_size)
                .map(lambda x, y: (augment(tf.cast(x, tf.float32), training=True), tf.one_hot(y, n_cls)),
                     num_parallel_calls=1)
                .prefetch(2))
    valid_ds = tf.data.Dataset.from_tensor_slices(
        (x_va.astype(np.float32), tf.one_hot(y_va, n_cls))).batch(256)

    state_path = out / "state.json"
    if args.resume and state_path.exists():
        state = json.loads(state_path.read_text())
        model = keras.saving.load_model(out / "last.keras")
        print(f"resumed after epoch {state['epoch']} ({state['elapsed_s']:.0f}s trained)", flush=True)
    else:
        state = {"epoch": 0, "elapsed_s": 0.0, "best_val_acc": -1.0, "best_val_loss": float("inf"),
                 "best_epoch": 0, "args": vars(args)}
        backbone = DFaceBackbone(growth_rate=args.growth_rate,
                                 block_layers=tuple(int(v) for v in args.block_layers.split(",")),
                                 stem_channels=args.stem_channels, compression=args.compression,
                                 weight_decay=args.weight_decay)
        model = DFaceClassifier(backbone, num_classes=n_cls)
        model.compile(optimizer=keras.optimizers.Adam(args.lr),
                      loss=keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
                      metrics=["accuracy"])
        (out / "history.jsonl").write_text("")
    print(f"DFace: {model.count_params()} parameters, embedding {model.backbone.embedding_dim}",
          flush=True)

    budget = args.max_minutes * 60.0
    max_epochs = args.epochs if args.epochs > 0 else 10 ** 6
    last_epoch_s = None
    while state["epoch"] < max_epochs:
        if last_epoch_s is not None and state["elapsed_s"] + last_epoch_s > budget:
            print(f"time budget: next epoch would end after {args.max_minutes} min, stopping", flush=True)
            break
        epoch = state["epoch"]
        lr = lr_at(args, epoch, state["elapsed_s"])
        model.optimizer.learning_rate.assign(lr)
        t = time.time()
        hist = model.fit(train_ds, epochs=epoch + 1, initial_epoch=epoch, verbose=0)
        val_loss, val_acc = model.evaluate(valid_ds, verbose=0)
        last_epoch_s = time.time() - t
        state["elapsed_s"] += last_epoch_s
        state["epoch"] = epoch + 1
        rec = {"epoch": epoch + 1, "lr": lr, "loss": float(hist.history["loss"][-1]),
               "acc": float(hist.history["accuracy"][-1]), "val_loss": float(val_loss),
               "val_acc": float(val_acc), "epoch_s": round(last_epoch_s, 1),
               "elapsed_s": round(state["elapsed_s"], 1)}
        if (val_acc > state["best_val_acc"]
                or (val_acc == state["best_val_acc"] and val_loss < state["best_val_loss"])):
            state.update(best_val_acc=float(val_acc), best_val_loss=float(val_loss), best_epoch=epoch + 1)
            model.save_weights(out / "best.weights.h5")
            rec["best"] = True
        model.save(out / "last.keras")
        state_path.write_text(json.dumps(state, indent=1))
        with open(out / "history.jsonl", "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(json.dumps(rec), flush=True)

    # PrivateTest, once, with the PublicTest-selected weights.
    from emozoo.evaluation.metrics import classification_report

    model.load_weights(out / "best.weights.h5")
    x_te, y_te = load_split(manifest, "test")
    probs = model.predict(x_te.astype(np.float32), batch_size=256, verbose=0)
    pred = probs.argmax(-1)
    acc = float((pred == y_te).mean())
    results = {
        "model": "dface_fer2013", "architecture": "DenseNet-BC",
        "config": model.backbone.get_config(), "parameters": int(model.count_params()),
        "embedding_dim": int(model.backbone.embedding_dim), "classes": list(CLASSES),
        "epochs_run": state["epoch"], "best_epoch": state["best_epoch"],
        "train_minutes": round(state["elapsed_s"] / 60.0, 1),
        "public_test_accuracy": state["best_val_acc"], "private_test_accuracy": acc,
        "private_test_n": int(len(y_te)),
        "private_test_report": classification_report(y_te.astype(np.int64), pred.astype(np.int64),
                                                     CLASSES),
        "command": "EMOZOO_DATA_DIR=<data> python pipelines/train_dface.py "
                   + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
        "args": state["args"],
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    bench = REPO / "benchmarks" / "results"
    bench.mkdir(parents=True, exist_ok=True)
    if not args.limit:
        (bench / "dface_fer2013_train.json").write_text(json.dumps(results, indent=1))
    print(f"PrivateTest accuracy {acc:.4f} (best PublicTest {state['best_val_acc']:.4f} "
          f"at epoch {state['best_epoch']})", flush=True)


if __name__ == "__main__":
    main()
