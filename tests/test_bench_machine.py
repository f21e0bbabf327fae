"""benchmarks/_machine.py: the JSON every --save writes."""
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_save_results_records_command_machine_load_and_rows(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    sys.modules.pop("_machine", None)
    from _machine import save_results

    out = tmp_path / "sub" / "bench.json"
    t0 = time.time() - 2.0
    save_results(out, "benchmarks/bench_x.py", ["--repeats", "3"], (1.5, 1.0, 0.5), t0, [{"a": 1}], notes={"k": 2})
    d = json.loads(out.read_text())
    assert d["command"] == "python benchmarks/bench_x.py --repeats 3"
    assert d["loadavg_before"] == [1.5, 1.0, 0.5] and len(d["loadavg_after"]) == 3
    assert d["rows"] == [{"a": 1}] and d["notes"] == {"k": 2}
    assert d["wall_s"] >= 2.0 and d["cores"] >= 1 and d["cpu"] and d["date"].endswith("+00:00")
    assert list(d)[-1] == "rows"
