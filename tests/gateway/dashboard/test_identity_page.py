"""The privacy officers' identity page in a real headless Chromium, against the real
identity service (its face gallery in Qdrant local mode, the CPU Triton's models) behind
the real gateway: a privacy officer enrols a customer from a photo, sees a refused photo's
reason next to it, finds the customer in the audit trail by id, and erases them; the
gallery holds them, then no longer does. An operator's token gets no identity data."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from identity.config import AuditConfig, GalleryConfig, IdentityConfig, ServiceConfig
from identity.service import IdentityService
from tests.gateway.dashboard.page import DashboardPage
from tests.gateway.helpers import STORE, RunningGateway, token
from tests.support.media import media_path
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.triton_server import LocalTriton
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.streams import IDENTITY_STREAMS
from trinetra.inference import TritonSettings, VisionClient

pytestmark = pytest.mark.timeout(240)

CUSTOMER = "c-1042"
READ_PAGE = """
const rows = (id) => [...document.querySelectorAll(`#${id} tbody tr`)]
  .filter((r) => !r.querySelector('.empty')).map((r) => ({...r.dataset}));
const status = (id) => ({...document.getElementById(id).dataset,
                         text: document.getElementById(id).textContent});
const errors = Object.fromEntries([...document.querySelectorAll('#enroll-form .field-error')]
  .filter((e) => e.textContent).map((e) => [e.dataset.for, e.textContent]));
return {customers: rows('customers'), audit: rows('audit'), enroll: status('enroll-status'),
        erase: status('erase-status'), enrollErrors: errors,
        refreshed: Number(document.body.dataset.refreshed || 0),
        error: document.getElementById('error').hidden ? null
               : document.getElementById('error').textContent};
"""


@pytest.fixture
async def identity_service(
    triton_server: LocalTriton, nats_server: NatsServer, tmp_path: Path
) -> AsyncIterator[IdentityService]:
    """The store's identity service, answering the gateway over NATS."""
    config = ServiceConfig(
        store_id=STORE,
        nats_servers=(nats_server.url,),
        identity=IdentityConfig(
            gallery=GalleryConfig(path=str(tmp_path / "gallery")),
            audit=AuditConfig(path=tmp_path / "identity-audit.jsonl"),
        ),
    )
    connection = NatsConnection(nats_server.url, reconnect_time_wait_s=0.05)
    publisher = EventPublisher(connection, streams=IDENTITY_STREAMS, ack_timeout_s=2.0)
    async with VisionClient(
        TritonSettings(url=triton_server.grpc_url, call_timeout_s=30)
    ) as vision:
        service = IdentityService(
            config, analyzer=vision, connection=connection, publisher=publisher
        )
        try:
            await service.start()
            assert await service.wait_ready(20)
            yield service
        finally:
            await service.close()
            await publisher.close(timeout_s=2.0)
            await connection.close()


async def enrolled(service: IdentityService, customer: str) -> bool:
    found = await service.lookup(customer, actor="test", reason="checking the gallery")
    return found.enrolled


class IdentityPage(DashboardPage):
    async def open_identity(self, bearer: str) -> None:
        await asyncio.to_thread(self.driver.get, self.identity_url(bearer))
        await eventually(
            lambda: self.js("return document.body.dataset.ready === '1'"),
            30,
            interval_s=0.2,
            message="the identity page loaded",
        )

    def identity_url(self, bearer: str) -> str:
        return f"{self.base_url}/dashboard/static/identity.html#token={bearer}"

    async def state(self) -> dict[str, Any]:
        state: dict[str, Any] = await self.js(READ_PAGE)
        return state

    async def submit(self, form: str, fields: dict[str, str]) -> int:
        """Fills and submits a form; the page's refresh count before it."""
        before = int((await self.state())["refreshed"])
        root = await self.element(form)
        for name, value in fields.items():
            field = await self.element(f"[name={name}]", root)
            if name != "photo":  # a file input takes a path and cannot be cleared
                await self.type_into(f"[name={name}]", value, root)
            else:
                await asyncio.to_thread(field.send_keys, value)
        await self.click("button[type=submit]", root)
        return before

    async def after_refresh(self, before: int) -> dict[str, Any]:
        async def refreshed() -> dict[str, Any] | None:
            state = await self.state()
            return state if state["refreshed"] > before else None

        return await eventually(refreshed, 90, interval_s=0.3, message="the page refreshed")


def customer_entries(state: dict[str, Any]) -> list[dict[str, str]]:
    """The audit trail's enrolments and erasures, newest first."""
    return [e for e in state["audit"] if e["action"].startswith("customer.")]


def photo_of_a_wall(path: Path) -> Path:
    """A photo with no face in it."""
    image = np.full((480, 640, 3), 180, np.uint8)
    cv2.rectangle(image, (100, 100), (540, 380), (90, 120, 150), -1)
    assert cv2.imwrite(str(path), image)
    return path


async def test_a_privacy_officer_enrols_and_erases_a_customer(
    gateway: RunningGateway,
    identity_service: IdentityService,
    browser: webdriver.Chrome,
    screenshots: Path,
    tmp_path: Path,
) -> None:
    page = IdentityPage(browser, gateway.url)
    await page.open(token("privacy_officer", sub="dpo", ttl_s=900))
    link = await page.element("#identity-link")
    assert await page.js("return !arguments[0].hidden", link)  # offered to privacy officers
    await page.open_identity(token("privacy_officer", sub="dpo", ttl_s=900))
    assert (await page.state())["error"] is None

    before = await page.submit(
        "#enroll-form",
        {
            "customer": CUSTOMER,
            "photo": str(media_path("obama.jpg")),
            "reason": "loyalty sign-up, consent form 17",
        },
    )
    state = await page.after_refresh(before)
    assert state["enroll"]["outcome"] == "ok", state
    assert state["enroll"]["text"].startswith(f"Enrolled {CUSTOMER}: slot 0, 1 embedding"), state
    assert await enrolled(identity_service, CUSTOMER)
    (customer,) = state["customers"]
    assert customer["state"] == "enrolled", state
    assert [(e["action"], e["outcome"]) for e in customer_entries(state)] == [
        ("customer.enroll", "ok")
    ]
    assert CUSTOMER not in str(state["audit"])  # the trail names customers by hash
    await page.screenshot(screenshots / "identity-enrolled.png")

    # A photo without a face: the identity service's reason next to the photo.
    before = await page.submit(
        "#enroll-form",
        {
            "customer": "c-1043",
            "photo": str(photo_of_a_wall(tmp_path / "wall.png")),
            "reason": "loyalty sign-up, consent form 18",
        },
    )
    state = await page.after_refresh(before)
    assert state["enroll"]["outcome"] == "failed", state
    assert "photo" in state["enrollErrors"] and "face" in state["enrollErrors"]["photo"], state
    assert not await enrolled(identity_service, "c-1043")
    assert [c["state"] for c in state["customers"]] == ["refused", "enrolled"], state
    await page.screenshot(screenshots / "identity-refused-photo.png")

    # Erase them.
    before = await page.submit(
        "#erase-form", {"customer": CUSTOMER, "reason": "erasure request #99"}
    )
    state = await page.after_refresh(before)
    assert state["erase"]["outcome"] == "ok", state
    assert state["erase"]["text"].startswith(f"Erased {CUSTOMER}: 1 embedding removed"), state
    assert not await enrolled(identity_service, CUSTOMER)
    assert [c["state"] for c in state["customers"]] == ["erased", "refused"], state
    assert [e["action"] for e in customer_entries(state)] == [
        "customer.erase",
        "customer.enroll",
        "customer.enroll",
    ]

    # Their trail, found by their id.
    await page.type_into("#audit-filter [name=customer]", CUSTOMER)
    await page.click("#audit-filter button[type=submit]")

    async def trail() -> list[dict[str, str]] | None:
        rows: list[dict[str, str]] = (await page.state())["audit"]
        return rows if len(rows) == 2 else None

    rows = await eventually(trail, 15, interval_s=0.3, message="the customer's trail")
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("customer.erase", "ok"),
        ("customer.enroll", "ok"),
    ]
    shown = await page.js("return document.querySelector('#audit tbody').textContent")
    assert CUSTOMER in shown  # the id the officer typed, beside its hash
    await page.full_page_screenshot(screenshots / "identity-erased.png")

    # An operator is offered no identity page, and the page shows them no identity data.
    await page.open(token("operator", ttl_s=600))
    assert await page.js("return document.getElementById('identity-link').hidden")
    await asyncio.to_thread(browser.get, page.identity_url(token("operator")))
    error = await eventually(
        lambda: page.js(
            "const e = document.getElementById('error'); return e.hidden ? null : e.textContent"
        ),
        30,
        message="the identity page refused",
    )
    assert "privacy_officer" in error, error
    assert not browser.find_elements(By.CSS_SELECTOR, "#audit tbody tr[data-action]")
