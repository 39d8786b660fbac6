"""The dashboard page as the browser tests drive it: every selenium call runs in a thread
(the gateway under test serves from this same event loop), and the page's figures are
read from the stable ids and data attributes the panels put on their elements."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.support.polling import eventually

# Everything a panel shows, as the page's own data attributes (strings) and the JSON of
# what each chart plots (`data-series`).
READ_FIGURES = """
const byId = (id) => document.getElementById(id);
const rows = (id) => [...byId(id).tBodies[0].rows]
  .filter((row) => !row.querySelector('.empty')).map((row) => ({...row.dataset}));
const series = (id) => JSON.parse(byId(id).dataset.series || 'null');
const range = (id) => ({from: byId(id).dataset.from, to: byId(id).dataset.to});
return {
  footfall: {in: byId('footfall-in').dataset.value, out: byId('footfall-out').dataset.value,
             lines: rows('footfall-lines'), chart: series('footfall-chart'),
             range: range('footfall-panel'),
             timeZone: byId('footfall-panel').dataset.timeZone},
  zoneOccupancy: rows('zone-occupancy'),
  zoneHistory: {chart: series('zone-occupancy-history'),
                range: range('zone-occupancy-history-panel')},
  dwell: {rows: rows('dwell'), chart: series('dwell-chart'), range: range('dwell-panel')},
  queues: {cards: [...document.querySelectorAll('#queues .card')].map((c) => ({...c.dataset})),
           chart: series('queue-chart'), range: range('queue-panel')},
  heatmap: {chart: series('heatmap-chart'), range: range('heatmap-panel'),
            cameraId: byId('heatmap-panel').dataset.cameraId},
  funnel: {rows: rows('funnel'), range: range('funnel-panel'),
           funnelId: byId('funnel-panel').dataset.funnelId},
  journeys: {rows: rows('journeys'), chart: series('journeys-chart'),
             range: range('journeys-panel')},
  people: byId('people').dataset.count,
  tilePeople: Object.fromEntries([...document.querySelectorAll('.tile')]
    .map((t) => [t.dataset.camera, t.querySelector('.people').dataset.count])),
  alerts: [...document.querySelectorAll('#alerts li[data-alert-id]')]
    .map((li) => ({...li.dataset})),
  overlay: Object.fromEntries([...document.querySelectorAll('.tile')].map((t) => [
    t.dataset.camera, {
      zones: [...t.querySelectorAll('svg.overlay g.zone')].map((g) => g.dataset.zoneId),
      lines: [...t.querySelectorAll('svg.overlay g.line')].map((g) => g.dataset.lineId)}])),
  configVersion: document.body.dataset.configVersion,
  refreshed: Number(document.body.dataset.panelsRefreshed || 0),
  panelErrors: [...document.querySelectorAll('.panel-error')].filter((e) => !e.hidden)
    .map((e) => `${e.closest('.panel').id}: ${e.textContent}`),
  error: byId('error').hidden ? null : byId('error').textContent,
};
"""


class DashboardPage:
    def __init__(self, driver: webdriver.Chrome, base_url: str) -> None:
        self.driver = driver
        self.base_url = base_url

    async def js(self, script: str, *args: object) -> Any:
        return await asyncio.to_thread(self.driver.execute_script, script, *args)

    async def open(self, bearer: str) -> None:
        await asyncio.to_thread(self.driver.get, f"{self.base_url}/dashboard/#token={bearer}")
        await eventually(
            lambda: self.js("return document.body.dataset.ready === '1'"),
            30,
            interval_s=0.2,
            message="the dashboard loaded its panels",
        )

    async def figures(self) -> dict[str, Any]:
        figures: dict[str, Any] = await self.js(READ_FIGURES)
        return figures

    async def refreshed_after(self, count: int, timeout_s: float = 60) -> dict[str, Any]:
        """The figures once the panels have refreshed more than `count` times."""

        async def newer() -> dict[str, Any] | None:
            figures = await self.figures()
            return figures if figures["refreshed"] > count else None

        return await eventually(newer, timeout_s, interval_s=0.5, message="a panel refresh")

    async def element(self, css: str, within: WebElement | None = None) -> WebElement:
        root = within or self.driver
        return await asyncio.to_thread(root.find_element, By.CSS_SELECTOR, css)

    async def click(self, css: str, within: WebElement | None = None) -> None:
        target = await self.element(css, within)
        await asyncio.to_thread(target.click)

    async def tile(self, camera_id: str) -> WebElement:
        return await self.element(f'.tile[data-camera="{camera_id}"]')

    async def click_view(self, tile: WebElement, x: float, y: float) -> None:
        """Clicks the camera's view at normalized frame coordinates (x, y)."""
        overlay = await self.element("svg.overlay", tile)
        # A pointer's offset is from the centre of the element's part in view: bring all of
        # it into view first, so that centre is the view's own.
        fits = await self.js(
            "arguments[0].scrollIntoView({block: 'center'});"
            "const r = arguments[0].getBoundingClientRect();"
            "return r.top >= 0 && r.bottom <= window.innerHeight;",
            overlay,
        )
        assert fits, "the camera view is taller than the browser window"
        size = await asyncio.to_thread(lambda: overlay.size)
        dx = round((x - 0.5) * size["width"])
        dy = round((y - 0.5) * size["height"])

        def perform() -> None:
            ActionChains(self.driver).move_to_element_with_offset(overlay, dx, dy).click().perform()

        await asyncio.to_thread(perform)

    async def type_into(self, css: str, text: str, within: WebElement | None = None) -> None:
        field = await self.element(css, within)
        await asyncio.to_thread(field.clear)
        await asyncio.to_thread(field.send_keys, text)

    async def screenshot(self, path: Path) -> Path:
        await asyncio.to_thread(self.driver.save_screenshot, str(path))
        print(f"screenshot: {path}")
        return path

    async def full_page_screenshot(self, path: Path) -> Path:
        """The whole page, not only the window: the window is grown to the page's height."""
        height = int(await self.js("return document.documentElement.scrollHeight"))
        size = await asyncio.to_thread(self.driver.get_window_size)
        await asyncio.to_thread(self.driver.set_window_size, size["width"], max(height, 600))
        await asyncio.sleep(0.5)  # charts resize on the next frame
        try:
            return await self.screenshot(path)
        finally:
            await asyncio.to_thread(self.driver.set_window_size, size["width"], size["height"])
