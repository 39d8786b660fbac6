"""Asynchronous push jobs: their record (status, result) and their queue.

    POST process-frame (async: true)
      ├─ KV PUSH_JOBS  <store>.<job id>  = JobRecord(status=queued)       (first)
      └─ stream PUSH_JOBS  trinetra.<store>.push_jobs  = the frame + JobTicket header
                                                   ──► worker.py (durable consumer)

The record is written before the message, so the worker always finds it; if the
publish fails the record is deleted again (nothing half-stored). The message's data is
the frame's bytes and its `Trinetra-Push-Job` header the `JobTicket` (the request
without the frame, the callback URL, the dedup claim); `Nats-Msg-Id` is the job id, so
a retried publish is queued once. A frame must fit in one message (`max_frame_bytes`).

Jobs never carry embeddings or face crops: those are refused for async requests,
because the record (and the callback) would keep biometric data beyond the request.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Final, Literal
from urllib.parse import urlsplit

import nats.errors
import nats.js
import nats.js.errors
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.feeds.buckets import BucketBinder
from gateway.push.models import FrameRequest, FrameResult, Priority
from trinetra.events.connection import NatsConnection
from trinetra.events.kv import PUSH_JOBS_BUCKET
from trinetra.events.schema import subject_token
from trinetra.events.streams import PUSH_JOBS_FAMILY, PUSH_JOBS_STREAM, PUSH_STREAMS, ensure_stream

__all__ = [
    "TICKET_HEADER",
    "CallbackState",
    "JobError",
    "JobRecord",
    "JobStore",
    "JobTicket",
    "job_key",
    "jobs_subject",
    "new_job_id",
]

TICKET_HEADER: Final = "Trinetra-Push-Job"
# Room left in a message for its headers (the ticket is a few hundred bytes).
_HEADER_ROOM: Final = 16 * 1024

JobStatus = Literal["queued", "processing", "completed", "failed"]
CallbackStatus = Literal["pending", "delivered", "dead_letter"]
FINAL_STATUSES: Final = frozenset({"completed", "failed"})


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex}"


def jobs_subject(store_id: str) -> str:
    return f"trinetra.{subject_token(store_id)}.{PUSH_JOBS_FAMILY}"


def job_key(store_id: str, job_id: str) -> str:
    return f"{subject_token(store_id)}.{subject_token(job_id)}"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JobError(_Record):
    code: str
    message: str


class CallbackState(_Record):
    host: str = Field(description="The callback URL's host (the URL may carry a token).")
    status: CallbackStatus = "pending"
    attempts: int = 0
    last_reason: str | None = None


class JobRecord(_Record):
    job_id: str
    store_id: str
    camera_id: str
    frame_id: str | None
    priority: Priority
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    attempts: int = Field(0, description="Times a worker started processing it.")
    result: FrameResult | None = None
    error: JobError | None = None
    callback: CallbackState | None = None

    @property
    def finished(self) -> bool:
        """Nothing more will happen to it: final, and its callback (if any) settled."""
        return self.status in FINAL_STATUSES and (
            self.callback is None or self.callback.status != "pending"
        )

    def moved(self, **changes: object) -> JobRecord:
        return self.model_copy(update={**changes, "updated_at": datetime.now(UTC)})


class DedupClaim(_Record):
    key: str
    revision: int


class JobTicket(_Record):
    """What travels with the frame: everything the worker needs but the record."""

    job_id: str
    store_id: str
    request: FrameRequest
    camera_name: str | None
    callback_url: str | None
    claim: DedupClaim | None


class JobStore:
    """PUSH_JOBS, the bucket and the stream (module docs)."""

    def __init__(self, nats: NatsConnection, ttl_s: float) -> None:
        self._nats = nats
        self._bucket = BucketBinder(nats, dataclasses.replace(PUSH_JOBS_BUCKET, ttl_s=ttl_s))
        self._streams_ready = -1  # connection generation they were ensured on

    async def bucket(self) -> KeyValue:
        return await self._bucket.get()

    async def jetstream(self) -> nats.js.JetStreamContext:
        """JetStream, with the push streams ensured (once per connection)."""
        client = self._nats.client
        if client is None or not self._nats.connected:
            raise nats.errors.ConnectionClosedError
        js = client.jetstream(timeout=5.0)
        if self._streams_ready != self._nats.generation:
            for spec in PUSH_STREAMS:
                await ensure_stream(js, spec)
            self._streams_ready = self._nats.generation
        return js

    def max_frame_bytes(self) -> int:
        """The largest frame one job message holds."""
        client = self._nats.client
        payload = client.max_payload if client is not None else PUSH_JOBS_STREAM.max_msg_size
        return min(payload, PUSH_JOBS_STREAM.max_msg_size) - _HEADER_ROOM

    async def get(self, store_id: str, job_id: str) -> JobRecord | None:
        kv = await self.bucket()
        try:
            entry = await kv.get(job_key(store_id, job_id))
        except (
            nats.js.errors.KeyNotFoundError,
            nats.js.errors.KeyDeletedError,
            nats.js.errors.InvalidKeyError,
        ):
            return None
        return parse_record(entry.value)

    async def put(self, record: JobRecord) -> None:
        kv = await self.bucket()
        await kv.put(job_key(record.store_id, record.job_id), record.model_dump_json().encode())

    async def submit(self, ticket: JobTicket, frame: bytes) -> tuple[JobRecord, int]:
        """Record and queue a job; returns the record and the jobs queued ahead of it."""
        js = await self.jetstream()
        now = datetime.now(UTC)
        request = ticket.request
        record = JobRecord(
            job_id=ticket.job_id,
            store_id=ticket.store_id,
            camera_id=request.camera_id,
            frame_id=request.frame_id,
            priority=request.processing.priority,
            status="queued",
            created_at=now,
            updated_at=now,
            callback=None if ticket.callback_url is None else CallbackState(host=_host(ticket)),
        )
        kv = await self.bucket()
        key = job_key(ticket.store_id, ticket.job_id)
        await kv.create(key, record.model_dump_json().encode())
        subject = jobs_subject(ticket.store_id)
        try:
            await js.publish(
                subject,
                frame,
                stream=PUSH_JOBS_STREAM.name,
                headers={TICKET_HEADER: ticket.model_dump_json(), "Nats-Msg-Id": ticket.job_id},
            )
        except BaseException:
            await kv.delete(key)
            raise
        try:
            info = await js.stream_info(PUSH_JOBS_STREAM.name, subjects_filter=subject)
            queued = (info.state.subjects or {}).get(subject, 1)
        except (nats.errors.Error, TimeoutError):
            queued = 1  # only the answer's position is lost
        return record, max(queued - 1, 0)


def parse_record(value: bytes | None) -> JobRecord | None:
    if not value:
        return None
    try:
        return JobRecord.model_validate_json(value)
    except ValidationError:
        return None


def _host(ticket: JobTicket) -> str:
    return urlsplit(ticket.callback_url or "").hostname or ""
