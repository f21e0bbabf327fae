"""Acoustic extractors by name: what ``python -m emozoo.extract --features`` resolves.

Each :class:`Extractor` turns a mono 16 kHz waveform into one store feature
and declares that feature's :class:`~emozoo.data.tfrecord.FeatureSpec` (the
store contract training code relies on):

===========  =========================  ==========================================
name         store feature (float32)    what
===========  =========================  ==========================================
is10         ``is10`` (1582,)           openSMILE IS10 functionals (seed 000)
compare      ``compare`` (6373,)        openSMILE ComParE 2016 functionals (seed 001)
egemaps      ``egemaps`` (88,)          openSMILE eGeMAPS v02 functionals
fbank        ``fbank`` (None, 128)      128-bin log-Mel filterbank, 25 ms / 10 ms (seed 003)
spectrogram  ``spectrogram`` (None, 128)  128-bin log FFT spectrogram, 25 ms / 10 ms (seed 003)
short68      ``short68`` (68,)          pyAudioAnalysis short-term set, clip mean (seed 002)
minilm       ``minilm`` (384,)          all-MiniLM-L6-v2 sentence embedding of the transcript (row)
dface        ``dface`` (D,)             Dface (zoo ``dface_fer2013``) embedding of the row's face image,
                                        mean over a video's sampled frames (row; D = 336)
===========  =========================  ==========================================

Other modalities plug into the same CLI: register a factory returning an
``Extractor(..., input="row")`` whose ``compute(row)`` reads the clip's image,
video or transcript from the :class:`~emozoo.data.manifest.ManifestRow`, and
``python -m emozoo.extract --features <name>`` writes its store like the
acoustic ones.

Example:

>>> ext = get_extractor("egemaps")
>>> ext.spec.shape
(88,)
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from emozoo.data.tfrecord import FeatureSpec
from emozoo.errors import FeatureError

SAMPLE_RATE = 16000


@dataclasses.dataclass(frozen=True)
class Extractor:
    """A named feature extractor.

    Args:
        name: registry name, also the store feature's key.
        spec: the declared store feature (name, dtype, shape, description).
        compute: for ``input="audio"``: ``(waveform float32 [samples], sample_rate) -> array``
            of ``spec.shape``; for ``input="row"``: ``(ManifestRow) -> array`` (the extractor
            reads the clip's image, video or transcript itself: Dface, text embeddings).
        sample_rate: the rate the waveform must have (clips are resampled to it).
        config: everything that determines the values (library version, window ...):
            written into a store's ``extract.json`` so a resumed run never mixes
            values of two configurations.
        input: ``"audio"`` (the extract runner decodes the clip's audio once for all
            audio extractors) or ``"row"``.
        compute_batch: optional, ``input="row"`` only: ``(list[ManifestRow]) -> list`` of one
            array or ``Exception`` per row, so the extract runner makes one batched call
            (e.g. one encoder pass) for up to ``batch_size`` rows instead of one per row.
        batch_size: rows per ``compute_batch`` call in the extract runner.
    """

    name: str
    spec: FeatureSpec
    compute: Callable
    sample_rate: int = SAMPLE_RATE
    config: str = ""
    input: str = "audio"
    compute_batch: Callable | None = None
    batch_size: int = 256

    def __post_init__(self):
        if self.input not in ("audio", "row"):
            raise FeatureError(f"extractor {self.name!r}: input must be 'audio' or 'row', got {self.input!r}")
        if self.compute_batch is not None and self.input != "row":
            raise FeatureError(f"extractor {self.name!r}: compute_batch needs input='row'")
        if self.batch_size < 1:
            raise FeatureError(f"extractor {self.name!r}: batch_size must be >= 1, got {self.batch_size}")

    def batch(self, rows) -> list:
        """Row extractors: one checked float32 array, or the ``Exception`` it failed with, per row.

        Uses ``compute_batch`` (one encoder call for many rows) where the extractor has
        one, else ``compute`` row by row; one row's failure never loses the others.
        """
        rows = list(rows)
        if self.input != "row":
            raise FeatureError(f"{self.name} is an audio extractor; batch() takes manifest rows")
        if self.compute_batch is None:
            raw = []
            for row in rows:
                try:
                    raw.append(self.compute(row))
                except Exception as exc:  # listed per row by the caller
                    raw.append(exc)
        else:
            raw = list(self.compute_batch(rows))
            if len(raw) != len(rows):
                raise FeatureError(f"{self.name}: compute_batch returned {len(raw)} results for {len(rows)} rows")
        out = []
        for value in raw:
            if isinstance(value, Exception):
                out.append(value)
                continue
            try:
                out.append(self._checked(value))
            except FeatureError as exc:
                out.append(exc)
        return out

    def __call__(self, *args) -> np.ndarray:
        """``ext(waveform, sample_rate)`` (audio) or ``ext(row)`` (row): checked float32 features."""
        if self.input == "row":
            if len(args) != 1:
                raise FeatureError(f"{self.name} takes one manifest row")
            return self._checked(self.compute(args[0]))
        if len(args) != 2:
            raise FeatureError(f"{self.name} takes (waveform, sample_rate)")
        waveform, sample_rate = args
        if sample_rate != self.sample_rate:
            raise FeatureError(f"{self.name} expects {self.sample_rate} Hz audio, got {sample_rate} Hz; "
                               f"load it with load_audio(path, target_rate={self.sample_rate})")
        return self._checked(self.compute(waveform, sample_rate))

    def _checked(self, values) -> np.ndarray:
        out = np.asarray(values, dtype=np.float32)
        want = self.spec.shape
        if (len(out.shape) != len(want)
                or any(w is not None and w != h for w, h in zip(want, out.shape))):
            raise FeatureError(f"{self.name}: extractor returned shape {out.shape}, declared {want}")
        if not np.all(np.isfinite(out)):
            raise FeatureError(f"{self.name}: extractor returned NaN/inf values")
        return out


_FACTORIES: dict[str, Callable[[], Extractor]] = {}
_CACHE: dict[str, Extractor] = {}


def register_extractor(name: str):
    """Decorator registering a zero-argument factory of an :class:`Extractor`."""
    def deco(factory):
        _FACTORIES[name] = factory
        return factory
    return deco


def extractor_names() -> list[str]:
    return sorted(_FACTORIES)


def get_extractor(name: str) -> Extractor:
    """The extractor registered under ``name`` (built once per process)."""
    if name not in _FACTORIES:
        raise FeatureError(f"unknown feature {name!r}; known: {', '.join(extractor_names())}")
    if name not in _CACHE:
        _CACHE[name] = _FACTORIES[name]()
    return _CACHE[name]


def _opensmile(name: str) -> Extractor:
    from emozoo.features.opensmile_features import OpenSmileFunctionals
    fn = OpenSmileFunctionals(name)
    return Extractor(name, FeatureSpec(name, "float32", (fn.dims,), fn.description), fn,
                     config=f"{fn.version};rate={SAMPLE_RATE}")


for _name in ("is10", "compare", "egemaps"):
    register_extractor(_name)(lambda _n=_name: _opensmile(_n))


def _tf_frames(name: str, fn_name: str, description: str) -> Extractor:
    import tensorflow as tf

    from emozoo.features import fbank as fb
    fn = getattr(fb, fn_name)

    def compute(waveform, sample_rate):   # an eager call runs fbank's cached graph (traced once, any length)
        return fn(np.asarray(waveform, np.float32), SAMPLE_RATE).numpy()
    return Extractor(name, FeatureSpec(name, "float32", (None, 128), description), compute,
                     config=f"emozoo.features.fbank.{fn_name}:128,win=25ms,hop=10ms,fft=512,hann,"
                            f"eps=1e-6;tf-{tf.__version__};rate={SAMPLE_RATE}")


register_extractor("fbank")(lambda: _tf_frames(
    "fbank", "log_mel", "128-bin log-Mel filterbank per 10 ms frame (25 ms Hann window, 20 Hz-8 kHz)"))
register_extractor("spectrogram")(lambda: _tf_frames(
    "spectrogram", "log_spectrogram", "128-bin log FFT power spectrogram per 10 ms frame (25 ms Hann window)"))


@register_extractor("short68")
def _short68() -> Extractor:
    import tensorflow as tf

    from emozoo.features import short_term as st
    graph = tf.function(lambda x: st.short_term_summary(x, SAMPLE_RATE),
                        input_signature=[tf.TensorSpec([None], tf.float64)])

    def compute(waveform, sample_rate):
        x = np.asarray(waveform, np.float64)
        if x.ndim != 1 or x.size < st.WINDOW:
            raise FeatureError(f"short68 needs a mono clip of at least {st.WINDOW} samples "
                               f"({1000 * st.WINDOW // SAMPLE_RATE} ms), got shape {x.shape}")
        return graph(tf.constant(x)).numpy()
    return Extractor("short68", FeatureSpec("short68", "float32", (68,),
                                            "pyAudioAnalysis short-term features (34 + 34 deltas), clip mean"),
                     compute, config=f"emozoo.features.short_term:window={st.WINDOW},step={st.STEP};"
                                     f"tf-{tf.__version__};rate={SAMPLE_RATE}")


@register_extractor("minilm")
def _minilm() -> Extractor:
    """Sentence embedding (all-MiniLM-L6-v2, L2-normalised) of the row's ``transcript``; batched."""
    from emozoo.features import lexical

    def compute_batch(rows):
        out: list = [None] * len(rows)
        todo = []
        for i, row in enumerate(rows):
            if not row.transcript.strip():
                out[i] = FeatureError(f"clip {row.clip_id!r} has an empty transcript: nothing to embed "
                                      "(fill the manifest's transcript column, or leave the clip out)")
            else:
                todo.append(i)
        if todo:
            emb = lexical.embed_texts([rows[i].transcript for i in todo], batch_size=64)
            for j, i in enumerate(todo):
                out[i] = emb[j]
        return out

    def compute(row):
        (value,) = compute_batch([row])
        if isinstance(value, Exception):
            raise value
        return value
    return Extractor("minilm", FeatureSpec("minilm", "float32", (lexical.EMBED_DIM,),
                                           "all-MiniLM-L6-v2 sentence embedding of the transcript (mean pooled, L2)"),
                     compute, config=lexical.feature_config(), input="row", compute_batch=compute_batch,
                     batch_size=256)


@register_extractor("dface")
def _dface() -> Extractor:
    """Dface embedding of the row's image (largest MTCNN face, else the whole image) or video (frame mean)."""
    from emozoo.features.dface import DFaceEmbedder

    emb = DFaceEmbedder()

    def compute(row):
        (value,) = emb.embed_rows([row])
        if isinstance(value, Exception):
            raise value
        return value
    return Extractor("dface", FeatureSpec("dface", "float32", (emb.dim,),
                                          "Dface (DenseNet-BC, FER2013) embedding of the largest face; "
                                          "video: mean over frames"),
                     compute, config=emb.config(), input="row", compute_batch=emb.embed_rows, batch_size=64)


def _backbone_factory(module: str, *args):
    """A factory that imports a backbone's extractor module only when the feature is asked for."""
    def factory():
        import importlib
        return importlib.import_module(module).make_extractor(*args)
    return factory


# Pretrained backbones (emozoo.backbones): layer-wise / pooled embeddings.
register_extractor("whisper_base")(_backbone_factory("emozoo.backbones.whisper.extractor", "whisper_base"))
register_extractor("whisper_tiny_en")(_backbone_factory("emozoo.backbones.whisper.extractor", "whisper_tiny_en"))
register_extractor("whisper_base_frames")(_backbone_factory("emozoo.backbones.whisper.extractor",
                                                          "whisper_base_frames"))
register_extractor("mpnet")(_backbone_factory("emozoo.backbones.mpnet.extractor"))
register_extractor("face_mobilenet")(_backbone_factory("emozoo.backbones.face.extractor", "face_mobilenet"))
