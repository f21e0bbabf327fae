"""``pipelines/dann_lambda_study.py`` on the tiny synthetic conversation store: 2 variants x 1 seed x
1 epoch with a tiny network; the JSON fields, the Ganin schedule actually moving lambda, resuming."""
import json

import pytest

import pipelines.dann_lambda_study as S
from emozoo.errors import ExperimentError
from emozoo.layers.gradient_reversal import ganin_lambda
from emozoo.models.dann import dann_task as T
from tests.models.dann.test_dann_task import _write_store

TINY = dict(fusion_units=8, gru_units=4, num_heads=2, l2=1e-5, grl_lambda=1.0, domain_units=[8], emotion_units=[])


@pytest.fixture(scope="module")
def fold(tmp_path_factory):
    store = _write_store(tmp_path_factory.mktemp("conv") / "iemocap_text_minilm")
    dialogues, classes = T.load_dialogues(store)
    return T.iemocap_fold(dialogues, classes, "TS_1234")


def test_study_json_ganin_lambda_and_resume(fold, tmp_path, monkeypatch):
    out = tmp_path / "study.json"
    kw = dict(out=out, model=TINY, epochs=1, batch_size=4, learning_rate=1e-3, log=lambda m: None)
    res = S.study(fold, ["ci", "dann_ganin"], [0], **kw)
    on_disk = json.loads(out.read_text())
    assert set(on_disk["runs"]) == {"ci", "dann_ganin"} and set(on_disk["summary"]) == {"ci", "dann_ganin"}
    for v in ("ci", "dann_ganin"):
        r = on_disk["runs"][v]["0"]
        for k in ("wa", "uar", "domain_accuracy", "speaker_probe", "emotion_probe"):
            assert 0.0 <= r[k] <= 1.0, (v, k, r[k])
        assert r["wa"] == r["report"]["accuracy"] and r["uar"] == r["report"]["uar"]
        assert r["probe_turns"] == int(fold.train.mask.sum())
        assert r["probe_labelled_turns"] == fold.sizes["train_labelled"]
        assert on_disk["summary"][v]["num_runs"] == 1 and on_disk["summary"][v]["seeds"] == [0]
    steps = len(T.LengthBucketBatches(fold.train, 4, 0))          # 10 conversations / 4 = 3 steps
    g = on_disk["runs"]["dann_ganin"]["0"]
    assert g["steps_per_epoch"] == steps == 3 and g["lambda_history"]["steps"] == steps  # one call per real step
    # lambda_p = 2/(1+exp(-10p))-1 at p = step / total: 0 at the first step, rising at the last one
    assert g["lambda_history"]["first"] == 0.0
    assert g["lambda_history"]["last"] == pytest.approx(ganin_lambda((steps - 1) / steps))
    assert g["lambda_history"]["last"] > 0.9
    assert g["final_lambda"] == pytest.approx(g["lambda_history"]["last"])
    assert on_disk["runs"]["ci"]["0"]["final_lambda"] == 0.0 and "lambda_history" not in on_disk["runs"]["ci"]["0"]
    md = S.markdown(res)
    assert "| `dann_ganin` |" in md and "| `ci` |" in md and "Ganin schedule as run (3 steps" in md

    # resumable: finished (variant, seed) runs are not retrained
    def boom(*a, **k):
        raise AssertionError("a finished run was retrained")
    monkeypatch.setattr(S, "run_one", boom)
    again = S.study(fold, ["ci", "dann_ganin"], [0], **kw)
    assert again["runs"]["ci"]["0"]["wa"] == on_disk["runs"]["ci"]["0"]["wa"]


def test_unknown_variant_is_an_error(fold):
    with pytest.raises(ExperimentError, match="unknown variant"):
        S.run_one(fold, "dann_l7", 0, model=TINY, epochs=1, batch_size=4, learning_rate=1e-3)
