import json

from emozoo.utils import write_json_atomic


def test_write_json_atomic_creates_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a" / "b" / "r.json"
    write_json_atomic(path, {"x": 1})
    assert json.loads(path.read_text()) == {"x": 1}
    write_json_atomic(path, [1, 2], indent=None)
    assert path.read_text() == "[1, 2]"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]
