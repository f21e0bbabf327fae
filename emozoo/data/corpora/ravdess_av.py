"""RAVDESS audio-visual clips as pre-extracted per-clip features (paired face + voice).

Layout: ``ravdess_av_features/au_mfcc_features.npz`` (read with
``allow_pickle=False``): ``clip_id`` (1 440 official AV ids ``01-01-EE-II-SS-RR-AA``),
``X_visual_au`` (1440x35 OpenFace action units), ``X_audio_mfcc`` (1440x259),
``emotion_code``, ``intensity``, ``statement``, ``repetition``, ``actor``.
Each row's ``path`` is the npz and ``extras["index"]`` its row in the arrays;
:func:`load_features` returns the arrays.
"""
import numpy as np

from emozoo.data.corpora.base import CorpusReader, register
from emozoo.data.labels import harmonise
from emozoo.errors import CorpusLayoutError

NPZ = "au_mfcc_features.npz"
KEYS = ("clip_id", "X_visual_au", "X_audio_mfcc", "emotion_code", "intensity", "statement",
        "repetition", "actor")


def load_features(path) -> dict:
    """The npz arrays, checked for the expected keys and row counts."""
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise CorpusLayoutError(f"ravdess_av: cannot read {path} ({exc})") from exc
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise CorpusLayoutError(f"ravdess_av: {path} lacks arrays {missing}")
    n = len(data["clip_id"])
    bad = [k for k in KEYS if len(data[k]) != n]
    if bad:
        raise CorpusLayoutError(f"ravdess_av: arrays {bad} do not have {n} rows like clip_id")
    return data


@register
class RAVDESSAV(CorpusReader):
    name = "ravdess_av"
    folder = "ravdess_av_features"
    modality = "features"
    culture = "english"
    language = "en"
    licence = "CC BY-NC-SA 4.0 (non-commercial)"
    source = "zenodo record 1188976 (features extracted with OpenFace and MFCCs)"

    def _rows(self):
        path = self.require(self.root / NPZ, NPZ)
        data = load_features(path)
        for i, clip in enumerate(data["clip_id"]):
            code = f"{int(data['emotion_code'][i]):02d}"
            actor = f"{int(data['actor'][i]):02d}"
            yield self.row(
                str(clip), path=str(path), label=code, emotion=harmonise("ravdess", code),
                speaker=actor, gender="male" if int(actor) % 2 else "female",
                extras={"index": i, "intensity": int(data["intensity"][i]),
                        "statement": int(data["statement"][i]), "repetition": int(data["repetition"][i])},
            )
