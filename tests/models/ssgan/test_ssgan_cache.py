"""A cached SSGAN fold is reused only for the same data and models (a backbone preset once read the
eGeMAPS / Dface runs of the setting it shares, because the cache folder did not name the feature)."""
import dataclasses
import importlib.util
import json
from pathlib import Path

import pytest

from emozoo.errors import SplitError
from emozoo.models.ssgan import ssgan_task as T


def _table_module():
    path = Path(__file__).resolve().parents[3] / "pipelines" / "ssgan_table.py"
    spec = importlib.util.spec_from_file_location("ssgan_table_for_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cached_fold_of_another_feature_or_without_a_model_is_refused(tmp_path):
    spec = T.RunSpec(setting="functionals", fraction=0.1, feature="whisper_base", models=("fsbase", "ssgan"))
    out = tmp_path / "fold0.json"
    other = json.loads(json.dumps(dataclasses.asdict(dataclasses.replace(spec, feature="egemaps"))))
    out.write_text(json.dumps({"spec": other, "models": {"fsbase": {}, "ssgan": {}}}))
    with pytest.raises(SplitError, match=r"differs in \['feature'\]"):
        T.run_one(spec, out)
    same = json.loads(json.dumps(dataclasses.asdict(spec)))
    out.write_text(json.dumps({"spec": same, "models": {"ssgan": {}}}))
    with pytest.raises(SplitError, match=r"lacks models \['fsbase'\]"):
        T.run_one(spec, out)
    out.write_text(json.dumps({"spec": same, "models": {"fsbase": {"x": 1}, "ssgan": {}}}))
    assert T.run_one(spec, out)["models"]["fsbase"] == {"x": 1}        # the same run: reused


def test_backbone_presets_get_their_own_cache_folders():
    table = _table_module()
    from emozoo.experiments import get_experiment

    tags = {}
    for name in ("ssgan/functionals/frac20", "ssgan/speech_whisper/frac20", "ssgan/face_dface/frac20",
                 "ssgan/face_mobilenet/frac20"):
        run = get_experiment(name).model.params["run"]
        tags[name] = table._tag(table._spec(dict(run), []))
    assert len(set(tags.values())) == 4, tags
    assert tags["ssgan/functionals/frac20"] == "functionals/frac20_self_s300_ctref"      # old caches stay valid
    assert tags["ssgan/speech_whisper/frac20"].endswith("_whisper_base")
