import json

from emozoo.utils import write_json_atomic


def test_write_json_atomic_creates_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a" / "b" / "r.json"
    write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    write_json_atomic(path, [1, 2], indent=None)
    assert path.read_text() == "[1, 2]"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_balanced_sample_weights_give_each_class_the_same_total_weight():
    import numpy as np

    from emozoo.utils import balanced_sample_weights

    y = np.array([0, 0, 0, 1, 2, 2])
    w = balanced_sample_weights(y, 4)        # class 3 absent: no rows, no division by zero
    assert w.dtype == np.float32 and w.shape == (6,)
    totals = [w[y == c].sum() for c in range(3)]
    assert np.allclose(totals, len(y) / 4)


def test_replace_marked_section_replaces_only_between_the_markers(tmp_path):
    import pytest

    from emozoo.utils import replace_marked_section

    doc = tmp_path / "R.md"
    doc.write_text("# top\n<!-- BEGIN a -->\nold a\n<!-- END a -->\nkeep\n<!-- BEGIN b -->\nold b\n<!-- END b -->\n")
    replace_marked_section(doc, "a", "new a\n\nline 2\n")
    assert doc.read_text() == ("# top\n<!-- BEGIN a -->\nnew a\n\nline 2\n<!-- END a -->\nkeep\n"
                               "<!-- BEGIN b -->\nold b\n<!-- END b -->\n")
    before = doc.read_text()
    for bad in ("missing", ):
        with pytest.raises(ValueError, match="unchanged"):
            replace_marked_section(doc, bad, "x")
    doc.write_text(before + "<!-- BEGIN b -->\n")          # a repeated marker: refused, file untouched
    with pytest.raises(ValueError):
        replace_marked_section(doc, "b", "x")
    assert doc.read_text() == before + "<!-- BEGIN b -->\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["R.md"]
