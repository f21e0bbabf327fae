"""Drift: JS divergence / L-infinity per feature and per dimension; culture drift on the real corpora."""
import json

import numpy as np
import pytest

from emozoo.validate.__main__ import main
from emozoo.validate.drift import (dimension_drift, drift_anomalies, histogram_js, js_divergence, l_infty,
                                   stats_drift)
from emozoo.validate.statistics import compute_statistics, dataset, features_by_name
from tests.validate import stores


def test_js_divergence_bounds():
    assert js_divergence([1, 2, 3], [1, 2, 3]) == pytest.approx(0.0)
    assert js_divergence([1, 0], [0, 1]) == pytest.approx(1.0)
    assert 0 < js_divergence([3, 1], [1, 3]) < 1
    assert np.isnan(js_divergence([0, 0], [1, 1]))


def test_l_infty():
    assert l_infty({"a": 5, "b": 5}, {"a": 5, "b": 5}) == 0
    assert l_infty({"a": 10}, {"a": 5, "b": 5}) == pytest.approx(0.5)


def test_histogram_js_detects_a_shift():
    same = compute_statistics(stores.examples(seed=1), slice_keys=())
    also = compute_statistics(stores.examples(seed=2), slice_keys=())
    moved = compute_statistics(stores.examples(seed=3, shift=3.0), slice_keys=())
    h = lambda s: features_by_name(dataset(s))["feat"].num_stats.histograms[0]  # noqa: E731
    assert histogram_js(h(same), h(same)) == pytest.approx(0.0, abs=1e-9)
    assert histogram_js(h(same), h(moved)) > 3 * histogram_js(h(same), h(also))


def test_dimension_drift_finds_the_drifted_dimension():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 20))
    b = rng.normal(size=(400, 20))
    b[:, 7] += 2.0
    r = dimension_drift(a, b, feature="x")
    assert r.top_dims[0][0] == 7 and r.top_dims[0][2] < -1.5
    assert r.max_value > 0.3 and r.frac_dims_above == pytest.approx(1 / 20)
    with pytest.raises(ValueError, match="dimensions"):
        dimension_drift(a, b[:, :3])


def test_stats_drift_and_anomalies():
    a = compute_statistics(stores.examples(seed=1))
    b = compute_statistics(stores.examples(seed=2, shift=4.0))
    res = {r.feature: r for r in stats_drift(a, b)}
    assert "speaker" not in res and res["feat"].value > 0.3 and res["emotion"].value == 0.0
    anomalies = drift_anomalies(list(res.values()), js_threshold=0.1)
    assert list(anomalies.anomaly_info) == ["feat"]


def test_cli_compare_and_drift_slice(tmp_path, capsys):
    a = stores.write(tmp_path / "a", seed=1)
    b = stores.write(tmp_path / "b", culture="mandarin", seed=2, shift=3.0)
    assert main([str(a), "--compare", str(b), "--fail-on-anomalies", "--no-plot"]) == 1
    out = capsys.readouterr().out
    assert "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in out and "a vs b" in out
    both = stores.write(tmp_path / "both", stores.examples(seed=1) + stores.examples(culture="mandarin", seed=2,
                                                                                       shift=3.0))
    assert main([str(both), "--drift-slice", "culture"]) == 0
    drift = json.loads((both / "validation" / "drift.json").read_text())
    [(label, results)] = drift.items()
    assert label == "culture=german vs culture=mandarin"
    feat = next(r for r in results if r["feature"] == "feat")
    assert feat["num_dims"] == 8 and feat["value"] > 0.3
    assert "Drift: culture=german vs culture=mandarin" in (both / "validation" / "report.md").read_text()
    assert main([str(a), "--drift-slice", "culture"]) == 2       # one culture: nothing to compare


# -- real data: culture drift between EmoDB (German) and CASIA (Mandarin) features ----------------

def _fbank_store(data_dir, corpus, out, per_speaker):
    """Log-Mel functionals (128 means + 128 stds) of a few clips per speaker, as a feature store."""
    from emozoo.data.audio import load_audio
    from emozoo.data.corpora import load_manifest
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, meta_values, write_store
    from emozoo.features.fbank import functionals, log_mel

    m = load_manifest(corpus, data_dir=data_dir).with_label_set("4class")
    by_spk = {}
    for row in sorted(m, key=lambda r: r.clip_id):
        if row.emotion and len(by_spk.setdefault(row.speaker, [])) < per_speaker:
            by_spk[row.speaker].append(row)
    rows = [r for rs in by_spk.values() for r in rs]
    classes = ("neutral", "happy", "angry", "sad")
    spec = StoreSpec.with_meta([FeatureSpec("fbank_stats", "float32", (256,), "log-Mel mean+std")], classes=classes)
    exs = []
    for r in rows:
        x, _ = load_audio(r.path, 16000)
        exs.append({**meta_values(r, classes), "fbank_stats": functionals(log_mel(x[: 16000 * 4])).numpy()})
    return write_store(exs, out, spec, split="all", num_shards=1), exs


@pytest.mark.data
def test_culture_drift_emodb_vs_casia(data_dir, tmp_path, capsys):
    emodb, emodb_ex = _fbank_store(data_dir, "emodb", tmp_path / "emodb_fbank", per_speaker=30)
    casia, casia_ex = _fbank_store(data_dir, "casia", tmp_path / "casia_fbank", per_speaker=75)
    assert main([str(emodb), "--compare", str(casia), "--fail-on-anomalies"]) == 1
    out = capsys.readouterr().out
    assert "drift emodb_fbank vs casia_fbank" in out and "COMPARATOR_JENSEN_SHANNON_DIVERGENCE_HIGH" in out
    across = json.loads((emodb / "validation" / "drift.json").read_text())["emodb_fbank vs casia_fbank"]
    across = next(r for r in across if r["feature"] == "fbank_stats")
    # within one culture (EmoDB speakers split in two halves) the drift is far smaller
    from emozoo.data.tfrecord import FeatureSpec, StoreSpec, write_store
    spk = sorted({e["speaker"] for e in emodb_ex})
    half = set(spk[: len(spk) // 2])
    spec = StoreSpec.with_meta([FeatureSpec("fbank_stats", "float32", (256,))], classes=("neutral", "happy", "angry",
                                                                                            "sad"))
    a = write_store([e for e in emodb_ex if e["speaker"] in half], tmp_path / "emodb_a", spec, split="all")
    spec2 = StoreSpec.from_json(spec.to_json())
    b = write_store([e for e in emodb_ex if e["speaker"] not in half], tmp_path / "emodb_b", spec2, split="all")
    assert main([str(a), "--compare", str(b), "--no-plot"]) == 0
    within = json.loads((a / "validation" / "drift.json").read_text())["emodb_a vs emodb_b"]
    within = next(r for r in within if r["feature"] == "fbank_stats")
    assert across["value"] > 0.1 and across["value"] > 3 * within["value"], (across["value"], within["value"])
    # the same drift, read as slices of one mixed store
    mixed = write_store(emodb_ex + casia_ex, tmp_path / "mixed", StoreSpec.from_json(spec.to_json()), split="all")
    assert main([str(mixed), "--drift-slice", "culture", "--no-plot"]) == 0
    sliced = json.loads((mixed / "validation" / "drift.json").read_text())
    assert list(sliced) == ["culture=german vs culture=mandarin"]
