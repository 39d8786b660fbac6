"""The zone editor in a real headless Chromium: an operator draws a zone and a counting
line by clicking on a camera's view, and the configuration API holds exactly what was
drawn; an invalid polygon shows the API's error next to the shape and stores nothing;
a zone is edited and a line deleted from the page."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.support.ui import Select

from tests.gateway.dashboard.page import DashboardPage
from tests.gateway.dashboard.scenario import CAMERA, configure
from tests.gateway.helpers import RunningGateway, token
from tests.support.polling import eventually
from trinetra.config.camera import CameraConfig

pytestmark = pytest.mark.timeout(180)

CONFIG = """{ analyticsConfig { version
  zones { id cameraId name kind polygon capacity }
  lines { id cameraId name points inSide countsStoreEntry } } }"""
TILL = [(0.10, 0.70), (0.40, 0.68), (0.42, 0.95), (0.08, 0.93)]
LAWN_EXIT = [(0.20, 0.88), (0.45, 0.86)]
BOWTIE = [(0.75, 0.80), (0.95, 0.95), (0.95, 0.80), (0.75, 0.95)]  # edges 0 and 2 cross
TOLERANCE = 0.01  # a click lands on a whole pixel of a ~900 px wide view


@pytest.fixture
async def store(gateway: RunningGateway) -> dict[str, Any]:
    camera = CameraConfig(id=CAMERA, name="Entrance", role="entrance", source="rtsp://10.0.0.5/1")
    await gateway.data(
        "mutation ($c: JSON!) { registerCamera(config: $c) { id } }",
        {"c": camera.model_dump(mode="json")},
        scopes=("operator",),
    )
    return await configure(gateway)


async def config(gateway: RunningGateway) -> dict[str, Any]:
    data = await gateway.data(CONFIG, scopes=("viewer",))
    current: dict[str, Any] = data["analyticsConfig"]
    return current


def near(drawn: list[list[float]], clicked: list[tuple[float, float]]) -> bool:
    return len(drawn) == len(clicked) and all(
        abs(x - cx) <= TOLERANCE and abs(y - cy) <= TOLERANCE
        for (x, y), (cx, cy) in zip(drawn, clicked, strict=True)
    )


_TILE = f'.tile[data-camera="{CAMERA}"]'


async def hint_says(page: DashboardPage, part: str) -> bool:
    """The editor's hint line (where it reports each save) mentions `part`."""
    text: str = await page.js(f"return document.querySelector('{_TILE} .hint').textContent")
    return part in text


async def test_the_zone_editor_saves_what_is_drawn(
    gateway: RunningGateway,
    store: dict[str, Any],
    browser: webdriver.Chrome,
    screenshots: Path,
) -> None:
    page = DashboardPage(browser, gateway.url)
    await page.open(token("operator", ttl_s=600))
    tile = await page.tile(CAMERA)
    await page.click("[data-action=zones]", tile)

    # A checkout zone: four corners, closed by clicking the first one again.
    await page.click("[data-action=new-zone]", tile)
    for x, y in [*TILL, TILL[0]]:
        await page.click_view(tile, x, y)
    await page.type_into("form [data-field=name]", "Till 2", tile)
    kind = await page.element("form [data-field=kind]", tile)
    await asyncio.to_thread(lambda: Select(kind).select_by_value("checkout"))
    await page.type_into("form [data-field=capacity]", "4", tile)
    await page.screenshot(screenshots / "zone-editor-drawing.png")
    await page.click("form [data-action=save]", tile)
    await eventually(lambda: hint_says(page, "Saved zone till-2"), 15, message="the zone saved")
    saved = await config(gateway)
    till = next(z for z in saved["zones"] if z["id"] == "till-2")
    assert (till["cameraId"], till["name"], till["kind"], till["capacity"]) == (
        CAMERA,
        "Till 2",
        "checkout",
        4,
    )
    assert near(till["polygon"], TILL), till["polygon"]
    assert saved["version"] == store["version"] + 1
    figures = await page.figures()
    assert "till-2" in figures["overlay"][CAMERA]["zones"]
    assert figures["configVersion"] == str(saved["version"])

    # A directed line: two clicks, its "in" side flipped to the left of a -> b.
    await page.click("[data-action=new-line]", tile)
    for x, y in LAWN_EXIT:
        await page.click_view(tile, x, y)
    await page.type_into("form [data-field=name]", "Lawn exit", tile)
    await page.click("form [data-action=flip]", tile)
    await page.click("form [data-action=save]", tile)
    await eventually(lambda: hint_says(page, "Saved line lawn-exit"), 15, message="the line saved")
    saved = await config(gateway)
    line = next(ln for ln in saved["lines"] if ln["id"] == "lawn-exit")
    assert (line["cameraId"], line["inSide"], line["countsStoreEntry"]) == (CAMERA, "left", False)
    assert near(line["points"], LAWN_EXIT), line["points"]

    # A self-intersecting polygon: the API's error is shown next to the shape, and
    # nothing is stored.
    await page.click("[data-action=new-zone]", tile)
    for x, y in BOWTIE:
        await page.click_view(tile, x, y)
    await page.click("[data-action=close-shape]", tile)
    await page.type_into("form [data-field=name]", "Bowtie", tile)
    await page.click("form [data-action=save]", tile)

    async def shape_error() -> str:
        text: str = await page.js(
            f"return document.querySelector('{_TILE} .field-error[data-for=shape]').textContent"
        )
        return text

    error = await eventually(shape_error, 15, message="the polygon's error shown")
    assert "self-intersecting" in error, error
    await page.screenshot(screenshots / "zone-editor-error.png")
    assert await config(gateway) == saved
    await page.click("form [data-action=cancel]", tile)

    # Edit the zone's capacity from the list, then delete the line.
    await page.click('.shapes li[data-shape-id="till-2"] [data-action=edit]', tile)
    await page.type_into("form [data-field=capacity]", "6", tile)
    await page.click("form [data-action=save]", tile)
    await eventually(lambda: hint_says(page, "Saved zone till-2"), 15, message="the zone edited")
    await page.click('.shapes li[data-shape-id="lawn-exit"] [data-action=delete]', tile)
    await eventually(
        lambda: hint_says(page, "Deleted line lawn-exit"), 15, message="the line deleted"
    )
    final = await config(gateway)
    till = next(z for z in final["zones"] if z["id"] == "till-2")
    assert till["capacity"] == 6
    assert near(till["polygon"], TILL)  # editing the fields kept the drawn shape
    assert "lawn-exit" not in {ln["id"] for ln in final["lines"]}
    assert final["version"] == saved["version"] + 2
    figures = await page.figures()
    assert "lawn-exit" not in figures["overlay"][CAMERA]["lines"]
    await page.screenshot(screenshots / "zone-editor-saved.png")
