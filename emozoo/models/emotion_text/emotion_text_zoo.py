"""Train ``emotion_text`` and publish it (``python -m emozoo.publish emotion_text``).

Recipe (:func:`train_and_publish`): the head chosen by cross-corpus validation
(``benchmarks/results/emotion_text_eval.json``, :func:`~.emotion_text_eval.choose`), seed 0:

* ``4class``: every labelled 4-class turn of IEMOCAP (sessions 1-5) and MELD (train, dev, test),
  MELD joy/anger/sadness/neutral as happy/angry/sad/neutral, the other turns kept as context; or
  IEMOCAP alone when the measured mix rows say adding MELD lowers UAR on both corpora
  (:func:`mix_decision`);
* ``meld7``: MELD's official train dialogues, 7 classes (the MELD official-test figures of the
  card describe this recipe; seed 0 is one of their seeds).

The SavedModel holds the two heads only (signatures ``serve_4class`` / ``serve_meld7``:
:func:`~.emotion_text_head.export_heads`); MPNet comes from the weights manager at load time.

Command::

    python -m emozoo.publish emotion_text          # ~2-6 min on 2 CPU cores once the stores exist
"""
from __future__ import annotations

import json
from pathlib import Path

from emozoo.errors import ExportError
from emozoo.models.emotion_text.emotion_text_presets import PRESETS, RETRAIN

NAME = "emotion_text"
BACKBONE = "mpnet"
EVAL = Path("benchmarks/results/emotion_text_eval.json")
LICENCE = ("trained on IEMOCAP transcripts and labels (USC IEMOCAP licence: research use, non-commercial, no "
           "redistribution of the corpus) and MELD (repository GPL-3.0; Friends transcripts, research use): the "
           "trained heads inherit these terms: research / non-commercial use only. Backbone: "
           "sentence-transformers all-mpnet-base-v2 (Apache-2.0), installed separately by "
           "python -m emozoo.weights install mpnet")
HEAD_TEXT = {
    "linear": "utterance-level z-normalisation + linear layer (no context)",
    "ci": "DANN conversational model (AT-Fusion d=100 -> SA-GRU: bi-GRU 50+50 + 4-head self-attention -> per-turn "
          "classifier), lambda 0 (CI)",
    "dann": "DANN conversational model (AT-Fusion d=100 -> SA-GRU: bi-GRU 50+50 + 4-head self-attention -> per-turn "
            "classifier) with the speaker adversary behind a gradient reversal layer in training (lambda 1)",
}


def _cell(summary: dict, g: str) -> dict | None:
    if g not in summary:
        return None
    c = summary[g]
    return {m: {"mean": round(c[m]["mean"], 4), "std": round(c[m]["std"], 4)}
            for m in ("accuracy", "uar", "macro_f1", "weighted_f1")} | {"num_seeds": len(c["seeds"])}


def mix_decision(res: dict, head: str) -> dict:
    """Train the 4class head on IEMOCAP + MELD, or on IEMOCAP alone when adding the other corpus
    lowered UAR on BOTH sides: IEMOCAP session 5 (``ts_1234`` vs ``ts_1234+meld``) and the MELD
    official test on the 4 classes (``official_test_4class`` vs ``+iemocap``)."""
    s = res["summary"]
    pairs = {"iemocap_session5": (f"session5/{head}/mpnet/ts_1234", f"session5/{head}/mpnet/ts_1234+meld"),
             "meld_test_4class": (f"mix/{head}/mpnet/official_test_4class",
                                  f"mix/{head}/mpnet/official_test_4class+iemocap")}
    missing = [g for a, b in pairs.values() for g in (a, b) if g not in s]
    if missing:
        raise ExportError(f"the mix rows {missing} are missing: run python -m emozoo.models.emotion_text."
                          "emotion_text_eval --parts session5,mix first")
    delta = {k: round(s[b]["uar"]["mean"] - s[a]["uar"]["mean"], 4) for k, (a, b) in pairs.items()}
    hurts = all(v < 0 for v in delta.values())
    return {"mix": not hurts, "uar_change_when_mixing": delta,
            "rule": "IEMOCAP alone when adding the other corpus lowers UAR on both IEMOCAP session 5 and the MELD "
                    "test (4 classes); else IEMOCAP + MELD"}


def card(head: str, res: dict, sizes: dict, mix: dict) -> dict:
    """The model card from the measurements ``res`` (:mod:`.emotion_text_eval` JSON)."""
    s = res["summary"]
    cross = {g.split("/", 3)[-1] + f" ({g.split('/')[1]}, {g.split('/')[2]})": _cell(s, g)
             for g in s if g.startswith("cross/") or (g.startswith("minilm/") and "->" in g)}
    return {
        "method": "emotion_text",
        "description": f"flagship text model: a conversation (turns in spoken order) or single utterances -> "
                       f"all-mpnet-base-v2 sentence embeddings (computed by the predictor) -> {HEAD_TEXT[head]} -> "
                       "4class neutral/happy/angry/sad (default) or meld7 (MELD's seven) probabilities per turn",
        "experiment": "emozoo.models.emotion_text.emotion_text_zoo:train_and_publish",
        "train_command": PRESETS[NAME]["train_command"],
        "retrain_command": RETRAIN,
        "training_corpora": [("4class: IEMOCAP transcripts, sessions 1-5 + MELD train/dev/test" if mix["mix"] else
                              "4class: IEMOCAP transcripts, sessions 1-5 (MELD left out: mixing lowered UAR on both "
                              "corpora)") + f" ({sizes['4class']} labelled 4-class turns)",
                             f"meld7: MELD official train dialogues ({sizes['meld7']} labelled turns)"],
        "protocol": f"head '{head}' chosen by cross-corpus UAR only (IEMOCAP -> MELD and MELD -> IEMOCAP, 4 shared "
                    "classes; never on IEMOCAP session 5), fixed hyper-parameters, seed 0; 4class: " + (
                    "every labelled turn of both corpora (MELD joy/anger/sadness/neutral = happy/angry/sad/neutral, "
                    "the other turns context)" if mix["mix"] else "every labelled turn of IEMOCAP sessions 1-5 "
                    "(happy + excited = happy; frustrated/other turns context); MELD is left out because adding it "
                    f"lowered UAR on both sides ({mix['uar_change_when_mixing']})") + "; meld7: MELD's official train dialogues (20 epochs, no model selection)",
        "label_set": "4class",
        "label_sets": {"4class": ["neutral", "happy", "angry", "sad"],
                       "meld7": ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]},
        "input": {"conversation": "list of turns in spoken order: {'speaker', 'text'} dicts, (speaker, text) pairs; "
                                  "or a string / list of strings (single utterances, conversation=True to read them "
                                  "as one conversation); or MPNet embeddings [L, 768]. Empty turns are refused; "
                                  "turns are truncated to 384 tokens by the MPNet tokenizer",
                  "signature": "serve_4class / serve_meld7 (text [B, L, 768], mask [B, L]) -> probabilities, "
                               "logits [B, L, K]; the backbone runs in the predictor"},
        "backbone": {"name": BACKBONE, "install": f"python -m emozoo.weights install {BACKBONE}",
                     "licence": "Apache-2.0 (sentence-transformers/all-mpnet-base-v2)", "inside_zoo_folder": False},
        "paper": "Song et al. 2020 (MPNet), Reimers & Gurevych 2019 (Sentence-BERT); Lian, Tao, Liu, Huang 2019 "
                 "(DANN conversational model, arXiv:1910.13807)",
        "licence": LICENCE,
        "metrics_source": "mean +- std over seeds (fractions); cross_corpus: train on every labelled 4-class turn of "
                          "one corpus, test on every one of the other; session5: IEMOCAP TS_1234 (train sessions "
                          "1-4, test the 1242 labelled turns of session 5), '+meld' = every labelled MELD 4-class "
                          "turn added to training; meld7_official_test: MELD official train -> test, 7 classes; meld4_*: MELD "
                          "official train -> test on the 4 shared classes, '_plus_iemocap' = every labelled IEMOCAP "
                          "turn added to training",
        "metrics_command": "python -m emozoo.models.emotion_text.emotion_text_eval --seeds 5",
        "metrics": {"head_choice": res.get("choice"), "mix_decision": mix, "cross_corpus": cross,
                    "session5": _cell(s, f"session5/{head}/mpnet/ts_1234"),
                    "session5_plus_meld": _cell(s, f"session5/{head}/mpnet/ts_1234+meld"),
                    "session5_minilm": _cell(s, f"minilm/{head}/minilm/ts_1234"),
                    "meld7_official_test": _cell(s, f"meld/{head}/mpnet/official_test"),
                    "meld4_official_test": _cell(s, f"mix/{head}/mpnet/official_test_4class"),
                    "meld4_official_test_plus_iemocap": _cell(s, f"mix/{head}/mpnet/official_test_4class+iemocap")},
    }


def train_and_publish(repo: Path | str = ".", head: str | None = None, seed: int = 0, *, zoo_dir=None,
                      command: str | None = None) -> dict:
    """Train the chosen head for both label sets on the stores of ``repo`` and publish ``emotion_text``
    (the recipe of ``python -m emozoo.publish emotion_text``).

    Args:
        repo: folder holding ``tfrecords/{iemocap_text,meld}_mpnet`` and
            ``benchmarks/results/emotion_text_eval.json``.
        head: override the head the evaluation chose (for experiments, not for publishing).
        seed: training seed.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.

    Example:
        >>> train_and_publish(".", command="python -m emozoo.publish emotion_text")  # doctest: +SKIP
    """
    import keras

    from emozoo.backbones.mpnet import encoder as mpnet
    from emozoo.models.emotion_text import emotion_text_head as H
    from emozoo.zoo import publish

    repo = Path(repo)
    res_path = repo / EVAL
    if not res_path.exists():
        raise ExportError(f"{res_path} is missing: run python -m emozoo.models.emotion_text.emotion_text_eval first "
                          "(the head is chosen by cross-corpus validation only)")
    res = json.loads(res_path.read_text())
    if "choice" not in res:
        raise ExportError(f"{res_path} has no head choice yet: run its cross-corpus part for every candidate")
    head = head or res["choice"]["head"]
    spec = {c: json.loads((repo / H.STORES[c].format(feature=BACKBONE) / "extract.json").read_text())["features"][BACKBONE]
            for c in H.CORPORA}
    if len(set(spec.values())) != 1:
        raise ExportError(f"the {BACKBONE} stores were written by different encoders: {spec}")
    data = H.load_corpora(repo, BACKBONE)
    mix = mix_decision(res, head)
    heads, sizes = {}, {}
    for label_set in ("4class", "meld7"):
        fold = H.all_turns_fold(data, label_set, mix=mix["mix"])
        sizes[label_set] = fold.sizes["train_labelled"]
        heads[label_set] = H.train_head(fold, head, seed)
        print(f"trained {label_set} ({head}, {sizes[label_set]} labelled turns)", flush=True)
    c = card(head, res, sizes, mix)
    c["backbone"]["weights_id"] = next(iter(spec.values()))
    if command:
        c["command"] = command
    pre = {"input": "emotion_text", "backbone": BACKBONE, "text_encoder": next(iter(spec.values())),
           "input_dim": mpnet.EMBED_DIM, "max_length": mpnet.MAX_SEQ_LENGTH, "head": head,
           "features": "all-mpnet-base-v2 sentence embedding per turn (mean pooled, L2; the *_mpnet stores' values)"}
    entry = publish(NAME, lambda d: H.export_heads(heads, d, pre, mpnet.EMBED_DIM), c, zoo_dir)
    keras.backend.clear_session()
    print(f"published {NAME} -> {entry['path']} (head {head})", flush=True)
    return entry


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return int(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()))


__all__ = ["NAME", "mix_decision", "card", "train_and_publish", "folder_size"]
