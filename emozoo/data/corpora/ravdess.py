"""RAVDESS (Ryerson Audio-Visual Database of Emotional Speech and Song), North-American English.

Layout: ``ravdess/Actor_XX/MM-VV-EE-II-SS-RR-AA.<ext>`` with official names:
modality MM (01 full AV, 02 video-only, 03 audio-only), vocal channel VV (01
speech, 02 song), emotion EE (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
06 fearful, 07 disgust, 08 surprised), intensity II, statement SS, repetition
RR, actor AA (odd male, even female). Official audio is 48 kHz ``.wav``; the
copy here is 16 kHz ``.flac`` (1 424 of 1 440 speech files). Video clips
(``01-01-*.mp4``) are read with ``modality="video"``.
"""
import re

from emozoo.data.corpora._common import AUDIO_EXTS, VIDEO_EXTS, files_with, prefer_one_per_stem
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.errors import CorpusLayoutError

NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}


def parse_name(stem: str) -> dict:
    """The factors of an official RAVDESS file name."""
    m = NAME.match(stem)
    if not m:
        raise CorpusLayoutError(f"ravdess: {stem!r} is not an official name MM-VV-EE-II-SS-RR-AA")
    keys = ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")
    return dict(zip(keys, m.groups()))


@register
class RAVDESS(CorpusReader):
    """Args: modality: ``audio`` (03-* files, default) or ``video`` (01-* files);
    vocal_channel: ``speech`` (default), ``song`` or ``all``."""

    name = "ravdess"
    folder = "ravdess"
    modality = "audio"
    culture = "english"
    language = "en"
    licence = "CC BY-NC-SA 4.0 (non-commercial)"
    source = "zenodo record 1188976"

    def __init__(self, root=None, *, data_dir=None, modality: str = "audio", vocal_channel: str = "speech"):
        super().__init__(root, data_dir=data_dir)
        if modality not in ("audio", "video"):
            raise ValueError(f"ravdess modality must be 'audio' or 'video', got {modality!r}")
        self.media = modality
        self.channels = {"speech": {"01"}, "song": {"02"}, "all": {"01", "02"}}[vocal_channel]

    def _rows(self):
        exts, want = (AUDIO_EXTS, "03") if self.media == "audio" else (VIDEO_EXTS, "01")
        for path in prefer_one_per_stem(files_with(self.root, exts, "Actor_*/*"), order=exts):
            f = parse_name(path.stem)
            if f["modality"] != want or f["vocal_channel"] not in self.channels:
                continue
            actor = f["actor"]
            if path.parent.name != f"Actor_{actor}":
                raise CorpusLayoutError(f"ravdess: {path} is in {path.parent.name}, its name says actor {actor}")
            yield self.row(
                path.stem, path=str(path), label=f["emotion"], emotion=harmonise("ravdess", f["emotion"]),
                speaker=actor, gender="male" if int(actor) % 2 else "female",
                transcript=STATEMENTS.get(f["statement"], ""),
                extras={k: f[k] for k in ("intensity", "statement", "repetition", "vocal_channel")},
            )
