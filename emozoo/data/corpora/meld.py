"""MELD (Multimodal EmotionLines Dataset): the official CSVs (Friends TV series).

Layout: ``meld/{train,dev,test}_sent_emo.csv`` with the official columns
(``Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID, Utterance_ID,
Season, Episode, StartTime, EndTime``). Dialogue ids restart in each split, so
clip ids are ``<split>_dia<D>_utt<U>``; ``path`` points where the official
video release puts the clip (``train_splits/``, ``dev_splits_complete/``,
``output_repeated_splits_test/``), whether or not it is present.
"""
import csv

from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.errors import CorpusLayoutError

FILES = {"train": ("train_sent_emo.csv", "train_splits"),
         "valid": ("dev_sent_emo.csv", "dev_splits_complete"),
         "test": ("test_sent_emo.csv", "output_repeated_splits_test")}
COLUMNS = {"Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID"}


@register
class MELD(CorpusReader):
    name = "meld"
    folder = "meld"
    modality = "text"
    culture = "english"
    language = "en"
    licence = "GPL-3.0 (MELD repository); Friends transcripts: research use"
    source = "affective-meld.github.io"

    def _rows(self):
        for split, (fname, video_dir) in FILES.items():
            path = self.require(self.root / fname, fname)
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                missing = COLUMNS - set(reader.fieldnames or ())
                if missing:
                    raise CorpusLayoutError(f"meld: {path} lacks columns {sorted(missing)}")
                for n, r in enumerate(reader, 2):
                    try:
                        d, u = int(r["Dialogue_ID"]), int(r["Utterance_ID"])
                    except ValueError:
                        raise CorpusLayoutError(f"meld: {path}:{n}: bad Dialogue_ID/Utterance_ID") from None
                    yield self.row(
                        f"{split}_dia{d}_utt{u}", path=str(self.root / video_dir / f"dia{d}_utt{u}.mp4"),
                        label=r["Emotion"], emotion=harmonise("meld", r["Emotion"]),
                        speaker=r["Speaker"], dialogue_id=f"{split}_dia{d}", turn_index=u,
                        transcript=r["Utterance"], split=split,
                        extras={"sentiment": r["Sentiment"], "season": r.get("Season", ""),
                                "episode": r.get("Episode", ""), "start": r.get("StartTime", ""),
                                "end": r.get("EndTime", "")},
                    )
