"""The one LOCO summariser (emozoo.evaluation.loco.summarise / summarise_rows) that the loco runner
and the emotion_speech / emotion_face benchmarks share: hand-computed means and deviations."""
from __future__ import annotations

import pytest

from emozoo.evaluation import loco


def _cell(u, wa=None):
    return {"none": {"uar": u, "wa": u if wa is None else wa, "macro_f1": u}}


def test_rows_are_split_and_summarised_per_row():
    cells = {"h/a/seed0": _cell(0.2), "h/b/seed0": _cell(0.4), "h/a/seed1": _cell(0.6), "h/b/seed1": _cell(0.8),
             "g/a/seed0": _cell(0.1, wa=0.3), "g/b/seed0": _cell(0.5, wa=0.3)}
    s = loco.summarise_rows(cells, ("a", "b"), ("none",))
    assert list(s) == ["g", "h"]                               # rows sorted
    # h: target a over seeds 0.2, 0.6 -> 40 +- 20; per-seed means 0.3, 0.7 -> 50 +- 20
    assert s["h"]["a"]["none"]["uar"] == {"mean": 40.0, "std": 20.0, "seeds": 2}
    assert s["h"]["mean"]["none"]["uar"] == {"mean": 50.0, "std": 20.0, "seeds": 2}
    # g: one seed, mean of 0.1 and 0.5 -> 30 +- 0; wa 30 everywhere
    assert s["g"]["mean"]["none"]["uar"] == {"mean": 30.0, "std": 0.0, "seeds": 1}
    assert s["g"]["b"]["none"]["wa"] == {"mean": 30.0, "std": 0.0, "seeds": 1}


def test_targets_per_row_and_the_mean_needs_a_seed_covering_every_target():
    cells = {"ref/a/seed0": _cell(0.9), "ref/b/seed0": _cell(0.7),          # ref: targets a, b only
             "full/a/seed0": _cell(0.9), "full/b/seed1": _cell(0.7), "full/c/seed0": _cell(0.5)}
    s = loco.summarise_rows(cells, lambda row: ("a", "b") if row == "ref" else ("a", "b", "c"), ("none",),
                            metrics=("uar",))
    assert s["ref"]["mean"]["none"] == {"uar": {"mean": 80.0, "std": 0.0, "seeds": 1}}
    # every target of "full" has a cell, but no seed covers all three: per-target rows, no mean
    assert set(s["full"]) == {"a", "b", "c"}
    assert s["full"]["b"]["none"]["uar"]["mean"] == pytest.approx(70.0)


def test_summarise_rounds_percent_to_two_decimals():
    cells = {"a/seed0": _cell(1 / 3), "a/seed1": _cell(2 / 3)}
    s = loco.summarise(cells, ("a",), ("none",), ("uar",))
    assert s["a"]["none"]["uar"] == {"mean": 50.0, "std": 16.67, "seeds": 2}
    assert s["mean"]["none"]["uar"] == {"mean": 50.0, "std": 16.67, "seeds": 2}


def test_fill_cells_runs_the_missing_cells_seed_first_and_saves_each():
    def cell(row, target, seed):
        calls.append(f"{row}/{target}/{seed}")
        u = 0.5 + 0.1 * seed
        out = {c: {"uar": u, "wa": u, "macro_f1": u} for c in ("none", "adapt10", "adapt50", "adapt_all")}
        if row == "timed":
            out["seconds"] = 42.0
        return out
    calls, lines, saved = [], [], []
    results = {"cells": {"h/b/seed0": "kept"}}
    loco.fill_cells(results, ["h", "timed"], range(2), lambda row: ("a", "b") if row == "h" else ("a",), cell,
                    save=lambda r: saved.append(len(r["cells"])), log=lines.append)
    assert calls == ["h/a/0", "timed/a/0", "h/a/1", "h/b/1", "timed/a/1"]          # seed outermost; h/b/seed0 kept
    assert results["cells"]["h/b/seed0"] == "kept" and len(results["cells"]) == 6
    assert saved == [2, 3, 4, 5, 6]
    assert lines[2].startswith("h/a/seed1") and "UAR none  60.0  adapt10  60.0  adapt50  60.0  all  60.0" in lines[2]
    assert lines[1].endswith("(42 s)") and lines[0].endswith("(0 s)")
    s = loco.summarise_rows(results["cells"] | {"h/b/seed0": cell("h", "b", 0)}, ("a", "b"), ("none",))
    assert s["h"]["mean"]["none"]["uar"] == {"mean": 55.0, "std": 5.0, "seeds": 2}
