"""The identity service's health: the `health` subject over a real nats-server (what the
gateway's probe asks) and its optional HTTP /health, /ready and /metrics endpoint."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import nats
import pytest

from tests.identity.test_service import STORE, running_service, service_config
from trinetra.identity.client import IdentityServiceClient
from trinetra.identity.errors import IdentityServiceUnavailableError
from trinetra.identity.protocol import service_subject
from trinetra.inference import TritonSettings, VisionClient

pytestmark = pytest.mark.timeout(60)


async def test_health_subject_and_http_endpoint(nats_url: str, tmp_path: Path) -> None:
    config = service_config(tmp_path, nats_url).model_copy(update={"health_port": 0})
    # Health never runs a model: a client of a Triton that is not there is enough.
    async with VisionClient(TritonSettings(url="127.0.0.1:1")) as vision:
        nc = await nats.connect(nats_url)
        try:
            client = IdentityServiceClient(nc, store_id=STORE)
            async with running_service(config, vision) as service:
                result = await client.health()
                assert (result.store_id, result.ready, result.active_identities) == (
                    STORE,
                    True,
                    0,
                )
                assert result.uptime_s > 0 and result.events_pending == 0
                subject = service_subject(STORE, "health")
                empty = json.loads((await nc.request(subject, b"", timeout=5)).data)
                assert empty["ok"] is True and empty["result"]["store_id"] == STORE
                unknown = json.loads((await nc.request(subject, b'{"x": 1}', timeout=5)).data)
                assert unknown["error"]["code"] == "bad_request"

                assert service.health is not None
                base = f"http://127.0.0.1:{service.health.port}"
                async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
                    ready = await http.get("/ready")
                    assert ready.status_code == 200, ready.text
                    assert ready.json()["ready"] is True and ready.json()["nats_connected"]
                    assert (await http.get("/health")).json()["store_id"] == STORE
                    assert "trinetra_identity_" in (await http.get("/metrics")).text

            # Stopped: the probe learns it at once (no responders), not after a timeout.
            started = time.monotonic()
            with pytest.raises(IdentityServiceUnavailableError, match="no identity service"):
                await client.health(timeout_s=5)
            assert time.monotonic() - started < 2
        finally:
            await nc.close()
