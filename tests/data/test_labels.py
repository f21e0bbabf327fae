import pytest

from emozoo.data.labels import CORPUS_LABELS, EMOTIONS, LABEL_SETS, get_label_set, harmonise
from emozoo.errors import LabelError


def test_every_table_maps_into_the_vocabulary():
    for corpus, table in CORPUS_LABELS.items():
        for original, emotion in table.items():
            assert emotion == "" or emotion in EMOTIONS, (corpus, original)


def test_harmonise_and_unknown():
    assert harmonise("emodb", "W") == "angry"
    assert harmonise("iemocap", "exc") == "excited" and harmonise("iemocap", "xxx") == ""
    with pytest.raises(LabelError, match="unknown jaffe label 'XX'"):
        harmonise("jaffe", "XX")
    with pytest.raises(LabelError, match="no label table"):
        harmonise("nope", "a")


def test_label_sets():
    four = LABEL_SETS["4class"]
    assert four.classes == ("neutral", "happy", "angry", "sad")
    assert four.index("excited") == 1 and not four.maps("frustrated")
    with pytest.raises(LabelError):
        four.harmonise("frustrated")
    adhoc = get_label_set("angry,sad")
    assert adhoc.classes == ("angry", "sad")
    with pytest.raises(LabelError):
        get_label_set("angry,grumpy")
    with pytest.raises(LabelError, match="unknown label set"):
        get_label_set("5class")
