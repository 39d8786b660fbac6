"""Checkpoints of one partition in the ANALYTICS_STATE bucket: the engine's state and
the stream position it covers, written together so they can never disagree.

A checkpoint is the processor's snapshot plus the last DETECTIONS stream sequence it
has consumed (and, for operators, the last sequence per camera). The state of 64 busy
cameras (mostly their heatmap minutes) is a few MB of JSON, over NATS' 1 MiB message
limit, so it is compressed and split into chunks:

    <key>                head: {"v", "slot", "chunks", "sha256", "stream_seq", ...}
    <key>.s<slot>.c<i>   chunk i of the compressed state

Chunks alternate between two slots, and the head is written last: a crash mid-write
leaves the previous head pointing at the previous, complete slot, so a checkpoint is
replaced atomically. Reusing two slots' keys (history 1) keeps the bucket from growing.
The head's digest is checked on load; a checkpoint that fails it is an error for an
operator (delete the key to start over), not something to guess around.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, cast

from nats.js.errors import KeyDeletedError, KeyNotFoundError
from nats.js.kv import KeyValue

from analytics.engine.events import JsonValue

__all__ = ["Checkpoint", "CheckpointError", "CheckpointStore"]

FORMAT: Final = 1
# Room for the message's headers and subject within one NATS payload.
_CHUNK_HEADROOM: Final = 8 * 1024


class CheckpointError(RuntimeError):
    """A stored checkpoint cannot be read back (corrupt, incomplete or of another format)."""


@dataclass(frozen=True)
class Checkpoint:
    """A partition's processor state and the stream position it covers."""

    stream_seq: int
    state: dict[str, JsonValue]
    camera_seqs: dict[str, int] = field(default_factory=dict)


class CheckpointStore:
    """Save and load the checkpoint under one key (module docs)."""

    def __init__(self, kv: KeyValue, key: str, *, max_value_bytes: int) -> None:
        if max_value_bytes <= _CHUNK_HEADROOM:
            raise ValueError(f"max_value_bytes must be over {_CHUNK_HEADROOM}")
        self._kv = kv
        self.key = key
        self._chunk_bytes = max_value_bytes - _CHUNK_HEADROOM
        self._slot = 1  # the slot the current head points at; the next save uses the other
        self.last_bytes = 0

    def _chunk_key(self, slot: int, index: int) -> str:
        return f"{self.key}.s{slot}.c{index}"

    async def load(self) -> Checkpoint | None:
        """The stored checkpoint, or None when there is none; CheckpointError when there is
        one that cannot be read."""
        try:
            entry = await self._kv.get(self.key)
        except (KeyNotFoundError, KeyDeletedError):
            return None
        try:
            head = json.loads(entry.value or b"")
            if head.get("v") != FORMAT:
                raise CheckpointError(f"unsupported checkpoint format {head.get('v')!r}")
            slot, chunks, digest = int(head["slot"]), int(head["chunks"]), str(head["sha256"])
            stream_seq = int(head["stream_seq"])
            camera_seqs = {str(k): int(v) for k, v in dict(head["camera_seqs"]).items()}
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise CheckpointError(f"checkpoint head {self.key} is unreadable: {exc!r}") from exc
        parts: list[bytes] = []
        for index in range(chunks):
            try:
                chunk = await self._kv.get(self._chunk_key(slot, index))
            except (KeyNotFoundError, KeyDeletedError) as exc:
                raise CheckpointError(f"checkpoint {self.key}: chunk {index} is missing") from exc
            parts.append(chunk.value or b"")
        packed = b"".join(parts)
        if hashlib.sha256(packed).hexdigest() != digest:
            raise CheckpointError(f"checkpoint {self.key}: its chunks do not match its digest")
        try:
            state = json.loads(zlib.decompress(packed))
        except (zlib.error, ValueError) as exc:
            raise CheckpointError(f"checkpoint {self.key}: state is unreadable: {exc!r}") from exc
        if not isinstance(state, dict):
            raise CheckpointError(f"checkpoint {self.key}: state is not an object")
        self._slot = slot
        return Checkpoint(stream_seq, cast(dict[str, JsonValue], state), camera_seqs)

    async def save(self, checkpoint: Checkpoint) -> int:
        """Store a checkpoint, replacing the previous one atomically; returns its size in
        bytes (compressed). Raises whatever NATS raises: the caller retries later."""
        packed = zlib.compress(json.dumps(checkpoint.state, separators=(",", ":")).encode(), 1)
        slot = 1 - self._slot
        size = self._chunk_bytes
        chunks = [packed[i : i + size] for i in range(0, len(packed), size)] or [b""]
        for index, chunk in enumerate(chunks):
            await self._kv.put(self._chunk_key(slot, index), chunk)
        head = {
            "v": FORMAT,
            "slot": slot,
            "chunks": len(chunks),
            "bytes": len(packed),
            "sha256": hashlib.sha256(packed).hexdigest(),
            "stream_seq": checkpoint.stream_seq,
            "camera_seqs": checkpoint.camera_seqs,
            # For operators only: nothing reads it back.
            "saved_at": datetime.now(UTC).isoformat(),
        }
        await self._kv.put(self.key, json.dumps(head).encode())
        self._slot = slot
        self.last_bytes = len(packed)
        return len(packed)
