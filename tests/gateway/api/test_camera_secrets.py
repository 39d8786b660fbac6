"""Camera secrets never reach a viewer (issue 14, defect 5): a password in a source's
query string (?password=...&token=...) was shown to viewers. Every place the API shows a
source masks it with trinetra.config.secrets.mask_source."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.gateway.helpers import STORE, RunningGateway
from tests.support.polling import eventually
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import CameraStatusEvent

pytestmark = pytest.mark.timeout(120)

SECRETS = ("hunter2", "pw-in-query", "tok-in-query", "sig-in-query")
SOURCE = (
    "rtsp://admin:hunter2@192.168.1.20:554/stream1"
    "?channel=1&password=pw-in-query&token=tok-in-query&X-Amz-Signature=sig-in-query"
)
MASKED = (
    "rtsp://admin:***@192.168.1.20:554/stream1?channel=1&password=***&token=***&X-Amz-Signature=***"
)
CAMERA = "{ id config statusReason }"
REGISTER = f"mutation($config: JSON!) {{ registerCamera(config: $config) {CAMERA} }}"
UPDATE = (
    f"mutation($id: String!, $patch: JSON!) {{ updateCamera(id: $id, patch: $patch) {CAMERA} }}"
)


def assert_no_secret(body: object) -> None:
    text = json.dumps(body)
    for secret in SECRETS:
        assert secret not in text, (secret, text)


async def test_viewers_never_see_a_source_secret(
    gateway: RunningGateway, publisher: EventPublisher
) -> None:
    config = {"id": "door", "name": "Door", "role": "entrance", "source": SOURCE}
    registered = await gateway.graphql(REGISTER, {"config": config}, scopes=("operator",))
    assert registered["data"]["registerCamera"]["config"]["source"] == MASKED
    assert_no_secret(registered)
    updated = await gateway.graphql(
        UPDATE, {"id": "door", "patch": {"name": "Front door"}}, scopes=("operator",)
    )
    assert updated["data"]["updateCamera"]["config"]["source"] == MASKED
    assert_no_secret(updated)

    # A status reason quoting the raw source (an older node, a library's message).
    publisher.publish(
        CameraStatusEvent(
            camera_id="door",
            store_id=STORE,
            occurred_at=datetime.now(UTC),
            state="error",
            reason=f"cannot open {SOURCE}: 401 for password hunter2",
            reconnect_attempt=1,
        )
    )
    assert await publisher.flush(10)

    async def shown() -> dict[str, Any] | None:
        body = await gateway.graphql(f"{{ cameras {CAMERA} }}", scopes=("viewer",))
        cameras = body["data"]["cameras"]
        return body if cameras and cameras[0]["statusReason"] else None

    listed = await eventually(shown, 30, message="the status reason stored")
    assert_no_secret(listed)
    (camera,) = listed["data"]["cameras"]
    assert camera["config"]["source"] == MASKED
    assert camera["statusReason"] == f"cannot open {MASKED}: 401 for password ***"
    one = await gateway.graphql(f'{{ camera(id: "door") {CAMERA} }}', scopes=("viewer",))
    assert one["data"]["camera"]["config"]["source"] == MASKED
    assert_no_secret(one)

    async with gateway.gateway.db.connection() as conn:
        audit = await conn.fetch("SELECT target, reason, details FROM audit_log")
        stored = await conn.fetchval("SELECT config->>'source' FROM cameras")
    assert_no_secret([dict(r) for r in audit])
    assert stored == SOURCE  # the node needs the real one


async def test_a_refused_source_is_not_echoed(gateway: RunningGateway) -> None:
    """A source refused by the SSRF rules: the error names the field, not the URL."""
    source = "http://admin:hunter2@169.254.169.254/latest?token=tok-in-query"
    config = {"id": "door", "name": "Door", "role": "entrance", "source": source}
    refused = await gateway.graphql(REGISTER, {"config": config}, scopes=("operator",))
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert [f["field"] for f in refused["errors"][0]["extensions"]["fields"]] == ["source"]
    assert_no_secret(refused)
