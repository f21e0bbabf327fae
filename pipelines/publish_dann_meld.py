"""Retrain and publish the zoo model ``dann_meld``::

    python pipelines/publish_dann_meld.py          # one CPU-preset training run (Adam 1e-3, <= 20 epochs, seed 0)

Trains :class:`~emozoo.models.dann.DANNConversationModel` with lambda = 1 on MELD 7-class
(``dann/meld/text/7class/dann``: emotion labels of the official train dialogues, speaker adversary
behind the GRL on train + dev + test turns, MiniLM sentence embeddings of ``tfrecords/meld_minilm``)
with the CPU preset and seed 0. **Model selection on MELD dev only**: after every epoch the model is
scored on the official dev turns and the weights of the epoch with the best dev weighted F1 are
kept; the official test set is scored once, on those weights. The inference path (AT-Fusion +
SA-GRU + emotion classifier; no GRL, no domain classifier) is exported and published with
:func:`emozoo.zoo.publish`; it is served by
:class:`emozoo.models.dann.dann_predictor.ConversationPredictor` (``"input": "conversation"``), which
embeds the turns with the installed MiniLM encoder after checking its version string. The card
carries the CI-vs-DANN table of ``benchmarks/results/dann_meld.json``
(``python pipelines/dann_meld_table.py``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402

from emozoo.experiments import get_experiment  # noqa: E402
from emozoo.models.dann import dann_experiments as E  # noqa: E402
from emozoo.models.dann import dann_task as T  # noqa: E402
from emozoo.models.dann.dann_presets import PRESETS  # noqa: E402
from emozoo.models.dann.dann_zoo import publish_conversation, summary_cells  # noqa: E402

sys.path.insert(0, str(ROOT / "pipelines"))
from dann_meld_table import KEYS, STORE, meld_folds, score  # noqa: E402

NAME = "dann_meld"


def table_summary(path: Path) -> dict:
    if not path.exists():
        return {}
    res = json.loads(path.read_text())
    return {"table_text": summary_cells(res, KEYS), "table_config": res.get("config", {}), "table_command": res.get("meta", {}).get("command")}


class BestOnDev(keras.callbacks.Callback):
    """Scores the dev turns after every epoch; keeps the weights of the best dev weighted F1."""

    def __init__(self, dev, classes):
        super().__init__()
        self.dev, self.classes = dev, classes
        self.best, self.best_epoch, self.best_weights, self.curve = -1.0, -1, None, []

    def on_epoch_end(self, epoch, logs=None):
        f1 = score(self.model, self.dev, self.classes)["weighted_f1"]
        self.curve.append(round(float(f1), 4))
        if f1 > self.best:
            self.best, self.best_epoch, self.best_weights = f1, epoch + 1, self.model.get_weights()
        print(f"epoch {epoch + 1}: dev wF1 {f1:.4f}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=E.CPU_PRESET["epochs"])
    args = ap.parse_args(argv)
    card = dict(PRESETS[NAME])
    cfg = get_experiment(card["experiment"])
    params = {**cfg.model.params, "learning_rate": E.CPU_PRESET["learning_rate"]}
    fold, dev = meld_folds("7class", cfg.data.protocol_kwargs)
    sel = BestOnDev(dev, fold.classes)
    model, hist = T.train_conversations(fold, params, epochs=args.epochs, batch_size=E.CPU_PRESET["batch_size"],
                                        seed=args.seed, callbacks=[sel])
    model.set_weights(sel.best_weights)
    dev_rep = score(model, dev, fold.classes)
    rep = score(model, fold.test, fold.classes)
    print(f"selected epoch {sel.best_epoch} (dev wF1 {dev_rep['weighted_f1']:.4f}); test: WA {rep['accuracy']:.4f} "
          f"UAR {rep['uar']:.4f} wF1 {rep['weighted_f1']:.4f}")

    command = "python pipelines/publish_dann_meld.py" + (f" --seed {args.seed}" if args.seed else "") + \
        (f" --epochs {args.epochs}" if args.epochs != E.CPU_PRESET["epochs"] else "")
    card.update(command=command, seed=args.seed, epochs=args.epochs,
                model_selection={"criterion": "dev weighted F1 after each epoch", "selected_epoch": sel.best_epoch,
                                 "dev_weighted_f1_per_epoch": sel.curve},
                metrics={"test_wa": round(rep["accuracy"], 4), "test_uar": round(rep["uar"], 4),
                         "test_weighted_f1": round(rep["weighted_f1"], 4), "test_macro_f1": round(rep["macro_f1"], 4),
                         "dev_wa": round(dev_rep["accuracy"], 4), "dev_weighted_f1": round(dev_rep["weighted_f1"], 4),
                         "confusion_matrix": rep["confusion_matrix"], "test_turns": rep["num_examples"],
                         **table_summary(ROOT / "benchmarks/results/dann_meld.json")})
    publish_conversation(NAME, model, fold, STORE, card, cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
