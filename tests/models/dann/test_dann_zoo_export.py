"""``emozoo.models.dann.dann_zoo``: card cells of a table summary, and the conversation export that
``ConversationPredictor`` reads (shared by the dann_iemocap / dann_meld publish scripts)."""
import json

import numpy as np

from emozoo.models.dann import dann_task as T
from emozoo.models.dann.dann_zoo import export_conversation, summary_cells
from tests.models.dann.test_dann_task import CLASSES, D, _write_store


def test_summary_cells_round_and_count():
    res = {"summary": {"dann/x": {"accuracy": {"mean": 0.123456, "std": 0.01111}, "uar": {"mean": 0.5, "std": 0.0},
                                  "num_runs": 5}}}
    assert summary_cells(res, ("accuracy",)) == {"dann/x": {"accuracy": {"mean": 0.1235, "std": 0.0111},
                                                            "num_seeds": 5}}
    assert summary_cells({}, ("accuracy",)) == {}


def test_export_conversation_loads_as_a_conversation_predictor(tmp_path):
    from emozoo.features import lexical
    from emozoo.models.dann.dann_predictor import ConversationPredictor

    store = _write_store(tmp_path / "store")
    (store / "extract.json").write_text(json.dumps({"features": {"minilm": {"model": "all-MiniLM-L6-v2"}}}))
    dl, classes = T.load_dialogues(store)
    fold = T.iemocap_fold(dl, classes, "TS_1234")
    model = T.build_conversation_model(fold, dict(fusion_units=8, gru_units=4, num_heads=2, domain_units=[8]))
    export_conversation(model, tmp_path / "zoo", fold, store)
    pre = json.loads((tmp_path / "zoo" / "assets" / "preprocessing.json").read_text())
    assert pre["input"] == "conversation" and pre["input_dims"] == [D]
    assert pre["text_encoder"] == {"model": "all-MiniLM-L6-v2"} and pre["encoder_check"] == lexical.feature_config()
    pred = ConversationPredictor(tmp_path / "zoo", {"name": "tiny"})
    assert pred.labels == CLASSES
    x = np.random.default_rng(0).normal(size=(4, D)).astype("float32")
    np.testing.assert_allclose(pred.predict(x).sum(1), 1, atol=1e-5)


def test_publish_conversation_into_a_zoo_folder(tmp_path, monkeypatch):
    import emozoo
    from emozoo.experiments import get_experiment
    from emozoo.models.dann.dann_zoo import publish_conversation

    monkeypatch.setenv("EMOZOO_ZOO_DIR", str(tmp_path / "zoo"))
    store = _write_store(tmp_path / "store")
    (store / "extract.json").write_text(json.dumps({"features": {"minilm": {"model": "all-MiniLM-L6-v2"}}}))
    dl, classes = T.load_dialogues(store)
    fold = T.iemocap_fold(dl, classes, "TS_1234")
    model = T.build_conversation_model(fold, dict(fusion_units=8, gru_units=4, num_heads=2, domain_units=[8]))
    cfg = get_experiment("dann/iemocap/text/ts_1234/dann")
    entry = publish_conversation("dann_tiny", model, fold, store, {"method": "dann", "description": "test"}, cfg)
    assert entry["experiment_config"]["name"] == cfg.name and entry["domains"] == list(fold.domains)
    pred = emozoo.load("dann_tiny")
    assert type(pred).__name__ == "ConversationPredictor" and pred.labels == CLASSES
