"""IEMOCAP transcripts and categorical labels, dialogue by dialogue (no audio/video).

Layout: ``iemocap_text/dialogues.jsonl``, one line per dialogue
``{"dialogue", "session", "split", "utterances": [{"speaker": "M"/"F", "label", "text"}]}``
in spoken order (151 dialogues, 7 433 utterances). This is the transcript and
label content of the official release; the full release (with audio) is read by
:mod:`emozoo.data.corpora.iemocap`. Speaker = session + gender (``Ses01F``), as
the official turn names define it. Label codes follow the release (ang, hap,
exc, sad, neu, fru, ...): see :mod:`emozoo.data.labels`.
"""
import json

from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.errors import CorpusLayoutError

SPLITS = {"train": "train", "valid": "valid", "val": "valid", "dev": "valid", "test": "test"}


@register
class IEMOCAPText(CorpusReader):
    name = "iemocap_text"
    folder = "iemocap_text"
    modality = "text"
    culture = "english"
    language = "en"
    licence = "USC IEMOCAP licence (research, non-commercial)"
    source = "sail.usc.edu/iemocap"

    def _rows(self):
        path = self.require(self.root / "dialogues.jsonl", "dialogues.jsonl")
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                    dialogue, session, utts = d["dialogue"], int(d["session"]), d["utterances"]
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise CorpusLayoutError(f"iemocap_text: {path}:{n}: malformed dialogue line ({exc})") from exc
                split = SPLITS.get(d.get("split", ""), "")
                for i, u in enumerate(utts):
                    g = u.get("speaker", "")
                    if g not in ("M", "F"):
                        raise CorpusLayoutError(f"iemocap_text: {path}:{n}: utterance {i} speaker {g!r} is not M/F")
                    yield self.row(
                        f"{dialogue}_{i:03d}", label=u["label"], emotion=harmonise("iemocap", u["label"]),
                        speaker=f"Ses{session:02d}{g}", gender="male" if g == "M" else "female",
                        dialogue_id=dialogue, turn_index=i, transcript=u.get("text", ""), split=split,
                        extras={"session": session},
                    )
