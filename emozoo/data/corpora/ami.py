"""AMI Meeting Corpus, English (many non-native speakers), unlabelled, CC BY 4.0.

Reads the audio as fetched by the official AMI download script::

    amicorpus/
      ES2002a/audio/ES2002a.Mix-Headset.wav     headset mix (default stream)
      ES2002a/audio/ES2002a.Array1-01.wav       microphone array 1, channel 1
      ES2002a/audio/ES2002a.Headset-0.wav       individual headsets 0..4
      IS1000a/ ... TS3003a/ ... EN2001a/ ... IB4001/ ... IN1001/ ...

Meeting ids start with the site and kind: ES/IS/TS scenario meetings
(Edinburgh, Idiap, TNO), EN/IB/IN non-scenario meetings. Other folders are
ignored; a meeting without the requested stream is skipped.

One row per meeting recording of the chosen stream: ``clip_id`` and
``dialogue_id`` the meeting id, ``emotion`` "" (the corpus has no emotion
labels: it feeds unlabelled/self-supervised training), ``speaker`` "",
``extras`` scenario (the two-letter prefix), session (the meeting id), stream,
duration (seconds), sample_rate, channels.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import soundfile

from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.manifest import ManifestRow
from emozoo.errors import CorpusLayoutError

MEETING = re.compile(r"^(?P<scenario>ES|IS|TS|EN|IB|IN)\d{4}[a-z]?$")
STREAM = re.compile(r"^[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")


def audio_info(path: Path) -> dict:
    """Duration (s), sample rate and channels of one wav; :class:`CorpusLayoutError` if unreadable."""
    try:
        info = soundfile.info(str(path))
    except (RuntimeError, OSError) as exc:
        raise CorpusLayoutError(
            f"ami: cannot read {path} ({exc}); re-download it with the AMI download script") from None
    return {"duration": info.frames / info.samplerate, "sample_rate": info.samplerate,
            "channels": info.channels}


@register
class AMI(CorpusReader):
    """Reader of the AMI Meeting Corpus audio (layout in the module docstring).

    Args:
        root: the ``amicorpus`` folder, or the folder holding it (default ``<data_dir>/amicorpus``).
        data_dir: data directory used when ``root`` is None.
        stream: which recording of each meeting: ``Mix-Headset`` (default),
            ``Array1-01`` .. ``Array2-08``, ``Headset-0`` .. ``Headset-4``; the part
            of the file name between the meeting id and ``.wav``.

    Example:
        >>> m = AMI("/data/amicorpus", stream="Array1-01").read()  # doctest: +SKIP
    """

    name = "ami"
    folder = "amicorpus"
    modality = "audio"
    culture = "english"
    language = "en"
    licence = "CC BY 4.0"
    source = "groups.inf.ed.ac.uk/ami/corpus"

    def __init__(self, root=None, *, data_dir=None, stream: str = "Mix-Headset"):
        super().__init__(root, data_dir=data_dir)
        if (self.root / self.folder).is_dir():
            self.root = self.root / self.folder
        if not isinstance(stream, str) or not STREAM.match(stream):
            raise CorpusLayoutError(
                f"ami: stream {stream!r} is not a stream name; use e.g. 'Mix-Headset', 'Array1-01' or 'Headset-0'")
        self.stream = stream

    def _rows(self) -> Iterator[ManifestRow]:
        meetings = sorted(p for p in self.root.iterdir() if p.is_dir() and MEETING.match(p.name))
        if not meetings:
            raise CorpusLayoutError(
                f"ami: no meeting folders (ES2002a, IS1000a, ...) under {self.root}; point root at the "
                "amicorpus folder written by the AMI download script")
        found = 0
        streams: set[str] = set()
        for meeting in meetings:
            audio = meeting / "audio"
            wav = audio / f"{meeting.name}.{self.stream}.wav"
            if not wav.is_file():
                streams.update(p.name[len(meeting.name) + 1:-len(".wav")] for p in audio.glob(f"{meeting.name}.*.wav"))
                continue
            found += 1
            yield self.row(
                meeting.name, path=str(wav), dialogue_id=meeting.name,
                extras={"scenario": MEETING.match(meeting.name)["scenario"], "session": meeting.name,
                        "stream": self.stream, **audio_info(wav)},
            )
        if not found:
            raise CorpusLayoutError(
                f"ami: no <meeting>/audio/<meeting>.{self.stream}.wav under {self.root}; streams present: "
                f"{sorted(streams) or 'none'} (pass stream=...)")
