"""Issue 16 section 3: a Latin-1 manifest CSV is read (and the user is told so, or picks the
encoding with --encoding); a --label-map that is not a JSON object is a one-line error."""
import logging
import os
import subprocess
import sys

import pytest

from emozoo.data.corpora.csv_manifest import load_label_map, read_manifest_csv
from emozoo.errors import ManifestError

ROWS = "path,label,speaker\nclips/a.wav,wut,Jos\u00e9\nclips/b.wav,angry,Ren\u00e9e\n"


@pytest.fixture()
def latin1_csv(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(ROWS.encode("latin-1"))
    return path


def test_latin1_csv_is_read_and_the_fallback_is_said(latin1_csv, caplog):
    with caplog.at_level(logging.WARNING, logger="emozoo.data"):
        m = read_manifest_csv(latin1_csv, label_map={"wut": "angry"})
    assert [r.speaker for r in m] == ["Jos\u00e9", "Ren\u00e9e"]
    assert "not UTF-8" in caplog.text and "byte 0xe9" in caplog.text and "--encoding" in caplog.text


def test_explicit_encoding(latin1_csv, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="emozoo.data"):
        m = read_manifest_csv(latin1_csv, label_map={"wut": "angry"}, encoding="latin-1")
    assert [r.speaker for r in m] == ["Jos\u00e9", "Ren\u00e9e"] and "not UTF-8" not in caplog.text
    with pytest.raises(ManifestError, match="not an encoding"):
        read_manifest_csv(latin1_csv, encoding="klingon")
    with pytest.raises(ManifestError, match="not utf-8.*--encoding"):
        read_manifest_csv(latin1_csv, encoding="utf-8")
    utf8 = tmp_path / "utf8.csv"
    utf8.write_text(ROWS, encoding="utf-8")
    assert [r.speaker for r in read_manifest_csv(utf8, label_map={"wut": "angry"})] == ["Jos\u00e9", "Ren\u00e9e"]


def test_binary_file_is_not_a_manifest(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"path,label\n\x00\x01\x02,angry\n")
    with pytest.raises(ManifestError, match="NUL bytes"):
        read_manifest_csv(path)


@pytest.mark.parametrize("text, pattern", [
    ("{wut: angry", "not JSON"),
    ("[\"angry\"]", "JSON object"),
    ('{"wut": 3}', "JSON object"),
    (b"\xff\xfe{}", "not UTF-8"),
    (None, "no such file"),
])
def test_label_map_that_is_not_a_json_object(tmp_path, text, pattern):
    path = tmp_path / "map.json"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    with pytest.raises(ManifestError, match=pattern) as exc:
        load_label_map(str(path))
    assert "--label-map" in str(exc.value) and "\n" not in str(exc.value)


def _cli(*args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=300, env=env)


def test_cli_latin1_manifest_and_bad_label_map(latin1_csv, tmp_path):
    (tmp_path / "map.json").write_text('{"wut": "angry"}')
    out = _cli("emozoo.data", "inspect", "--corpus", "csv", "--manifest", str(latin1_csv),
               "--label-map", str(tmp_path / "map.json"))
    assert out.returncode == 0, out.stderr
    assert "2 clips" in out.stdout and "Jos\u00e9" in out.stdout
    assert "not UTF-8" in out.stderr and "Traceback" not in out.stderr
    out = _cli("emozoo.data", "inspect", "--corpus", "csv", "--manifest", str(latin1_csv), "--encoding", "latin-1",
               "--label-map", str(tmp_path / "map.json"))
    assert out.returncode == 0 and "not UTF-8" not in out.stderr, out.stderr
    (tmp_path / "bad.json").write_text("wut=angry\n")
    for cmd in (("emozoo.data", "inspect", "--corpus", "csv", "--manifest"), ("emozoo.validate", "--no-plot",
                                                                           "--out", str(tmp_path / "v"))):
        out = _cli(*cmd, str(latin1_csv), "--label-map", str(tmp_path / "bad.json"))
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert out.stderr.strip().splitlines() == [f"error: --label-map {tmp_path / 'bad.json'}: not JSON "
                                                   "(Expecting value, line 1 column 1); give a JSON object such as "
                                                   '{"wut": "angry"}']
