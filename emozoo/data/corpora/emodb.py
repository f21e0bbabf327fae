"""EmoDB (Berlin Database of Emotional Speech), German.

Layout: ``emodb/wav/<name>.wav`` (official: 16 kHz WAV) or ``.flac`` (the copy
here: 22 050 Hz FLAC). Name ``SSTTTEV``: speaker SS (10 actors), text TTT (10
sentences), emotion letter E (W anger, L boredom, E disgust, A fear,
F happiness, T sadness, N neutral), version V. Gender from the corpus notes.
No official split: use leave-one-speaker-out (``emozoo.data.protocols``).
"""
from emozoo.data.corpora._common import AUDIO_EXTS, files_with, prefer_one_per_stem
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.errors import CorpusLayoutError

# Speaker -> gender, from the corpus's documentation.
GENDER = {"03": "male", "08": "female", "09": "female", "10": "male", "11": "male",
          "12": "male", "13": "female", "14": "female", "15": "male", "16": "female"}


@register
class EmoDB(CorpusReader):
    name = "emodb"
    folder = "emodb"
    modality = "audio"
    culture = "german"
    language = "de"
    licence = "research use (EmoDB terms); models trained on it are non-commercial"
    source = "emodb.bilderbar.info"

    def _rows(self):
        wav = self.require(self.root / "wav", "folder wav/")
        for path in prefer_one_per_stem(files_with(wav, AUDIO_EXTS)):
            name = path.stem
            if len(name) != 7 or name[:2] not in GENDER:
                raise CorpusLayoutError(f"emodb: file name {path.name!r} is not SSTTTEV (e.g. 03a01Wa)")
            yield self.row(
                name, path=str(path), label=name[5], emotion=harmonise("emodb", name[5]),
                speaker=name[:2], gender=GENDER[name[:2]],
                extras={"text": name[2:5], "version": name[6]},
            )
