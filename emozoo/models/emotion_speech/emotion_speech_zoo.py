"""Train ``emotion_speech`` on every labelled clip of EmoDB + CASIA + RAVDESS and publish it.

Recipe (:func:`train_and_publish`): the ``tfrecords/{emodb,casia,ravdess}_whisper_base`` stores
(every labelled 4-class clip; unlabelled ones skipped), each corpus z-normalised with its own
statistics, the head chosen by the leave-one-corpus-out benchmark
(``benchmarks/results/emotion_speech_loco.json``, :func:`~.emotion_speech_loco.choose_head`),
seed 0; the shipped statistics are those of the three corpora pooled. The SavedModel holds the
head and the statistics only (:func:`~.emotion_speech_head.export_head`); Whisper base comes
from the weights manager at load time.

Command::

    python -m emozoo.publish emotion_speech          # ~1 min on 2 CPU cores once the stores exist
"""
from __future__ import annotations

import json
from pathlib import Path

from emozoo.errors import ExportError
from emozoo.models.emotion_speech.emotion_speech_presets import PRESETS, RETRAIN

NAME = "emotion_speech"
BACKBONE = "whisper_base"
LICENCE = ("trained on EmoDB (TU Berlin: research use), CASIA (research use) and RAVDESS (CC BY-NC-SA 4.0): the "
           "trained head inherits the corpora's terms: research / non-commercial use only. Backbone: OpenAI Whisper "
           "base (MIT), installed separately by python -m emozoo.weights install whisper_base")


def _card(head: str, loco: dict, n_clips: dict, layer_weights) -> dict:
    s = loco["summary"][head]

    def cell(c):
        return {m: {"mean": round(s["mean"][c][m]["mean"] / 100, 4), "std": round(s["mean"][c][m]["std"] / 100, 4)}
                for m in ("uar", "wa", "macro_f1")} | {"num_seeds": s["mean"][c]["uar"]["seeds"]}
    per_target = {t: {c: f"{s[t][c]['uar']['mean']:.1f} +- {s[t][c]['uar']['std']:.1f}" for c in s[t]}
                  for t in ("emodb", "casia", "ravdess")}
    return {
        "method": "emotion_speech",
        "description": "flagship speech model: waveform (any rate, down-mixed, 16 kHz) -> frozen Whisper base "
                       f"encoder -> [7, 512] layer-wise mean-pooled states -> z-normalisation -> learned layer "
                       f"weighting + {head} head -> neutral/happy/angry/sad; adapt() fits the normalisation on "
                       "unlabelled clips of a new corpus/culture/speaker",
        "experiment": "emozoo.models.emotion_speech.emotion_speech_zoo:train_and_publish",
        "train_command": PRESETS[NAME]["train_command"],
        "retrain_command": RETRAIN,
        "training_corpora": [f"{c} ({n} labelled 4-class clips)" for c, n in n_clips.items()],
        "protocol": f"every labelled clip of the three corpora, each z-normalised with its own statistics (labels "
                    f"unused); head '{head}' chosen by leave-one-corpus-out UAR only "
                    "(benchmarks/results/emotion_speech_loco.json), fixed hyper-parameters, seed 0; shipped "
                    "normalisation = the three corpora pooled",
        "label_set": "4class",
        "input": {"file": "audio file (any rate and channel count: down-mixed, resampled to 16 kHz) or a mono "
                          "waveform with sample_rate; long recordings with --window/--hop",
                  "signature": "serve_states(states [N, 7, 512]) / serve_normalised(normalised [N, 7, 512]) -> "
                               "probabilities, logits; the backbone runs in the predictor"},
        "backbone": {"name": BACKBONE, "install": f"python -m emozoo.weights install {BACKBONE}",
                     "licence": "MIT (OpenAI Whisper)", "inside_zoo_folder": False},
        "layer_weights": [round(float(v), 4) for v in layer_weights],
        "paper": "Radford et al. 2022 (Whisper); weighted layer sum as SUPERB (Yang et al. 2021) / EmoBox (Ma et al. "
                 "2024); culture-specific normalisation as Liang et al. 2019 (seed 000)",
        "licence": LICENCE,
        "metrics_source": "leave-one-corpus-out (train on two corpora, test on every clip of the third), mean over "
                          "the 3 targets, mean +- std over 5 seeds; 'no_adaptation' = pooled training statistics, "
                          "'adapt_N' = statistics of N random unlabelled target clips, 'adapt_all' = every target clip",
        "metrics_command": "python -m emozoo.models.emotion_speech.emotion_speech_loco --seeds 5",
        "metrics": {"no_adaptation": cell("none"), "adapt_10": cell("adapt10"), "adapt_50": cell("adapt50"),
                    "adapt_all": cell("adapt_all"), "loco_uar_per_target": per_target,
                    "head_choice": loco.get("chosen_head")},
        "adaptation": {"min_clips": 10, "file": ".npz beside the user's data (save_adaptation/load_adaptation); "
                                                "refused inside the zoo folder",
                       "cli": "python -m emozoo.predict --model emotion_speech --adapt DIR|batch FILE..."},
    }


def train_and_publish(repo: Path | str = ".", head: str | None = None, seed: int = 0, *, zoo_dir=None,
                      command: str | None = None) -> dict:
    """Train the chosen head on every labelled clip and publish ``emotion_speech`` (see module doc;
    the recipe of ``python -m emozoo.publish emotion_speech``).

    Args:
        repo: folder holding ``tfrecords/*_whisper_base`` and ``benchmarks/results/emotion_speech_loco.json``.
        head: override the head the benchmark chose (for experiments, not for publishing).
        seed: training seed.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.

    Example:
        >>> train_and_publish(".", command="python -m emozoo.publish emotion_speech")  # doctest: +SKIP
    """
    from emozoo.backbones.whisper.presets import backbone_presets
    from emozoo.models.emotion_speech.emotion_speech_head import export_head, per_group_normalise, statistics, train_head
    from emozoo.models.emotion_speech.emotion_speech_loco import CORPORA, load_table
    from emozoo.zoo import publish

    repo = Path(repo)
    res = repo / "benchmarks" / "results" / "emotion_speech_loco.json"
    if not res.exists():
        raise ExportError(f"{res} is missing: run python -m emozoo.models.emotion_speech.emotion_speech_loco first "
                          "(the head is chosen by leave-one-corpus-out only)")
    loco = json.loads(res.read_text())
    head = head or loco["chosen_head"]["head"]
    store_cfg = {c: json.loads((repo / "tfrecords" / f"{c}_{BACKBONE}" / "extract.json").read_text())["features"][BACKBONE]
                 for c in CORPORA}
    if len(set(store_cfg.values())) != 1:
        raise ExportError(f"the {BACKBONE} stores were written by different extractors: {store_cfg}")
    x, y, corpus, classes = load_table(repo)
    module = train_head(per_group_normalise(x, corpus), y, len(classes), head=head, seed=seed)
    mean, std = statistics(x)
    n_clips = {c: int((corpus == c).sum()) for c in CORPORA}
    card = _card(head, loco, n_clips, module.layer_weights().numpy())
    card["backbone"]["weights_id"] = next(iter(store_cfg.values()))
    if command:
        card["command"] = command
    pre = {"input": "emotion_speech_waveform", "sample_rate": 16000, "backbone": BACKBONE,
           "backbone_weights": backbone_presets[BACKBONE]["weights"],
           "features": "Whisper base encoder hidden states, mean over the clip's positions, per layer [7, 512] "
                       "(emozoo.backbones.whisper.extractor.WhisperPooler; the whisper_base stores' values)",
           "normalisation": "(states - mean) / (std + 1e-5) per row and dim; shipped: the training corpora pooled "
                            "(variables mean/std); adapt(): statistics of the new corpus's unlabelled clips",
           "head": head, "min_adapt_clips": 10}
    entry = publish(NAME, lambda d: export_head(module, mean, std, d, classes, pre), card, zoo_dir)
    m = card["metrics"]
    print(f"published {NAME} -> {entry['path']} (head {head}); LOCO UAR no adaptation "
          f"{100 * m['no_adaptation']['uar']['mean']:.1f}, adapt_all {100 * m['adapt_all']['uar']['mean']:.1f}",
          flush=True)
    return entry


def folder_size(folder: Path) -> int:
    """Bytes of every file under ``folder``."""
    return int(sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()))


__all__ = ["NAME", "train_and_publish", "folder_size"]
