"""Small helpers shared by the corpus reader modules."""
from __future__ import annotations

from pathlib import Path

AUDIO_EXTS = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3", ".m4a")
IMAGE_EXTS = (".tiff", ".tif", ".png", ".jpg", ".jpeg", ".bmp")
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov", ".webm")


def files_with(root: Path, exts, pattern: str = "*") -> list[Path]:
    """Files under ``root`` matching ``pattern`` whose suffix is in ``exts``, sorted."""
    return sorted(p for p in root.glob(pattern) if p.is_file() and p.suffix.lower() in exts)


def prefer_one_per_stem(paths: list[Path], order=AUDIO_EXTS) -> list[Path]:
    """When a clip exists in several formats (x.wav and x.flac), keep one, by ``order``."""
    best: dict[tuple, Path] = {}
    for p in paths:
        key = (p.parent, p.stem)
        if key not in best or order.index(p.suffix.lower()) < order.index(best[key].suffix.lower()):
            best[key] = p
    return sorted(best.values())
