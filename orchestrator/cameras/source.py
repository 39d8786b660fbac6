"""What every frame source provides, and how it fails.

Sources are synchronous and blocking: each runs in its camera's own reader thread
(orchestrator.cameras.worker), never on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

__all__ = ["EndOfStream", "FrameSource", "SourceError", "SourceFrame"]


class SourceError(Exception):
    """The source cannot deliver frames now (open failed, stream lost, read timed out).
    The worker closes it and reconnects with backoff. Messages never contain passwords."""


class EndOfStream(SourceError):
    """A finite source (a file without `loop`) has no more frames."""


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """What one `read()` produced: an image, or None when the source delivered a frame
    that did not decode (counted as a reject, not a failure)."""

    image: NDArray[np.uint8] | None
    capture_ts: float | None = None  # camera time, epoch seconds, when the source knows it


@runtime_checkable
class FrameSource(Protocol):
    """A camera stream. `open`, `read` and `close` are called from one thread only;
    `interrupt` may be called from any thread."""

    def open(self) -> None:
        """Connect; raise SourceError when the stream cannot be opened."""

    def read(self) -> SourceFrame:
        """Block for the next frame; raise SourceError when the stream is lost."""

    def close(self) -> None:
        """Release the stream. Safe to call more than once, and after a failed open."""

    def interrupt(self) -> None:
        """Best effort: make a blocked `read` return soon (used when stopping)."""
