"""Zoo export of the SSGAN discriminator's classifier (``ssgan_speech``, ``ssgan_face``) and the
waveform predictor.

* ``ssgan_speech``: ``serve_waveform(waveform [N, samples] float32, 16 kHz)``: in-graph 128-bin
  log-Mel (:class:`emozoo.features.layers.AcousticFrontend`, the ``fbank`` store's values), the
  centre 128-frame crop (zero-padded when shorter, :func:`emozoo.features.fbank.crop_frames`),
  the preset's 2x2 average pooling, z-normalisation with the labelled training statistics, D's
  trunk and C; returns ``probabilities`` over the K emotions (the first K of the K+1 classes,
  renormalised: ``D(k | x, real)``), ``logits`` and ``embedding`` (``D_(x)``).
  ``preprocessing.json`` says ``"input": "ssgan_waveform"``, served by :class:`WaveformPredictor`.
* ``ssgan_face``: the dense SSGAN of the ``face_dface`` setting (CK+ labelled, JAFFE unlabelled,
  Dface embeddings) with the ``dface_fer2013`` backbone inside the SavedModel:
  ``classify(face [N, 48, 48, 1] 0..255)`` -> Dface embedding -> z-normalisation -> D's trunk
  -> C, and ``embed(face)``, the signatures of the zoo's ``"face"`` input kind
  (:class:`emozoo.zoo.predictor.FacePredictor`: the largest MTCNN face of an image file,
  ``FaceCropper(size=48, policy="full")``, as the ``*_dface`` stores were written).

The generator is not exported (it is only needed in training).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import ExportError
from emozoo.zoo.predictor import SavedModelPredictor

SAMPLE_RATE = 16000


def _write_assets(out_dir: Path, classes, pre: dict) -> None:
    assets = Path(out_dir) / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    (assets / "labels.json").write_text(json.dumps(list(classes), indent=1))
    (assets / "preprocessing.json").write_text(json.dumps(pre, indent=1))


def export_speech(model, mean, std, out_dir, classes, *, width: int = 128, pool: int = 2, bins: int = 128) -> None:
    """SavedModel ``waveform -> Fbank -> centre crop -> pool -> z-norm -> D -> C`` (see module doc)."""
    import tensorflow as tf

    from emozoo.features.layers import AcousticFrontend

    mean = np.asarray(mean, np.float32).reshape(-1)
    std = np.asarray(std, np.float32).reshape(-1)
    if mean.shape != (bins // pool,) or std.shape != mean.shape:
        raise ExportError(f"normalisation statistics must have {bins // pool} values per bin, got {mean.shape}")
    mod = tf.Module(name="ssgan_speech_serving")
    mod.frontend = AcousticFrontend("fbank", sample_rate=SAMPLE_RATE, bins=bins)
    mod.discriminators, mod.classifier = list(model.discriminators), model.classifier   # no generator
    mod.mean, mod.std = tf.constant(mean), tf.constant(std)

    def serve(waveform):
        frames = mod.frontend(waveform)                                   # [N, T, bins]
        n = tf.shape(frames)[1]
        start = tf.maximum(n - width, 0) // 2                             # crop_frames(mode="center")
        x = frames[:, start:start + width]
        x = tf.pad(x, [[0, 0], [0, width - tf.shape(x)[1]], [0, 0]])
        x = tf.reshape(x, [-1, width // pool, pool, bins // pool, pool])
        x = tf.reduce_mean(x, axis=[2, 4])                                # the preset's average pooling
        x = (x - mod.mean) / mod.std
        h, logits = model.discriminate(x, training=False)
        logits = logits[:, :model.num_classes]
        return {"probabilities": tf.nn.softmax(logits, -1), "logits": logits, "embedding": h}

    mod.serve_waveform = tf.function(serve, input_signature=[tf.TensorSpec((None, None), tf.float32,
                                                                           name="waveform")], autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"serve_waveform": mod.serve_waveform})
    _write_assets(out_dir, classes, {
        "input": "ssgan_waveform", "sample_rate": SAMPLE_RATE, "feature": "fbank (in graph): 128-bin log-Mel, 25 ms / "
        "10 ms, FFT 512, Hann (emozoo.features.fbank.log_mel)", "crop": f"centre {width} frames, zero-padded",
        "pool": pool, "input_shape": [width // pool, bins // pool],
        "normalisation": "per-bin z-normalisation with the labelled training crops' statistics, in the graph"})


def export_face(model, dface, mean, std, out_dir, classes, *, size: int = 48, dface_version: str = "") -> None:
    """SavedModel ``face -> Dface embedding -> z-norm -> D's trunk -> C`` on 0..255 grey crops ``[N, size, size, 1]``.

    ``dface`` is the restored ``dface_fer2013`` SavedModel (the backbone that wrote the
    ``{ckplus,jaffe}_dface`` stores the dense SSGAN was trained on); its variables are saved again
    inside this one. ``mean``/``std`` (336 values) are the labelled training embeddings'
    statistics (the ``stats`` of :func:`emozoo.models.ssgan.ssgan_task.normalise`), applied in the
    graph. Signatures:

    * ``classify(face)`` -> ``probabilities`` over the K emotions (softmax of the first K of the
      K+1 logits, i.e. ``D(k | x, real)``; the generated class is dropped and renormalised away),
      ``logits`` (K), ``fake_probability`` (the K+1-way softmax's generated class: how "unreal"
      D finds the face);
    * ``embed(face)`` -> ``embedding`` (the Dface embedding, the model's input features, as in the
      stores) and ``discriminator_features`` (``D_(x)``, the second-to-last layer).
    """
    import tensorflow as tf

    mean = np.asarray(mean, np.float32).reshape(-1)
    std = np.asarray(std, np.float32).reshape(-1)
    dim = int(model.modalities[0]["shape"][0])
    if len(model.modalities) != 1 or model.modalities[0]["variant"] != "dense":
        raise ExportError("export_face takes a uni-modal dense SSGAN on Dface embeddings")
    if mean.shape != (dim,) or std.shape != (dim,):
        raise ExportError(f"normalisation statistics must have {dim} values (the Dface embedding size), got "
                          f"{mean.shape} / {std.shape}")
    mod = tf.Module(name="ssgan_face_serving")
    mod.dface = dface
    mod.discriminators, mod.classifier = list(model.discriminators), model.classifier   # no generator
    mod.mean, mod.std = tf.constant(mean), tf.constant(std)

    def embedding(face):
        return dface.embed(face)["embedding"]

    def classify(face):
        _, logits = model.discriminate((embedding(face) - mod.mean) / mod.std, training=False)
        k = model.num_classes
        return {"probabilities": tf.nn.softmax(logits[:, :k], -1), "logits": logits[:, :k],
                "fake_probability": tf.nn.softmax(logits, -1)[:, k]}

    def embed(face):
        e = embedding(face)
        return {"embedding": e, "discriminator_features": model.features((e - mod.mean) / mod.std, training=False)}

    spec = [tf.TensorSpec((None, size, size, 1), tf.float32, name="face")]
    mod.classify = tf.function(classify, input_signature=spec, autograph=False)
    mod.embed = tf.function(embed, input_signature=spec, autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"classify": mod.classify, "embed": mod.embed})
    _write_assets(out_dir, classes, {
        "input": "face", "size": size, "channels": 1, "pixel_range": [0, 255], "embedding_dim": dim,
        "cropping": f"emozoo.features.face.FaceCropper(size={size}, policy='full'): MTCNN largest face, square of "
                    "the box's longer side, ITU-R 601-2 grey, antialiased bilinear resize (the whole image when no "
                    "face is found), as the jaffe_dface / ckplus_dface stores were written",
        "backbone": f"zoo:dface_fer2013/{dface_version} (inside this SavedModel)",
        "normalisation": "per-dimension z-normalisation of the Dface embedding with the labelled CK+ training "
                         "embeddings' statistics, in the graph",
        "head": "dense SSGAN discriminator D (336-256-128, LeakyReLU 0.2) + C; probabilities = softmax over the "
                "K real classes (the generated class K+1 dropped; its probability is 'fake_probability')"})


class WaveformPredictor(SavedModelPredictor):
    """A loaded zoo model of ``"input": "ssgan_waveform"`` (``ssgan_speech``).

    ``predict`` takes audio file paths (decoded and resampled to 16 kHz by
    :func:`emozoo.data.audio.load_audio`) or one mono waveform with its ``sample_rate``, and
    returns probabilities ``[N, K]``; the Fbank front end runs inside the SavedModel.
    Every file and waveform first passes the speech check shared by all zoo speech predictors
    (:func:`emozoo.zoo.predictor.speech_waveform`): too short (under 0.25 s), silent, DC or
    unvoiced input raises :class:`~emozoo.errors.InputRefused`; files over 60 s are refused
    with the hint to predict them in windows.
    """

    def __init__(self, folder: str | os.PathLike, card: dict):
        super().__init__(folder, card)
        self.sample_rate = int(self.preprocessing.get("sample_rate", SAMPLE_RATE))

    def waveform(self, source, sample_rate: int | None = None) -> np.ndarray:
        from emozoo.zoo.predictor import speech_waveform
        return speech_waveform(source, self.sample_rate, sample_rate)

    def predict_waveform(self, wav, sample_rate: int) -> np.ndarray:
        """Probabilities ``[K]`` of one mono waveform (checked as :meth:`waveform` says)."""
        return self.predict(wav, sample_rate)[0]

    def predict(self, inputs, sample_rate: int | None = None) -> np.ndarray:
        """Probabilities ``[N, K]`` for file path(s) or one waveform (``sample_rate`` needed)."""
        import tensorflow as tf
        if isinstance(inputs, (str, os.PathLike)):
            inputs = [inputs]
        if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(i, (str, os.PathLike)) for i in inputs):
            waves = [self.waveform(p) for p in inputs]
        else:
            waves = [self.waveform(inputs, sample_rate)]
        return np.concatenate([self._model.serve_waveform(tf.constant(w[None]))["probabilities"].numpy()
                               for w in waves])

    def predict_labels(self, inputs, sample_rate: int | None = None) -> list[str]:
        return [self.labels[i] for i in self.predict(inputs, sample_rate).argmax(-1)]


FRACTION = 0.5
# zoo name of each published setting: ``ssgan_face`` is the dense SSGAN on Dface embeddings (the
# paper's visual features; CK+ labelled, JAFFE unlabelled) with the Dface backbone in the graph
ZOO_NAMES = {"speech": "ssgan_speech", "face_dface": "ssgan_face"}
# the recipe of each zoo model (RunSpec fields over the CPU preset, fold/seed 0):
# * speech: the table's 50 % row;
# * face_dface: every training-fold CK+ image labelled (fraction 1), JAFFE unlabelled, and the
#   ``combine`` normalisation (statistics of labelled CK+ + unlabelled JAFFE, in the graph), so
#   that one set of statistics serves both corpora at inference (with ``self`` a JAFFE face would
#   be z-normalised with CK+ statistics it was never trained under)
ZOO_RUNS = {"speech": {"fraction": FRACTION}, "face_dface": {"fraction": 1.0, "normalisation": "combine"}}


def _summary_rows(res: Path) -> dict:
    """``{"<pct>%": {model: {metric: {mean, std, n}}}}`` of a ``benchmarks/results/ssgan_<setting>.json`` table."""
    out = {}
    for x in json.loads(res.read_text())["rows"]:
        cell = {k: {"mean": round(x[k]["mean"], 4), "std": round(x[k]["std"], 4)}
                for k in ("uar", "macro_f1", "macro_f1_uar_map", "accuracy") if k in x}
        out.setdefault(f"{int(round(100 * x['fraction']))}%", {})[x["model"]] = {**cell, "n": x["n"],
                                                                                  "labelled": x["sizes"]["labelled"]}
    return out


def _jaffe_check(model, stats, classes) -> dict:
    """The model on every labelled JAFFE image of the ``jaffe_dface`` store (z-normalised with the
    labelled CK+ statistics, as the exported graph does). JAFFE is the unlabelled pool in training:
    its images were seen, its labels never read, so this is a transductive cross-corpus check."""
    from emozoo.evaluation.metrics import classification_report
    from emozoo.models.ssgan.ssgan_task import load_functionals, predict_proba
    pool = load_functionals("jaffe", "dface")
    keep = np.flatnonzero(pool.y >= 0)
    x = (pool.x[0][keep] - np.asarray(stats[0], np.float32)) / np.asarray(stats[1], np.float32)
    rep = classification_report(pool.y[keep], predict_proba(model, [x]).argmax(-1).astype(np.int64), classes)
    return {**{k: round(rep[k], 4) for k in ("accuracy", "uar", "macro_f1")}, "n": int(len(keep)),
            "confusion_matrix": rep["confusion_matrix"]}


def zoo_config(setting: str):
    """The experiment a zoo model is trained by: the setting's 50 % experiment with :data:`ZOO_RUNS`,
    the SSGAN only, fold 0 (seed 0), run through the one trainer (``ssgan`` Task)."""
    from emozoo.experiments import apply_overrides, get_experiment
    from emozoo.models.ssgan.ssgan_experiments import experiment_name
    if setting not in ZOO_NAMES:
        raise ExportError(f"no zoo model for setting {setting!r}; published settings: {sorted(ZOO_NAMES)}")
    cfg = apply_overrides(get_experiment(experiment_name(setting, FRACTION)),
                          [f"model.params.run.{k}={json.dumps(v)}" for k, v in ZOO_RUNS[setting].items()]
                          + ['model.params.run.models=["ssgan"]', "data.folds=[0]"])
    return dataclasses.replace(cfg, name=f"ssgan/zoo/{setting}", description=f"the zoo model {ZOO_NAMES[setting]}: "
                                                                             f"{cfg.description}, {ZOO_RUNS[setting]}")


def load_trained(result: dict, weights, spec):
    """The trained SSGAN of a fold's ``result`` (its ``modalities``) with its selected ``weights``."""
    from emozoo.models.ssgan.ssgan_model import SemiSupervisedGAN
    mods = result["modalities"]["ssgan"] if isinstance(result["modalities"], dict) else result["modalities"]
    model = SemiSupervisedGAN(len(result["classes"]), mods, mode="ssgan",
                              **{k: v for k, v in spec.model.items() if k not in ("conv", "dense")})
    model([np.zeros((1, *m["shape"]), np.float32) for m in model.modalities] if len(mods) > 1 else
          np.zeros((1, *model.modalities[0]["shape"]), np.float32))          # build before loading
    model.load_weights(weights)
    return model


def train_and_publish(setting: str, repo: Path | str = ".", *, zoo_dir=None, command: str | None = None) -> dict:
    """Retrain the SSGAN of the table's 50 % row (fold/seed 0) through the ``ssgan`` Task (one fold on
    :func:`emozoo.train.trainer.run_experiment`), export its classifier head, publish it
    (the recipe of the presets ``ssgan_speech`` and ``ssgan_face``: ``python -m emozoo.publish NAME``).

    ``setting`` ``"speech"`` publishes ``ssgan_speech``; ``"face_dface"`` publishes ``ssgan_face``
    (Dface backbone + z-norm + dense D + C in one SavedModel, :func:`export_face`).

    Args:
        setting: ``"speech"`` or ``"face_dface"`` (:data:`ZOO_NAMES`).
        repo: folder holding ``benchmarks/results/``, ``runs/`` (the model is trained through the
            ``ssgan`` Task on the one trainer into ``runs/ssgan_zoo_<setting>/`` (:func:`zoo_config`); the
            trained weights are kept there, delete them to retrain) and, for faces, ``tfrecords/ckplus_dface``.
        zoo_dir: zoo folder (default ``saved_models/``).
        command: the command line recorded on the card.

    Example:
        >>> train_and_publish("face_dface", ".", command="python -m emozoo.publish ssgan_face")  # doctest: +SKIP
    """
    from emozoo.models.ssgan import ssgan_task as T
    from emozoo.models.ssgan.ssgan_experiments import CPU_PRESETS
    from emozoo.models.ssgan.ssgan_presets import PRESETS
    from emozoo.zoo import publish
    if setting not in ZOO_NAMES:
        raise ExportError(f"no zoo model for setting {setting!r}; published settings: {sorted(ZOO_NAMES)}")
    repo = Path(repo)
    name = ZOO_NAMES[setting]
    spec = T.RunSpec(**{**CPU_PRESETS[setting], **ZOO_RUNS[setting], "fold": 0, "seed": 0, "models": ("ssgan",)})
    want = json.loads(json.dumps({k: v for k, v in dataclasses.asdict(spec).items() if k != "models"}))

    def same_spec(path: Path) -> bool:       # reuse saved weights only when they were trained with this recipe
        got = {**json.loads(json.dumps(dataclasses.asdict(T.RunSpec()))),      # fields added later: defaults
               **json.loads(path.read_text()).get("spec", {})}
        return {k: v for k, v in got.items() if k != "models"} == want
    # the trained weights are kept (git-ignored) so the card can be refreshed without retraining: the zoo run
    # (runs/ssgan_zoo_<setting>/seed_0/fold0/, trained through the ssgan Task), an older emozoo's zoo run
    # (runs/ssgan/zoo_<setting>/) or the table run of the same spec (runs/ssgan_<setting>_frac50/seed_0/fold0/:
    # same data, fold and seed; keras.utils.set_random_seed is reset before every model of a fold)
    from emozoo.models.ssgan.ssgan_experiments import experiment_name
    run_dir = repo / "runs" / f"ssgan_zoo_{setting}"
    fold0 = run_dir / "seed_0" / "fold0"
    candidates = [(fold0 / "ssgan.weights.h5", fold0 / "result.json"),
                  (repo / "runs" / "ssgan" / f"zoo_{setting}" / "ssgan.weights.h5",
                   repo / "runs" / "ssgan" / f"zoo_{setting}" / "result.json")]
    table_fold0 = repo / "runs" / experiment_name(setting, spec.fraction).replace("/", "_") / "seed_0" / "fold0"
    candidates.append((table_fold0 / "ssgan.weights.h5", table_fold0 / "result.json"))
    found = next(((w, res) for w, res in candidates if w.exists() and res.exists() and same_spec(res)), None)
    if found is None:                        # ~10 s (face_dface) / a few minutes (speech) on 2 CPU cores
        from emozoo.train.trainer import run_experiment
        run_experiment(zoo_config(setting), run_dir, data_root=repo)
        found = candidates[0]
    else:
        print(f"reusing the trained weights {found[0]} (delete them to retrain)", flush=True)
    weights, result = found
    r = json.loads(result.read_text())
    model = load_trained(r, weights, spec)
    stats = r["stats"][0]
    card = dict(PRESETS[name])
    if command:
        card["command"] = command
    card["metrics"] = {"published_model_test": {k: round(v, 4) for k, v in r["models"]["ssgan"]["test"].items()
                                                if k in ("accuracy", "uar", "macro_f1", "macro_f1_uar_map")},
                       "published_model_confusion": r["models"]["ssgan"]["test"]["confusion_matrix"],
                       "best_val_uar": round(r["models"]["ssgan"]["best_val_uar"], 4),
                       "best_step": r["models"]["ssgan"]["best_step"],
                       "sizes": r["sizes"]}
    res = repo / "benchmarks" / "results" / f"ssgan_{setting}.json"
    if res.exists():
        if setting == "face_dface":
            card["metrics"]["table"] = _summary_rows(res)
        else:
            rows = [x for x in json.loads(res.read_text())["rows"] if abs(x["fraction"] - FRACTION) < 1e-9]
            card["metrics"]["table_row_50pct"] = {x["model"]: {k: x[k] for k in ("uar", "macro_f1", "n")}
                                                  for x in rows}
    card["run_spec"] = dataclasses.asdict(spec)
    card["weights_from"] = str(Path(weights).relative_to(repo)) if Path(weights).is_absolute() else str(weights)
    if setting == "speech":
        build = lambda d: export_speech(model, stats[0], stats[1], d, r["classes"], pool=spec.pool)  # noqa: E731
    else:
        from emozoo.models.dface.dface_export import load_dface
        from emozoo.zoo import zoo_dir as default_zoo   # the backbone is read from the default zoo
        card["metrics"]["jaffe_transductive"] = _jaffe_check(model, stats, r["classes"])
        dface, dentry = load_dface()
        version = dentry["path"].split("/")[-1]
        pre = json.loads((default_zoo() / dentry["path"] / "assets" / "preprocessing.json").read_text())
        size = int(pre["size"])
        store = json.loads((repo / "tfrecords" / "ckplus_dface" / "extract.json").read_text())["features"]["dface"]
        if f"dface_fer2013/{version}" not in store:
            raise ExportError(f"the ckplus_dface store was written by another Dface ({store.split(';')[0]}) than the "
                              f"published dface_fer2013/{version}: rebuild the stores before publishing")
        card["backbone"] = {"name": "dface_fer2013", "version": version}
        build = lambda d: export_face(model, dface, stats[0], stats[1], d, r["classes"], size=size,  # noqa: E731
                                      dface_version=version)
    entry = publish(name, build, card, zoo_dir)
    print(f"published {name} -> {entry['path']}: test UAR "
          f"{100 * r['models']['ssgan']['test']['uar']:.1f}, macro-F1 {100 * r['models']['ssgan']['test']['macro_f1']:.1f}"
          + (f"; JAFFE (transductive) UAR {100 * card['metrics']['jaffe_transductive']['uar']:.1f}"
             if "jaffe_transductive" in card["metrics"] else ""), flush=True)
    return entry
