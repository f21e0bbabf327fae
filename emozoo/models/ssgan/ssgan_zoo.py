"""Zoo export of the SSGAN discriminator's classifier (``ssgan_speech``, ``ssgan_face``) and the
waveform predictor.

* ``ssgan_speech``: ``serve_waveform(waveform [N, samples] float32, 16 kHz)``: in-graph 128-bin
  log-Mel (:class:`emozoo.features.layers.AcousticFrontend`, the ``fbank`` store's values), the
  centre 128-frame crop (zero-padded when shorter, :func:`emozoo.features.fbank.crop_frames`),
  the preset's 2x2 average pooling, z-normalisation with the labelled training statistics, D's
  trunk and C; returns ``probabilities`` over the K emotions (the first K of the K+1 classes,
  renormalised: ``D(k | x, real)``), ``logits`` and ``embedding`` (``D_(x)``).
  ``preprocessing.json`` says ``"input": "ssgan_waveform"``, served by :class:`WaveformPredictor`.
* ``ssgan_face``: ``classify(face [N, 48, 48, 1] 0..255)`` / ``embed(face)``, the signatures of
  the zoo's ``"face"`` input kind (:class:`emozoo.zoo.predictor.FacePredictor`: MTCNN crop of an
  image file, as for ``dface_fer2013``).

The generator is not exported (it is only needed in training).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np

from emozoo.errors import ExportError, SchemaError

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


def export_face(model, mean: float, std: float, out_dir, classes, *, size: int = 48) -> None:
    """SavedModel ``classify``/``embed`` on 0..255 grey face crops ``[N, size, size, 1]``."""
    import tensorflow as tf

    mod = tf.Module(name="ssgan_face_serving")
    mod.discriminators, mod.classifier = list(model.discriminators), model.classifier   # no generator
    mean, std = float(np.asarray(mean).reshape(-1)[0]), float(np.asarray(std).reshape(-1)[0])

    def features(face):
        x = (tf.reshape(tf.cast(face, tf.float32), [-1, size, size]) - mean) / std
        return model.discriminate(x, training=False)

    def classify(face):
        h, logits = features(face)
        logits = logits[:, :model.num_classes]
        return {"probabilities": tf.nn.softmax(logits, -1), "logits": logits}

    def embed(face):
        return {"embedding": features(face)[0]}

    spec = [tf.TensorSpec((None, size, size, 1), tf.float32, name="face")]
    mod.classify = tf.function(classify, input_signature=spec, autograph=False)
    mod.embed = tf.function(embed, input_signature=spec, autograph=False)
    tf.saved_model.save(mod, str(out_dir), signatures={"classify": mod.classify, "embed": mod.embed})
    _write_assets(out_dir, classes, {
        "input": "face", "size": size, "channels": 1, "pixel_range": [0, 255], "embedding_dim": int(model.feature_dim),
        "cropping": "emozoo.features.face.FaceCropper(size=48) for image files (MTCNN largest face, grey); the "
                    "model was trained on FER2013's own 48x48 crops",
        "normalisation": f"(pixel - {mean:.4f}) / {std:.4f} (labelled training faces), in the graph"})


class WaveformPredictor:
    """A loaded zoo model of ``"input": "ssgan_waveform"`` (``ssgan_speech``).

    ``predict`` takes audio file paths (decoded and resampled to 16 kHz by
    :func:`emozoo.data.audio.load_audio`) or one mono waveform with its ``sample_rate``, and
    returns probabilities ``[N, K]``; the Fbank front end runs inside the SavedModel.
    """

    def __init__(self, folder: str | os.PathLike, card: dict):
        import tensorflow as tf

        self.path = Path(folder)
        self.card = card
        self.labels = tuple(json.loads((self.path / "assets" / "labels.json").read_text()))
        self.preprocessing = json.loads((self.path / "assets" / "preprocessing.json").read_text())
        self.sample_rate = int(self.preprocessing.get("sample_rate", SAMPLE_RATE))
        self._model = tf.saved_model.load(str(self.path))

    def __repr__(self):
        return f"WaveformPredictor({self.card.get('name')!r}, labels={list(self.labels)})"

    def waveform(self, source, sample_rate: int | None = None) -> np.ndarray:
        from emozoo.data.audio import load_audio, resample
        if isinstance(source, (str, os.PathLike)):
            wav = load_audio(source, self.sample_rate)
            return np.asarray(wav[0] if isinstance(wav, tuple) else wav, np.float32)
        wav = np.asarray(source, np.float32)
        if wav.ndim != 1 or wav.size == 0:
            raise SchemaError(f"a waveform must be a non-empty mono [samples] array, got shape {wav.shape}")
        if sample_rate is None:
            raise SchemaError(f"a waveform needs its sample_rate: predict(wave, sample_rate={self.sample_rate})")
        return resample(wav, int(sample_rate), self.sample_rate) if sample_rate != self.sample_rate else wav

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


def train_and_publish(setting: str, repo: Path | str = ".") -> dict:
    """Retrain the SSGAN of the table's 50 % row (fold/seed 0), export its classifier head, publish it."""
    from emozoo.models.ssgan import ssgan_task as T
    from emozoo.models.ssgan.ssgan_experiments import CPU_PRESETS
    from emozoo.models.ssgan.ssgan_presets import PRESETS
    from emozoo.zoo import publish
    repo = Path(repo)
    name = f"ssgan_{setting}"
    spec = T.RunSpec(**{**CPU_PRESETS[setting], "fraction": FRACTION, "fold": 0, "seed": 0, "models": ("ssgan",)})
    # the trained weights are kept (git-ignored) so the card can be refreshed without retraining
    # (the table run of the same spec saved them too: runs/ssgan/<setting>/frac50_self_s300/fold0_ssgan.weights.h5)
    run_dir = repo / "runs" / "ssgan" / f"zoo_{setting}"
    weights, result = run_dir / "ssgan.weights.h5", run_dir / "result.json"
    table_run = repo / "runs" / "ssgan" / setting / f"frac{int(100 * FRACTION)}_{spec.normalisation}_s{spec.steps}"
    if not weights.exists() and (table_run / "fold0_ssgan.weights.h5").exists():
        r = json.loads((table_run / "fold0.json").read_text())
        if "modalities" in r:
            weights, result = table_run / "fold0_ssgan.weights.h5", table_run / "fold0.json"
    if weights.exists() and result.exists():
        from emozoo.models.ssgan.ssgan_model import SemiSupervisedGAN
        r = json.loads(result.read_text())
        mods = r["modalities"]["ssgan"] if isinstance(r["modalities"], dict) else r["modalities"]
        model = SemiSupervisedGAN(len(r["classes"]), mods, mode="ssgan",
                                  **{k: v for k, v in spec.model.items() if k not in ("conv", "dense")})
        model([np.zeros((1, *m["shape"]), np.float32) for m in model.modalities] if len(mods) > 1 else
              np.zeros((1, *model.modalities[0]["shape"]), np.float32))          # build before loading
        model.load_weights(weights)
    else:
        r = T.run_one(spec, None)
        model = r.pop("_models")["ssgan"]
        r["modalities"] = model.get_config()["modalities"]
        run_dir.mkdir(parents=True, exist_ok=True)
        model.save_weights(weights)
        result.write_text(json.dumps(r))
    stats = r["stats"][0]
    card = dict(PRESETS[name])
    card["metrics"] = {"published_model_test": {k: round(v, 4) for k, v in r["models"]["ssgan"]["test"].items()
                                                if k != "confusion_matrix"},
                       "published_model_confusion": r["models"]["ssgan"]["test"]["confusion_matrix"],
                       "best_val_uar": round(r["models"]["ssgan"]["best_val_uar"], 4),
                       "sizes": r["sizes"]}
    res = repo / "benchmarks" / "results" / f"ssgan_{setting}.json"
    if res.exists():
        rows = [x for x in json.loads(res.read_text())["rows"] if abs(x["fraction"] - FRACTION) < 1e-9]
        card["metrics"]["table_row_50pct"] = {x["model"]: {k: x[k] for k in ("uar", "macro_f1", "n")} for x in rows}
    card["run_spec"] = dataclasses.asdict(spec)
    card["weights_from"] = str(Path(weights).relative_to(repo)) if Path(weights).is_absolute() else str(weights)
    if setting == "speech":
        build = lambda d: export_speech(model, stats[0], stats[1], d, r["classes"], pool=spec.pool)  # noqa: E731
    else:
        build = lambda d: export_face(model, stats[0][0], stats[1][0], d, r["classes"])  # noqa: E731
    entry = publish(name, build, card)
    print(f"published {name} -> saved_models/{entry['path']}: test UAR "
          f"{100 * r['models']['ssgan']['test']['uar']:.1f}, macro-F1 {100 * r['models']['ssgan']['test']['macro_f1']:.1f}")
    return entry
