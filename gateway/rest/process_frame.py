"""POST /api/v1/detections/process-frame and GET /api/v1/detections/jobs/{job_id}: push
mode (gateway/push/; the request's fields in gateway/push/models.py).

A frame, as JSON (base64 `frame_data`) or multipart (`frame` file), in order:

1. the token: operator or privacy_officer, granting the gateway's store;
2. the request: every field validated (400 naming it), the frame within the upload limit
   (413); `return_embeddings` needs privacy_officer (403); async requests may carry a
   `callback_url` (http(s), no credentials, not into link-local, metadata or 0.0.0.0/8
   ranges: 400 `INVALID_CALLBACK_URL`) but neither embeddings nor snapshots (biometric
   data is never kept past the request);
3. the camera: registered in the gateway's store (404 `NOT_FOUND` otherwise);
4. deduplication (with a `frame_id`): a frame already received for the camera within the
   window answers 200 `duplicate` naming the first request's `result_id`;
5. sync: the frame through the priority queue into Triton; 200 with the result, or the
   error (422 `INVALID_FRAME`, 503 `QUEUE_FULL` / `MODEL_UNAVAILABLE`, 504
   `MODEL_TIMEOUT` past `timeout_ms`); async: 202 `accepted` with the job id, the jobs
   ahead of it and its status URL.

A refused request leaves nothing behind: its dedup claim is deleted and no job exists.
The frame is never stored (an async frame only while its job is queued), face crops are
in the response only and never logged.

GET jobs/{id} (same scopes) answers the job's record: `status` queued, processing,
completed (with `result`) or failed (with `error`), and its callback's state; 404 for an
unknown, expired or other store's job.
"""

from __future__ import annotations

import base64
import binascii
import logging
import uuid
from typing import Any

import nats.errors
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from gateway.auth import AuthError, Principal, Scope
from gateway.db import reads
from gateway.push.callbacks import callback_policy
from gateway.push.dedup import Claim
from gateway.push.jobs import DedupClaim, JobTicket, new_job_id
from gateway.push.models import Accepted, Duplicate, FrameRequest, FrameResult, from_fields
from gateway.push.service import PushError
from gateway.runtime import Gateway
from trinetra.config.alerts import check_webhook_url

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter()

JOBS_PATH = "/api/v1/detections/jobs"


def _error(exc: PushError) -> JSONResponse:
    headers = dict(exc.headers or {})
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return JSONResponse(
        {"status": "error", "error": {"code": exc.code, "message": exc.message}},
        status_code=exc.status,
        headers=headers or None,
    )


def _answer(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json", by_alias=True), status_code=status)


def _authorize(gateway: Gateway, request: Request) -> Principal:
    try:
        principal = gateway.verifier.from_header(request.headers.get("authorization"))
        principal.require(Scope.OPERATOR, Scope.PRIVACY_OFFICER)
        # The frame is of a camera of the gateway's store (its name is read from there).
        principal.require_store(gateway.settings.store_id)
    except AuthError as exc:
        gateway.metrics.auth_failures.labels(exc.reason).inc()
        code = "FORBIDDEN" if exc.status == 403 else "UNAUTHENTICATED"
        raise PushError(exc.status, code, exc.message) from None
    return principal


def _bad_request(exc: ValidationError) -> PushError:
    details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return PushError(400, "BAD_REQUEST", f"invalid request: {details}")


async def _parse(request: Request, max_bytes: int) -> tuple[FrameRequest, bytes]:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=32)
            upload = form.get("frame")
            if not isinstance(upload, UploadFile):
                raise PushError(400, "BAD_REQUEST", "multipart field 'frame' (a file) is missing")
            frame = await upload.read(max_bytes + 1)
            fields = {k: v for k, v in form.items() if isinstance(v, str)}
            parsed = FrameRequest.model_validate(from_fields(fields))
        elif content_type.startswith("application/json"):
            parsed = FrameRequest.model_validate_json(await request.body())
            if not parsed.frame_data:
                raise PushError(400, "BAD_REQUEST", "frame_data (base64 JPEG/PNG) is missing")
            try:
                frame = base64.b64decode(parsed.frame_data, validate=True)
            except binascii.Error:
                raise PushError(400, "BAD_REQUEST", "frame_data is not valid base64") from None
            parsed = parsed.model_copy(update={"frame_data": None})
        else:
            raise PushError(
                415, "UNSUPPORTED_MEDIA_TYPE", "send multipart/form-data or application/json"
            )
    except ValidationError as exc:
        raise _bad_request(exc) from None
    if len(frame) > max_bytes:
        raise PushError(413, "PAYLOAD_TOO_LARGE", f"frame larger than {max_bytes} bytes")
    if not frame:
        raise PushError(400, "BAD_REQUEST", "the frame is empty")
    return parsed, frame


def _check_options(gateway: Gateway, principal: Principal, parsed: FrameRequest) -> str | None:
    """Refuse option combinations the request may not make; returns the callback URL."""
    parameters, processing = parsed.parameters, parsed.processing
    if parameters.match_faces:
        raise PushError(
            400,
            "BAD_REQUEST",
            "match_faces is not supported yet: the identity service cannot search its "
            "gallery by a face's embedding",
        )
    if parameters.return_embeddings and not principal.has(Scope.PRIVACY_OFFICER):
        raise PushError(403, "FORBIDDEN", "return_embeddings requires scope privacy_officer")
    url = parsed.client_context.callback_url
    if not processing.run_async:
        if url is not None:
            raise PushError(
                400, "INVALID_CALLBACK_URL", "client_context.callback_url needs async: true"
            )
        return None
    if parameters.return_embeddings or parameters.return_snapshots:
        raise PushError(
            400,
            "BAD_REQUEST",
            "return_embeddings and return_snapshots are for synchronous requests only: "
            "an async job's result is kept, biometric data is not",
        )
    if url is None:
        return None
    if gateway.settings.push.callback_secret is None:
        raise PushError(
            400,
            "INVALID_CALLBACK_URL",
            "this gateway sends no callbacks (TRINETRA_PUSH__CALLBACK_SECRET is not set); "
            "poll the job instead",
        )
    try:
        return check_webhook_url(url, callback_policy(gateway.settings.push))
    except ValueError as exc:
        message = str(exc).replace("webhook", "callback")
        raise PushError(
            400, "INVALID_CALLBACK_URL", f"client_context.callback_url: {message}"
        ) from None


async def _camera_name(gateway: Gateway, camera_id: str) -> str | None:
    """The registered camera's name; PushError when it is not registered (or the
    database cannot say)."""
    store = gateway.settings.store_id
    if not gateway.schema_ready.is_set():
        raise PushError(503, "UNAVAILABLE", "the database is not ready yet")
    try:
        async with gateway.db.connection() as conn:
            row = await reads.camera(conn, store, camera_id)
    except Exception as exc:
        log.warning("camera lookup failed", extra={"error": repr(exc)})
        raise PushError(503, "UNAVAILABLE", "the database is unavailable") from None
    if row is None:
        raise PushError(
            404, "NOT_FOUND", f"camera {camera_id!r} is not registered in store {store}"
        )
    name = (row["config"] or {}).get("name")
    return name if isinstance(name, str) else None


@router.post("/api/v1/detections/process-frame")
async def process_frame(request: Request) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    try:
        answer, status = await _process_frame(gateway, request)
    except PushError as exc:
        gateway.metrics.frames_processed.labels(exc.code.lower()).inc()
        return _error(exc)
    gateway.metrics.frames_processed.labels(answer.status).inc()
    return _answer(answer, status)


async def _process_frame(
    gateway: Gateway, request: Request
) -> tuple[FrameResult | Duplicate | Accepted, int]:
    push = gateway.push
    principal = _authorize(gateway, request)
    parsed, frame = await _parse(request, gateway.settings.limits.max_upload_bytes)
    callback_url = _check_options(gateway, principal, parsed)
    run_async = parsed.processing.run_async
    if run_async and len(frame) > (limit := push.jobs.max_frame_bytes()):
        raise PushError(
            413,
            "PAYLOAD_TOO_LARGE",
            f"an async frame is at most {limit} bytes (one JetStream message); "
            "send it synchronously or smaller",
        )
    camera_name = await _camera_name(gateway, parsed.camera_id)
    store = gateway.settings.store_id
    result_id = new_job_id() if run_async else f"res_{uuid.uuid4().hex}"
    claim: Claim | None = None
    if parsed.frame_id is not None:
        try:
            claimed = await push.dedup.claim(store, parsed.camera_id, parsed.frame_id, result_id)
        except (nats.errors.Error, TimeoutError) as exc:
            raise PushError(503, "UNAVAILABLE", f"deduplication unavailable: {exc!r}") from None
        if isinstance(claimed, str):
            return Duplicate(
                result_id=claimed, frame_id=parsed.frame_id, camera_id=parsed.camera_id
            ), 200
        claim = claimed
    try:
        if run_async:
            return await _enqueue(
                gateway, parsed, frame, result_id, camera_name, callback_url, claim
            )
        timeout_ms = parsed.processing.timeout_ms or push.settings.default_timeout_ms
        result = await push.processor.process(
            parsed,
            frame,
            result_id=result_id,
            camera_name=camera_name,
            embeddings=parsed.parameters.return_embeddings,
            timeout_s=timeout_ms / 1000,
        )
        return result, 200
    except BaseException:
        if claim is not None:
            await push.dedup.release(claim)
        raise


async def _enqueue(
    gateway: Gateway,
    parsed: FrameRequest,
    frame: bytes,
    job_id: str,
    camera_name: str | None,
    callback_url: str | None,
    claim: Claim | None,
) -> tuple[Accepted, int]:
    ticket = JobTicket(
        job_id=job_id,
        store_id=gateway.settings.store_id,
        request=parsed,
        camera_name=camera_name,
        callback_url=callback_url,
        claim=None if claim is None else DedupClaim(key=claim.key, revision=claim.revision),
    )
    try:
        _, ahead = await gateway.push.jobs.submit(ticket, frame)
    except (nats.errors.Error, TimeoutError) as exc:
        raise PushError(503, "UNAVAILABLE", f"the job queue is unavailable: {exc!r}") from None
    accepted = Accepted(
        job_id=job_id,
        result_id=job_id,
        frame_id=parsed.frame_id,
        queue_position=ahead,
        callback_url=callback_url,
        status_url=f"{JOBS_PATH}/{job_id}",
    )
    return accepted, 202


@router.get(JOBS_PATH + "/{job_id}")
async def job_status(request: Request, job_id: str) -> JSONResponse:
    gateway: Gateway = request.app.state.gateway
    try:
        _authorize(gateway, request)
        try:
            record = await gateway.push.jobs.get(gateway.settings.store_id, job_id)
        except (nats.errors.Error, TimeoutError) as exc:
            raise PushError(503, "UNAVAILABLE", f"the job store is unavailable: {exc!r}") from None
        if record is None:
            raise PushError(404, "NOT_FOUND", f"no job {job_id!r} (unknown or expired)")
    except PushError as exc:
        return _error(exc)
    body: dict[str, Any] = record.model_dump(mode="json")
    return JSONResponse(body)
