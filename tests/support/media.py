"""The real test media fetched by `make media` (tests/media.toml)."""

from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from devservices.paths import MEDIA_DIR


def media_path(name: str) -> Path:
    path = MEDIA_DIR / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `make media`")
    return path


def media_bytes(name: str) -> bytes:
    return media_path(name).read_bytes()


def video_frame(name: str, index: int) -> NDArray[np.uint8]:
    """Frame `index` of a video in the media folder, BGR."""
    capture = cv2.VideoCapture(str(media_path(name)))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    if not ok:
        raise ValueError(f"{name} has no frame {index}")
    return np.asarray(frame, np.uint8)
