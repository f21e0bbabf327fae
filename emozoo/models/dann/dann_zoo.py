"""DANN zoo recipes: retrain, export and publish ``dann_iemocap``, ``dann_meld`` and ``dann_speech``.

``python -m emozoo.publish NAME`` calls :func:`publish_iemocap`, :func:`publish_meld` or
:func:`publish_speech` (``dann_presets.RECIPES``); the conversation models are exported by
:func:`export_conversation` and served by
:class:`~emozoo.models.dann.dann_predictor.ConversationPredictor`, ``dann_speech`` by the
``features`` predictor (IS10 computed in Python with openSMILE).
"""
from __future__ import annotations

import json
from pathlib import Path


def summary_cells(results: dict, keys) -> dict:
    """``{experiment: {key: {mean, std} rounded to 4 digits, num_seeds}}`` of a table pipeline's
    ``summary`` (``benchmarks/results/dann_{iemocap,meld}.json``), for a model card."""
    out = {}
    for name, s in results.get("summary", {}).items():
        out[name] = {k: {"mean": round(s[k]["mean"], 4), "std": round(s[k]["std"], 4)} for k in keys}
        out[name]["num_seeds"] = s["num_runs"]
    return out


def export_conversation(model, folder, fold, store) -> None:
    """Export ``model``'s inference path into ``folder`` with the ``preprocessing.json`` that
    :class:`~emozoo.models.dann.dann_predictor.ConversationPredictor` reads: text modality, the
    MiniLM encoder recorded in the training ``store``'s ``extract.json`` and its version check."""
    from emozoo.features import lexical

    spec = json.loads((Path(store) / "extract.json").read_text())
    folder = Path(folder)
    model.export_inference(str(folder), classes=fold.classes)
    (folder / "assets" / "preprocessing.json").write_text(json.dumps({
        "input": "conversation", "modalities": ["text"], "input_dims": [int(fold.train.x.shape[-1])],
        "feature": "minilm", "text_encoder": spec["features"]["minilm"], "max_length": lexical.MAX_SEQ_LENGTH,
        "encoder_check": lexical.feature_config()}, indent=1))


def publish_conversation(name: str, model, fold, store, card: dict, cfg, zoo_dir=None) -> dict:
    """Publish ``model`` as the zoo conversation model ``name`` (:func:`export_conversation`, then
    :func:`emozoo.zoo.publish` into ``zoo_dir``, default ``saved_models/``); the card also gets the
    experiment config and the speaker domains the adversary saw."""
    from emozoo.zoo import publish

    card = {**card, "experiment_config": cfg.to_json(), "domains": list(fold.domains)}
    entry = publish(name, lambda folder: export_conversation(model, folder, fold, store), card, zoo_dir)
    return entry


# ----------------------------------------------------------------------------- dann_iemocap
IEMOCAP_STORE = Path("tfrecords/iemocap_text_minilm")


def publish_iemocap(*, repo: Path, zoo_dir=None, command: str, seed: int = 0, epochs: int | None = None,
                    from_run: bool = False) -> dict:
    """Recipe of the preset ``dann_iemocap`` (``python -m emozoo.publish dann_iemocap``).

    Trains :class:`~emozoo.models.dann.DANNConversationModel` with lambda = 1 on the IEMOCAP TS_1234
    setting (``dann/iemocap/text/ts_1234/dann``: labels of sessions 1-4, speaker adversary on all
    sessions, session 5 unlabelled) with the CPU preset, scores it on session 5, exports the
    inference path (AT-Fusion + SA-GRU + emotion classifier; no GRL, no domain classifier) and
    publishes it. The text encoder (MiniLM) stays outside the zoo folder: ``preprocessing.json``
    records its version string. The card carries the Table 2 summary of
    ``benchmarks/results/dann_iemocap.json`` (``python pipelines/dann_iemocap_table.py``).

    Args:
        repo: folder holding ``tfrecords/iemocap_text_minilm``, ``benchmarks/results/`` and ``runs/``.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.
        seed: training seed.
        epochs: epochs (default: the CPU preset's, ``dann_experiments.CPU_PRESET``).
        from_run: publish the TS_1234 DANN model of the Table 2 run
            (the trainer's ``runs/dann_iemocap_text_ts_1234_dann/seed_<seed>/<fold>/model.weights.h5``) instead of
            retraining it.

    Example:
        >>> publish_iemocap(repo=Path("."), command="python -m emozoo.publish dann_iemocap")  # doctest: +SKIP
    """
    from emozoo.errors import ExportError
    from emozoo.experiments import get_experiment
    from emozoo.models.dann import dann_experiments as E
    from emozoo.models.dann import dann_task as T
    from emozoo.models.dann.dann_presets import PRESETS

    name, repo = "dann_iemocap", Path(repo)
    epochs = E.CPU_PRESET["epochs"] if epochs is None else epochs
    card = dict(PRESETS[name])
    cfg = get_experiment(card["experiment"])
    params = {**cfg.model.params, "learning_rate": E.CPU_PRESET["learning_rate"]}
    dialogues, classes = T.load_dialogues(repo / IEMOCAP_STORE)
    fold = T.iemocap_fold(dialogues, classes, "TS_1234", domain="speaker")
    if from_run:
        run = repo / "runs" / card["experiment"].replace("/", "_")     # the trainer's folder of the Table 2 run
        if not (run / "config.json").exists():
            raise ExportError(f"{run} is missing: run python pipelines/dann_iemocap_table.py (or drop --from-run)")
        trained = json.loads((run / "config.json").read_text())
        if trained["model"]["params"] != json.loads(json.dumps(cfg.model.params)):
            raise ExportError(f"{run} was trained with other model parameters than {card['experiment']} has now: "
                              "re-run the table (or drop --from-run)")
        epochs = int(trained["trainer"]["epochs"])
        model, _, _ = T.load_trained(run, seed, fold=fold)
    else:
        model, _ = T.train_conversations(fold, params, epochs=epochs, batch_size=E.CPU_PRESET["batch_size"], seed=seed)
    rep = T.score_turns(model, fold.test, fold.classes)
    print(f"session 5: WA {rep['accuracy']:.4f} UAR {rep['uar']:.4f}", flush=True)
    table = repo / "benchmarks/results/dann_iemocap.json"
    summary = {}
    if table.exists():
        res = json.loads(table.read_text())
        summary = {"table2_text": summary_cells(res, ("accuracy", "uar")), "table2_config": res.get("config", {}),
                   "paper_table2_wa": res.get("paper_table2_wa")}
    card.update(command=command, seed=seed, epochs=epochs,
                metrics={"session5_wa": round(rep["accuracy"], 4), "session5_uar": round(rep["uar"], 4),
                         "session5_macro_f1": round(rep["macro_f1"], 4),
                         "confusion_matrix": rep["confusion_matrix"], "test_turns": rep["num_examples"], **summary})
    return publish_conversation(name, model, fold, repo / IEMOCAP_STORE, card, cfg, zoo_dir)


# ----------------------------------------------------------------------------- dann_meld
MELD_STORE = Path("tfrecords/meld_minilm")
#: the metrics of the MELD table (``pipelines/dann_meld_table.py``) and of the dann_meld card
MELD_KEYS = ("accuracy", "uar", "weighted_f1", "macro_f1")


def meld_folds(subset: str, params: dict, dialogues=None, classes=None, store=MELD_STORE):
    """(fold, dev batch): :func:`~emozoo.models.dann.dann_task.meld_fold` with the experiment's
    protocol kwargs, plus the official dev dialogues padded with their labels (model selection /
    dev scores). ``dialogues``/``classes`` default to those of ``store``."""
    from emozoo.models.dann import dann_task as T

    if dialogues is None:
        dialogues, classes = T.load_dialogues(store)
    fold = T.meld_fold(dialogues, classes, subset=subset, domain=params.get("domain", "speaker"),
                       min_speaker_turns=params.get("min_speaker_turns", 50))
    dev = T.meld_dev(dialogues, classes, subset=subset, domain=params.get("domain", "speaker"),
                     min_speaker_turns=params.get("min_speaker_turns", 50))
    return fold, dev


def best_on_dev(dev, classes):
    """A Keras callback that scores the ``dev`` turns after every epoch and keeps the weights of the
    best dev weighted F1 (``best``, ``best_epoch``, ``best_weights``, ``curve``)."""
    import keras

    from emozoo.models.dann import dann_task as T

    class BestOnDev(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.best_epoch, self.best_weights, self.curve = -1.0, -1, None, []

        def on_epoch_end(self, epoch, logs=None):
            f1 = T.score_turns(self.model, dev, classes)["weighted_f1"]
            self.curve.append(round(float(f1), 4))
            if f1 > self.best:
                self.best, self.best_epoch, self.best_weights = f1, epoch + 1, self.model.get_weights()
            print(f"epoch {epoch + 1}: dev wF1 {f1:.4f}", flush=True)

    return BestOnDev()


def publish_meld(*, repo: Path, zoo_dir=None, command: str, seed: int = 0, epochs: int | None = None) -> dict:
    """Recipe of the preset ``dann_meld`` (``python -m emozoo.publish dann_meld``).

    Trains :class:`~emozoo.models.dann.DANNConversationModel` with lambda = 1 on MELD 7-class
    (``dann/meld/text/7class/dann``: emotion labels of the official train dialogues, speaker
    adversary behind the GRL on train + dev + test turns, MiniLM sentence embeddings of
    ``tfrecords/meld_minilm``) with the CPU preset. **Model selection on MELD dev only**: after
    every epoch the dev turns are scored and the weights of the best dev weighted F1 are kept; the
    official test set is scored once, on those weights. The card carries the CI-vs-DANN table of
    ``benchmarks/results/dann_meld.json`` (``python pipelines/dann_meld_table.py``).

    Args:
        repo: folder holding ``tfrecords/meld_minilm`` and ``benchmarks/results/``.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.
        seed: training seed.
        epochs: at most this many epochs (default: the CPU preset's).

    Example:
        >>> publish_meld(repo=Path("."), command="python -m emozoo.publish dann_meld")  # doctest: +SKIP
    """
    from emozoo.experiments import get_experiment
    from emozoo.models.dann import dann_experiments as E
    from emozoo.models.dann import dann_task as T
    from emozoo.models.dann.dann_presets import PRESETS

    name, repo = "dann_meld", Path(repo)
    epochs = E.CPU_PRESET["epochs"] if epochs is None else epochs
    card = dict(PRESETS[name])
    cfg = get_experiment(card["experiment"])
    params = {**cfg.model.params, "learning_rate": E.CPU_PRESET["learning_rate"]}
    fold, dev = meld_folds("7class", cfg.data.protocol_kwargs, store=repo / MELD_STORE)
    sel = best_on_dev(dev, fold.classes)
    model, _ = T.train_conversations(fold, params, epochs=epochs, batch_size=E.CPU_PRESET["batch_size"], seed=seed,
                                     callbacks=[sel])
    model.set_weights(sel.best_weights)
    dev_rep = T.score_turns(model, dev, fold.classes)
    rep = T.score_turns(model, fold.test, fold.classes)
    print(f"selected epoch {sel.best_epoch} (dev wF1 {dev_rep['weighted_f1']:.4f}); test: WA {rep['accuracy']:.4f} "
          f"UAR {rep['uar']:.4f} wF1 {rep['weighted_f1']:.4f}", flush=True)
    table = repo / "benchmarks/results/dann_meld.json"
    summary = {}
    if table.exists():
        res = json.loads(table.read_text())
        summary = {"table_text": summary_cells(res, MELD_KEYS), "table_config": res.get("config", {}),
                   "table_command": res.get("meta", {}).get("command")}
    card.update(command=command, seed=seed, epochs=epochs,
                model_selection={"criterion": "dev weighted F1 after each epoch", "selected_epoch": sel.best_epoch,
                                 "dev_weighted_f1_per_epoch": sel.curve},
                metrics={"test_wa": round(rep["accuracy"], 4), "test_uar": round(rep["uar"], 4),
                         "test_weighted_f1": round(rep["weighted_f1"], 4), "test_macro_f1": round(rep["macro_f1"], 4),
                         "dev_wa": round(dev_rep["accuracy"], 4), "dev_weighted_f1": round(dev_rep["weighted_f1"], 4),
                         "confusion_matrix": rep["confusion_matrix"], "test_turns": rep["num_examples"], **summary})
    return publish_conversation(name, model, fold, repo / MELD_STORE, card, cfg, zoo_dir)


# ----------------------------------------------------------------------------- dann_speech
SPEECH_CORPORA = ("emodb", "casia", "ravdess")
SPEECH_FEATURE = "is10"


def loso_metrics(repo: Path) -> dict:
    """Measured LOSO metrics (mean +- std over seeds, fractions) of CI and DANN per corpus, read from
    ``benchmarks/results/dann_speech_<corpus>_{ci,dann}.json`` (``python pipelines/dann_speech_table.py --run``)."""
    from emozoo.errors import ExportError

    out = {}
    for c in SPEECH_CORPORA:
        for v in ("ci", "dann"):
            p = Path(repo) / "benchmarks" / "results" / f"dann_speech_{c}_{v}.json"
            if not p.exists():
                raise ExportError(f"{p} is missing: run python pipelines/dann_speech_table.py --run")
            s = json.loads(p.read_text())
            out.setdefault(c, {})[v] = {m: {"mean": round(s["test"][m]["mean"], 4), "std": round(s["test"][m]["std"], 4)}
                                        for m in ("accuracy", "uar", "macro_f1")}
            out[c][v].update(num_seeds=s["test"]["num_runs"], folds=len(s["folds"]), experiment=s["experiment"])
    return out


def speech_training_fold(repo: Path):
    """``(fold, classes, counts)``: one trainer ``Fold`` whose training side is every 4-class clip of
    the three IS10 stores ``tfrecords/{emodb,casia,ravdess}_is10`` under ``repo``."""
    from emozoo.errors import SchemaError
    from emozoo.train.data import FeatureTable, Fold, load_table

    tables = [load_table(Path(repo) / f"tfrecords/{c}_{SPEECH_FEATURE}", SPEECH_FEATURE, "4class")
              for c in SPEECH_CORPORA]
    for c, t in zip(SPEECH_CORPORA, tables):
        if t.classes != tables[0].classes:
            raise SchemaError(f"{c} has classes {t.classes}, {SPEECH_CORPORA[0]} has {tables[0].classes}")
    train = FeatureTable.concat(tables)
    counts = {c: len(t) for c, t in zip(SPEECH_CORPORA, tables)}
    fold = Fold("all/" + "+".join(SPEECH_CORPORA), train, None, None, {"train": len(train)})
    return fold, tuple(tables[0].classes), counts


def publish_speech(*, repo: Path, zoo_dir=None, command: str, seed: int = 0) -> dict:
    """Recipe of the preset ``dann_speech`` (``python -m emozoo.publish dann_speech``).

    Trains :class:`~emozoo.models.dann.dann_model.DANNUtteranceModel` with lambda = 1 (Lian et al.
    2019 eq. (5): ``L_y - lambda L_d``, speaker classifier behind the gradient reversal layer) on
    *all* 4-class clips of the IS10 stores ``tfrecords/{emodb,casia,ravdess}_is10`` together, every
    speaker of the three corpora a domain, with the network and schedule of the registered
    experiments ``dann/speech/<corpus>/is10/dann`` (Dense 256 -> Dense 100, dropout 0.2, L2 1e-5,
    Adam 1e-3, 40 epochs, batch 32, last epoch) and the trainer's batching
    (``emozoo.train.trainer._dataset``). It exports the inference path only (z-normalisation +
    encoder + emotion classifier; no GRL, no speaker classifier) with the
    ``serve_features(features [N, D])`` signature and the ``features`` predictor kind. The card
    gets the command, the training facts and the measured LOSO table of the recipe
    (:func:`loso_metrics`).

    Args:
        repo: folder holding ``tfrecords/{emodb,casia,ravdess}_is10`` and ``benchmarks/results/``.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.
        seed: training seed.

    Example:
        >>> publish_speech(repo=Path("."), command="python -m emozoo.publish dann_speech")  # doctest: +SKIP
    """
    import keras

    from emozoo.evaluation.metrics import classification_report
    from emozoo.experiments import get_experiment
    from emozoo.features.registry import get_extractor
    from emozoo.models import build_model, discover
    from emozoo.models.dann.dann_presets import PRESETS
    from emozoo.train.trainer import _dataset, make_optimizer
    from emozoo.zoo import publish

    name, repo = "dann_speech", Path(repo)
    discover()
    metrics = loso_metrics(repo)
    cfg = get_experiment("dann/speech/emodb/is10/dann")   # network + schedule (same for every corpus)
    fold, classes, counts = speech_training_fold(repo)
    speakers = sorted({f"{c}/{s}" for c, s in zip(fold.train.meta["corpus"], fold.train.meta["speaker"])})
    params = {**cfg.model.params, "num_domains": len(speakers)}
    tr = cfg.trainer
    keras.utils.set_random_seed(seed)
    model = build_model(cfg.model.name, num_classes=len(classes), input_dim=fold.train.x.shape[1], **params)
    model.prepare_fold(fold)                      # speaker -> domain index, z-normalisation on all clips
    model.compile(optimizer=make_optimizer(cfg.optimizer))
    x, y = model.fold_arrays(fold, "train", seed=seed)
    print(f"training {name}: {counts} clips, {len(speakers)} speaker domains, {tr.epochs} epochs, batch "
          f"{tr.batch_size}, seed {seed}", flush=True)
    hist = model.fit(_dataset(x, y, None, tr.batch_size, shuffle=True, seed=seed, epochs=tr.epochs),
                     epochs=tr.epochs, steps_per_epoch=-(-len(y) // tr.batch_size), verbose=0, shuffle=False)
    prob = keras.ops.convert_to_numpy(keras.ops.softmax(model(fold.train.x.astype("float32")), -1))
    fit = classification_report(fold.train.y, prob.argmax(-1), classes)
    print(f"training-set fit (not a test): WA {fit['accuracy']:.4f} UAR {fit['uar']:.4f}", flush=True)
    ext = get_extractor(SPEECH_FEATURE)

    def build(folder: Path):
        model.export_inference(str(folder), classes=classes)
        (Path(folder) / "assets" / "preprocessing.json").write_text(json.dumps({
            "input": "features", "feature": SPEECH_FEATURE, "input_dim": int(model.input_dim),
            "extractor": ext.config, "sample_rate": ext.sample_rate,
            "normalisation": "z-normalisation inside the graph, fitted on all training clips of the three corpora"},
            indent=1))

    card = dict(PRESETS[name])
    card.update(command=command,
                metrics={"loso": metrics,
                         "note": "leave-one-speaker-out inside each corpus with the same network and schedule "
                                 "(ci: lambda 0, dann: lambda 1, the published recipe); fractions, mean/std over "
                                 "seeds; the published model is trained on all clips and has no held-out test"},
                training={"clips": counts, "speaker_domains": len(speakers), "epochs": tr.epochs,
                          "batch_size": tr.batch_size, "seed": seed,
                          "final": {k: round(float(v[-1]), 4) for k, v in hist.history.items()},
                          "training_set_wa": round(fit["accuracy"], 4), "training_set_uar": round(fit["uar"], 4)},
                experiment_config={**cfg.to_json(), "model": {"name": cfg.model.name, "params": params}},
                domains=speakers)
    entry = publish(name, build, card, zoo_dir)
    return entry
