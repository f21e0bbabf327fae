"""Tests of emozoo.data.video: write an MP4 with sound, read frames/audio back, failures."""
import numpy as np
import pytest
import soundfile as sf

from emozoo.data.audio import load_audio
from emozoo.data.video import (default_video_codec, middle_frame, read_video, read_video_audio,
                               video_info, write_video)
from emozoo.errors import AudioDecodeError, VideoDecodeError

H, W, T, FPS, RATE = 48, 64, 10, 25, 16000
LEVELS = [20 + 20 * i for i in range(T)]  # frame i is flat grey LEVELS[i]


def frames_rgb():
    frames = np.zeros((T, H, W, 3), np.uint8)
    for i, level in enumerate(LEVELS):
        frames[i] = level
    return frames


def sine(freq, n, rate=RATE, amp=0.5):
    return (amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)).astype(np.float32)


def fft_peak_hz(x, rate):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spectrum)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 10-frame 25 fps MP4 (0.4 s) with a 440 Hz mono AAC track."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    write_video(path, frames_rgb(), fps=FPS, audio=sine(440, int(T / FPS * RATE)), sample_rate=RATE)
    return path


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory):
    """The same frames without an audio stream, grey input, MPEG-4 part 2 codec."""
    path = tmp_path_factory.mktemp("video") / "mute.mp4"
    write_video(path, frames_rgb()[:, :, :, :1], fps=FPS, codec="mpeg4")
    return path


def test_read_every_frame(clip):
    frames, times = read_video(clip)
    assert frames.shape == (T, H, W, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(times, np.arange(T) / FPS, atol=1e-6)
    np.testing.assert_allclose(frames.reshape(T, -1).mean(axis=1), LEVELS, atol=3)


def test_fps_sampling_max_frames_and_grey(clip):
    frames, times = read_video(clip, fps=12.5)
    assert len(frames) == 5
    np.testing.assert_allclose(times, [0, 0.08, 0.16, 0.24, 0.32], atol=1e-6)
    np.testing.assert_allclose(frames.reshape(5, -1).mean(axis=1), LEVELS[::2], atol=3)
    frames, times = read_video(clip, fps=5)
    np.testing.assert_allclose(times, [0.0, 0.2], atol=1e-6)
    assert len(read_video(clip, fps=100)[0]) == T  # never duplicates frames
    assert read_video(clip, max_frames=3)[0].shape == (3, H, W, 3)
    grey, _ = read_video(clip, grey=True, max_frames=2)
    assert grey.shape == (2, H, W, 1)
    assert abs(float(grey[1].mean()) - LEVELS[1]) <= 3
    with pytest.raises(ValueError, match="fps"):
        read_video(clip, fps=0)
    with pytest.raises(ValueError, match="max_frames"):
        read_video(clip, max_frames=0)


def test_video_info(clip, silent_clip):
    info = video_info(clip)
    assert (info["width"], info["height"], info["frames"]) == (W, H, T)
    assert info["fps"] == pytest.approx(FPS) and info["duration"] == pytest.approx(T / FPS)
    assert info["has_audio"] and info["sample_rate"] == RATE and info["audio_channels"] == 1
    assert info["codec"] == {"libx264": "h264", "mpeg4": "mpeg4"}[default_video_codec()]
    mute = video_info(silent_clip)
    assert not mute["has_audio"] and mute["sample_rate"] is None and mute["codec"] == "mpeg4"


def test_audio_track(clip):
    audio, rate = read_video_audio(clip)
    assert rate == RATE and audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == round(T / FPS * RATE)  # AAC padding trimmed to the declared duration
    assert abs(fft_peak_hz(audio, rate) - 440) <= 2.5
    # AAC is lossy but time-aligned: close to the sine that went in.
    assert np.sqrt(np.mean((audio - sine(440, len(audio))) ** 2)) < 0.05
    half, half_rate = read_video_audio(clip, target_rate=8000)
    assert half_rate == 8000 and len(half) == len(audio) // 2
    via_load_audio, _ = load_audio(clip)  # load_audio reads video containers through PyAV too
    np.testing.assert_array_equal(via_load_audio, audio)


def test_middle_frame(clip, silent_clip):
    frames, _ = read_video(clip)
    np.testing.assert_array_equal(middle_frame(clip), frames[T // 2])
    assert middle_frame(clip, grey=True).shape == (H, W, 1)
    assert abs(float(middle_frame(silent_clip).mean()) - LEVELS[T // 2]) <= 3


def test_video_without_audio(silent_clip):
    frames, _ = read_video(silent_clip)
    assert frames.shape == (T, H, W, 3)
    with pytest.raises(VideoDecodeError, match="no audio stream"):
        read_video_audio(silent_clip)
    with pytest.raises(AudioDecodeError, match="no audio stream"):
        load_audio(silent_clip)


def test_failures(tmp_path):
    with pytest.raises(VideoDecodeError, match="no such file"):
        read_video(tmp_path / "missing.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage!" * 200)
    for fn in (read_video, read_video_audio, middle_frame, video_info):
        with pytest.raises(VideoDecodeError, match="corrupt.mp4"):
            fn(corrupt)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty"):
        read_video(empty)
    wav = tmp_path / "speech.wav"
    sf.write(str(wav), sine(440, 1600), RATE)
    with pytest.raises(VideoDecodeError, match="no video stream"):
        read_video(wav)


def test_write_video_validates(tmp_path):
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 47, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "f.mp4", np.zeros((2, 48, 64, 3), np.float32))
    with pytest.raises(ValueError, match="AAC rate"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 48, 64, 3), np.uint8), audio=np.zeros(100),
                    sample_rate=12345)
    stereo = np.stack([sine(440, 8000), sine(880, 8000)], axis=1)
    p = write_video(tmp_path / "st.mp4", np.zeros((5, 48, 64, 3), np.uint8), fps=12.5,
                    audio=stereo, sample_rate=RATE)
    info = video_info(p)
    assert info["audio_channels"] == 2 and info["fps"] == pytest.approx(12.5) and info["frames"] == 5
    audio, _ = read_video_audio(p)
    assert len(audio) == 8000
