"""The no-face policy the zoo's face predictors share (emozoo.zoo.predictor.NoFacePolicy)."""
from __future__ import annotations

import pytest

from emozoo.errors import SchemaError
from emozoo.zoo.predictor import FacePredictor, NoFacePolicy


class _Faces(NoFacePolicy):
    def __init__(self, no_face="skip"):
        self.no_face = no_face


def test_policy_keeps_skip_and_full_and_refuses_anything_else():
    m = _Faces()
    assert m.no_face == "skip"
    m.no_face = "full"
    assert m.no_face == "full"
    for bad in ("guess", "", None, "Full"):
        with pytest.raises(SchemaError, match=r"no_face must be 'skip' .* or 'full' .*got"):
            m.no_face = bad
        assert m.no_face == "full"                      # a refused value leaves the policy as it was
    with pytest.raises(SchemaError, match="'guess'"):
        _Faces("guess")


def test_both_face_predictors_use_the_shared_policy():
    from emozoo.models.emotion_face.emotion_face_predictor import EmotionFacePredictor

    for cls in (FacePredictor, EmotionFacePredictor):
        assert issubclass(cls, NoFacePolicy)
        assert cls.no_face is NoFacePolicy.no_face       # not a copy of it
