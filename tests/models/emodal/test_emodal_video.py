"""EMODal's raw path (Must-show 3): a video file built here -> middle-frame face + audio track -> probabilities."""
import json

import numpy as np
import pytest

import tensorflow as tf

from emozoo.errors import FaceNotFound, FeatureError, SchemaError
from tests.conftest import corpus_dir

CNN = dict(num_classes=4, audio_dim=68, visual_branch="cnn", image_size=128, conv_filters=(2, 2, 2), fc_units=4,
           audio_units=(4, 4), feature_dim=3)
CLASSES = ("neutral", "happy", "angry", "sad")


@pytest.fixture(scope="module")
def video_model_dir(tmp_path_factory):
    """A tiny CNN-branch EMODal model exported for the emodal_video predictor (untrained: the test is the path)."""
    import keras

    from emozoo.models.emodal import EMODalModel
    from emozoo.models.emodal.emodal_video import export_video_model

    keras.utils.set_random_seed(0)
    model = EMODalModel(**CNN)
    model.audio_standardization.fit(np.random.default_rng(0).normal(size=(20, 68)))
    out = tmp_path_factory.mktemp("emodal_video") / "model"
    export_video_model(model, out, CLASSES)
    return out, model


@pytest.mark.data
def test_video_file_to_probabilities(data_dir, video_model_dir, tmp_path):
    from emozoo.data.audio import load_audio
    from emozoo.data.image import load_image
    from emozoo.data.video import read_video, read_video_audio, write_video
    from emozoo.features.face import FaceCropper
    from emozoo.features.short_term import short_term_summary
    from emozoo.models.emodal.emodal_video import EMODalVideoPredictor, clip_inputs
    from emozoo.zoo.predictor import make_predictor

    jaffe = corpus_dir(data_dir, "jaffe")
    faces = [load_image(jaffe / f, grey=False) for f in ("KA.AN1.39.tiff", "KA.HA1.29.tiff", "KA.SA1.33.tiff")]
    wav, rate = load_audio(corpus_dir(data_dir, "emodb") / "wav" / "03a01Wa.flac", 16000)
    wav = wav[: 2 * rate]
    # 10 frames at 5 fps (2 s): the middle frame (index 5, t = 1.0 s) is the happy face
    frames = np.stack([faces[0]] * 5 + [faces[1]] * 2 + [faces[2]] * 3)
    path = write_video(tmp_path / "01-01-03-01-01-01-01.mp4", frames, fps=5, audio=wav, sample_rate=rate)

    inputs = clip_inputs(path)
    assert inputs["image"].shape == (128, 128, 1) and inputs["image"].dtype == np.uint8
    want_face = FaceCropper(size=128, policy="error").crop_image(faces[1]).image.astype(np.float32)
    # the middle frame's face (lossy codec: close to the happy face, far from the other two)
    err = np.abs(inputs["image"].astype(np.float32) - want_face).mean()
    other = np.abs(inputs["image"].astype(np.float32)
                   - FaceCropper(size=128, policy="error").crop_image(faces[0]).image.astype(np.float32)).mean()
    assert err < 12 and err < other / 2, (err, other)
    track, track_rate = read_video_audio(path, 16000)
    np.testing.assert_allclose(inputs["audio"], short_term_summary(track, track_rate).numpy(), rtol=1e-5, atol=1e-5)
    assert inputs["audio"].shape == (68,)

    folder, model = video_model_dir
    predictor = make_predictor(folder, {"name": "emodal_video_test"})     # kind 'emodal_video' (registered)
    assert isinstance(predictor, EMODalVideoPredictor)
    probs = predictor.predict(str(path))
    assert probs.shape == (1, 4) and np.all(probs >= 0) and np.isclose(probs.sum(), 1, atol=1e-5)
    direct = model({"audio": inputs["audio"][None], "image": inputs["image"][None].astype("float32")})
    np.testing.assert_allclose(probs, tf.nn.softmax(direct).numpy(), rtol=1e-4, atol=1e-5)
    # frames + waveform give the same inputs as the file (same middle frame, same track)
    dec = read_video(path)[0]
    p2 = predictor.predict({"frames": dec, "audio": track, "sample_rate": track_rate})
    np.testing.assert_allclose(p2, probs, rtol=1e-4, atol=1e-5)
    assert predictor.predict_labels(str(path))[0] in CLASSES


def test_no_face_and_bad_inputs_are_refused(video_model_dir, tmp_path):
    from emozoo.data.video import write_video
    from emozoo.models.emodal.emodal_video import EMODalVideoPredictor, audio_features

    folder, _ = video_model_dir
    predictor = EMODalVideoPredictor(folder, {})
    t = np.arange(16000) / 16000
    blank = write_video(tmp_path / "blank.mp4", np.full((4, 64, 64, 3), 127, np.uint8), fps=4,
                        audio=0.3 * np.sin(2 * np.pi * 220 * t), sample_rate=16000)
    with pytest.raises(FaceNotFound, match="no face"):
        predictor.predict(str(blank))
    with pytest.raises(SchemaError, match="give a video path"):
        predictor.predict(np.zeros(5))
    with pytest.raises(SchemaError, match="frames must be"):
        predictor.predict({"frames": np.zeros((0, 8, 8, 3), np.uint8), "audio": np.zeros(800), "sample_rate": 16000})
    with pytest.raises(SchemaError, match=r"need image \[N, 128, 128, 1\]"):
        predictor.predict({"audio": np.zeros(68), "image": np.zeros((64, 64, 1))})
    with pytest.raises(FeatureError, match="mono"):
        audio_features(np.zeros((10, 2)), 16000)
    pre = json.loads((folder / "assets" / "preprocessing.json").read_text())
    assert pre["input"] == "emodal_video" and pre["image_size"] == 128 and pre["face_policy"] == "error"
