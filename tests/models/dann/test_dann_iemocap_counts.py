"""The IEMOCAP 4-class turn counts documented in docs/methods/dann.md (5 584 here vs the paper's
5 531; session 5: 1 242 vs 1 241)."""
import collections
import json
from pathlib import Path

import pytest

FOUR = {"ang", "hap", "exc", "neu", "sad"}


@pytest.mark.data
def test_iemocap_four_class_counts_per_session(data_dir):
    path = Path(data_dir) / "iemocap_text" / "dialogues.jsonl"
    if not path.exists():
        pytest.skip(f"{path} not present")
    per = collections.Counter()
    for line in path.read_text().splitlines():
        d = json.loads(line)
        per[d["session"]] += sum(u["label"] in FOUR for u in d["utterances"])
    assert [per[s] for s in range(1, 6)] == [1093, 1031, 1187, 1031, 1242]
    assert sum(per.values()) == 5584
