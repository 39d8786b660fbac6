"""`python -m trinetra.events.hub`: adding a store is idempotent, removing it stops the
copying, a store id that cannot be a JetStream domain is refused with the reason."""

from __future__ import annotations

import subprocess
import sys

import pytest

from devservices.nats_cluster import LocalNatsCluster
from devservices.paths import REPO_ROOT
from tests.cluster.helpers import client
from trinetra.events.hub import STORE_STREAMS, hub_stores

pytestmark = pytest.mark.timeout(120)


def _hub(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trinetra.events.hub", "--nats-url", url, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_stores_are_added_once_and_removed(hub: LocalNatsCluster) -> None:
    for _ in range(2):
        added = _hub(hub.url, "add-store", "cli-1", "cli-2")
        assert added.returncode == 0, added.stderr
    async with client(hub.urls) as nc:
        js = nc.jetstream(timeout=10)
        assert {"cli-1", "cli-2"} <= await hub_stores(js)
        for spec in STORE_STREAMS:
            sources = (await js.stream_info(spec.name)).config.sources or ()
            apis = [s.external.api for s in sources if s.external is not None]
            assert sorted(a for a in apis if ".cli-" in a) == [
                "$JS.cli-1.API",
                "$JS.cli-2.API",
            ]
        status = _hub(hub.url, "status")
        assert status.returncode == 0 and "$JS.cli-1.API" in status.stdout, status.stderr
        removed = _hub(hub.url, "remove-store", "cli-2")
        assert removed.returncode == 0, removed.stderr
        stores = await hub_stores(js)
        assert "cli-1" in stores and "cli-2" not in stores


def test_a_store_id_that_is_no_domain_is_refused(hub: LocalNatsCluster) -> None:
    result = _hub(hub.url, "add-store", "blr.01")
    assert result.returncode == 2
    assert "store_id 'blr.01' cannot name a JetStream domain" in result.stderr
