"""Pieces the DANN zoo publish scripts share (``pipelines/publish_dann_{iemocap,meld}.py``)."""
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


def publish_conversation(name: str, model, fold, store, card: dict, cfg) -> dict:
    """Publish ``model`` as the zoo conversation model ``name`` (:func:`export_conversation`, then
    :func:`emozoo.zoo.publish`); the card also gets the experiment config and the speaker domains
    the adversary saw."""
    from emozoo.zoo import publish

    card = {**card, "experiment_config": cfg.to_json(), "domains": list(fold.domains)}
    entry = publish(name, lambda folder: export_conversation(model, folder, fold, store), card)
    print(f"published {name} at saved_models/{entry['path']}")
    return entry
