"""What the flagship model tests (emotion_speech, emotion_face, emotion_text) share: the skip, with
the install command, when a backbone's weights are missing (CI installs them), and the model loaded
once its weights are there."""
from __future__ import annotations

import pytest

from emozoo.errors import WeightsError


def weights_or_skip(name: str) -> None:
    """Skip the calling test when the weights ``name`` are not installed (the reason names the
    :class:`~emozoo.errors.WeightsError`, which carries ``python -m emozoo.weights install <name>``)."""
    from emozoo import weights
    try:
        weights.path(name)
    except WeightsError as exc:
        pytest.skip(f"{name} weights not installed ({exc}); CI installs them")


def load_or_skip(model: str, weights_name: str):
    """``emozoo.load(model)`` when the weights ``weights_name`` of its backbone are installed, else skip.

    Example (a module-scoped fixture)::

        @pytest.fixture(scope="module")
        def model():
            return load_or_skip("emotion_speech", "whisper_base")
    """
    weights_or_skip(weights_name)
    import emozoo
    return emozoo.load(model)


def files_or_skip(data_dir, names) -> list[str]:
    """The paths of ``names`` (relative to ``data_dir``, the corpora folder), in order; skip the
    calling test when one of them is not there."""
    import os

    files = [str(data_dir / n) for n in names]
    for f in files:
        if not os.path.exists(f):
            pytest.skip(f"{f} not present")
    return files
