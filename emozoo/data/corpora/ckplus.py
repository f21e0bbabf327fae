"""CK+ peak frames at 48x48 ("CK+48"), 981 grey PNG images of 118 subjects.

Layout: ``ckplus48/<emotion>/SNNN_SSS_FFFFFFFF.png``: emotion folder (anger,
contempt, disgust, fear, happy, sadness, surprise; no neutral), subject SNNN,
sequence SSS, frame. Several near-duplicate frames per sequence: split by
subject, never by image.
"""
import re

from emozoo.data.corpora._common import IMAGE_EXTS, files_with
from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import CORPUS_LABELS, harmonise
from emozoo.errors import CorpusLayoutError, LabelError

NAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$")


@register
class CKPlus(CorpusReader):
    name = "ckplus"
    folder = "ckplus48"
    modality = "image"
    culture = "american"
    language = ""
    licence = "CK+ terms: research use, no redistribution (non-commercial)"
    source = "Pittsburgh Affect Analysis group (CK+)"

    def _rows(self):
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if folder.name not in CORPUS_LABELS["ckplus"]:
                raise LabelError(f"ckplus: folder {folder.name!r} is not a CK+ emotion "
                                 f"{sorted(CORPUS_LABELS['ckplus'])}")
            for path in files_with(folder, IMAGE_EXTS):
                m = NAME.match(path.stem)
                if not m:
                    raise CorpusLayoutError(f"ckplus: {path.name!r} is not SNNN_SSS_FFFFFFFF.png")
                subject, seq, frame = m.groups()
                yield self.row(path.stem, path=str(path), label=folder.name,
                               emotion=harmonise("ckplus", folder.name), speaker=subject,
                               extras={"sequence": f"{subject}_{seq}", "frame": int(frame)})
