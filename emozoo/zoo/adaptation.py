"""Adaptation files of the flagship models: normalisation statistics fitted on a user's unlabelled
data (issue 20, section 2), saved beside that data and never inside the checksummed zoo folder.

:class:`AdaptationFiles` is mixed into a :class:`~emozoo.zoo.predictor.SavedModelPredictor` that
keeps its statistics as ``self._stats = (mean, std)`` and the count they came from as
``self.adapted`` (``None`` = the shipped statistics). The predictor names what it counts
(:attr:`count_key`: clips, faces) and says which statistics fit it (:meth:`_adaptation_mismatch`).
Its ``adapt`` runs :meth:`AdaptationFiles._adapt_on` (list the inputs, decode them, count the
refused ones, fit with the predictor's ``_fit(features, what)``).
The file is a ``.npz`` of ``mean``, ``std`` and a JSON ``meta`` string, read with
``allow_pickle=False``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import EmozooError


class AdaptationError(EmozooError, ValueError):
    """Adaptation cannot be done: too few usable inputs, or a bad / misplaced adaptation file."""


class AdaptationFiles:
    """``save_adaptation`` / ``load_adaptation`` for a predictor with ``_stats`` and ``adapted``,
    :attr:`statistics` and :meth:`reset` (to the predictor's ``shipped`` statistics), and the loop of
    its ``adapt`` (:meth:`_adapt_on`, which needs the predictor's ``_fit``)."""

    #: the key of the adaptation count in the file's metadata (``clips``, ``faces``)
    count_key = "items"

    def _adaptation_meta(self) -> dict:
        """Identity fields written beside the statistics (backbone, shape ...)."""
        return {}

    def _adaptation_mismatch(self, meta: dict, mean: np.ndarray, std: np.ndarray) -> str | None:
        """Why statistics read from a file do not fit this model (``None`` when they do)."""
        return None

    @property
    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """The normalisation statistics in use: ``(mean, std)``, adapted or shipped."""
        return self._stats

    def reset(self) -> None:
        """Return to the shipped statistics (``self.shipped``: those of the training data pooled)."""
        self._stats = self.shipped
        self.adapted = None

    def _adapt_on(self, source, *, suffixes, files: str, items: str, accepts: str, decode, refused_by,
                  refusal: str, features) -> int:
        """The body of ``adapt``: list ``source``, decode each input (refused ones skipped and counted),
        fit the statistics with ``self._fit(features, what)`` and use them; returns the count used.

        Args:
            source: a folder (its files whose suffix, lower-cased, is in ``suffixes``, recursively,
                sorted) or an iterable of inputs (paths or arrays).
            files: what the folder's files are called in messages (``"audio files"``).
            items: what listed inputs are called in messages (``"clips"``).
            accepts: what ``adapt`` takes, for the error when ``source`` is a path but no folder.
            decode: one input -> its decoded form; raises ``refused_by`` for an input to skip.
            refused_by: the exception type(s) that skip an input.
            refusal: what the refused count is followed by in ``what`` (``"refused by the speech check"``).
            features: the list of decoded inputs -> the features ``_fit`` takes.

        Raises:
            AdaptationError: ``source`` is a path but not a folder, or (from ``_fit``) too few inputs
                were usable; the message counts the files and the refused inputs.

        Example (``EmotionSpeechPredictor.adapt``)::

            self._adapt_on(clips, suffixes=AUDIO_SUFFIXES, files="audio files", items="clips", ...)
        """
        if isinstance(source, (str, os.PathLike)):
            folder = Path(source)
            if not folder.is_dir():
                raise AdaptationError(f"{folder}: adapt takes {accepts}; this is not a folder")
            source = sorted(str(p) for p in folder.rglob("*") if p.suffix.lower() in suffixes and p.is_file())
            what = f"folder {folder} ({len(source)} {files})"
        else:
            source = list(source)
            what = f"{len(source)} {items}"
        kept, refused = [], 0
        for item in source:
            try:
                kept.append(decode(item))
            except refused_by:
                refused += 1
        if refused:
            what += f", {refused} {refusal}"
        x = features(kept)
        self._stats, self.adapted = self._fit(x, what), len(x)
        return len(x)

    def _zoo_root(self) -> Path:
        return self.path.parents[1]

    def _outside_zoo(self, path: Path, verb: str) -> Path:
        real, root = Path(os.path.realpath(path)), Path(os.path.realpath(self._zoo_root()))
        if real == root or root in real.parents:
            raise AdaptationError(f"{path}: inside the checksummed zoo folder {root}; {verb} the adaptation file "
                                  "beside your data instead")
        return Path(path)

    def save_adaptation(self, path: str | os.PathLike) -> Path:
        """Write the current (adapted) statistics to ``path`` (``.npz``; never inside the zoo folder)."""
        if self.adapted is None:
            raise AdaptationError("nothing to save: the model is not adapted (call adapt(...) first)")
        path = self._outside_zoo(Path(path), "save")
        if path.suffix != ".npz":
            raise AdaptationError(f"{path}: an adaptation file is a .npz")
        meta = {"model": self.card.get("name"), "version": self.path.name, "backbone": self.backbone,
                self.count_key: int(self.adapted), **self._adaptation_meta()}
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            np.savez(fh, mean=self._stats[0], std=self._stats[1], meta=np.array(json.dumps(meta)))
        return path

    def load_adaptation(self, path: str | os.PathLike) -> dict:
        """Use the statistics of an adaptation file written by :meth:`save_adaptation`; returns its metadata."""
        path = self._outside_zoo(Path(path), "keep")
        try:
            with np.load(path, allow_pickle=False) as d:
                mean, std, meta = d["mean"].astype(np.float32), d["std"].astype(np.float32), json.loads(str(d["meta"]))
        except (OSError, KeyError, ValueError) as exc:
            raise AdaptationError(f"{path}: not an {self.card.get('name')} adaptation file "
                                  f"({type(exc).__name__}: {exc})") from None
        problem = self._adaptation_mismatch(meta, mean, std)
        if problem:
            raise AdaptationError(f"{path}: {problem}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std >= 0)):
            raise AdaptationError(f"{path}: the statistics hold NaN/inf or negative deviations")
        self._stats, self.adapted = (mean, std), int(meta.get(self.count_key, 0))
        return meta
