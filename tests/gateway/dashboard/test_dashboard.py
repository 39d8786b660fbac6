"""The dashboard in a real headless Chromium (Debian's, driven by selenium): it lists the
cameras, plays the live WebRTC view, and shows track events as they arrive live; the
demo's default zones and lines are drawn over the sample camera's live picture."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver

from devservices.demo import ANALYTICS_CONFIG
from tests.gateway.helpers import (
    STORE,
    RunningGateway,
    camera_status,
    detections,
    running_gateway,
    settings,
    token,
    track_lifecycle,
    wait_schema,
)
from tests.orchestrator.live.helpers import node_url, store_node
from tests.support.media import media_path
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.triton_server import LocalTriton
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.config.camera import CameraConfig
from trinetra.events.publisher import EventPublisher
from trinetra.settings import load_yaml


async def page_state(driver: webdriver.Chrome) -> dict[str, Any]:
    script = """
      const video = document.querySelector('video');
      return {cameras: document.body.dataset.cameras, events: document.body.dataset.trackEvents,
              videoWidth: video ? video.videoWidth : 0,
              health: document.getElementById('health').dataset.state,
              error: document.getElementById('error').hidden ? null
                     : document.getElementById('error').textContent};"""
    state: dict[str, Any] = await asyncio.to_thread(driver.execute_script, script)
    return state


CAMERA = CameraConfig(
    id="entrance-1",
    name="Entrance",
    role="entrance",
    loop=True,
    source=str(media_path("vtest.avi")),
    target_fps=10,
)


@pytest.fixture
async def gateway(
    triton_server: LocalTriton, nats_server: NatsServer, database_url: str
) -> AsyncIterator[RunningGateway]:
    """The gateway relaying live views to a real store node running CAMERA."""
    async with store_node(triton_server.grpc_url, nats_server.url, [CAMERA], STORE) as node:
        urls = {STORE: node_url(node)}
        async with running_gateway(settings(database_url, nats_server.url, node_urls=urls)) as gw:
            await wait_schema(gw.gateway)
            yield gw


async def test_dashboard_shows_live_data(
    gateway: RunningGateway,
    publisher: EventPublisher,
    browser: webdriver.Chrome,
    tmp_path: Path,
    screenshots: Path,
) -> None:
    camera = CAMERA
    await gateway.data(
        "mutation ($c: JSON!) { registerCamera(config: $c) { id } }",
        {"c": camera.model_dump(mode="json")},
        scopes=("operator",),
    )
    now = datetime.now(UTC)
    publisher.publish(camera_status("entrance-1", "live", now))
    await asyncio.to_thread(
        browser.get, f"{gateway.url}/dashboard/#token={token('operator', ttl_s=600)}"
    )

    loop = asyncio.get_running_loop()
    state: dict[str, Any] = {}

    async def live_data_shown() -> bool:
        nonlocal state
        # keep live data flowing: track events for the subscription, boxes for the video
        for event in [
            *detections("entrance-1", datetime.now(UTC), 3),
            *track_lifecycle("entrance-1", int(loop.time()), datetime.now(UTC), 1),
        ]:
            publisher.publish(event)
        state = await page_state(browser)
        return (
            int(state["events"] or 0) >= 3 and state["videoWidth"] > 0 and state["health"] == "ok"
        )

    try:
        await eventually(live_data_shown, 60, interval_s=1, message="live data on the dashboard")
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}; the page's state: {state}") from None
    assert state["error"] is None, state["error"]
    assert state["cameras"] == "1"
    assert int(state["events"] or 0) >= 3, state  # live track events arrived over WebSocket
    assert state["videoWidth"] == 768, state  # the WebRTC live view plays the camera
    assert state["health"] == "ok"
    shot = tmp_path / "dashboard.png"
    await asyncio.to_thread(browser.save_screenshot, str(shot))
    assert shot.stat().st_size > 20_000
    await asyncio.to_thread(browser.save_screenshot, str(screenshots / "dashboard-live.png"))

    # The demo's default configuration, drawn over the live picture it was placed on.
    demo = load_yaml(ANALYTICS_CONFIG, StoreAnalyticsConfig, what="analytics config")
    await gateway.data(
        "mutation ($c: JSON!) { replaceAnalyticsConfig(config: $c, expectedVersion: 0)"
        " { version } }",
        {"c": demo.model_dump(mode="json")},
        scopes=("operator",),
    )
    await asyncio.to_thread(browser.refresh)  # the page reads the configuration on load

    async def demo_drawn() -> dict[str, Any] | None:
        # Right after the refresh the page may not have built its tiles yet.
        drawn: dict[str, Any] | None = await asyncio.to_thread(
            browser.execute_script,
            """const tile = document.querySelector('.tile');
               if (tile === null || tile.querySelector('video') === null) return null;
               return {zones: [...tile.querySelectorAll('g.zone')].map((g) => g.dataset.zoneId),
                       lines: [...tile.querySelectorAll('g.line')].map((g) => g.dataset.lineId),
                       videoWidth: tile.querySelector('video').videoWidth};""",
        )
        return drawn if drawn and drawn["videoWidth"] and drawn["zones"] else None

    drawn = await eventually(demo_drawn, 60, interval_s=1, message="the demo's zones drawn")
    assert drawn["zones"] == [zone.id for zone in demo.zones]
    assert drawn["lines"] == [line.id for line in demo.lines] == ["entrance"]
    await asyncio.to_thread(browser.save_screenshot, str(screenshots / "dashboard-demo-zones.png"))
