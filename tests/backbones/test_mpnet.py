"""all-mpnet-base-v2 backbone: parity with the PyTorch reference (sentence-transformers, fixture written by
tools/reference/mpnet_reference.py), the architecture against an independent numpy forward pass on a tiny
config, tokenizer parity with HF ``tokenizers`` and between the Python and TF tokenizers, SavedModel, the
``mpnet`` extractor, clear errors."""
import csv
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf

import emozoo.weights
from emozoo.backbones.mpnet import backbone, encoder as mpnet, tokenizer as mtok
from emozoo.data.manifest import ManifestRow
from emozoo.errors import FeatureError, WeightsError

FIXTURE = Path(__file__).parent / "fixtures" / "mpnet_reference.npz"
# Measured max |emozoo - torch| over the fixture: 1.7e-7 (fp32 accumulation order); the bound:
TOL = 1e-5

SENTENCES = [
    "A man is eating food.",
    "Hello, World!!! How're you?",
    "Café naïve résumé Ångström façade",
    "Straße ÖSTERREICH İstanbul ΟΔΟΣ Σίσυφος",
    "我爱北京天安门。今天天气很好！",
    "Emoji 😀🎉👍🏽 and ❤️ hearts",
    "tabs\tand\nnewlines\r\n  multiple   spaces",
    "zero\u200bwidth\u00a0nbsp\u3000ideographic space",
    "control\x00\x07chars\ufffd here \ue000private",
    "“Smart quotes” — dashes – and … ellipsis",
    "x" * 150 + " short",
    "$100.50 @user #hashtag http://example.com/a?b=c&d=e",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
    "",
    "   ",
    "Привет, мир! Это тест.",
    "I can't believe it's not butter! " * 60,
]
ADDED_TOKENS = ["a <mask> b", "x<s>y</s>z", "[UNK] <UNK> <unk> [PAD] <pad>", "a<mask>b <Mask> <s >"]


def _weights_or_skip() -> Path:
    try:
        return emozoo.weights.path("mpnet")
    except WeightsError as e:
        pytest.skip(f"MPNet weights not installed ({e}); CI installs them")


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(FIXTURE, allow_pickle=False))


@pytest.fixture(scope="module")
def enc():
    _weights_or_skip()
    return mpnet.get_encoder(True)


@pytest.fixture(scope="module")
def vocab():
    return mtok.load_vocab(_weights_or_skip() / "vocab.txt")


def _made_up(ref):
    rows = np.nonzero(~ref["is_real"])[0]
    return rows, [str(ref["texts"][i]) for i in rows]


def _read_real(data_dir: Path, locator: str) -> str:
    """A real corpus line named ``iemocap_text:<dialogue>:<index>`` or ``meld:<csv>:<Sr No.>``."""
    corpus, where, key = locator.split(":")
    if corpus == "iemocap_text":
        with open(data_dir / "iemocap_text" / "dialogues.jsonl", encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                if d["dialogue"] == where:
                    return d["utterances"][int(key)]["text"]
    else:
        with open(data_dir / "meld" / where, encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if row["Sr No."] == key:
                    return row["Utterance"]
    raise AssertionError(f"{locator} not found under {data_dir}")


# ---------------------------------------------------------------- reference parity (real weights)

def test_relative_buckets_equal_torch(ref):
    got = backbone.relative_position_bucket(ref["rel_offsets"], 32, 128)
    np.testing.assert_array_equal(got, ref["rel_buckets"])


def test_token_ids_equal_reference(enc, ref):
    rows, texts = _made_up(ref)
    for i, t in zip(rows, texts):
        n = ref["lengths"][i]
        assert enc.tokenizer.encode(t) == ref["token_ids"][i, :n].tolist(), repr(t[:40])
    assert max(ref["lengths"]) == mtok.MAX_SEQ_LENGTH  # the long text was truncated to 384 there too


def test_embeddings_equal_reference(enc, ref):
    rows, texts = _made_up(ref)
    got = enc.embed(texts, batch_size=3)
    assert got.shape == (len(texts), 768) and got.dtype == np.float32
    err = np.abs(got - ref["embeddings"][rows]).max()
    assert err < TOL, f"max abs error {err:.2e} vs sentence-transformers"


@pytest.mark.data
def test_real_lines_equal_reference(enc, ref, data_dir):
    """IEMOCAP and MELD lines (stored in the fixture only by locator + sha256: corpora stay out of the repo)."""
    rows = np.nonzero(ref["is_real"])[0]
    texts = []
    for i in rows:
        folder = data_dir / str(ref["refs"][i]).split(":")[0]
        if not folder.exists():
            pytest.skip(f"{folder} not present in EMOZOO_DATA_DIR")
        t = _read_real(data_dir, str(ref["refs"][i]))
        assert hashlib.sha256(t.encode()).hexdigest() == ref["ref_sha256"][i], f"{ref['refs'][i]} changed"
        texts.append(t)
    for i, t in zip(rows, texts):
        assert enc.tokenizer.encode(t) == ref["token_ids"][i, : ref["lengths"][i]].tolist()
    err = np.abs(enc.embed(texts) - ref["embeddings"][rows]).max()
    assert err < TOL, f"max abs error {err:.2e} vs sentence-transformers"


def test_unnormalised_means_and_unit_norm(enc, ref):
    """The last hidden states mean-pooled without Normalize have the reference's norms."""
    import keras
    rows, texts = _made_up(ref)
    last = keras.Model(enc.model.inputs, enc.model.get_layer("layer_11").output)
    ids, mask = enc.tokenizer(texts)
    hidden = np.asarray(last({"input_ids": ids, "attention_mask": mask}))
    raw = (hidden * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(np.linalg.norm(raw, axis=1), ref["raw_norms"][rows], rtol=1e-5)
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    assert np.abs(unit - ref["embeddings"][rows]).max() < TOL
    np.testing.assert_allclose(np.linalg.norm(ref["embeddings"], axis=1), 1.0, atol=1e-6)


def test_batching_and_padding_do_not_change_embeddings(enc):
    texts = SENTENCES[:8]
    alone = np.stack([enc.embed([t])[0] for t in texts])
    together = enc.embed(texts, batch_size=8)
    assert np.abs(alone - together).max() < 1e-5
    # explicit extra <pad> columns (ids 1, mask 0) leave the embedding unchanged
    ids, mask = enc.tokenizer([texts[0]])
    wide_ids, wide_mask = mtok.pad_batch([ids[0].tolist()], enc.tokenizer.pad_id, 64)
    assert np.abs(enc.embed_ids(ids, mask) - enc.embed_ids(wide_ids, wide_mask)).max() < 1e-5


def test_empty_and_blank_text_give_the_special_tokens_embedding(enc, ref):
    """Documented behaviour (as sentence-transformers): "" and white space embed ``<s> </s>``."""
    out = enc.embed(["", "  \t\n"])
    assert enc.tokenizer.encode("") == [0, 2]
    assert np.abs(out - ref["embeddings"][2]).max() < TOL
    assert enc.embed([]).shape == (0, 768)


def test_semantics(enc):
    a, b, c = enc.embed(["I am so happy today!", "Today I feel really glad.", "The invoice is attached."])
    assert a @ b > a @ c + 0.3


# ---------------------------------------------------------------- tokenizer

def test_tokenizer_equals_hf_tokenizers(vocab):
    tokenizers = pytest.importorskip("tokenizers", reason="HF tokenizers (test extra) not installed")
    hf = tokenizers.Tokenizer.from_file(str(_weights_or_skip() / "tokenizer.json"))
    hf.no_padding()
    hf.enable_truncation(mtok.MAX_SEQ_LENGTH)
    tok = mtok.MPNetTokenizer(vocab)
    for t in SENTENCES + ADDED_TOKENS:
        assert tok.encode(t) == hf.encode(t).ids, repr(t[:40])


def test_tf_tokenizer_equals_python(vocab):
    import tensorflow as tf
    py = mtok.MPNetTokenizer(vocab)
    tf_tok = mtok.TFMPNetTokenizer(vocab)
    ids, mask = tf_tok(tf.constant(SENTENCES))
    want_ids, want_mask = py(SENTENCES)
    np.testing.assert_array_equal(ids.numpy(), want_ids)
    np.testing.assert_array_equal(mask.numpy(), want_mask)
    assert want_ids[0, 0] == 0 and 2 in want_ids[0] and want_ids[0, -1] == 1  # <s> ... </s> <pad>


def test_tokenizer_errors(tmp_path, vocab):
    tok = mtok.MPNetTokenizer(vocab)
    with pytest.raises(FeatureError, match="must be str"):
        tok.encode(b"bytes")
    with pytest.raises(FeatureError, match="not a single str"):
        tok("one text")
    bad = tmp_path / "vocab.txt"
    bad.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n", encoding="utf-8")  # a BERT vocabulary, not MPNet's
    with pytest.raises(FeatureError, match="id 0 should be '<s>'"):
        mtok.load_vocab(bad)


# ---------------------------------------------------------------- architecture (no weights needed)

TINY = {"model_type": "mpnet", "hidden_act": "gelu", "pad_token_id": 1, "vocab_size": 50, "hidden_size": 8,
        "num_attention_heads": 2, "num_hidden_layers": 2, "intermediate_size": 16,
        "max_position_embeddings": 40, "relative_attention_num_buckets": 32, "layer_norm_eps": 1e-5}


def _tiny_weights(seed=0):
    rng = np.random.default_rng(seed)
    h, f = TINY["hidden_size"], TINY["intermediate_size"]
    r = lambda *s: rng.normal(0, 0.5, s).astype(np.float32)
    w = {"embeddings.word_embeddings.weight": r(50, h), "embeddings.position_embeddings.weight": r(40, h),
         "embeddings.LayerNorm.weight": 1 + r(h), "embeddings.LayerNorm.bias": r(h),
         "encoder.relative_attention_bias.weight": r(32, 2) * 4, "pooler.dense.weight": r(h, h),
         "pooler.dense.bias": r(h), "embeddings.position_ids": np.arange(40)[None]}
    for i in range(2):
        p = f"encoder.layer.{i}."
        for n in "qkvo":
            w[p + f"attention.attn.{n}.weight"], w[p + f"attention.attn.{n}.bias"] = r(h, h), r(h)
        w[p + "attention.LayerNorm.weight"], w[p + "attention.LayerNorm.bias"] = 1 + r(h), r(h)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r(f, h), r(f)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r(h, f), r(h)
        w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"] = 1 + r(h), r(h)
    return w


def _bucket(rel):
    """T5/MPNet bidirectional bucket, written out scalar by scalar (independent of backbone.py)."""
    n = -rel
    ret = 16 if n < 0 else 0
    n = abs(n)
    if n < 8:
        return ret + n
    return ret + min(15, 8 + int(math.log(n / 8) / math.log(128 / 8) * 8))


def _numpy_mpnet(w, ids, mask):
    """HF MPNetModel forward + mean pooling + L2, in numpy, straight from the HF tensor names."""
    def ln(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-5) * w[p + ".weight"] + w[p + ".bias"]

    lin = lambda x, p: x @ w[p + ".weight"].T + w[p + ".bias"]
    b, t = ids.shape
    not_pad = (ids != 1).astype(np.int64)
    pos = np.cumsum(not_pad, 1) * not_pad + 1
    x = ln(w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][pos],
           "embeddings.LayerNorm")
    buckets = np.array([[_bucket(j - i) for j in range(t)] for i in range(t)])
    bias = w["encoder.relative_attention_bias.weight"][buckets].transpose(2, 0, 1)[None]
    heads, d = 2, TINY["hidden_size"] // 2
    split = lambda y: y.reshape(b, t, heads, d).transpose(0, 2, 1, 3)
    for i in range(2):
        p = f"encoder.layer.{i}."
        q, k, v = (split(lin(x, p + f"attention.attn.{n}")) for n in "qkv")
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias + np.where(mask[:, None, None, :] > 0, 0, -1e30)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        ctx = (a @ v).transpose(0, 2, 1, 3).reshape(b, t, -1)
        h = ln(x + lin(ctx, p + "attention.attn.o"), p + "attention.LayerNorm")
        u = lin(h, p + "intermediate.dense")
        x = ln(h + lin(0.5 * u * (1 + erf(u / np.sqrt(2))), p + "output.dense"), p + "output.LayerNorm")
    m = mask[:, :, None].astype(np.float64)
    pooled = (x * m).sum(1) / m.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True), x


def test_tiny_encoder_equals_independent_numpy_forward():
    w = _tiny_weights()
    model = backbone.build_encoder(TINY, normalize=True, output_hidden_states=True)
    backbone.assign_weights(model, w, TINY)
    rng = np.random.default_rng(1)
    ids = rng.integers(3, 50, (3, 30)).astype(np.int32)
    mask = np.ones_like(ids)
    for r, n in ((1, 17), (2, 5)):  # right padding with <pad> = 1
        ids[r, n:], mask[r, n:] = 1, 0
    out = model({"input_ids": ids, "attention_mask": mask})
    want, last = _numpy_mpnet(w, ids, mask)
    raw_model = backbone.build_encoder(TINY, normalize=False)
    backbone.assign_weights(raw_model, w, TINY)
    raw = np.asarray(raw_model({"input_ids": ids, "attention_mask": mask}))
    m = mask[:, :, None]
    np.testing.assert_allclose(raw, (last * m).sum(1) / m.sum(1), atol=2e-5)
    np.testing.assert_allclose(np.asarray(out["embedding"]), want, atol=2e-5)
    hs = np.asarray(out["hidden_states"])
    assert hs.shape == (3, 3, 30, 8)
    np.testing.assert_allclose(hs[0, -1], last[0], atol=2e-5)


def test_assign_weights_refuses_missing_misshaped_and_unused_tensors():
    model = backbone.build_encoder(TINY)
    w = _tiny_weights()
    del w["encoder.relative_attention_bias.weight"]
    with pytest.raises(FeatureError, match="no tensor 'encoder.relative_attention_bias.weight'"):
        backbone.assign_weights(model, w, TINY)
    w = _tiny_weights()
    w["encoder.layer.1.attention.attn.q.weight"] = np.zeros((8, 9), np.float32)
    with pytest.raises(FeatureError, match="shape"):
        backbone.assign_weights(model, w, TINY)
    w = _tiny_weights()
    w["lm_head.dense.weight"] = np.zeros((8, 8), np.float32)
    with pytest.raises(FeatureError, match="does not use"):
        backbone.assign_weights(model, w, TINY)


def test_relative_position_bias_layer_config_round_trip():
    layer = backbone._layers()[1](32, 2, 40, name="rel")
    clone = type(layer).from_config(layer.get_config())
    assert (clone.num_buckets, clone.heads, clone.max_positions, clone.max_distance) == (32, 2, 40, 128)


def test_load_config_refuses_other_architectures(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**TINY, "model_type": "bert"}))
    with pytest.raises(FeatureError, match="model_type='bert'"):
        backbone.load_config(tmp_path)


# ---------------------------------------------------------------- API, errors, weights

def test_missing_weights_name_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("EMOZOO_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(WeightsError, match="python -m emozoo.weights install mpnet"):
        mpnet.MPNetEncoder()
    (tmp_path / "mpnet").mkdir()
    with pytest.raises(WeightsError, match="python -m emozoo.weights install mpnet"):
        mpnet.MPNetEncoder()
    with pytest.raises(FeatureError, match="lacks config.json, model.safetensors, vocab.txt"):
        mpnet.MPNetEncoder(directory=tmp_path / "mpnet")


def test_input_errors(enc):
    with pytest.raises(FeatureError, match="not a single str"):
        enc.embed("one text")
    with pytest.raises(FeatureError, match=r"texts\[1\] is int"):
        enc.embed(["ok", 3])
    with pytest.raises(FeatureError, match="batch_size"):
        enc.embed(["ok"], batch_size=0)
    with pytest.raises(FeatureError, match="equal 2-D shapes"):
        enc.embed_ids(np.zeros((1, 4)), np.zeros((1, 5)))
    with pytest.raises(FeatureError, match="input_ids must be in"):
        enc.embed_ids(np.full((1, 4), 40000), np.ones((1, 4)))
    with pytest.raises(FeatureError, match="exceed the model's 512 positions"):
        enc.embed_ids(np.zeros((1, 513)), np.ones((1, 513)))
    with pytest.raises(FeatureError, match="max_length"):
        mpnet.MPNetEncoder(max_length=600)


def test_extractor_rows(enc):
    from emozoo.features.registry import get_extractor
    ext = get_extractor("mpnet")
    assert ext.spec.shape == (768,) and ext.input == "row"
    assert "all-mpnet-base-v2" in ext.config and "max_length=384" in ext.config
    rows = [ManifestRow("a", "test", transcript="I am so happy today!"),
            ManifestRow("b", "test", transcript="   "),
            ManifestRow("c", "test", transcript="This is terrible.")]
    out = ext.batch(rows)
    assert isinstance(out[1], FeatureError) and "empty transcript" in str(out[1])
    want = enc.embed(["I am so happy today!", "This is terrible."])
    assert np.abs(np.stack([out[0], out[2]]) - want).max() < 1e-6
    assert np.abs(ext(rows[0]) - want[0]).max() < 1e-6


def test_saved_model_text_and_ids_signatures(enc, ref, tmp_path):
    import tensorflow as tf
    path = mpnet.export_saved_model(tmp_path / "sm", encoder=enc)
    loaded = tf.saved_model.load(str(path))
    rows, texts = _made_up(ref)
    # the in-graph tokenizer does not match added tokens written in the text (documented difference)
    keep = [j for j, t in enumerate(texts) if "<mask>" not in t]
    rows, texts = rows[keep], [texts[j] for j in keep]
    got = loaded.signatures["serving_default"](texts=tf.constant(texts))["embedding"].numpy()
    assert np.abs(got - ref["embeddings"][rows]).max() < TOL
    ids, mask = enc.tokenizer(texts[:2])
    got_ids = loaded.signatures["embed_ids"](input_ids=tf.constant(ids), attention_mask=tf.constant(mask))
    assert np.abs(got_ids["embedding"].numpy() - ref["embeddings"][rows[:2]]).max() < TOL
