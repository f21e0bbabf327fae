"""Z-normalisation of features, fitted on training data only.

Two papers' recipes:

* **Culture-specific z-normalisation** (seed 000, Liang et al. 2019, section 3.1
  "Acoustic Modality": "We apply culture-specific z-normalization on each
  dimension of the feature to reduce culture discrepancy"):
  :class:`CultureNormalizer` keeps one mean/std per culture, each fitted on that
  culture's *training* clips, and normalises every clip (train, valid, test)
  with the statistics of its own culture.
* **Normalisation strategies for unlabelled data** (seed 003, Liang et al.
  2019, CT-GAN, section V-B): labelled data is always normalised with the
  labelled training statistics; the unlabelled corpus (AMI there) is

  ======== ================================================================
  none     left as it is
  self     normalised with its own statistics
  shift    normalised with the labelled training statistics
  combine  both normalised with statistics of labelled train + unlabelled
  ======== ================================================================

  :func:`fit_strategy` returns the two :class:`ZStats` (labelled, unlabelled).

Statistics are per dimension over all rows (clips for functionals, frames for
frame-level features such as Fbank: pass a list of ``[frames, dims]`` arrays).
A dimension whose training std is below ``eps`` is divided by 1 (not blown up).
Statistics save to JSON (no pickle) and apply in NumPy or TensorFlow.

Example:

>>> import numpy as np
>>> x = np.array([[1.0, 10.0], [3.0, 30.0], [100.0, 0.0], [300.0, 0.0]])
>>> norm = CultureNormalizer().fit(x, ["german", "german", "mandarin", "mandarin"])
>>> norm.transform(x, ["german", "german", "mandarin", "mandarin"])[:, 0].tolist()
[-1.0, 1.0, -1.0, 1.0]
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from emozoo.errors import FeatureError

STRATEGIES = ("none", "self", "shift", "combine")


def _rows(x, what: str) -> np.ndarray:
    """``x`` as a float64 matrix ``[rows, dims]``; a list of ``[frames, dims]`` arrays is stacked."""
    if isinstance(x, (list, tuple)) and x and np.ndim(x[0]) == 2:
        dims = {np.shape(a)[-1] for a in x}
        if len(dims) != 1:
            raise FeatureError(f"{what}: frame arrays have different widths {sorted(dims)}")
        x = np.concatenate([np.asarray(a, np.float64) for a in x], axis=0)
    x = np.asarray(x, np.float64)
    if x.ndim != 2:
        raise FeatureError(f"{what}: expected [rows, dims] (or a list of [frames, dims]), got shape {x.shape}")
    if x.shape[0] == 0:
        raise FeatureError(f"{what}: no rows to fit statistics on")
    if not np.all(np.isfinite(x)):
        raise FeatureError(f"{what}: NaN/inf values")
    return x


@dataclasses.dataclass(frozen=True)
class ZStats:
    """Per-dimension mean and standard deviation (``std`` already floored: never ~0).

    Args:
        mean: ``[dims]``.
        std: ``[dims]``, 1 where the fitted std was below ``eps``.
        count: rows the statistics were fitted on.
    """

    mean: np.ndarray
    std: np.ndarray
    count: int = 0

    @classmethod
    def fit(cls, x, eps: float = 1e-6) -> "ZStats":
        x = _rows(x, "ZStats.fit")
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std < eps, 1.0, std), int(x.shape[0]))

    @property
    def dims(self) -> int:
        return int(self.mean.shape[0])

    def apply(self, x) -> np.ndarray:
        """``(x - mean) / std`` on any ``[..., dims]`` array, as float32."""
        x = np.asarray(x)
        if x.shape[-1:] != (self.dims,):
            raise FeatureError(f"features have {x.shape[-1:]} dims, the statistics {self.dims}")
        return ((x - self.mean) / self.std).astype(np.float32)

    def to_json(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "count": self.count}

    @classmethod
    def from_json(cls, d: Mapping) -> "ZStats":
        try:
            mean, std = np.asarray(d["mean"], np.float64), np.asarray(d["std"], np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise FeatureError(f"malformed statistics: {exc}") from exc
        if mean.shape != std.shape or mean.ndim != 1 or np.any(std <= 0):
            raise FeatureError(f"malformed statistics: mean {mean.shape}, std {std.shape} (std must be > 0)")
        return cls(mean, std, int(d.get("count", 0)))


class CultureNormalizer:
    """Culture-specific z-normalisation (seed 000), fitted on training clips only.

    Args:
        eps: std floor (dimensions constant within a culture's training data are divided by 1).
        unseen: what :meth:`transform` does with a culture that had no training clips:
            ``"error"`` (default) raises; ``"global"`` uses the statistics of all training
            clips; ``"self"`` fits that culture's statistics on the clips being transformed
            (transductive: only for an unlabelled target culture, and say so).
    """

    def __init__(self, eps: float = 1e-6, unseen: str = "error"):
        if unseen not in ("error", "global", "self"):
            raise FeatureError(f"unseen must be 'error', 'global' or 'self', got {unseen!r}")
        self.eps, self.unseen = float(eps), unseen
        self.stats: dict[str, ZStats] = {}
        self.global_stats: ZStats | None = None
        self._tf = None

    def fit(self, x, cultures: Sequence[str]) -> "CultureNormalizer":
        """Fit one :class:`ZStats` per culture on training features ``x`` ``[clips, dims]``."""
        x = _rows(x, "CultureNormalizer.fit")
        cultures = np.asarray(cultures, dtype=object)
        if cultures.shape != (x.shape[0],):
            raise FeatureError(f"{x.shape[0]} rows but {cultures.shape} culture labels")
        if any(not c for c in cultures):
            raise FeatureError("every training clip needs a culture (empty culture found)")
        self.stats = {str(c): ZStats.fit(x[cultures == c], self.eps) for c in sorted(set(cultures))}
        self.global_stats = ZStats.fit(x, self.eps)
        self._tf = None
        return self

    def stats_for(self, culture: str, x_of_culture=None) -> ZStats:
        if not self.stats:
            raise FeatureError("CultureNormalizer is not fitted: call fit() on the training clips first")
        if culture in self.stats:
            return self.stats[culture]
        if self.unseen == "global":
            return self.global_stats
        if self.unseen == "self" and x_of_culture is not None:
            return ZStats.fit(x_of_culture, self.eps)
        raise FeatureError(f"culture {culture!r} had no training clips (fitted: {sorted(self.stats)}); "
                           "use unseen='global' or 'self' to normalise it anyway")

    def transform(self, x, cultures: Sequence[str]) -> np.ndarray:
        """Each row normalised with its own culture's statistics; float32 ``[clips, dims]``."""
        x = np.asarray(x, np.float64)
        cultures = np.asarray(cultures, dtype=object)
        if x.ndim != 2 or cultures.shape != (x.shape[0],):
            raise FeatureError(f"expected x [clips, dims] and one culture per clip, got {x.shape} and "
                               f"{cultures.shape}")
        out = np.empty(x.shape, np.float32)
        for c in set(cultures):
            rows = cultures == c
            out[rows] = self.stats_for(str(c), x[rows]).apply(x[rows])
        return out

    def _tables(self):
        """TF lookup of culture -> row of the stacked statistics (the last row: global), built once."""
        import tensorflow as tf
        if not self.stats:
            raise FeatureError("CultureNormalizer is not fitted: call fit() on the training clips first")
        if getattr(self, "_tf", None) is None or self._tf[0] != sorted(self.stats):
            names = sorted(self.stats)
            table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(tf.constant(names), tf.range(len(names), dtype=tf.int64)), -1)
            means = tf.constant(np.stack([self.stats[n].mean for n in names] + [self.global_stats.mean]),
                                tf.float32)
            stds = tf.constant(np.stack([self.stats[n].std for n in names] + [self.global_stats.std]), tf.float32)
            self._tf = (names, table, means, stds)
        return self._tf

    def tf_transform(self, x, culture):
        """The same in TensorFlow: ``x`` ``[..., dims]`` (clip or frame level), ``culture`` a string tensor
        whose shape is a prefix of ``x``'s batch shape (a scalar for one clip, ``[batch]`` for a batch).

        Cultures without statistics use the global ones when ``unseen='global'`` and raise
        ``InvalidArgumentError`` otherwise (``unseen='self'`` needs NumPy: use :meth:`transform`).
        """
        import tensorflow as tf
        names, table, means, stds = self._tables()
        idx = table.lookup(tf.convert_to_tensor(culture))
        if self.unseen == "global":
            idx = tf.where(idx < 0, tf.constant(len(names), tf.int64), idx)
        else:
            tf.debugging.assert_non_negative(idx, message="culture without training statistics")
        x = tf.cast(x, tf.float32)
        mean, std = tf.gather(means, idx), tf.gather(stds, idx)          # [*culture.shape, dims]
        extra = tf.rank(x) - tf.rank(mean)
        shape = tf.concat([tf.shape(mean)[:-1], tf.ones([extra], tf.int32), tf.shape(mean)[-1:]], 0)
        return (x - tf.reshape(mean, shape)) / tf.reshape(std, shape)

    def map_fn(self, feature: str, culture_key: str = "culture"):
        """A ``tf.data`` map step: ``ex[feature]`` normalised with the statistics of ``ex[culture_key]``.

        >>> ds = read_store("tfrecords/casia_is10").map(norm.map_fn("is10"))   # doctest: +SKIP
        """
        import tensorflow as tf
        self._tables()

        def fn(ex):
            culture = ex[culture_key]
            if culture.shape.rank and culture.shape[-1] == 1:            # [1] / [batch, 1] string columns
                culture = tf.squeeze(culture, -1)
            return {**ex, feature: self.tf_transform(ex[feature], culture)}
        return fn

    def save(self, path: str | os.PathLike) -> Path:
        """Statistics as JSON (``{"eps", "unseen", "cultures": {name: stats}, "global": stats}``)."""
        if not self.stats:
            raise FeatureError("nothing to save: the normalizer is not fitted")
        path = Path(path)
        d = {"eps": self.eps, "unseen": self.unseen, "global": self.global_stats.to_json(),
             "cultures": {c: s.to_json() for c, s in self.stats.items()}}
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(d))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "CultureNormalizer":
        try:
            d = json.loads(Path(path).read_text())
            norm = cls(d["eps"], d["unseen"])
            norm.stats = {c: ZStats.from_json(s) for c, s in d["cultures"].items()}
            norm.global_stats = ZStats.from_json(d["global"])
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise FeatureError(f"{path}: not a saved CultureNormalizer ({exc})") from exc
        return norm


def fit_strategy(strategy: str, labelled_train, unlabelled, eps: float = 1e-6) -> tuple[ZStats, ZStats | None]:
    """Seed 003's strategies: ``(stats for labelled data, stats for unlabelled data or None)``.

    Args:
        strategy: ``none`` / ``self`` / ``shift`` / ``combine`` (see the module docstring).
        labelled_train: labelled training features ``[clips, dims]`` (or a list of frame arrays).
        unlabelled: the unlabelled corpus's features, same layout.

    ``None`` for the unlabelled side means: leave it un-normalised (``none``).
    """
    if strategy not in STRATEGIES:
        raise FeatureError(f"unknown normalisation strategy {strategy!r}; one of {STRATEGIES}")
    labelled = ZStats.fit(labelled_train, eps)
    if strategy == "none":
        return labelled, None
    if strategy == "shift":
        return labelled, labelled
    if strategy == "self":
        return labelled, ZStats.fit(unlabelled, eps)
    both = ZStats.fit(np.concatenate([_rows(labelled_train, "labelled"), _rows(unlabelled, "unlabelled")]), eps)
    return both, both


def apply_strategy(strategy: str, labelled_train, unlabelled, others: Sequence = (), eps: float = 1e-6):
    """Fit on the training data and normalise: ``(labelled_train, unlabelled, [others...])`` as float32.

    ``others`` are further labelled sets (valid, test), normalised like the labelled training set.
    """
    lab, unl = fit_strategy(strategy, labelled_train, unlabelled, eps)
    u = np.asarray(unlabelled, np.float32) if unl is None else unl.apply(unlabelled)
    return lab.apply(labelled_train), u, [lab.apply(o) for o in others]
