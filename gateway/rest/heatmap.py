"""GET /api/v1/heatmap/{camera_id}.png?from=...&to=...: the camera's heatmap over the
hours starting in [from, to) (the `heatmap` query's grid), drawn over the camera's newest
frame from its store node, or over a neutral frame of the camera's size (its newest
detections' frame size) when there is none. Viewer scope and the gateway's store (Bearer
token); `from`/`to` are ISO-8601 with a time zone and bounded like every query. A camera
without heat in the range gets its frame without colour."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Final

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from gateway.auth import AuthError, Scope
from gateway.db.analytics import heatmap
from gateway.rest.heatmap_image import decode_snapshot, render
from gateway.rest.snapshots import SnapshotClient
from gateway.runtime import Gateway

router = APIRouter()

DEFAULT_FRAME: Final = (1280, 720)
MAX_FRAME_SIDE: Final = 8192


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else None
    return JSONResponse(
        {"status": "error", "error": {"code": code, "message": message}},
        status_code=status,
        headers=headers,
    )


def _moment(value: str | None, name: str) -> datetime:
    if value is None:
        raise ValueError(f"{name} is required (ISO-8601 with a time zone)")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} is not an ISO-8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{name} needs a time zone (e.g. 2026-01-01T10:00:00Z)")
    return moment


async def _frame_size(gateway: Gateway, store_id: str, camera_id: str) -> tuple[int, int]:
    async with gateway.db.connection() as conn:
        row = await conn.fetchrow(
            """
            SELECT frame_width, frame_height FROM detections
            WHERE store_id = $1 AND camera_id = $2 ORDER BY occurred_at DESC LIMIT 1
            """,
            store_id,
            camera_id,
        )
    if row is None:
        return DEFAULT_FRAME
    width, height = int(row["frame_width"]), int(row["frame_height"])
    if not (0 < width <= MAX_FRAME_SIDE and 0 < height <= MAX_FRAME_SIDE):
        return DEFAULT_FRAME
    return width, height


@router.get("/api/v1/heatmap/{camera_id}.png")
async def heatmap_png(camera_id: str, request: Request) -> Response:
    gateway: Gateway = request.app.state.gateway
    try:
        principal = gateway.verifier.from_header(request.headers.get("authorization"))
        principal.require(Scope.VIEWER)
        principal.require_store(gateway.settings.store_id)  # the gateway's store's camera
    except AuthError as exc:
        gateway.metrics.auth_failures.labels(exc.reason).inc()
        return _error(
            exc.status, "FORBIDDEN" if exc.status == 403 else "UNAUTHENTICATED", exc.message
        )
    try:
        start = _moment(request.query_params.get("from"), "from")
        end = _moment(request.query_params.get("to"), "to")
    except ValueError as exc:
        return _error(400, "BAD_REQUEST", str(exc))
    limits = gateway.settings.limits
    if end <= start or (end - start).total_seconds() > limits.max_range_days * 86400:
        return _error(
            400, "BAD_REQUEST", f"to must be after from, at most {limits.max_range_days:g} days"
        )
    if not gateway.schema_ready.is_set():
        return _error(503, "UNAVAILABLE", "database unavailable; try again shortly")
    store_id = gateway.settings.store_id
    async with gateway.db.connection() as conn:
        grid = await heatmap.summed(conn, store_id, camera_id, start, end)
    snapshots: SnapshotClient | None = getattr(request.app.state, "snapshots", None)
    jpeg = None if snapshots is None else await snapshots.fetch(store_id, camera_id)
    background = None if jpeg is None else decode_snapshot(jpeg)
    size = (
        DEFAULT_FRAME if background is not None else await _frame_size(gateway, store_id, camera_id)
    )
    cells, cols, rows = (
        ([0.0], 1, 1) if grid is None else (grid.person_seconds, grid.cols, grid.rows)
    )
    png = await asyncio.to_thread(render, cells, cols, rows, background, size)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
