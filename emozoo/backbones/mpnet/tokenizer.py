"""The all-mpnet-base-v2 tokenizer: BERT uncased WordPiece with MPNet's special tokens.

The ``tokenizer.json`` shipped with the model is a Hugging Face ``tokenizers`` pipeline whose
algorithm is the one :mod:`emozoo.features.wordpiece` already implements for MiniLM
(``BertNormalizer(clean_text, handle_chinese_chars, strip_accents=None -> follows lowercase,
lowercase)`` + ``BertPreTokenizer`` + ``WordPiece('##', unk='[UNK]', max_input_chars_per_word=100)``);
only the special tokens and the post-processor differ:

* ``RobertaProcessing``: ``<s>`` (id 0) ... ``</s>`` (id 2), one sentence -> ``<s> ids </s>``;
* padding with ``<pad>`` (id 1), which is also MPNet's ``padding_idx`` for positions;
* the WordPiece unknown token is ``[UNK]`` (id 104); ``<unk>`` (id 3) is never produced by the
  WordPiece model, only by an ``<unk>`` written in the text;
* added tokens: ``<s> <pad> </s> [UNK] <mask>`` are matched in the raw text and ``<unk>`` in the
  normalised text (HF ``AddedVocabulary``), before WordPiece sees it. :class:`MPNetTokenizer`
  does the same; the in-graph :class:`TFMPNetTokenizer` does not (a transcript holding the literal
  string ``<mask>`` is word-pieced as ``<``, ``mask``, ``>`` there: a documented difference).

Truncation is to ``max_length`` tokens including ``<s>``/``</s>`` (sentence-transformers'
``max_seq_length`` for this model: 384).

Example:

>>> tok = MPNetTokenizer.from_folder(emozoo.weights.path("mpnet"))
>>> tok.encode("Hello, world!")
[0, 7596, 1014, 2092, 1003, 2]
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from emozoo.errors import FeatureError
from emozoo.features import wordpiece as wp

BOS, PAD, EOS, UNK_ADDED, UNK, MASK = "<s>", "<pad>", "</s>", "<unk>", "[UNK]", "<mask>"
MAX_SEQ_LENGTH = 384
# Added tokens HF matches in the raw text (normalized: false) and in the normalised text.
_RAW_ADDED = (BOS, PAD, EOS, UNK, MASK)
_NORMALIZED_ADDED = (UNK_ADDED,)


def load_vocab(path) -> list[str]:
    """Read MPNet's ``vocab.txt`` (one token a line; line number = id) and check its special tokens."""
    path = Path(path)
    if not path.is_file():
        raise FeatureError(f"MPNet vocabulary {path} not found; run: python -m emozoo.weights install mpnet")
    tokens = path.read_text(encoding="utf-8").split("\n")
    if tokens and tokens[-1] == "":
        tokens.pop()
    expect = {BOS: 0, PAD: 1, EOS: 2, UNK_ADDED: 3}
    for tok, idx in expect.items():
        if len(tokens) <= idx or tokens[idx] != tok:
            raise FeatureError(f"MPNet vocabulary {path}: id {idx} should be {tok!r}; "
                               "reinstall: python -m emozoo.weights install mpnet")
    for tok in (UNK, MASK, wp.PAD, wp.CLS, wp.SEP):  # the last three: WordPieceTokenizer's own check
        if tok not in tokens:
            raise FeatureError(f"MPNet vocabulary {path} has no {tok} token")
    return tokens


def _split_keep(text: str, pattern: re.Pattern) -> list[tuple[str, bool]]:
    """``text`` cut at the matches of ``pattern``: ``[(piece, is_added_token), ...]`` in order."""
    out, pos = [], 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            out.append((text[pos:m.start()], False))
        out.append((m.group(0), True))
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], False))
    return out


class MPNetTokenizer(wp.WordPieceTokenizer):
    """Pure-Python all-mpnet-base-v2 tokenizer (identical ids to HF ``tokenizers``; tested).

    Args:
        vocab: list of tokens (index = id), from :func:`load_vocab`.
        max_length: maximum sequence length including ``<s>`` and ``</s>``; longer inputs are
            truncated (all-mpnet-base-v2: 384).

    Example:

    >>> tok = MPNetTokenizer(load_vocab(folder / "vocab.txt"))
    >>> ids, mask = tok(["I am so happy!", "No."])
    """

    def __init__(self, vocab: Sequence[str], max_length: int = MAX_SEQ_LENGTH):
        super().__init__(vocab, max_length)
        self.pad_id = self.token_to_id[PAD]
        self.unk_id = self.token_to_id[UNK]
        self.cls_id = self.token_to_id[BOS]
        self.sep_id = self.token_to_id[EOS]
        longest_first = lambda toks: "|".join(re.escape(t) for t in sorted(toks, key=len, reverse=True))
        self._raw_added = re.compile(longest_first(_RAW_ADDED))
        self._normalized_added = re.compile(longest_first(_NORMALIZED_ADDED))

    @classmethod
    def from_folder(cls, folder, max_length: int = MAX_SEQ_LENGTH) -> "MPNetTokenizer":
        return cls(load_vocab(Path(folder) / "vocab.txt"), max_length)

    def tokenize(self, text: str) -> list[str]:
        """Text -> tokens (added tokens kept whole; no ``<s>``/``</s>``, no truncation)."""
        if not isinstance(text, str):
            raise FeatureError(f"text must be str, got {type(text).__name__}")
        out: list[str] = []
        for raw, added in _split_keep(text, self._raw_added):
            if added:
                out.append(raw)
                continue
            normalized = "".join(wp.normalize_char(c) for c in raw)  # BertNormalizer, no isolation yet
            for piece, added2 in _split_keep(normalized, self._normalized_added):
                if added2:
                    out.append(piece)
                    continue
                isolated = "".join(" " + ch + " " if wp._isolated(ch) else ch for ch in piece)
                for word in isolated.split():
                    out.extend(self._wordpiece(word))
        return out


class TFMPNetTokenizer(wp.TFWordPieceTokenizer):
    """:class:`MPNetTokenizer` in core TensorFlow ops (for a SavedModel taking raw text).

    ``tokenizer(texts)`` maps a string tensor ``[batch]`` to ``(input_ids int32 [batch, T],
    attention_mask int32 [batch, T])``, ``<pad>`` (id 1) on the right. Added tokens written in the
    text (``<s>``, ``<mask>`` ...) are not matched whole (see the module docstring); everything else
    gives the ids of :class:`MPNetTokenizer` (tested).
    """

    def __init__(self, vocab: Sequence[str], max_length: int = MAX_SEQ_LENGTH):
        super().__init__(vocab, max_length)
        py = MPNetTokenizer(vocab, max_length)
        self.pad_id, self.unk_id, self.cls_id, self.sep_id = py.pad_id, py.unk_id, py.cls_id, py.sep_id


def pad_batch(seqs: Iterable[Sequence[int]], pad_id: int, multiple: int = 1):
    """Right-pad id lists to one width (the longest, rounded up to ``multiple``):
    ``(input_ids int32 [n, T], attention_mask int32 [n, T])``."""
    seqs = [list(s) for s in seqs]
    longest = max((len(s) for s in seqs), default=0)
    width = -(-longest // multiple) * multiple if multiple > 1 else longest
    ids = np.full((len(seqs), width), pad_id, np.int32)
    mask = np.zeros((len(seqs), width), np.int32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
    return ids, mask
