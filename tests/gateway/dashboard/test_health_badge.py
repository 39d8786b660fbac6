"""The dashboard's health badge in a real headless Chromium: the gateway's own readiness
as its state, and every other part of the system (gateway/health_probes.py) in its text,
its tooltip and, on click, its details list, each part with its reason."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from selenium import webdriver

from gateway.config import HealthSettings
from tests.gateway.helpers import RunningGateway, running_gateway, settings, wait_schema
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually

pytestmark = pytest.mark.timeout(120)

BADGE = """
  const badge = document.getElementById('health');
  const details = document.getElementById('health-details');
  return {state: badge.dataset.state, system: badge.dataset.system, text: badge.textContent,
          title: badge.title, hidden: details.hidden,
          items: [...details.querySelectorAll('li')].map(li => [li.textContent,
                                                               li.dataset.status || null])};"""


@pytest.fixture
async def gateway(database_url: str, nats_server: NatsServer) -> AsyncIterator[RunningGateway]:
    """A gateway whose store has no identity service running: that part is down."""
    health = HealthSettings(interval_s=0.3, timeout_s=1.0, triton=False, identity=True)
    async with running_gateway(settings(database_url, nats_server.url, health=health)) as gw:
        await wait_schema(gw.gateway)
        yield gw


async def badge(driver: webdriver.Chrome) -> dict[str, Any]:
    state: dict[str, Any] = await asyncio.to_thread(driver.execute_script, BADGE)
    return state


async def test_badge_lists_every_part_with_its_reason(
    gateway: RunningGateway, browser: webdriver.Chrome
) -> None:
    await asyncio.to_thread(browser.get, f"{gateway.url}/dashboard/")

    async def identity_down_shown() -> dict[str, Any] | None:
        state = await badge(browser)
        return state if "identity down" in state["text"] else None

    state = await eventually(identity_down_shown, 30, interval_s=0.3, message="identity down")
    assert state["state"] == "ok", state  # the gateway itself is ready
    assert state["system"] == "down", state
    assert "identity: down (no identity service for store" in state["title"], state
    assert "ingest: " in state["title"], state
    assert state["hidden"] is True, state

    await asyncio.to_thread(browser.execute_script, "document.getElementById('health').click()")
    opened = await badge(browser)
    assert opened["hidden"] is False, opened
    items = dict(opened["items"])
    assert any(text.startswith("gateway: database ok") for text in items), opened
    identity = next(text for text in items if text.startswith("identity:"))
    assert items[identity] == "down" and "no identity service" in identity, opened
