"""The adapt() loop the flagship predictors share (emozoo.zoo.adaptation.AdaptationFiles._adapt_on),
on a tiny host class: no model, no weights."""
from __future__ import annotations

import numpy as np
import pytest

from emozoo.errors import InputRefused
from emozoo.zoo.adaptation import AdaptationError, AdaptationFiles


class _Host(AdaptationFiles):
    min_items = 2

    def __init__(self):
        self._stats, self.adapted, self.fitted = None, None, []

    def _fit(self, x, what):
        self.fitted.append(what)
        if len(x) < self.min_items:
            raise AdaptationError(f"needs {self.min_items}; {what} gave {len(x)} usable")
        return x.mean(0), x.std(0)

    def adapt(self, source):
        def decode(item):
            value = float(open(item).read()) if isinstance(item, str) else float(item)
            if value < 0:
                raise InputRefused("negative")
            return value
        return self._adapt_on(source, suffixes=(".txt",), files="text files", items="numbers",
                              accepts="a folder of text files or a list of numbers", decode=decode,
                              refused_by=InputRefused, refusal="refused (negative)",
                              features=lambda kept: np.asarray(kept, np.float64).reshape(-1, 1))


def test_listed_inputs_are_decoded_refusals_skipped_and_the_statistics_kept():
    h = _Host()
    assert h.adapt([1.0, -5.0, 3.0]) == 2
    assert h.adapted == 2 and h.fitted == ["3 numbers, 1 refused (negative)"]
    np.testing.assert_allclose(h._stats[0], [2.0])                 # mean of 1 and 3
    np.testing.assert_allclose(h._stats[1], [1.0])


def test_a_folder_gives_its_files_with_the_suffixes_recursively_and_sorted(tmp_path):
    (tmp_path / "sub").mkdir()
    for name, v in (("b.txt", "4"), ("sub/a.TXT", "2"), ("c.txt", "-1"), ("notes.md", "100")):
        (tmp_path / name).write_text(v)
    (tmp_path / "dir.txt").mkdir()                                    # a folder with the suffix: not a file
    h = _Host()
    assert h.adapt(str(tmp_path)) == 2
    assert h.fitted == [f"folder {tmp_path} (3 text files), 1 refused (negative)"]
    np.testing.assert_allclose(h._stats[0], [3.0])


def test_too_few_usable_inputs_and_a_path_that_is_no_folder(tmp_path):
    h = _Host()
    with pytest.raises(AdaptationError, match=r"2 numbers, 1 refused \(negative\) gave 1 usable"):
        h.adapt([1.0, -2.0])
    assert h.adapted is None and h._stats is None                     # nothing kept on failure
    with pytest.raises(AdaptationError, match="adapt takes a folder of text files or a list of numbers; this is not"):
        h.adapt(str(tmp_path / "missing"))
    with pytest.raises(TypeError):                                     # not a refusal: raised, not counted
        h.adapt([1.0, 2.0, None])


def test_statistics_follow_adapt_and_reset_returns_to_the_shipped_ones():
    h = _Host()
    h.shipped = (np.zeros(1), np.ones(1))
    h.reset()
    assert h.statistics is h.shipped and h.adapted is None
    h.adapt([2.0, 4.0])
    np.testing.assert_allclose(h.statistics[0], [3.0])
    assert h.adapted == 2
    h.reset()
    assert h.statistics is h.shipped and h.adapted is None
