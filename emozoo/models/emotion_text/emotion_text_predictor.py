"""``emozoo.load("emotion_text")``: a conversation or utterances in, emotion probabilities per turn out.

The zoo folder holds the heads only (``serve_4class`` and ``serve_meld7`` signatures:
:func:`~.emotion_text_head.export_heads`); the MPNet encoder (all-mpnet-base-v2, Song et al.
2020 / Sentence-BERT) is loaded by the predictor from the weights manager
(:func:`emozoo.weights.path`, installed by ``python -m emozoo.weights install mpnet``): missing
weights raise :class:`~emozoo.errors.WeightsError` naming that command when the model is loaded,
and weights whose version string (safetensors sha256, 384-token budget, mean pooling, L2)
differs from the one the heads were trained on raise :class:`~emozoo.errors.FeatureError`.

Inputs of :meth:`EmotionTextPredictor.predict`:

* one string: one utterance -> ``[1, K]``;
* a list of strings: each its own one-turn conversation (``conversation=False``, the default for
  strings) -> ``[N, K]``; ``conversation=True`` reads them as the turns of one conversation;
* a conversation as :class:`~emozoo.models.dann.dann_predictor.ConversationPredictor` takes it:
  a list of ``{"speaker", "text"}`` dicts or ``(speaker, text)`` pairs, in spoken order -> ``[L, K]``
  (``conversation=False`` classifies each turn alone);
* precomputed MPNet embeddings ``[L, 768]`` (one conversation).

A turn that is empty or white space only, or not a string, is refused with a one-line
:class:`~emozoo.errors.InputRefused` / :class:`~emozoo.errors.SchemaError` (both
:class:`~emozoo.errors.EmozooError`) naming the turn. A very long turn is truncated by the
tokenizer to MPNet's 384 tokens (``<s>``/``</s>`` included), as sentence-transformers does.
Speaker tags are kept in :meth:`~EmotionTextPredictor.predict_turns` but not read by the heads.

Example:

>>> import emozoo
>>> model = emozoo.load("emotion_text")                                          # doctest: +SKIP
>>> model.predict_labels("I am so furious, get out of my face!")                 # doctest: +SKIP
['angry']
>>> model.predict_labels([("A", "We won the lottery!"), ("B", "No way, that's amazing!")],
...                      label_set="meld7")                                      # doctest: +SKIP
['happy', 'surprise']
"""
from __future__ import annotations

import os

import numpy as np

from emozoo.errors import FeatureError, InputRefused, SchemaError
from emozoo.models.dann.dann_predictor import ConversationPredictor
from emozoo.zoo.predictor import SavedModelPredictor


def _encoder(want: str):
    """The cached MPNet encoder, after checking the installed weights (every call: missing weights
    raise WeightsError even when an encoder was built earlier in the process) against ``want``."""
    from emozoo.backbones.mpnet import encoder as mpnet

    have = mpnet.feature_config()            # emozoo.weights.path("mpnet"): WeightsError if missing
    if have != want:
        raise FeatureError(f"emotion_text was trained on embeddings of {want!r}; the installed MPNet weights give "
                           f"{have!r}: reinstall them with python -m emozoo.weights install mpnet")
    return mpnet.get_encoder()


class EmotionTextPredictor(SavedModelPredictor):
    """A loaded ``emotion_text`` model (``"input": "emotion_text"``).

    Attributes:
        labels: the default label set's class names (``4class``: neutral, happy, angry, sad).
        label_sets: ``{name: classes}`` of every head (``4class``, ``meld7``).
        default_label_set: the label set used when ``label_set`` is not given.
    """

    read_conversation = staticmethod(ConversationPredictor.read_conversation)

    def __init__(self, folder: str | os.PathLike, card: dict):
        super().__init__(folder, card)
        self.label_sets = {k: tuple(v) for k, v in self.preprocessing["label_sets"].items()}
        self.default_label_set = self.preprocessing.get("default_label_set", next(iter(self.label_sets)))
        self.dim = int(self.preprocessing.get("input_dim", 768))
        self._encoder = _encoder(self.preprocessing["text_encoder"])

    # --- inputs -------------------------------------------------------------------------------
    @staticmethod
    def turns(conversation) -> list[dict]:
        """A conversation as ``[{"speaker", "text"}]``; refuses a turn without words."""
        from emozoo.zoo.input_checks import check_text

        turns = ConversationPredictor.turns(conversation)
        for i, t in enumerate(turns):
            if not t["text"].strip():
                raise InputRefused(f"turn {i + 1} is empty (no words to classify); give its text or leave it out")
            check_text(t["text"], f"turn {i + 1}")
        return turns

    def _classes(self, label_set: str | None) -> tuple[str, tuple]:
        ls = label_set or self.default_label_set
        if ls not in self.label_sets:
            raise SchemaError(f"label_set must be one of {sorted(self.label_sets)}, got {label_set!r}")
        return ls, self.label_sets[ls]

    def embed_texts(self, texts) -> np.ndarray:
        """MPNet sentence embeddings ``[n, 768]`` of texts (truncated to 384 tokens)."""
        return np.asarray(self._encoder.embed(list(texts)), np.float32)

    def _conversations(self, inputs, conversation):
        """``(list of turn lists, embeddings [N, L, D], mask [N, L])`` for the input forms of the class doc."""
        if isinstance(inputs, np.ndarray) or (hasattr(inputs, "shape") and hasattr(inputs, "dtype")):
            x = np.asarray(inputs, np.float32)
            x = x[None] if x.ndim == 1 else x
            if x.ndim != 2 or x.shape[1] != self.dim or not len(x) or not np.all(np.isfinite(x)):
                raise SchemaError(f"precomputed features must be finite MPNet embeddings [L, {self.dim}]; got {x.shape}")
            turns = [{"speaker": "", "text": ""} for _ in x]
            return ([turns], x[None], np.ones((1, len(x)), np.float32)) if conversation is not False else \
                ([[t] for t in turns], x[:, None], np.ones((len(x), 1), np.float32))
        if isinstance(inputs, str):
            inputs = [inputs]
        if isinstance(inputs, bytes) or not isinstance(inputs, (list, tuple)):
            raise SchemaError(f"give a string, a list of strings, a conversation (list of {{'speaker', 'text'}} "
                              f"dicts or (speaker, text) pairs) or MPNet embeddings [L, {self.dim}]; got "
                              f"{type(inputs).__name__}")
        if not inputs:
            raise SchemaError("nothing to classify: the input has no utterance")
        turns = self.turns(inputs)
        whole = conversation if conversation is not None else not all(isinstance(t, str) for t in inputs)
        emb = self.embed_texts([t["text"] for t in turns])
        if whole:
            return [turns], emb[None], np.ones((1, len(turns)), np.float32)
        return [[t] for t in turns], emb[:, None], np.ones((len(turns), 1), np.float32)

    # --- prediction ---------------------------------------------------------------------------
    def predict_embeddings(self, x, mask, label_set: str | None = None) -> np.ndarray:
        """Probabilities ``[B, L, K]`` of padded conversations of MPNet embeddings ``x [B, L, 768]``."""
        import tensorflow as tf

        ls, _ = self._classes(label_set)
        serve = getattr(self._model, f"serve_{ls}")
        return serve(tf.constant(np.asarray(x, np.float32)), tf.constant(np.asarray(mask, np.float32)))[
            "probabilities"].numpy()

    def predict(self, inputs, label_set: str | None = None, conversation: bool | None = None) -> np.ndarray:
        """Probabilities ``[N, K]``, one row per utterance / turn, in input order.

        Args:
            inputs: see the module docstring.
            label_set: ``"4class"`` (default) or ``"meld7"``.
            conversation: ``None``: a list of strings is N single utterances, a list of turns one
                conversation; ``True`` / ``False`` forces either reading.
        """
        _, x, mask = self._conversations(inputs, conversation)
        p = self.predict_embeddings(x, mask, label_set)
        return p.reshape(-1, p.shape[-1]) if x.shape[1] == 1 else p[0]

    def predict_labels(self, inputs, label_set: str | None = None, conversation: bool | None = None) -> list[str]:
        _, classes = self._classes(label_set)
        return [classes[i] for i in self.predict(inputs, label_set, conversation).argmax(-1)]

    def predict_turns(self, inputs, label_set: str | None = None, conversation: bool | None = None) -> list[dict]:
        """``[{"speaker", "text", "label", "probabilities": {class: p}}]`` per turn."""
        _, classes = self._classes(label_set)
        convs, x, mask = self._conversations(inputs, conversation)
        p = self.predict_embeddings(x, mask, label_set)
        flat = [t for c in convs for t in c]
        probs = p.reshape(-1, p.shape[-1]) if x.shape[1] == 1 else p[0]
        return [{"speaker": t["speaker"], "text": t["text"], "label": classes[int(q.argmax())],
                 "probabilities": dict(zip(classes, map(float, q)))} for t, q in zip(flat, probs)]
