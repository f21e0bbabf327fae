"""JAFFE (Japanese Female Facial Expression), 213 grey 256x256 TIFF images.

Layout: ``jaffe/XX.EEn.NNN.tiff``: poser XX (10 Japanese women), expression EE
(AN, DI, FE, HA, NE, SA, SU) with take n, image number NNN. Subject-disjoint
splits only (``emozoo.data.protocols.subject_splits``).
"""
import re

from emozoo.data.corpora._common import IMAGE_EXTS, files_with
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.errors import CorpusLayoutError

NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)$")


@register
class JAFFE(CorpusReader):
    name = "jaffe"
    folder = "jaffe"
    modality = "image"
    culture = "japanese"
    language = ""
    licence = "JAFFE terms: research use, no redistribution (non-commercial)"
    source = "zenodo record 3451524"

    def _rows(self):
        for path in files_with(self.root, IMAGE_EXTS):
            m = NAME.match(path.stem)
            if not m:
                raise CorpusLayoutError(f"jaffe: {path.name!r} is not XX.EEn.NNN.tiff")
            poser, code, take, number = m.groups()
            yield self.row(path.stem, path=str(path), label=code, emotion=harmonise("jaffe", code),
                           speaker=poser, gender="female", extras={"take": take, "number": number})
