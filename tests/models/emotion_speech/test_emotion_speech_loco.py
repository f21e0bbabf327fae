"""The LOCO benchmark's mechanics on synthetic corpora: adaptation undoes a corpus shift, the
summary averages targets per seed, the control head is never chosen."""
import numpy as np
import pytest

from emozoo.models.emotion_speech import emotion_speech_loco as L


def _corpora(seed=0):
    """Three corpora; the class lives in row 1; each corpus has its own offset and scale
    (what per-corpus normalisation removes and pooled normalisation does not)."""
    rng = np.random.default_rng(seed)
    xs, ys, cs = [], [], []
    for c, size in zip(L.CORPORA, (0.0, 0.5, 4.0)):
        shift, scale = rng.normal(0, size, (3, 8)), np.exp(rng.normal(0, size / 4, (3, 8)))   # per row and dim
        y = rng.integers(0, 4, 160)
        x = rng.normal(0, 1, (160, 3, 8))
        x[:, 1, :4] += 2.5 * np.eye(4)[y]
        xs.append(x * scale + shift)
        ys.append(y)
        cs += [c] * 160
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys), np.array(cs)


def test_adaptation_undoes_a_corpus_shift():
    x, y, corpus = _corpora()
    cell = L.loco_cell(x, y, corpus, "ravdess", "linear", 0, 4)     # the shifted, scaled corpus
    assert cell["adapt_all"]["uar"] > 0.8
    assert cell["none"]["uar"] < cell["adapt_all"]["uar"] - 0.2      # pooled statistics do not fit it
    assert cell["adapt50"]["uar"] > cell["none"]["uar"]
    assert np.sum(cell["adapt_all"]["confusion"]) == 160
    assert int(np.argmax(cell["layer_weights"])) == 1


def test_summary_and_choice(monkeypatch):
    def fake(uar):
        return {c: {"uar": uar + 0.01 * i, "wa": uar, "macro_f1": uar} for i, c in enumerate(L.CONDITIONS)}
    cells = {}
    for s in range(2):
        for t, base in zip(L.CORPORA, (0.5, 0.6, 0.7)):
            cells[f"linear/{t}/seed{s}"] = fake(base + 0.02 * s)
            cells[f"bsl/{t}/seed{s}"] = fake(base - 0.1)
            cells[f"linear+pooledtrain/{t}/seed{s}"] = fake(base + 0.2)
    summary = L.summarise({"cells": cells})
    m = summary["linear"]["mean"]["none"]["uar"]
    assert m["mean"] == pytest.approx(61.0) and m["std"] == pytest.approx(1.0) and m["seeds"] == 2
    assert summary["linear"]["casia"]["adapt_all"]["uar"]["mean"] == pytest.approx(64.0)
    head, crit = L.choose_head(summary)
    assert head == "linear" and "linear+pooledtrain" not in crit    # the control is never a candidate


def test_unknown_head_variant_is_refused():
    x, y, corpus = _corpora()
    with pytest.raises(ValueError, match="unknown head variant"):
        L.loco_cell(x, y, corpus, "emodb", "linear+other", 0, 4)
