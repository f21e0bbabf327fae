"""Statistics protos: exact counts and moments, NaN counts, slices, label distribution per slice."""
import numpy as np
import pytest

from emozoo.data.manifest import Manifest, ManifestRow
from emozoo.validate.statistics import (ALL_EXAMPLES, StatisticsBuilder, common_stats, compute_manifest_statistics,
                                        compute_statistics, custom_stat, dataset, features_by_name, value_counts)
from tests.validate import stores


def test_moments_and_counts_are_exact():
    exs = stores.examples(n=40, dims=8)
    stats = compute_statistics(exs, stores.spec())
    ds = dataset(stats)
    assert ds.name == ALL_EXAMPLES and ds.num_examples == 40
    fs = features_by_name(ds)["feat"]
    vals = np.concatenate([e["feat"] for e in exs]).astype(np.float64)
    assert fs.num_stats.mean == pytest.approx(vals.mean(), rel=1e-9)
    assert fs.num_stats.std_dev == pytest.approx(vals.std(), rel=1e-9)
    assert (fs.num_stats.min, fs.num_stats.max) == pytest.approx((vals.min(), vals.max()))
    assert fs.num_stats.median == pytest.approx(np.median(vals))
    cs = common_stats(fs)
    assert (cs.num_non_missing, cs.num_missing, cs.min_num_values, cs.max_num_values) == (40, 0, 8, 8)
    hist = fs.num_stats.histograms[0]
    assert sum(b.sample_count for b in hist.buckets) == pytest.approx(vals.size)
    assert custom_stat(fs, "declared_shape") == "[8]"


def test_nan_and_inf_are_counted_not_averaged():
    exs = stores.examples(n=10, dims=4)
    exs[2]["feat"] = np.array([np.nan, np.nan, 1.0, np.inf], np.float32)
    fs = features_by_name(dataset(compute_statistics(exs)))["feat"]
    assert custom_stat(fs, "num_nan") == 2 and custom_stat(fs, "num_inf") == 1
    assert custom_stat(fs, "num_finite") == 37
    assert np.isfinite(fs.num_stats.mean) and fs.num_stats.histograms[0].num_nan == 2


def test_slices_by_split_and_culture_carry_label_distribution():
    exs = stores.examples(n=20) + stores.examples(n=12, culture="mandarin", corpus="casia")
    stats = compute_statistics(exs)
    names = [d.name for d in stats.datasets]
    assert names == [ALL_EXAMPLES, "split=test", "split=train", "culture=german", "culture=mandarin"]
    mandarin = features_by_name(dataset(stats, "culture=mandarin"))["emotion"]
    assert value_counts(mandarin) == {"neutral": 3, "happy": 3, "angry": 3, "sad": 3}
    assert dataset(stats, "split=test").num_examples == 4 + 3


def test_reservoir_keeps_memory_bounded_and_is_deterministic():
    rng = np.random.default_rng(1)
    exs = [{"x": rng.normal(size=100).astype(np.float32)} for _ in range(300)]
    a = compute_statistics(exs, reservoir_size=500, seed=3, slice_keys=())
    b = compute_statistics(exs, reservoir_size=500, seed=3, slice_keys=())
    assert a == b
    fs = features_by_name(dataset(a))["x"]
    assert fs.num_stats.median == pytest.approx(0.0, abs=0.15)     # estimate from 500 of 30 000 values
    vals = np.concatenate([e["x"] for e in exs])
    assert fs.num_stats.mean == pytest.approx(vals.mean(), rel=1e-6)   # exact regardless


def test_builder_rejects_bad_arguments():
    with pytest.raises(ValueError):
        StatisticsBuilder(num_histogram_buckets=0)
    with pytest.raises(TypeError):
        StatisticsBuilder().update([1, 2, 3])


def test_manifest_statistics_count_missing_files(tmp_path):
    real = tmp_path / "a.wav"
    real.write_bytes(b"x")
    rows = [ManifestRow(clip_id="a", path=str(real), label="W", emotion="angry", speaker="03", corpus="emodb",
                        culture="german"),
            ManifestRow(clip_id="b", path=str(tmp_path / "gone.wav"), label="N", emotion="neutral", speaker="03",
                        corpus="emodb", culture="german")]
    stats = compute_manifest_statistics(Manifest(rows, name="toy"))
    fs = features_by_name(dataset(stats))["path"]
    assert custom_stat(fs, "num_missing_files") == 1
