"""The analytics panels in a real headless Chromium show exactly the API's figures.

Known analytics events go through JetStream into the real gateway and PostgreSQL; the
page is loaded and every panel's figures (read from its data attributes, and from what
each chart plots) are compared with the GraphQL answers for the same time ranges. Then
live events move the live panels (zone occupancy, queue, footfall, people now), and an
alert is acknowledged from the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver

from tests.gateway.analytics_helpers import analytics_gateway, analytics_publisher
from tests.gateway.dashboard.page import DashboardPage
from tests.gateway.dashboard.scenario import (
    CAMERA,
    configure,
    crossing,
    occupancy,
    queue,
    stored_day,
)
from tests.gateway.helpers import RunningGateway, detections, false_merge, token
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from trinetra.config.camera import CameraConfig
from trinetra.events.publisher import EventPublisher

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def gateway(database_url: str, nats_server: NatsServer) -> AsyncIterator[RunningGateway]:
    """The whole gateway, its ingest consuming the ANALYTICS stream too."""
    async with analytics_gateway(database_url, nats_server.url) as running:
        yield running


@pytest.fixture
async def publisher(nats_server: NatsServer) -> AsyncIterator[EventPublisher]:
    """Publishes like the store node and the analytics service (every stream exists)."""
    async with analytics_publisher(nats_server.url) as publisher:
        yield publisher


@pytest.fixture
async def store(gateway: RunningGateway) -> dict[str, Any]:
    """The camera registered and its zones, lines and funnel configured."""
    camera = CameraConfig(id=CAMERA, name="Entrance", role="entrance", source="rtsp://10.0.0.5/1")
    await gateway.data(
        "mutation ($c: JSON!) { registerCamera(config: $c) { id } }",
        {"c": camera.model_dump(mode="json")},
        scopes=("operator",),
    )
    return await configure(gateway)


def today_base() -> datetime:
    """Two minutes ago, unless that was yesterday (local time: the page's "today"). The
    stored day's events end 65 s after it, so before now."""
    now = datetime.now().astimezone()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return max(now - timedelta(minutes=2), midnight + timedelta(seconds=1)).astimezone(UTC)


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def window(panel: dict[str, Any]) -> dict[str, str]:
    """The range a panel used, as query variables."""
    assert panel["range"]["from"] and panel["range"]["to"], panel
    return {"from": panel["range"]["from"], "to": panel["range"]["to"]}


async def api(gateway: RunningGateway, query: str, variables: dict[str, Any] | None = None) -> Any:
    return await gateway.data(query, variables or {}, scopes=("viewer",))


async def footfall_totals(gateway: RunningGateway, variables: dict[str, str]) -> dict[str, int]:
    data = await api(
        gateway,
        "query ($from: DateTime!, $to: DateTime!) { footfallTotals(from: $from, to: $to) "
        "{ entries exits } }",
        variables,
    )
    return {
        "entries": int(data["footfallTotals"]["entries"]),
        "exits": int(data["footfallTotals"]["exits"]),
    }


async def check_footfall(gateway: RunningGateway, page: dict[str, Any]) -> dict[str, int]:
    data = await api(
        gateway,
        "query ($from: DateTime!, $to: DateTime!, $zone: String) {"
        " footfall(from: $from, to: $to, bucket: HOUR, timeZone: $zone)"
        " { bucketStart lineId entries exits }"
        " footfallTotals(from: $from, to: $to) { entries exits } }",
        {**window(page), "zone": page["timeZone"]},
    )
    totals = {k: int(v) for k, v in data["footfallTotals"].items()}
    assert (int(page["in"]), int(page["out"])) == (totals["entries"], totals["exits"])
    per_line: dict[str, list[int]] = {}
    hourly: dict[datetime, list[int]] = {}
    for row in data["footfall"]:
        sums = per_line.setdefault(row["lineId"], [0, 0])
        sums[0] += row["entries"]
        sums[1] += row["exits"]
        if row["lineId"] == "entrance":  # the chart shows the store-entry lines
            hour = hourly.setdefault(when(row["bucketStart"]), [0, 0])
            hour[0] += row["entries"]
            hour[1] += row["exits"]
    assert {r["lineId"]: [int(r["entries"]), int(r["exits"])] for r in page["lines"]} == per_line
    assert {when(p["bucketStart"]): [p["entries"], p["exits"]] for p in page["chart"]} == hourly
    return totals


async def check_zone_occupancy(gateway: RunningGateway, rows: list[dict[str, str]]) -> None:
    data = await api(gateway, "{ currentOccupancy { cameraId zoneId count capacity } }")
    current = {(c["cameraId"], c["zoneId"]): c["count"] for c in data["currentOccupancy"]}
    shown = {(r["cameraId"], r["zoneId"]): int(r["count"]) for r in rows if r["count"]}
    assert shown == current


async def check_zone_history(gateway: RunningGateway, page: dict[str, Any]) -> None:
    data = await api(
        gateway,
        "query ($from: DateTime!, $to: DateTime!) { zoneOccupancy(from: $from, to: $to)"
        " { minute cameraId zoneId mean max } }",
        window(page),
    )
    assert data["zoneOccupancy"], "no occupancy minutes stored"
    assert page["chart"] == data["zoneOccupancy"]


async def check_dwell(gateway: RunningGateway, page: dict[str, Any]) -> list[dict[str, Any]]:
    data = await api(
        gateway,
        "query ($from: DateTime!, $to: DateTime!) { dwell(from: $from, to: $to)"
        " { cameraId zoneId visits meanS p50S p90S } }",
        window(page),
    )
    expected = {r["zoneId"]: (r["visits"], r["meanS"], r["p50S"], r["p90S"]) for r in data["dwell"]}
    shown = {
        r["zoneId"]: (int(r["visits"]), float(r["meanS"]), float(r["p50S"]), float(r["p90S"]))
        for r in page["rows"]
    }
    assert shown == expected
    dwell: list[dict[str, Any]] = data["dwell"]
    return dwell


async def check_queues(gateway: RunningGateway, page: dict[str, Any]) -> None:
    data = await api(
        gateway,
        "query ($from: DateTime!, $to: DateTime!) { queues(from: $from, to: $to)"
        " { minute cameraId zoneId meanLength maxLength meanWaitS abandoned } }",
        window(page),
    )
    assert data["queues"], "no queue minutes stored"
    assert page["chart"] == data["queues"]


async def check_heatmap(gateway: RunningGateway, page: dict[str, Any]) -> None:
    data = await api(
        gateway,
        "query ($camera: String!, $from: DateTime!, $to: DateTime!) {"
        " heatmap(cameraId: $camera, from: $from, to: $to) { cameraId cols rows personSeconds } }",
        {"camera": page["cameraId"], **window(page)},
    )
    assert data["heatmap"] and any(data["heatmap"]["personSeconds"]), data
    assert page["chart"] == data["heatmap"]


async def check_funnel(gateway: RunningGateway, page: dict[str, Any]) -> list[dict[str, Any]]:
    data = await api(
        gateway,
        "query ($id: String!, $from: DateTime!, $to: DateTime!) {"
        " funnel(funnelId: $id, from: $from, to: $to)"
        " { stages { name visits conversion medianSecondsFromPrevious } } }",
        {"id": page["funnelId"], **window(page)},
    )
    stages: list[dict[str, Any]] = data["funnel"]["stages"]
    shown = [
        (r["stage"], int(r["visits"]), float(r["conversion"]), r["medianSecondsFromPrevious"])
        for r in page["rows"]
    ]
    assert shown == [
        (
            s["name"],
            s["visits"],
            s["conversion"],
            ""
            if s["medianSecondsFromPrevious"] is None
            else _js_number(s["medianSecondsFromPrevious"]),
        )
        for s in stages
    ]
    return stages


def _js_number(value: float) -> str:
    """How JavaScript's String() writes a JSON number (30.0 is "30")."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


async def check_journeys(
    gateway: RunningGateway, page: dict[str, Any]
) -> dict[tuple[str, str], int]:
    data = await api(
        gateway,
        "query ($from: DateTime!, $to: DateTime!) { journeyFlows(from: $from, to: $to)"
        " { source target visits } }",
        window(page),
    )
    flows = {(f["source"], f["target"]): f["visits"] for f in data["journeyFlows"]}
    assert {(r["source"], r["target"]): int(r["visits"]) for r in page["rows"]} == flows
    assert page["chart"] == data["journeyFlows"]
    return flows


async def test_the_panels_show_the_api_figures(
    gateway: RunningGateway,
    store: dict[str, Any],
    publisher: EventPublisher,
    browser: webdriver.Chrome,
    screenshots: Path,
) -> None:
    base = today_base()
    for event in stored_day(base):
        publisher.publish(event)
    publisher.publish(false_merge(CAMERA))  # an alert to acknowledge
    day = {"from": (base - timedelta(hours=1)).isoformat(), "to": datetime.now(UTC).isoformat()}

    async def stored() -> bool:
        totals = await footfall_totals(gateway, day)
        flows = await api(
            gateway,
            "query ($from: DateTime!, $to: DateTime!) { journeyFlows(from: $from, to: $to)"
            " { visits } }",
            day,
        )
        return totals == {"entries": 3, "exits": 1} and bool(flows["journeyFlows"])

    await eventually(stored, 60, interval_s=0.5, message="the events stored and rolled up")

    page = DashboardPage(browser, gateway.url)
    await page.open(token("operator", ttl_s=600))
    figures = await page.figures()
    assert figures["error"] is None, figures["error"]
    assert figures["panelErrors"] == []
    assert figures["overlay"][CAMERA] == {
        "zones": ["plaza", "kiosk-queue"],
        "lines": ["entrance", "lawn-path"],
    }

    # Every panel equals the API, and the API holds the known figures (not both empty).
    assert await check_footfall(gateway, figures["footfall"]) == {"entries": 3, "exits": 1}
    await check_zone_occupancy(gateway, figures["zoneOccupancy"])
    assert {r["zoneId"]: r["count"] for r in figures["zoneOccupancy"]} == {
        "plaza": "3",
        "kiosk-queue": "2",
    }
    await check_zone_history(gateway, figures["zoneHistory"])
    dwell = await check_dwell(gateway, figures["dwell"])
    assert {d["zoneId"]: d["visits"] for d in dwell} == {"plaza": 3, "kiosk-queue": 1}
    await check_queues(gateway, figures["queues"])
    await check_heatmap(gateway, figures["heatmap"])
    # The same grid laid over the camera's view, from the tile's Heatmap button.
    tile = await page.tile(CAMERA)
    await page.click("[data-action=heatmap]", tile)
    layer = await eventually(
        lambda: page.js(
            "const layer = document.querySelector('.tile .heat-layer');"
            "return layer.hidden ? null : JSON.parse(layer.dataset.series || 'null');"
        ),
        15,
        interval_s=0.2,
        message="the heatmap over the camera's view",
    )
    assert layer == figures["heatmap"]["chart"]
    stages = await check_funnel(gateway, figures["funnel"])
    assert [s["visits"] for s in stages] == [3, 3, 1]
    flows = await check_journeys(gateway, figures["journeys"])
    assert flows == {
        ("entrance", "plaza"): 3,
        ("plaza", "exit"): 2,
        ("plaza", "kiosk-queue"): 1,
        ("kiosk-queue", "exit"): 1,
    }
    await page.full_page_screenshot(screenshots / "analytics-panels.png")

    # Live: occupancy, the queue, a crossing and people in view move the page at once.
    now = datetime.now(UTC)
    publisher.publish(occupancy(now, "plaza", 5, 3))
    publisher.publish(queue(now, 4, 60.0))
    publisher.publish(crossing(now, 9, "entrance", "in", True))
    # The tracker's newest frame holds two people (people.js counts its tracked persons).
    for frame in detections(CAMERA, now, 2, persons=2):
        publisher.publish(frame)

    async def live_shown() -> dict[str, Any] | None:
        f = await page.figures()
        plaza = next(r for r in f["zoneOccupancy"] if r["zoneId"] == "plaza")
        (card,) = f["queues"]["cards"]
        shown = (plaza["count"], card.get("length"), f["footfall"]["in"], f["people"])
        return f if shown == ("5", "4", "4", "2") else None

    figures = await eventually(live_shown, 30, interval_s=0.3, message="the live figures")
    (card,) = figures["queues"]["cards"]
    assert float(card["estimatedWaitS"]) == 60.0
    assert figures["tilePeople"] == {CAMERA: "2"}
    await page.screenshot(screenshots / "analytics-live.png")
    await eventually(
        lambda: check_zone_occupancy_ready(gateway, figures["zoneOccupancy"]),
        30,
        interval_s=0.5,
        message="the live occupancy stored",
    )
    assert await check_footfall(gateway, figures["footfall"]) == {"entries": 4, "exits": 1}

    # People now follows the newest frame: one with no one in it counts 0.
    (empty,) = detections(CAMERA, datetime.now(UTC), 1, persons=0)
    publisher.publish(empty.model_copy(update={"frame_seq": 99}))
    await eventually(
        lambda: page.js("return document.getElementById('people').dataset.count === '0'"),
        15,
        interval_s=0.3,
        message="people now back to 0 with a frame with no one in it",
    )

    # Acknowledge the alert from the page; the API records it.
    (alert,) = figures["alerts"]
    assert alert["acknowledged"] == "false"
    await page.click(f'#alerts li[data-alert-id="{alert["alertId"]}"] button.ack')

    async def acknowledged() -> bool:
        data = await api(
            gateway,
            "query ($from: DateTime!, $to: DateTime!) { alerts(from: $from, to: $to)"
            " { nodes { id acknowledged acknowledgedBy } } }",
            {"from": (now - timedelta(days=1)).isoformat(), "to": datetime.now(UTC).isoformat()},
        )
        (node,) = data["alerts"]["nodes"]
        shown = await page.js(
            "return document.querySelector('#alerts li[data-alert-id]').dataset.acknowledged"
        )
        return node["id"] == alert["alertId"] and node["acknowledged"] is True and shown == "true"

    await eventually(acknowledged, 15, interval_s=0.3, message="the alert acknowledged")


async def check_zone_occupancy_ready(gateway: RunningGateway, rows: list[dict[str, str]]) -> bool:
    """check_zone_occupancy once ingest has caught up with what the page saw live."""
    try:
        await check_zone_occupancy(gateway, rows)
    except AssertionError:
        return False
    return True
