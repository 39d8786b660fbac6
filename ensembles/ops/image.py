"""Frame decoding and letterboxing.

Frames travel as BGR uint8 (OpenCV's convention, what cameras decode to); the detectors
want RGB, so the conversion happens once, inside `letterbox`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]

# Default bound on decoded frame size: 8K UHD. Larger frames are refused before decoding,
# so a small malicious JPEG header cannot make the server allocate gigabytes.
DEFAULT_MAX_PIXELS = 7680 * 4320


class FrameError(ValueError):
    """A frame that cannot be analysed; the message says why, for the caller."""


def encoded_image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a JPEG or PNG header without decoding; None if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:2] != b"\xff\xd8":
        return None
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        # SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return int(width), int(height)
        offset += 2 + length
    return None


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise FrameError(f"frame has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise FrameError(f"frame of {width}x{height} exceeds the limit of {max_pixels} pixels")


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Decode JPEG/PNG bytes to BGR uint8, refusing empty, corrupt and oversized input."""
    if not data:
        raise FrameError("empty image: no bytes received")
    size = encoded_image_size(data)
    if size is None:
        raise FrameError("undecodable image: not a JPEG or PNG")
    _check_size(*size, max_pixels)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameError("undecodable image: corrupt JPEG/PNG data")
    return np.ascontiguousarray(image, dtype=np.uint8)


def check_raw_frame(frame: NDArray[np.generic], max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Validate a raw HxWx3 uint8 BGR frame."""
    if frame.dtype != np.uint8:
        raise FrameError(f"raw frame must be uint8, got {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(f"raw frame must be HxWx3, got shape {tuple(frame.shape)}")
    _check_size(int(frame.shape[1]), int(frame.shape[0]), max_pixels)
    return np.ascontiguousarray(frame)


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model's square input: scale, then pad."""

    scale: float
    pad_x: int
    pad_y: int
    width: int
    height: int

    def to_array(self) -> NDArray[np.float32]:
        """As the LETTERBOX tensor passed between python-backend models."""
        return np.array([self.scale, self.pad_x, self.pad_y, self.width, self.height], np.float32)

    @classmethod
    def from_array(cls, values: NDArray[np.float32]) -> Letterbox:
        scale, pad_x, pad_y, width, height = (float(v) for v in values.reshape(-1)[:5])
        return cls(scale, int(pad_x), int(pad_y), int(width), int(height))

    def to_frame(self, xy: NDArray[np.float32]) -> NDArray[np.float32]:
        """Map (..., 2k) interleaved x, y coordinates from model input back to the frame."""
        out = xy.astype(np.float32, copy=True)
        out[..., 0::2] = (out[..., 0::2] - self.pad_x) / self.scale
        out[..., 1::2] = (out[..., 1::2] - self.pad_y) / self.scale
        return out


def letterbox(image: Image, size: int, pad_value: int = 114) -> tuple[Image, Letterbox]:
    """Resize keeping the aspect ratio, pad to size x size (centered), convert BGR -> RGB."""
    height, width = image.shape[:2]
    scale = min(size / height, size / width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.full((size, size, 3), pad_value, np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized[..., ::-1]
    return canvas, Letterbox(scale, pad_x, pad_y, width, height)


def to_chw_float(rgb: NDArray[np.uint8], mean: float, std: float) -> NDArray[np.float32]:
    """HxWx3 (or NxHxWx3) uint8 -> CHW float32, (x - mean) / std."""
    x = (rgb.astype(np.float32) - mean) / std
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))
