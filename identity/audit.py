"""The audit trail of biometric data access: who did what to whose data, and why.

Every gallery read and write produces one `AuditRecord` on an `AuditSink`. The default
sink is an append-only JSON lines file; a later gateway issue stores records in the
database by providing another sink. Records never contain embeddings or images.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from trinetra.events.schema import utc_now

AuditAction = Literal[
    "enroll",  # embedding added (slot rotation may replace the oldest)
    "search",  # probe compared with the gallery
    "lookup",  # a customer's enrolment metadata read
    "read_vector",  # a stored embedding read (adaptive template initialisation)
    "erase",  # every embedding and link of a customer deleted
    "erase_visit",  # an anonymous visit's face templates deleted (no customer involved)
    "export",  # encrypted backup written
    "import",  # encrypted backup restored
    "snapshot",  # encrypted registry snapshot written or loaded
]

DetailValue = str | int | float | bool | None | list[str]


class AuditRecord(BaseModel):
    """One access to biometric data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at: AwareDatetime = Field(default_factory=utc_now, description="When, UTC.")
    actor: str = Field(min_length=1, description="Who: a user, service or process name.")
    action: AuditAction = Field(description="What was done.")
    customer_id: str | None = Field(
        default=None, description="Whose data; None for an access not about one customer."
    )
    reason: str = Field(min_length=1, description="Why (free text, required).")
    details: dict[str, DetailValue] = Field(
        default_factory=dict, description="Extra facts: slot, counts, matched customer ids."
    )


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who is asking and why; the callee adds what."""

    actor: str
    reason: str

    def __post_init__(self) -> None:
        if not self.actor.strip() or not self.reason.strip():
            raise ValueError("audit actor and reason must not be empty")


class AuditSink(Protocol):
    def write(self, record: AuditRecord) -> None: ...


class JsonlAuditLog:
    """Append-only JSON lines file (opened with O_APPEND, one line per record, flushed
    per record). Thread-safe."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self.path = path
        self._fsync = fsync
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def write(self, record: AuditRecord) -> None:
        line = record.model_dump_json() + "\n"
        with self._lock:
            if self._file.closed:
                raise RuntimeError(f"audit log {self.path} is closed")
            self._file.write(line)
            self._file.flush()
            if self._fsync:
                os.fsync(self._file.fileno())

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def records(self) -> list[AuditRecord]:
        """Everything in the file (for tests and tooling)."""
        return read_audit_log(self.path)


class MemoryAuditLog:
    """Records kept in a list (tests, or a buffer in front of another sink)."""

    def __init__(self) -> None:
        self.entries: list[AuditRecord] = []
        self._lock = threading.Lock()

    def write(self, record: AuditRecord) -> None:
        with self._lock:
            self.entries.append(record)


def read_audit_log(path: Path) -> list[AuditRecord]:
    with path.open(encoding="utf-8") as file:
        return [AuditRecord.model_validate(json.loads(line)) for line in file if line.strip()]


def audit(
    sink: AuditSink,
    ctx: AuditContext,
    action: AuditAction,
    customer_id: str | None = None,
    details: dict[str, DetailValue] | None = None,
) -> None:
    """Write one record of `ctx` doing `action` (now) to `sink`."""
    sink.write(
        AuditRecord(
            actor=ctx.actor,
            action=action,
            customer_id=customer_id,
            reason=ctx.reason,
            details=details or {},
        )
    )
