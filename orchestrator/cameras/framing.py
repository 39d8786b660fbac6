"""Cutting a raw byte stream into image frames: the two framings of the socket source.

Both parsers are fed whatever the socket returned (`feed`) and hand out frames as they
complete (`next_frame`): the encoded image, a `BrokenFrame` (a frame arrived but cannot
be an image; the camera counts it as undecodable) or None (more bytes needed). Every
byte not handed out in a good frame (noise, a stream joined mid-frame, broken frames) is
counted in `skipped_bytes`. Neither parser holds much more than `max_frame_bytes`.

jpeg_markers: JPEG images back to back. A frame starts at SOI followed by a marker
(FF D8 FF) and ends at its EOI (FF D9). The parser walks the JPEG's segments (each marker
with a length is skipped whole, entropy-coded data after SOS is scanned for the next
marker, stuffed FF 00 and RSTn skipped) instead of looking for the first FF D9, because
an EXIF thumbnail or an ICC profile in an APPn segment may contain FF D9 (a thumbnail
is a whole JPEG, SOI to EOI). Resynchronisation:
  - a new SOI where a marker of the current frame was due: the current frame was
    truncated (broken); the new frame starts there;
  - anything but a marker where one must be (a truncated header that ran into the next
    frame or into noise): broken; the search for the next SOI restarts 2 bytes after
    the broken frame's SOI, so a frame that the bad header swallowed is still found;
  - a frame growing past max_frame_bytes: broken; bytes are dropped up to the next SOI.

length_prefixed: each frame is a 4-byte big-endian payload length followed by the payload,
one JPEG or PNG image (the whole image, nothing else). A header is accepted only when its
payload starts with an image signature (FF D8 FF, or the 8-byte PNG signature) and its
length is at least 8. Resynchronisation:
  - a header that is not one (noise): skip to the next image signature that has 4 bytes
    before it, and read those as the length;
  - a payload that does not end its image (JPEG: FF D9; PNG: the IEND chunk), which is
    what a truncated frame followed by the next frame looks like: broken, then the same
    signature search from the byte after the bad header, so the frames the bad length
    swallowed are recovered;
  - a length over max_frame_bytes: broken; exactly that many bytes are discarded as they
    arrive, so the stream stays in sync without holding the frame. Only a header where
    one is due (at the start, right after a frame) is trusted this far: a header found
    by searching may be a signature inside compressed data, so one with an oversized
    length is taken for noise and the search goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = [
    "BrokenFrame",
    "BrokenReason",
    "FrameParser",
    "JpegMarkerParser",
    "LengthPrefixedParser",
]

JPEG_START = b"\xff\xd8\xff"  # SOI, then the 0xFF of the first segment's marker
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"IEND\xaeB`\x82"  # the IEND chunk's type and CRC: the last 8 bytes of a PNG
LENGTH_BYTES = 4
_SIGNATURE_BYTES = len(PNG_SIGNATURE)  # enough to recognise either signature


class BrokenReason(StrEnum):
    TRUNCATED = "truncated"  # the frame ended before its image did
    CORRUPT = "corrupt"  # the bytes do not follow the image format
    OVERSIZED = "oversized"  # larger than max_frame_bytes


@dataclass(frozen=True, slots=True)
class BrokenFrame:
    """A frame that arrived but cannot be an image."""

    reason: BrokenReason


class FrameParser(Protocol):
    skipped_bytes: int

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes read from the stream."""

    def next_frame(self) -> bytes | BrokenFrame | None:
        """The next complete frame, a broken one, or None until more bytes are fed."""


def _is_standalone(marker: int) -> bool:
    # Markers without a length field: TEM and RST0..RST7.
    return marker == 0x01 or 0xD0 <= marker <= 0xD7


class JpegMarkerParser:
    """JPEG images back to back, delimited by walking their markers (module docs)."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.skipped_bytes = 0
        self._buffer = bytearray()
        self._in_frame = False  # _buffer starts with a frame's SOI
        self._marker_at = 2  # in a frame: offset of the next marker to read
        self._entropy_at: int | None = None  # in entropy-coded data: offset scanned so far

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def next_frame(self) -> bytes | BrokenFrame | None:
        if not self._in_frame and not self._find_start(0):
            return None
        result = self._walk()
        if result is None and len(self._buffer) > self.max_frame_bytes:
            # Past the size limit and still incomplete: refuse it, drop what came so far
            # and look for the next start in what follows.
            self.skipped_bytes += len(self._buffer)
            self._buffer.clear()
            self._in_frame = False
            return BrokenFrame(BrokenReason.OVERSIZED)
        return result

    def _find_start(self, offset: int) -> bool:
        """Drop bytes up to the first JPEG start at or after `offset`; True when found."""
        start = self._buffer.find(JPEG_START, offset)
        if start < 0:
            # Keep a tail that may be the first bytes of a start split across reads.
            start = max(len(self._buffer) - (len(JPEG_START) - 1), 0)
            self.skipped_bytes += start
            del self._buffer[:start]
            return False
        self.skipped_bytes += start
        del self._buffer[:start]
        self._in_frame = True
        self._marker_at = 2
        self._entropy_at = None
        return True

    def _end_frame(self, length: int) -> bytes | BrokenFrame:
        frame = bytes(self._buffer[:length])
        del self._buffer[:length]
        self._in_frame = False
        if length > self.max_frame_bytes:  # arrived whole within one read
            self.skipped_bytes += length
            return BrokenFrame(BrokenReason.OVERSIZED)
        return frame

    def _broken(self, reason: BrokenReason, resume_at: int) -> BrokenFrame:
        """End the current frame as broken; look for the next start from `resume_at`."""
        self._in_frame = False
        self._find_start(resume_at)  # the broken frame's bytes count as skipped
        return BrokenFrame(reason)

    def _walk(self) -> bytes | BrokenFrame | None:
        """Continue through the current frame's segments: the frame once its EOI is
        reached, a broken frame, or None when the bytes so far end inside it."""
        buffer = self._buffer
        size = len(buffer)
        while True:
            if self._entropy_at is not None:
                found = self._scan_entropy(self._entropy_at)
                if found is None:
                    return None
                self._entropy_at = None
                self._marker_at = found
            at = self._marker_at
            if at + 2 > size:
                return None
            if buffer[at] != 0xFF:
                return self._broken(BrokenReason.CORRUPT, 2)
            marker = buffer[at + 1]
            if marker == 0xFF:  # fill byte before a marker
                self._marker_at = at + 1
                continue
            if marker == 0xD9:  # EOI
                return self._end_frame(at + 2)
            if marker == 0xD8:  # the next image began: this one was cut short
                return self._broken(BrokenReason.TRUNCATED, at)
            if _is_standalone(marker):
                self._marker_at = at + 2
                continue
            if at + 4 > size:
                return None
            length = (buffer[at + 2] << 8) | buffer[at + 3]
            if length < 2:
                return self._broken(BrokenReason.CORRUPT, 2)
            if marker == 0xDA:  # SOS: entropy-coded data follows its header
                self._entropy_at = at + 2 + length
            else:
                self._marker_at = at + 2 + length

    def _scan_entropy(self, offset: int) -> int | None:
        """Offset of the marker that ends entropy-coded data, or None when the bytes so
        far end inside it (how far was scanned is kept: a large frame arriving in many
        reads is never rescanned from its start)."""
        buffer = self._buffer
        while True:
            at = buffer.find(b"\xff", offset)
            if at < 0:
                self._entropy_at = max(offset, len(buffer))
                return None
            if at + 1 >= len(buffer):
                self._entropy_at = at  # look at this 0xFF again once its next byte came
                return None
            following = buffer[at + 1]
            if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed 0xFF, or RSTn
                offset = at + 2
            elif following == 0xFF:  # fill bytes: the marker comes after them
                offset = at + 1
            else:
                return at


class LengthPrefixedParser:
    """4-byte big-endian length + one JPEG/PNG image per frame (module docs)."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self.skipped_bytes = 0
        self._buffer = bytearray()
        self._discard = 0  # bytes of an oversized payload still to drop
        self._in_sync = True  # _buffer starts where a header is due (not found by search)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        self._buffer += data

    def next_frame(self) -> bytes | BrokenFrame | None:
        buffer = self._buffer
        while True:
            if self._discard:
                dropped = min(self._discard, len(buffer))
                del buffer[:dropped]
                self.skipped_bytes += dropped
                self._discard -= dropped
                if self._discard:
                    return None
            if len(buffer) < LENGTH_BYTES + _SIGNATURE_BYTES:
                return None
            length = int.from_bytes(buffer[:LENGTH_BYTES], "big")
            payload_start = buffer[LENGTH_BYTES : LENGTH_BYTES + _SIGNATURE_BYTES]
            is_jpeg = payload_start.startswith(JPEG_START)
            if length < _SIGNATURE_BYTES or not (is_jpeg or payload_start == PNG_SIGNATURE):
                if not self._resync(1):
                    return None
                continue
            if length > self.max_frame_bytes and not self._in_sync:
                if not self._resync(1):
                    return None
                continue
            if length > self.max_frame_bytes:
                del buffer[:LENGTH_BYTES]
                self.skipped_bytes += LENGTH_BYTES
                self._discard = length
                return BrokenFrame(BrokenReason.OVERSIZED)
            end = LENGTH_BYTES + length
            if len(buffer) < end:
                return None
            payload = bytes(buffer[LENGTH_BYTES:end])
            complete = payload.endswith(b"\xff\xd9") if is_jpeg else payload.endswith(PNG_END)
            if not complete:
                self._resync(1)
                return BrokenFrame(BrokenReason.TRUNCATED)
            del buffer[:end]
            self._in_sync = True
            return payload

    def _resync(self, offset: int) -> bool:
        """Drop bytes up to the next plausible header at or after `offset` (an image
        signature with 4 bytes before it); True when one is in the buffer."""
        buffer = self._buffer
        self._in_sync = False
        search_from = offset + LENGTH_BYTES
        found = [
            at
            for at in (
                buffer.find(JPEG_START, search_from),
                buffer.find(PNG_SIGNATURE, search_from),
            )
            if at >= 0
        ]
        if not found:
            # Keep what could be a header and the start of a signature split across reads
            # (but always drop the bad header's first `offset` bytes).
            keep = LENGTH_BYTES + _SIGNATURE_BYTES - 1
            drop = min(max(len(buffer) - keep, offset), len(buffer))
            self.skipped_bytes += drop
            del buffer[:drop]
            return False
        header = min(found) - LENGTH_BYTES
        self.skipped_bytes += header
        del buffer[:header]
        return True
