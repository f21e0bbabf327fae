"""CASIA Chinese emotional speech corpus (public 1 200-utterance part), Mandarin.

Layout: ``casia/<speaker>/<emotion>/<sentence>.wav|.flac`` with four speakers,
six emotion folders (angry, fear, happy, neutral, sad, surprise) and the same
50 sentences (201-250); the sentence texts are in ``sentences_201-250_gbk.txt``
(GBK). Clip ids follow EmoBox's keys: ``<sentence>-<speaker>-<emotion>``.
"""
import re

from emozoo.data.corpora._common import AUDIO_EXTS, files_with, prefer_one_per_stem
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise

GENDER = {"liuchanhg": "female", "wangzhe": "male", "zhaoquanyin": "female", "ZhaoZuoxiang": "male"}


@register
class CASIA(CorpusReader):
    name = "casia"
    folder = "casia"
    modality = "audio"
    culture = "mandarin"
    language = "zh"
    licence = "research use (CASIA terms); models trained on it are non-commercial"
    source = "CASIA Chinese emotional speech corpus (Institute of Automation, CAS)"

    def _texts(self) -> dict:
        path = self.root / "sentences_201-250_gbk.txt"
        if not path.exists():
            return {}
        texts = {}
        for line in path.read_bytes().decode("gbk", errors="replace").splitlines():
            m = re.match(r"\s*(\d+)\.\s*(.*\S)", line)
            if m:
                texts[m.group(1)] = m.group(2)
        return texts

    def _rows(self):
        texts = self._texts()
        for path in prefer_one_per_stem(files_with(self.root, AUDIO_EXTS, "*/*/*")):
            emotion_dir, speaker = path.parent.name, path.parent.parent.name
            yield self.row(
                f"{path.stem}-{speaker}-{emotion_dir}", path=str(path), label=emotion_dir,
                emotion=harmonise("casia", emotion_dir), speaker=speaker,
                gender=GENDER.get(speaker, ""), transcript=texts.get(path.stem, ""),
                extras={"sentence": path.stem},
            )
