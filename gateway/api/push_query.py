"""GraphQL for push mode's async jobs: the query `detectionJob(id)` and the subscription
`detectionJob(id)`, which yields the job's record at each status change (queued,
processing, completed or failed, then its callback's outcome) and ends once nothing more
will happen to it. Both read the PUSH_JOBS bucket (gateway/push/jobs.py), need operator
or privacy_officer like process-frame, and a token granting the store. A job of another
store, or one past its TTL, is null (query) or NOT_FOUND (subscription).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, cast

import nats.errors
import strawberry
from strawberry.scalars import JSON

from gateway.api import decorators
from gateway.api.context import Info
from gateway.api.errors import NOT_FOUND, UNAVAILABLE, api_error
from gateway.auth import Scope
from gateway.push.jobs import JobRecord, job_key, parse_record

__all__ = ["DetectionJob", "PushQuery", "PushSubscription"]

JOB_READ = (Scope.OPERATOR, Scope.PRIVACY_OFFICER)

StoreArg = Annotated[
    str | None, strawberry.argument(description="Store (default: the gateway's store).")
]


@strawberry.type(description="Why a job failed.")
class DetectionJobError:
    code: str = strawberry.field(description="The error code process-frame would answer.")
    message: str


@strawberry.type(description="An asynchronous process-frame job.")
class DetectionJob:
    id: str
    status: str = strawberry.field(description="queued, processing, completed or failed.")
    camera_id: str
    frame_id: str | None
    priority: str = strawberry.field(description="urgent, high, normal or low.")
    created_at: datetime
    updated_at: datetime
    attempts: int = strawberry.field(description="Times a worker started processing it.")
    error: DetectionJobError | None
    callback_status: str | None = strawberry.field(
        description="pending, delivered or dead_letter; null: no callback asked for."
    )
    callback_attempts: int
    result: JSON | None = strawberry.field(
        description="The synchronous answer's JSON once completed (REST docs)."
    )

    @classmethod
    def of(cls, record: JobRecord) -> DetectionJob:
        callback = record.callback
        result = None if record.result is None else record.result.model_dump(mode="json")
        return cls(
            id=record.job_id,
            status=record.status,
            camera_id=record.camera_id,
            frame_id=record.frame_id,
            priority=record.priority.value,
            created_at=record.created_at,
            updated_at=record.updated_at,
            attempts=record.attempts,
            error=None
            if record.error is None
            else DetectionJobError(code=record.error.code, message=record.error.message),
            callback_status=None if callback is None else callback.status,
            callback_attempts=0 if callback is None else callback.attempts,
            result=cast(JSON, result),
        )


@strawberry.type
class PushQuery:
    @decorators.field(description="An async process-frame job, or null (unknown or expired).")
    async def detection_job(
        self, info: Info, id: str, store_id: StoreArg = None
    ) -> DetectionJob | None:
        info.context.require(*JOB_READ)
        store = info.context.store(store_id)
        try:
            record = await info.context.gateway.push.jobs.get(store, id)
        except (nats.errors.Error, TimeoutError) as exc:
            raise api_error(f"the job store is unavailable: {exc!r}", UNAVAILABLE) from None
        return None if record is None else DetectionJob.of(record)


@strawberry.type
class PushSubscription:
    @decorators.subscription(
        description="An async process-frame job's record at each change, from its current "
        "one; ends once the job is final and its callback settled."
    )
    async def detection_job(
        self, info: Info, id: str, store_id: StoreArg = None
    ) -> AsyncGenerator[DetectionJob, None]:
        info.context.require(*JOB_READ)
        store = info.context.store(store_id)
        jobs = info.context.gateway.push.jobs
        try:
            kv = await jobs.bucket()
            if await jobs.get(store, id) is None:
                raise api_error(f"no job {id!r} (unknown or expired)", NOT_FOUND)
            watcher = await kv.watch(job_key(store, id))
        except (nats.errors.Error, TimeoutError) as exc:
            raise api_error(f"the job store is unavailable: {exc!r}", UNAVAILABLE) from None
        try:
            async for entry in watcher:
                record = parse_record(entry.value if entry is not None else None)
                if record is None:
                    continue
                yield DetectionJob.of(record)
                if record.finished:
                    return
        finally:
            await watcher.stop()  # type: ignore[no-untyped-call]
