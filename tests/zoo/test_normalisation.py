"""The z-normalisation shared by the flagship heads (emozoo.zoo.normalisation): hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest

from emozoo.errors import SchemaError
from emozoo.zoo import normalisation as N


def test_statistics_of_a_2x2_array():
    mean, std = N.statistics(np.array([[1.0, 2.0], [3.0, 6.0]]), ndim=2)
    assert mean.dtype == std.dtype == np.float32
    assert mean.tolist() == [2.0, 4.0] and std.tolist() == [1.0, 2.0]         # population std


def test_statistics_of_layerwise_states_are_per_row_and_dimension():
    x = np.array([[[0.0, 1.0], [10.0, 10.0]], [[2.0, 5.0], [10.0, 30.0]]])     # [N=2, R=2, D=2]
    mean, std = N.statistics(x, ndim=3)
    assert mean.tolist() == [[1.0, 3.0], [10.0, 20.0]] and std.tolist() == [[1.0, 2.0], [0.0, 10.0]]


@pytest.mark.parametrize("x, ndim, message", [
    (np.zeros((1, 3)), 2, r"embeddings \[N >= 2, dim\], got shape \(1, 3\)"),
    (np.zeros((4, 2, 3)), 2, r"embeddings \[N >= 2, dim\], got shape \(4, 2, 3\)"),
    (np.zeros((4, 3)), 3, r"states \[N >= 2, rows, dim\], got shape \(4, 3\)"),
    (np.zeros((1,)), None, r"\[N >= 2, \.\.\.\], got shape \(1,\)"),
])
def test_statistics_refuse_too_few_examples_or_the_wrong_rank(x, ndim, message):
    with pytest.raises(SchemaError, match=message):
        N.statistics(x, ndim)


def test_normalise_divides_by_std_plus_eps():
    z = N.normalise(np.array([[3.0, 0.0]]), np.array([1.0, 0.0]), np.array([2.0, 0.0]))
    assert z.dtype == np.float32
    np.testing.assert_allclose(z, [[2.0 / (2.0 + 1e-5), 0.0]], rtol=1e-7)
    assert N.EPS == 1e-5


def test_per_group_normalise_uses_each_groups_own_statistics():
    x = np.array([[0.0], [2.0], [100.0], [104.0], [1.0]], np.float32)
    groups = ["a", "a", "b", "b", "a"]                          # a list is accepted as well as an array
    z = N.per_group_normalise(x, groups, ndim=2)
    sa, sb = np.std([0.0, 2.0, 1.0]), 2.0                          # a: mean 1; b: mean 102, std 2
    np.testing.assert_allclose(z[:, 0], [-1 / (sa + 1e-5), 1 / (sa + 1e-5), -2 / (sb + 1e-5), 2 / (sb + 1e-5), 0.0],
                               rtol=1e-6)
    with pytest.raises(SchemaError, match="N >= 2"):                # a group of one example has no statistics
        N.per_group_normalise(x, ["a", "a", "b", "b", "c"])


def test_the_heads_use_the_shared_functions():
    from emozoo.models.emotion_face import emotion_face_head as F
    from emozoo.models.emotion_speech import emotion_speech_head as S

    for head in (F, S):
        assert head.normalise is N.normalise and head.EPS == N.EPS
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    assert F.statistics(x)[1].tolist() == [1.0, 2.0]
    with pytest.raises(SchemaError, match="states"):
        S.statistics(x)                                         # the speech head wants [N, R, D]
    np.testing.assert_array_equal(S.per_group_normalise(x[:, None], ["g", "g"])[:, 0], F.per_group_normalise(x, ["g", "g"]))
