"""openSMILE functionals (IS10, ComParE 2016, eGeMAPS v02) through the ``opensmile`` package.

The ``opensmile`` wheel ships the SMILExtract library and the official config
files, so these are the exact openSMILE feature sets, computed in-process:

=========  ==================================  ======  =====================
name       openSMILE config                    dims    paper
=========  ==================================  ======  =====================
is10       ``is09-13/IS10_paraling_compat``    1 582   seed 000 (INTERSPEECH 2010 paralinguistic challenge)
compare    ``compare/ComParE_2016``            6 373   seed 001
egemaps    ``egemaps/v02/eGeMAPSv02``          88      (Eyben et al. 2016, reference set)
=========  ==================================  ======  =====================

Every corpus is read through :func:`emozoo.data.audio.load_audio` at 16 kHz
mono first, so EmoDB (22.05 kHz here), CASIA and RAVDESS are described at the
same rate as the official 16 kHz EmoDB release the papers used.

Example:

>>> import numpy as np
>>> is10 = OpenSmileFunctionals("is10")
>>> t = np.arange(16000) / 16000
>>> is10(0.1 * np.sin(2 * np.pi * 220 * t), 16000).shape
(1582,)
"""
from __future__ import annotations

import ctypes
import glob
import importlib.util
import os
import sys
import threading
import warnings

import numpy as np

from emozoo.errors import FeatureError

# name -> (opensmile FeatureSet member name, dims, description)
FEATURE_SETS = {
    "is10": ("IS10", 1582, "openSMILE IS10_paraling functionals (INTERSPEECH 2010), 1 582 dims"),
    "compare": ("ComParE_2016", 6373, "openSMILE ComParE 2016 functionals, 6 373 dims"),
    "egemaps": ("eGeMAPSv02", 88, "openSMILE eGeMAPS v02 functionals, 88 dims"),
}


def import_opensmile():
    """``import opensmile``, first loading its library so that it keeps its own FFT.

    ``libSMILEapi.so`` and TensorFlow's ``libtensorflow_framework.so`` both
    export Ooura's FFT (``rdft``, ``cdft``, ``bitrv2``) with different
    precision. When TensorFlow is loaded first, openSMILE's calls bind to
    TensorFlow's copy and the process dies with a segmentation fault in
    ``bitrv2``. Loading the library with ``RTLD_DEEPBIND`` before the
    ``opensmile`` package does makes it resolve its own symbols first (the
    values are identical to a process without TensorFlow: tested).
    """
    if "opensmile" not in sys.modules and hasattr(os, "RTLD_DEEPBIND"):
        spec = importlib.util.find_spec("opensmile")
        if spec is None or spec.origin is None:
            raise FeatureError("the opensmile package is not installed: pip install 'opensmile>=2.5'")
        libs = glob.glob(os.path.join(os.path.dirname(spec.origin), "core", "bin", "*", "libSMILEapi.so"))
        if libs:
            ctypes.CDLL(libs[0], mode=os.RTLD_LOCAL | os.RTLD_DEEPBIND | os.RTLD_NOW)
    import opensmile
    return opensmile


class OpenSmileFunctionals:
    """One openSMILE functionals set as a callable ``(waveform, sample_rate) -> float32 [dims]``.

    Args:
        name: ``"is10"``, ``"compare"`` or ``"egemaps"`` (see :data:`FEATURE_SETS`).

    The ``opensmile.Smile`` object is built lazily, once per thread (it is not
    thread-safe and cannot be pickled), so instances can be sent to worker
    processes. A clip too short for the configuration (openSMILE then returns
    NaN) raises :class:`~emozoo.errors.FeatureError` instead of storing NaN.
    """

    def __init__(self, name: str):
        if name not in FEATURE_SETS:
            raise FeatureError(f"unknown openSMILE feature set {name!r}; known: {sorted(FEATURE_SETS)}")
        self.name = name
        self.feature_set, self.dims, self.description = FEATURE_SETS[name]
        self._local = threading.local()

    def __getstate__(self):
        return {"name": self.name}

    def __setstate__(self, state):
        self.__init__(state["name"])

    @property
    def smile(self):
        smile = getattr(self._local, "smile", None)
        if smile is None:
            opensmile = import_opensmile()
            smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, self.feature_set),
                                    feature_level=opensmile.FeatureLevel.Functionals)
            if len(smile.feature_names) != self.dims:
                raise FeatureError(f"opensmile {opensmile.__version__} gives {len(smile.feature_names)} "
                                   f"{self.feature_set} features, expected {self.dims}; pin opensmile>=2.5")
            self._local.smile = smile
        return smile

    @property
    def feature_names(self) -> list[str]:
        """openSMILE's names of the dimensions, in order (e.g. ``pcm_loudness_sma_maxPos``)."""
        return list(self.smile.feature_names)

    @property
    def version(self) -> str:
        opensmile = import_opensmile()
        return f"opensmile-{opensmile.__version__}:{self.feature_set}"

    def __call__(self, waveform, sample_rate: int) -> np.ndarray:
        """Functionals of a mono waveform ``[samples]`` (float in [-1, 1]) as float32 ``[dims]``."""
        x = np.asarray(waveform, dtype=np.float32)
        if x.ndim != 1:
            raise FeatureError(f"{self.name}: expected a mono waveform [samples], got shape {x.shape}; "
                               "down-mix it first (emozoo.data.audio.load_audio does)")
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
            raise FeatureError(f"{self.name}: sample_rate must be a positive integer, got {sample_rate!r}")
        if x.size == 0:
            raise FeatureError(f"{self.name}: empty waveform")
        if not np.all(np.isfinite(x)):
            raise FeatureError(f"{self.name}: the waveform holds NaN/inf samples")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Segment too short": checked below
            values = self.smile.process_signal(x, int(sample_rate)).to_numpy(dtype=np.float32)
        if values.shape != (1, self.dims):
            raise FeatureError(f"{self.name}: openSMILE returned shape {values.shape}, expected (1, {self.dims})")
        values = values[0]
        if not np.all(np.isfinite(values)):
            raise FeatureError(f"{self.name}: openSMILE returned {int(np.sum(~np.isfinite(values)))} NaN/inf "
                               f"values for a {x.size / sample_rate:.3f} s clip (too short for the "
                               "configuration's windows?); drop or pad the clip")
        return values
