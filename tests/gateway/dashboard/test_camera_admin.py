"""Camera management in a real headless Chromium: an operator adds a camera from the page,
and a real store node that was started with no cameras at all (`StoreNode(settings, [])`)
runs it, taken from the camera registry the gateway writes; the page then shows the live
view instead of its notice. Stopping analysis from the page stops it on the node, and
removing it removes it everywhere.

Before any node runs, the new camera's tile says so instead of showing a black view.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from selenium import webdriver
from selenium.webdriver.support.ui import Select

from devservices.ports import free_port
from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from tests.gateway.dashboard.page import DashboardPage
from tests.gateway.helpers import (
    STORE,
    RunningGateway,
    running_gateway,
    settings,
    token,
    wait_schema,
)
from tests.support.media import media_path
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.triton_server import LocalTriton
from trinetra.inference import TritonSettings

pytestmark = pytest.mark.timeout(300)

CAMERA_ID = "aisle-3"
SOURCE = str(media_path("vtest.avi"))
ROW = f'#camera-list tr[data-camera-id="{CAMERA_ID}"]'
TILE = f'.tile[data-camera="{CAMERA_ID}"]'

READ_CAMERA = """
const row = document.querySelector(arguments[0]), tile = document.querySelector(arguments[1]);
const video = tile && tile.querySelector('video');
return {row: row && {...row.dataset, analysis: row.cells[5].textContent},
        notice: tile && !tile.querySelector('.notice').hidden ? tile.dataset.notice : null,
        videoWidth: video ? video.videoWidth : 0,
        people: Number(document.getElementById('people').dataset.count),
        status: document.querySelector('#camera-admin .admin-status').textContent};
"""


def node_settings(triton_url: str, nats_url: str) -> NodeSettings:
    return NodeSettings(
        store_id=STORE,
        nats_url=nats_url,
        triton=TritonSettings(url=triton_url, call_timeout_s=30, retries=2, backoff_max_s=0.5),
        health_port=free_port(),  # known before the node starts: the gateway relays to it
    )


@pytest.fixture
def node_config(triton_server: LocalTriton, nats_server: NatsServer) -> NodeSettings:
    return node_settings(triton_server.grpc_url, nats_server.url)


@pytest.fixture
async def gateway(
    node_config: NodeSettings, nats_server: NatsServer, database_url: str
) -> AsyncIterator[RunningGateway]:
    urls = {STORE: f"http://127.0.0.1:{node_config.health_port}"}
    async with running_gateway(settings(database_url, nats_server.url, node_urls=urls)) as gw:
        await wait_schema(gw.gateway)
        yield gw


async def camera_shown(page: DashboardPage) -> dict[str, Any]:
    shown: dict[str, Any] = await page.js(READ_CAMERA, ROW, TILE)
    return shown


async def test_a_camera_added_from_the_page_starts_running(
    node_config: NodeSettings,
    gateway: RunningGateway,
    browser: webdriver.Chrome,
    screenshots: Path,
) -> None:
    page = DashboardPage(browser, gateway.url)
    await page.open(token("operator", ttl_s=900))
    await page.click("#camera-admin summary")
    await page.click("[data-action=add-camera]")
    form = await page.element("#camera-admin form")
    await page.type_into("input[name=id]", CAMERA_ID, form)
    await page.type_into("input[name=name]", "Aisle 3", form)
    await page.type_into("input[name=target_fps]", "5", form)
    role = await page.element("select[name=role]", form)
    await asyncio.to_thread(Select(role).select_by_value, "tracking")
    # A source the API refuses: its message goes next to the source, nothing is stored.
    await page.type_into("input[name=source]", "ftp://10.0.0.5/cam", form)
    await page.click("[data-action=save]", form)
    refused = await eventually(
        lambda: page.js(
            "return document.querySelector('#camera-admin .field-error[data-for=source]')"
            ".textContent"
        ),
        15,
        message="the source refused",
    )
    assert "source" in refused.lower() or "stream" in refused.lower(), refused
    assert (await gateway.data("{ cameras { id } }")) == {"cameras": []}
    await page.screenshot(screenshots / "camera-add-refused.png")

    await page.type_into("input[name=source]", SOURCE, form)
    await page.click("[data-action=save]", form)
    await eventually(
        lambda: page.js(
            "return document.querySelector('#camera-admin .admin-status').textContent"
            ".startsWith('Added camera')"
        ),
        15,
        message="the camera added",
    )

    # Stored as typed (the tier stays the role's default) ...
    data = await gateway.data(
        "query ($id: String!) { camera(id: $id) { config running } }", {"id": CAMERA_ID}
    )
    assert data["camera"]["config"] == {
        "id": CAMERA_ID,
        "name": "Aisle 3",
        "source": SOURCE,
        "role": "tracking",
        "target_fps": 5.0,
    }
    # ... and, with no store node running, the tile says so instead of a black view.
    shown = await eventually(
        lambda: camera_shown(page), 15, interval_s=0.3, message="the new camera's tile"
    )
    assert shown["notice"] == "not running on any node", shown
    assert shown["row"]["running"] == "false" and "Added camera" in shown["status"], shown
    assert await page.js("return document.querySelector('#camera-admin form').hidden")
    await page.screenshot(screenshots / "camera-added-no-node.png")

    # A store node with no cameras of its own starts it from the registry.
    node = StoreNode(node_config, [], metrics=OrchestratorMetrics(CollectorRegistry()))
    async with node:

        async def live() -> dict[str, Any] | None:
            shown = await camera_shown(page)
            running = shown["row"] and shown["row"]["running"] == "true"
            return shown if running and shown["videoWidth"] > 0 else None

        shown = await eventually(live, 90, interval_s=0.5, message="the camera live on the page")
        assert shown["notice"] is None and shown["row"]["analysis"] == "running", shown
        assert node.cameras[CAMERA_ID].frames_analysed > 0
        await page.screenshot(screenshots / "camera-added-running.png")

        # Edit it: only what changed is sent, the source (shown masked) stays as it was.
        await page.click(f"{ROW} [data-action=edit]")
        await page.type_into("input[name=target_fps]", "4", form)
        await page.click("[data-action=save]", form)
        await eventually(
            lambda: page.js(
                "return document.querySelector('#camera-admin .admin-status').textContent"
                f" === 'Saved camera {CAMERA_ID}.'"
            ),
            15,
            message="the camera saved",
        )
        data = await gateway.data(
            "query ($id: String!) { camera(id: $id) { config } }", {"id": CAMERA_ID}
        )
        assert data["camera"]["config"]["target_fps"] == 4.0
        assert data["camera"]["config"]["source"] == SOURCE

        # Stop its analysis from the page: the node stops it, the tile says so, and people
        # now no longer counts the camera's last frame.
        await page.click(f"{ROW} [data-action=stop]")

        async def stopped() -> dict[str, Any] | None:
            shown = await camera_shown(page)
            return shown if shown["notice"] and shown["people"] == 0 else None

        shown = await eventually(stopped, 60, interval_s=0.5, message="the camera stopped")
        assert shown["notice"].startswith("analysis stopped"), shown
        assert shown["row"]["enabled"] == "false", shown

        async def node_stopped() -> bool:
            state = (await node.probe())["cameras"].get(CAMERA_ID, {"state": "stopped"})
            return bool(state["state"] == "stopped")

        await eventually(node_stopped, 30, message="the node stopped the camera")
        await page.screenshot(screenshots / "camera-stopped.png")

        # Remove it, with the reason the audit log keeps.
        await page.type_into("#camera-admin input[name=remove-reason]", "aisle refitted")
        await page.click(f"{ROW} [data-action=remove]")
        await eventually(
            lambda: page.js(f"return document.querySelector('{TILE}') === null"),
            15,
            message="the camera gone from the page",
        )
        cameras = await gateway.data("{ cameras { id } }")
        assert cameras == {"cameras": []}
