"""The shared layers beyond one configuration: defaults, non-default sizes against NumPy, activations,
regularisers, get_config round trips, output shapes, and FeatureStandardization (issue 17: the
layer tests checked shapes and one equation on one configuration; mutants of the defaults, the
scaling, the regularisers and the configs survived)."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from emozoo.errors import ExperimentError, SchemaError
from emozoo.layers import AttentionFusion, SelfAttentionGRU
from emozoo.layers.gradient_reversal import GaninLambdaSchedule, GaninSchedule, GradientReversal, ganin_lambda
from emozoo.layers.standardization import FeatureStandardization

rng = np.random.default_rng(7)


def _softmax(s, axis=-1):
    e = np.exp(s - s.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


# -- AT-Fusion -----------------------------------------------------------------------------------
def _fusion_by_hand(layer, inputs, act=None):
    proj = []
    for x, p in zip(inputs, layer.projections):
        z = x @ p.kernel.numpy() + p.bias.numpy()
        proj.append(np.maximum(z, 0) if act == "relu" else z)
    u = np.stack(proj, -2)
    s = (np.tanh(u @ layer.W_F.kernel.numpy()) @ layer.w_F.kernel.numpy())[..., 0]
    a = _softmax(s)
    return (u * a[..., None]).sum(-2), a


def test_at_fusion_defaults_paper_sizes_and_no_bias_in_the_attention():
    layer = AttentionFusion(input_dims=(6,))
    f = layer(rng.normal(size=(3, 6)).astype("float32"))
    assert layer.units == 100 and f.shape == (3, 100)               # paper: d = 100
    assert layer.projection_activation is None and layer.kernel_regularizer is None
    assert layer.W_F.bias is None and layer.w_F.bias is None        # eq. 2 has no bias terms
    assert layer.W_F.kernel.shape == (100, 100) and layer.w_F.kernel.shape == (100, 1)
    assert [p.kernel.shape for p in layer.projections] == [(6, 100)]
    np.testing.assert_allclose(layer.W_F(tf.ones((1, 100))).numpy(), np.tanh(layer.W_F.kernel.numpy().sum(0))[None],
                               rtol=1e-5, atol=1e-6)                # W_F is followed by tanh


@pytest.mark.parametrize("act", [None, "relu"])
def test_at_fusion_three_modalities_match_eq_1_to_3(act):
    layer = AttentionFusion(7, input_dims=(3, 5, 2), projection_activation=act)
    xs = [rng.normal(size=(2, 4, d)).astype("float32") for d in (3, 5, 2)]
    f, alpha = layer(xs, return_attention=True)
    ref_f, ref_a = _fusion_by_hand(layer, xs, act)
    assert f.shape == (2, 4, 7) and alpha.shape == (2, 4, 3)
    np.testing.assert_allclose(alpha.numpy(), ref_a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(f.numpy(), ref_f, rtol=1e-5, atol=1e-5)
    assert layer.compute_output_shape([(None, 4, 3), (None, 4, 5), (None, 4, 2)]) == (None, 4, 7)
    assert layer.compute_output_shape((None, 4, 3)) == (None, 4, 7)


def test_at_fusion_single_modality_is_its_projection_and_accepts_a_bare_tensor():
    layer = AttentionFusion(3, input_dims=(4,))
    x = rng.normal(size=(5, 4)).astype("float32")
    f, alpha = layer(x, return_attention=True)
    np.testing.assert_allclose(alpha.numpy(), 1.0, atol=1e-6)
    np.testing.assert_allclose(f.numpy(), layer.projections[0](x).numpy(), rtol=1e-5, atol=1e-6)


def test_at_fusion_regulariser_covers_every_kernel():
    layer = AttentionFusion(3, input_dims=(2, 4), kernel_regularizer=keras.regularizers.L2(0.5))
    layer([np.ones((1, 2), "float32"), np.ones((1, 4), "float32")])
    kernels = [p.kernel for p in layer.projections] + [layer.W_F.kernel, layer.w_F.kernel]
    expected = sum(0.5 * float(np.sum(k.numpy() ** 2)) for k in kernels)
    assert len(layer.losses) == 4
    np.testing.assert_allclose(float(tf.add_n(layer.losses)), expected, rtol=1e-5)


def test_at_fusion_config_round_trip_gives_the_same_layer():
    layer = AttentionFusion(5, input_dims=(3, 2), projection_activation="relu",
                            kernel_regularizer=keras.regularizers.L2(1e-3), name="fuse")
    xs = [rng.normal(size=(2, 3)).astype("float32"), rng.normal(size=(2, 2)).astype("float32")]
    out = layer(xs).numpy()
    cfg = layer.get_config()
    assert cfg["units"] == 5 and cfg["input_dims"] == [3, 2] and cfg["projection_activation"] == "relu"
    assert cfg["kernel_regularizer"] is not None
    clone = AttentionFusion.from_config(cfg)
    clone(xs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(xs).numpy(), out, rtol=1e-6)
    assert clone.get_config() == cfg
    assert AttentionFusion(2, input_dims=(1,)).get_config()["kernel_regularizer"] is None


# -- SA-GRU --------------------------------------------------------------------------------------
def _sa_by_hand(layer, H, mask, scale):
    heads = []
    dh = layer.d // layer.num_heads
    for i in range(layer.num_heads):
        q, k, v = H @ layer.W_Q.numpy()[i], H @ layer.W_K.numpy()[i], H @ layer.W_V.numpy()[i]
        s = q @ k.T / (math.sqrt(dh) if scale else 1.0)
        s = np.where(mask[None, :], s, -1e9)
        heads.append(_softmax(s) @ v)
    return np.concatenate(heads, -1) * mask[:, None]


def test_sa_gru_defaults_are_the_papers():
    layer = SelfAttentionGRU()
    r = layer(rng.normal(size=(1, 3, 6)).astype("float32"))
    assert (layer.gru_units, layer.num_heads, layer.scale, layer.dropout) == (50, 4, False, 0.0)
    assert r.shape == (1, 3, 100) and layer.W_Q.shape == (4, 100, 25)
    assert layer.W_K.shape == layer.W_V.shape == (4, 100, 25)
    assert layer.bigru.forward_layer.units == 50 and layer.bigru.forward_layer.return_sequences
    assert layer.supports_masking and layer.compute_mask(r, np.ones((1, 3), bool)) is None
    assert layer.compute_output_shape((None, 3, 6)) == (None, 3, 100)


@pytest.mark.parametrize("scale", [False, True])
def test_sa_gru_eq4_with_other_sizes_scaling_and_padding(scale):
    layer = SelfAttentionGRU(gru_units=6, num_heads=3, scale=scale)
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], bool)
    r, att = layer(x, mask=mask, return_attention=True)
    assert r.shape == (2, 5, 12) and att.shape == (2, 3, 5, 5)
    H = layer.bigru(tf.constant(x), mask=tf.constant(mask)).numpy() * mask[..., None]
    for b in range(2):
        np.testing.assert_allclose(r.numpy()[b], _sa_by_hand(layer, H[b], mask[b], scale), rtol=1e-4, atol=1e-5)


def test_sa_gru_dropout_reaches_the_gru_and_only_in_training():
    layer = SelfAttentionGRU(gru_units=4, num_heads=2, dropout=0.5)
    assert layer.bigru.forward_layer.dropout == 0.5 and layer.bigru.backward_layer.dropout == 0.5
    x = rng.normal(size=(2, 6, 8)).astype("float32")
    a, b = layer(x, training=False).numpy(), layer(x, training=False).numpy()
    np.testing.assert_allclose(a, b)
    assert not np.allclose(layer(x, training=True).numpy(), a, atol=1e-4)


def test_sa_gru_regulariser_covers_gru_and_attention_weights():
    reg = keras.regularizers.L2(0.1)
    layer = SelfAttentionGRU(gru_units=2, num_heads=2, kernel_regularizer=reg)
    layer(np.ones((1, 2, 3), "float32"))
    expected = sum(0.1 * float(np.sum(w.numpy() ** 2)) for w in (layer.W_Q, layer.W_K, layer.W_V))
    for gru in (layer.bigru.forward_layer, layer.bigru.backward_layer):
        cell = gru.cell
        expected += 0.1 * float(np.sum(cell.kernel.numpy() ** 2)) + 0.1 * float(np.sum(cell.recurrent_kernel.numpy() ** 2))
    np.testing.assert_allclose(float(tf.add_n(layer.losses)), expected, rtol=1e-5)


def test_sa_gru_config_round_trip_gives_the_same_layer():
    layer = SelfAttentionGRU(gru_units=3, num_heads=2, scale=True, dropout=0.25,
                             kernel_regularizer=keras.regularizers.L2(1e-4), name="ctx")
    x = rng.normal(size=(1, 4, 5)).astype("float32")
    out = layer(x).numpy()
    cfg = layer.get_config()
    assert (cfg["gru_units"], cfg["num_heads"], cfg["scale"], cfg["dropout"]) == (3, 2, True, 0.25)
    assert cfg["kernel_regularizer"] is not None
    clone = SelfAttentionGRU.from_config(cfg)
    clone(x)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), out, rtol=1e-5, atol=1e-6)
    assert clone.get_config() == cfg
    assert SelfAttentionGRU(gru_units=1, num_heads=1).get_config()["kernel_regularizer"] is None


# -- FeatureStandardization ----------------------------------------------------------------------
def test_standardization_fits_training_statistics_and_applies_them():
    x = rng.normal(3.0, 2.0, size=(200, 4))
    layer = FeatureStandardization()
    layer.build((None, 4))
    assert not layer.trainable_weights and len(layer.non_trainable_weights) == 2
    np.testing.assert_allclose(layer(np.ones((1, 4), "float32")).numpy(), 1.0)      # identity before fit
    layer.fit(x)
    np.testing.assert_allclose(layer.mean.numpy(), x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(layer.std.numpy(), x.std(0), rtol=1e-5)                # population std (ddof 0)
    assert layer.mean.dtype == "float32" and layer.std.dtype == "float32"
    y = layer(x[:5].astype("float64")).numpy()
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, (x[:5] - x.mean(0)) / x.std(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer(np.array([[1, 2, 3, 4]])).numpy(),
                               (np.array([[1, 2, 3, 4]]) - x.mean(0)) / x.std(0), rtol=1e-4)   # integer input


def test_standardization_divides_constant_dimensions_by_one():
    x = np.stack([np.linspace(0, 1, 50), np.full(50, 7.0), 7.0 + 1e-7 * (np.arange(50) % 2)], 1)
    layer = FeatureStandardization()
    assert layer.epsilon == 1e-6
    layer.build((None, 3))
    layer.fit(x)
    np.testing.assert_allclose(layer.std.numpy()[1:], 1.0)          # std 0 and std 5e-8 < epsilon
    assert layer.std.numpy()[0] == pytest.approx(x[:, 0].std(), rel=1e-5)
    np.testing.assert_allclose(layer(np.array([[0.5, 9.0, 9.0]], "float32")).numpy()[0, 1], 2.0, rtol=1e-5)
    coarse = FeatureStandardization(epsilon=0.5)                    # a larger floor: the first dim too
    coarse.build((None, 3))
    coarse.fit(x)
    np.testing.assert_allclose(coarse.std.numpy(), 1.0)


def test_standardization_config_round_trip():
    layer = FeatureStandardization(epsilon=1e-3, name="z")
    cfg = layer.get_config()
    assert cfg["epsilon"] == 1e-3 and cfg["name"] == "z"
    assert FeatureStandardization.from_config(cfg).epsilon == 1e-3


# -- gradient reversal and the Ganin schedule ----------------------------------------------------
def test_gradient_reversal_defaults_and_config():
    grl = GradientReversal()
    assert grl.initial_lambda == 1.0 and float(grl.hp_lambda.numpy()) == 1.0
    assert not grl.hp_lambda.trainable and grl.hp_lambda.shape == () and grl.supports_masking
    assert grl.compute_output_shape((None, 3)) == (None, 3)
    cfg = GradientReversal(0.25, name="g").get_config()
    assert cfg["lambda_"] == 0.25 and GradientReversal.from_config(cfg).initial_lambda == 0.25
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ExperimentError, match="finite and >= 0"):
            GradientReversal(bad)


def test_ganin_lambda_formula_and_clipping():
    for p in (0.0, 0.1, 0.5, 1.0):
        assert ganin_lambda(p) == pytest.approx(2 / (1 + math.exp(-10 * p)) - 1)
    assert ganin_lambda(0.3, gamma=2.0, max_lambda=0.5) == pytest.approx(0.5 * (2 / (1 + math.exp(-0.6)) - 1))
    assert ganin_lambda(-1) == 0.0 and ganin_lambda(3) == pytest.approx(ganin_lambda(1))


def test_ganin_schedule_defaults_checks_and_its_values_per_step():
    s = GaninSchedule()
    assert (s.total_steps, s.gamma, s.max_value, s.step, s.history) == (None, 10.0, 1.0, 0, [])
    for bad in (0, -3):
        with pytest.raises(ExperimentError, match="total_steps must be >= 1"):
            GaninSchedule(total_steps=bad)
    with pytest.raises(ExperimentError, match="maximum must be >= 0"):
        GaninSchedule(max_value=-0.5)
    with pytest.raises(NotImplementedError):
        GaninSchedule(total_steps=2).on_train_batch_begin(0)

    grl = GradientReversal(1.0)
    inp = keras.Input((3,))
    model = keras.Model(inp, keras.layers.Dense(1)(grl(inp)))
    model.compile(optimizer="sgd", loss="mse")
    sched = GaninLambdaSchedule(gamma=4.0, max_lambda=0.8)
    assert sched.max_lambda == 0.8 and sched.gamma == 4.0
    x, y = np.ones((8, 3), "float32"), np.zeros((8, 1), "float32")
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[sched])
    assert sched.total_steps == 8 and sched.step == 8               # epochs * steps of fit
    np.testing.assert_allclose(sched.history, [ganin_lambda(i / 8, 4.0, 0.8) for i in range(8)], rtol=1e-6)
    assert float(grl.hp_lambda.numpy()) == pytest.approx(ganin_lambda(7 / 8, 4.0, 0.8))


# -- what the first mutation run of the new tests left (issue 17) ---------------------------------
def test_variables_and_sublayers_keep_their_names():
    """The names TensorBoard, checkpoints' variable paths and the exported SavedModels show."""
    sa = SelfAttentionGRU(gru_units=2, num_heads=2, name="ctx")
    sa(np.ones((1, 2, 3), "float32"))
    assert [w.path.rsplit("/", 1)[-1] for w in (sa.W_Q, sa.W_K, sa.W_V)] == ["W_Q", "W_K", "W_V"]
    assert sa.bigru.name == "ctx_bigru"
    fu = AttentionFusion(2, input_dims=(3, 1), name="fuse")
    assert [p.name for p in fu.projections] == ["fuse_proj_0", "fuse_proj_1"]
    assert (fu.W_F.name, fu.w_F.name) == ("fuse_W_F", "fuse_w_F")
    st = FeatureStandardization()
    st.build((None, 2))
    assert [st.mean.path.rsplit("/", 1)[-1], st.std.path.rsplit("/", 1)[-1]] == ["mean", "std"]
    assert GradientReversal().hp_lambda.path.rsplit("/", 1)[-1] == "lambda"


def test_at_fusion_checks_the_last_dimension_even_when_others_are_unknown():
    layer = AttentionFusion(2, input_dims=(3, 5))
    fn = tf.function(lambda a, t: layer([a, t]), autograph=False, input_signature=[tf.TensorSpec([None, None, 3]),
                                                                    tf.TensorSpec([None, None, 4])])
    with pytest.raises(SchemaError, match="modality of dimension 4, AttentionFusion expects 5"):
        fn.get_concrete_function()
    with pytest.raises(SchemaError, match="^AttentionFusion needs input_dims"):
        AttentionFusion(2)
    # the output shape follows the first modality's leading dimensions
    assert layer.compute_output_shape([(7, 3), (None, 5)]) == (7, 2)


def test_standardization_on_sequences_and_at_the_epsilon_boundary():
    x = rng.normal(size=(30, 4, 3))
    layer = FeatureStandardization()
    layer.build((None, 4, 3))                                   # statistics over the last axis
    assert layer.mean.shape == (3,) and layer.std.shape == (3,)
    layer.fit(x.reshape(-1, 3))
    np.testing.assert_allclose(layer(x.astype("float32")).numpy(),
                               (x - x.reshape(-1, 3).mean(0)) / x.reshape(-1, 3).std(0), rtol=1e-4, atol=1e-5)
    half = FeatureStandardization(epsilon=0.5)                  # a column of 0/1 has std exactly 0.5
    half.build((None, 1))
    half.fit(np.array([[0.0], [1.0]] * 10))
    assert float(half.std.numpy()[0]) == 0.5                    # not below epsilon: kept


def test_ganin_schedule_boundaries_and_unknown_length_error():
    assert GaninSchedule(total_steps=1).total_steps == 1         # the smallest valid count
    assert GaninSchedule(max_value=0.0).max_value == 0.0         # a flat zero schedule is valid
    grl = GradientReversal()
    inp = keras.Input((2,))
    model = keras.Model(inp, keras.layers.Dense(1)(grl(inp)))
    model.compile(optimizer="sgd", loss="mse")
    ds = tf.data.Dataset.from_generator(lambda: iter([(np.ones((2, 2), "float32"), np.zeros((2, 1), "float32"))]),
                                        output_signature=(tf.TensorSpec([None, 2]), tf.TensorSpec([None, 1])))
    with pytest.raises(ExperimentError, match=r"^GaninLambdaSchedule needs total_steps when fit\(\) does not know "
                                              r"epochs \* steps_per_epoch \(pass steps_per_epoch to fit\)"):
        model.fit(ds, epochs=1, verbose=0, callbacks=[GaninLambdaSchedule()])
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ExperimentError, match="^GaninLambdaSchedule: the model has no GradientReversal layer$"):
        plain.fit(np.ones((2, 2)), np.zeros((2, 1)), epochs=1, verbose=0, callbacks=[GaninLambdaSchedule(total_steps=1)])

