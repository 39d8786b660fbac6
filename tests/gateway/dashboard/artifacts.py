"""Where the browser tests keep their screenshots for people to look at: a CI artifact
folder (git-ignored, under .cache/) that the dashboard tests' terminal summary prints."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from devservices.paths import CACHE_DIR

SCREENSHOTS: Final = CACHE_DIR / "artifacts" / "screenshots"


def screenshot_dir() -> Path:
    """The screenshots folder, created if need be."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def screenshot_path(name: str) -> Path:
    """`name` (a PNG file name) in the screenshots folder."""
    return screenshot_dir() / name


def clear_screenshots() -> None:
    """Removes the last run's screenshots, so the folder shows this run's only."""
    for path in screenshot_files():
        path.unlink(missing_ok=True)


def save_frame(image: npt.NDArray[np.uint8], name: str) -> Path:
    """A decoded video frame (BGR, as tests/orchestrator/live/helpers.py's viewer hands
    it over) saved as a screenshot PNG."""
    path = screenshot_path(name)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")
    print(f"screenshot: {path}")
    return path


def screenshot_files() -> list[Path]:
    return sorted(SCREENSHOTS.glob("*.png")) if SCREENSHOTS.is_dir() else []
