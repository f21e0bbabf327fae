"""Label harmonisation: each corpus's own labels -> one emotion vocabulary -> label sets.

Two explicit steps, both tables below (also rendered in ``docs/datasets.md``):

1. ``CORPUS_LABELS[corpus]`` maps the corpus's original label (file-name code,
   folder name, annotation string) to a harmonised emotion name from
   :data:`EMOTIONS`. A label missing from the table is an error, never a guess.
2. A :class:`LabelSet` maps harmonised emotions onto the classes an experiment
   uses. ``4class`` is the neutral/happy/angry/sad set of seeds 000 and 001
   (IEMOCAP ``excited`` merged into ``happy``; ``frustrated`` and the rest are
   not in the set and stay as unlabelled context when asked).

=========  ===================================================================
corpus     original -> harmonised
=========  ===================================================================
emodb      W anger->angry, L boredom->boredom, E Ekel->disgust, A Angst->fear,
           F Freude->happy, T Trauer->sad, N neutral->neutral
casia      angry, fear, happy, neutral, sad, surprise (identity)
ravdess    01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful->fear,
           07 disgust, 08 surprised->surprise
jaffe      AN angry, DI disgust, FE fear, HA happy, NE neutral, SA sad, SU surprise
ckplus     anger->angry, contempt, disgust, fear, happy, sadness->sad, surprise
fer2013    angry, disgust, fear, happy, neutral, sad, surprise (identity; the CSV
           release's codes 0..6 in that order)
iemocap    ang angry, hap happy, exc excited, sad sad, neu neutral, fru frustrated,
           sur surprise, fea fear, dis disgust, oth other, xxx -> unlabelled
meld       anger->angry, disgust, fear, joy->happy, neutral, sadness->sad, surprise
afew       Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise (lower-cased)
cheavd     MEC 2017's eight: angry, anxious, disgust, happy, neutral, sad,
           surprise, worried
=========  ===================================================================
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from emozoo.errors import LabelError

EMOTIONS = (
    "neutral", "calm", "happy", "excited", "sad", "angry", "fear", "disgust", "surprise",
    "boredom", "contempt", "frustrated", "anxious", "worried", "other",
)

CORPUS_LABELS: dict[str, dict[str, str]] = {
    "emodb": {"W": "angry", "L": "boredom", "E": "disgust", "A": "fear", "F": "happy",
              "T": "sad", "N": "neutral"},
    "casia": {k: k for k in ("angry", "fear", "happy", "neutral", "sad", "surprise")},
    "ravdess": {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
                "06": "fear", "07": "disgust", "08": "surprise"},
    "jaffe": {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral",
              "SA": "sad", "SU": "surprise"},
    "ckplus": {"anger": "angry", "contempt": "contempt", "disgust": "disgust", "fear": "fear",
               "happy": "happy", "sadness": "sad", "surprise": "surprise"},
    "fer2013": {k: k for k in ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")},
    "iemocap": {"ang": "angry", "hap": "happy", "exc": "excited", "sad": "sad", "neu": "neutral",
                "fru": "frustrated", "sur": "surprise", "fea": "fear", "dis": "disgust",
                "oth": "other", "xxx": ""},
    "meld": {"anger": "angry", "disgust": "disgust", "fear": "fear", "joy": "happy",
             "neutral": "neutral", "sadness": "sad", "surprise": "surprise"},
    "afew": {k: k.lower() for k in ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")},
    "cheavd": {k: k for k in ("angry", "anxious", "disgust", "happy", "neutral", "sad",
                              "surprise", "worried")},
}
# The CSV release of FER2013 codes emotions 0..6 in this order.
FER2013_CODES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def harmonise(corpus: str, original: str) -> str:
    """Map a corpus's original label to the harmonised emotion ("" = unlabelled)."""
    table = CORPUS_LABELS.get(corpus)
    if table is None:
        raise LabelError(f"no label table for corpus {corpus!r}; known: {sorted(CORPUS_LABELS)}")
    try:
        return table[original]
    except KeyError:
        raise LabelError(
            f"unknown {corpus} label {original!r}; the corpus uses {sorted(table)}"
        ) from None


@dataclasses.dataclass(frozen=True)
class LabelSet:
    """Classes of an experiment and how harmonised emotions map onto them.

    Args:
        name: registry name (``4class``).
        classes: class names in index order.
        merge: extra emotion -> class mappings (``excited`` -> ``happy``).
    """

    name: str
    classes: tuple
    merge: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def maps(self, emotion: str) -> bool:
        return emotion in self.classes or emotion in self.merge

    def harmonise(self, emotion: str) -> str:
        if emotion in self.classes:
            return emotion
        if emotion in self.merge:
            return self.merge[emotion]
        raise LabelError(f"emotion {emotion!r} is not in label set {self.name!r} {self.classes}")

    def index(self, emotion: str) -> int:
        return self.classes.index(self.harmonise(emotion))

    @property
    def num_classes(self) -> int:
        return len(self.classes)


LABEL_SETS: dict[str, LabelSet] = {}


def register_label_set(label_set: LabelSet) -> LabelSet:
    for c in list(label_set.classes) + list(label_set.merge.values()):
        if c not in EMOTIONS:
            raise LabelError(f"label set {label_set.name!r}: {c!r} is not a harmonised emotion")
    LABEL_SETS[label_set.name] = label_set
    return label_set


def get_label_set(name_or_classes: str | Sequence[str]) -> LabelSet:
    """A registered label set by name, or an ad-hoc one from a list of emotions."""
    if isinstance(name_or_classes, str):
        if name_or_classes in LABEL_SETS:
            return LABEL_SETS[name_or_classes]
        if "," in name_or_classes:
            name_or_classes = [c.strip() for c in name_or_classes.split(",") if c.strip()]
        else:
            raise LabelError(f"unknown label set {name_or_classes!r}; known: {sorted(LABEL_SETS)}")
    classes = tuple(name_or_classes)
    unknown = [c for c in classes if c not in EMOTIONS]
    if unknown:
        raise LabelError(f"{unknown} are not harmonised emotions {EMOTIONS}")
    return LabelSet(name=",".join(classes), classes=classes)


# Seeds 000/001: neutral, happy, angry, sad; IEMOCAP excited merged into happy.
register_label_set(LabelSet("4class", ("neutral", "happy", "angry", "sad"), {"excited": "happy"}))
# Seed 000 faces / seed 004: the six basic emotions JAFFE and CK+ share.
register_label_set(LabelSet("6basic", ("angry", "disgust", "fear", "happy", "sad", "surprise")))
# FER2013 / MELD: six basic + neutral.
register_label_set(LabelSet("7basic", ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")))
# Full class sets of the speech corpora (EmoBox convention).
register_label_set(LabelSet("emodb7", ("angry", "boredom", "disgust", "fear", "happy", "neutral", "sad")))
register_label_set(LabelSet("casia6", ("angry", "fear", "happy", "neutral", "sad", "surprise")))
register_label_set(LabelSet("ravdess8", ("neutral", "calm", "happy", "sad", "angry", "fear", "disgust", "surprise")))
