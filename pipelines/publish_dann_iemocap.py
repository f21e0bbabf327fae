"""Retrain and publish the zoo model ``dann_iemocap``::

    python pipelines/publish_dann_iemocap.py          # one CPU-preset training run (~1-5 min on 2 cores)

Trains :class:`~emozoo.models.dann.DANNConversationModel` with lambda = 1 on the IEMOCAP TS_1234
setting (``dann/iemocap/text/ts_1234/dann``: labels of sessions 1-4, speaker adversary on all
sessions, session 5 unlabelled) with the CPU preset and seed 0, scores it on session 5, exports the
inference path (AT-Fusion + SA-GRU + emotion classifier; no GRL, no domain classifier) and
publishes it with :func:`emozoo.zoo.publish`. The text encoder (MiniLM, 90 MB) stays outside the
zoo folder: ``assets/preprocessing.json`` records its version string and
:class:`emozoo.models.dann.dann_predictor.ConversationPredictor` embeds the turns with the
installed encoder after checking it. The card carries the Table 2 summary of
``benchmarks/results/dann_iemocap.json`` (``python pipelines/dann_iemocap_table.py``).
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

from emozoo.experiments import get_experiment  # noqa: E402
from emozoo.models.dann import dann_experiments as E  # noqa: E402
from emozoo.models.dann import dann_task as T  # noqa: E402
from emozoo.models.dann.dann_presets import PRESETS  # noqa: E402
from emozoo.models.dann.dann_zoo import publish_conversation, summary_cells  # noqa: E402

NAME = "dann_iemocap"


def table_summary(path: Path) -> dict:
    if not path.exists():
        return {}
    res = json.loads(path.read_text())
    return {"table2_text": summary_cells(res, ("accuracy", "uar")), "table2_config": res.get("config", {}), "paper_table2_wa": res.get("paper_table2_wa")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=E.CPU_PRESET["epochs"])
    ap.add_argument("--from-run", action="store_true",
                    help="publish the TS_1234 DANN seed-0 model of the Table 2 run (runs/dann_iemocap/"
                         "ts_1234_dann_seed0.weights.h5, written by pipelines/dann_iemocap_table.py) "
                         "instead of retraining it (the same recipe and seed)")
    args = ap.parse_args(argv)
    card = dict(PRESETS[NAME])
    cfg = get_experiment(card["experiment"])
    params = {**cfg.model.params, "learning_rate": E.CPU_PRESET["learning_rate"]}
    dialogues, classes = T.load_dialogues(ROOT / "tfrecords/iemocap_text_minilm")
    fold = T.iemocap_fold(dialogues, classes, "TS_1234", domain="speaker")
    if args.from_run:
        weights = ROOT / f"runs/dann_iemocap/ts_1234_dann_seed{args.seed}.weights.h5"
        if not weights.exists():
            raise SystemExit(f"{weights} is missing: run python pipelines/dann_iemocap_table.py (or drop --from-run)")
        run_info = json.loads(weights.with_name(weights.name.replace(".weights.h5", ".json")).read_text())
        args.epochs = run_info["epochs"]
        model = T.build_conversation_model(fold, params)
        model.load_weights(str(weights))
    else:
        model, hist = T.train_conversations(fold, params, epochs=args.epochs, batch_size=E.CPU_PRESET["batch_size"],
                                            seed=args.seed)
    rep = T.score_turns(model, fold.test, fold.classes)
    print(f"session 5: WA {rep['accuracy']:.4f} UAR {rep['uar']:.4f}")

    command = "python pipelines/publish_dann_iemocap.py" + (" --from-run" if args.from_run else "") + \
        (f" --seed {args.seed}" if args.seed else "") + \
        (f" --epochs {args.epochs}" if args.epochs != E.CPU_PRESET["epochs"] else "")
    card.update(command=command, seed=args.seed, epochs=args.epochs,
                metrics={"session5_wa": round(rep["accuracy"], 4), "session5_uar": round(rep["uar"], 4),
                         "session5_macro_f1": round(rep["macro_f1"], 4),
                         "confusion_matrix": rep["confusion_matrix"], "test_turns": rep["num_examples"],
                         **table_summary(ROOT / "benchmarks/results/dann_iemocap.json")})
    publish_conversation(NAME, model, fold, ROOT / "tfrecords/iemocap_text_minilm", card, cfg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
