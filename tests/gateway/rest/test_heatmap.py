"""GET /api/v1/heatmap/{camera}.png: the stored heatmap drawn over the camera's newest
frame, relayed from its store node's `GET /live/{camera}/snapshot.jpg` (the node's real
operational server and snapshot endpoint, fed the sample video's frames), or over a
neutral frame of the camera's size when no node answers. Real gateway, PostgreSQL, NATS."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import cv2
import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from prometheus_client import CollectorRegistry

from gateway.rest.heatmap_image import MAX_ALPHA, NEUTRAL_GREY
from orchestrator.cameras.frame import Frame
from orchestrator.health import HealthServer
from orchestrator.live import AnnotatedFrameSource, LiveSnapshotEndpoint
from tests.gateway.analytics_helpers import (
    analytics_gateway,
    analytics_publisher,
    heatmap_grid,
    scalar,
)
from tests.gateway.helpers import RunningGateway, detections, token
from tests.support.media import media_path
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.inference.detections import Detections

pytestmark = pytest.mark.timeout(120)

H0 = (datetime.now(UTC) - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
# 4 x 3 grid: cell 5 is column 1, row 1; cell 0 the top-left
GRID = {0: 1.0, 5: 4.0}


def url(camera: str, start: datetime, end: datetime) -> str:
    query = httpx.QueryParams({"from": start.isoformat(), "to": end.isoformat()})
    return f"/api/v1/heatmap/{camera}.png?{query}"


def png(body: bytes) -> NDArray[np.uint8]:
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    image = cv2.imdecode(np.frombuffer(body, dtype=np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    decoded: NDArray[np.uint8] = np.asarray(image, dtype=np.uint8)
    return decoded


def cell_centre(
    image: NDArray[np.uint8], cell: int, cols: int = 4, rows: int = 3
) -> NDArray[np.uint8]:
    height, width = image.shape[:2]
    x = int((cell % cols + 0.5) * width / cols)
    y = int((cell // cols + 0.5) * height / rows)
    pixel: NDArray[np.uint8] = image[y, x]
    return pixel


async def publish_heat(gateway: RunningGateway, nats_url: str) -> None:
    async with analytics_publisher(nats_url) as publisher:
        publisher.publish(heatmap_grid("cam-a", H0, GRID))
        for frame in detections("cam-a", H0, 2):  # the camera's frames are 1280 x 720
            publisher.publish(frame)
        assert await publisher.flush(10)

    async def stored() -> bool:
        grids = await scalar(gateway, "SELECT count(*) FROM heatmap_hour")
        frames = await scalar(gateway, "SELECT count(*) FROM detections")
        return bool(grids == 1 and frames == 2)

    await eventually(stored)


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('viewer')}"}


async def test_without_a_snapshot_the_heat_is_drawn_on_grey_of_the_cameras_size(
    database_url: str, nats_server: NatsServer
) -> None:
    async with analytics_gateway(database_url, nats_server.url) as gateway:
        await publish_heat(gateway, nats_server.url)
        response = await gateway.http.get(url("cam-a", H0, H0 + timedelta(hours=1)), headers=auth())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        image = png(response.content)
        assert image.shape == (720, 1280, 3)
        # The hottest cell is red at full opacity; a cold cell stays neutral grey.
        hot = cell_centre(image, 5).astype(int)
        expected = (1 - MAX_ALPHA) * NEUTRAL_GREY + MAX_ALPHA * np.array([0, 0, 128])
        assert np.abs(hot - expected).max() <= 3, hot
        assert (cell_centre(image, 11) == NEUTRAL_GREY).all()

        # No heat in the range: the frame alone; bad requests are clear.
        empty = await gateway.http.get(
            url("cam-a", H0 + timedelta(hours=1), H0 + timedelta(hours=2)), headers=auth()
        )
        assert (png(empty.content) == NEUTRAL_GREY).all()
        unknown = await gateway.http.get(url("cam-z", H0, H0 + timedelta(hours=1)), headers=auth())
        assert png(unknown.content).shape == (720, 1280, 3)  # the default frame size
        assert (
            await gateway.http.get(url("cam-a", H0, H0 + timedelta(hours=1)))
        ).status_code == 401
        bad = await gateway.http.get(
            "/api/v1/heatmap/cam-a.png?from=yesterday&to=now", headers=auth()
        )
        assert bad.status_code == 400 and "ISO-8601" in bad.json()["error"]["message"]
        naive = await gateway.http.get(
            "/api/v1/heatmap/cam-a.png?from=2026-01-01T00:00:00&to=2026-01-01T01:00:00",
            headers=auth(),
        )
        assert naive.status_code == 400


@contextlib.asynccontextmanager
async def snapshot_node(camera: str) -> AsyncIterator[tuple[str, list[NDArray[np.uint8]]]]:
    """The store node's operational server with the real snapshot endpoint, its camera's
    frame source fed the sample video as the node feeds it (after tracking)."""
    source = AnnotatedFrameSource(camera, fps=10)
    offered: list[NDArray[np.uint8]] = []
    server = HealthServer(
        lambda: asyncio.sleep(0, {"ready": True}),
        CollectorRegistry(),
        live_snapshots=LiveSnapshotEndpoint({camera: source}).handle,
    )
    await server.start()
    video = cv2.VideoCapture(str(media_path("vtest.avi")))

    async def feed() -> None:
        seq = 0
        while True:
            ok, read = video.read()
            assert ok
            image: NDArray[np.uint8] = np.asarray(read, dtype=np.uint8)
            frame = Frame(camera, seq, image, time.time(), time.monotonic())
            offered.append(image)
            source.offer(frame, Detections.empty())
            seq += 1
            await asyncio.sleep(0.05)

    task = asyncio.create_task(feed())
    try:
        yield f"http://127.0.0.1:{server.port}", offered
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        video.release()
        await server.close()


async def test_the_heat_is_drawn_over_the_store_nodes_snapshot(
    database_url: str, nats_server: NatsServer
) -> None:
    async with snapshot_node("cam-a") as (node, offered):
        async with httpx.AsyncClient() as client:
            direct = await client.get(f"{node}/live/cam-a/snapshot.jpg")
            assert direct.status_code == 200 and direct.headers["content-type"] == "image/jpeg"
            missing = await client.get(f"{node}/live/nope/snapshot.jpg")
            assert missing.status_code == 404
        async with analytics_gateway(
            database_url, nats_server.url, node_urls={"blr-01": node}
        ) as gateway:
            await publish_heat(gateway, nats_server.url)
            response = await gateway.http.get(
                url("cam-a", H0, H0 + timedelta(hours=1)), headers=auth()
            )
            assert response.status_code == 200, response.text
            image = png(response.content)
    # The sample video's size, not the detections' (the snapshot is the camera's frame).
    assert image.shape == (576, 768, 3)
    # Where there is no heat, the picture is one of the frames the node was given.
    cold = cell_centre(image, 11).astype(int)
    assert min(np.abs(cell_centre(f, 11).astype(int) - cold).max() for f in offered) <= 12
    assert not (image == NEUTRAL_GREY).all()
