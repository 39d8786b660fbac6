"""Fixtures of the cluster tests: a real 3-node hub, stores on leaf nodes, and a store in a
network namespace whose WAN link is cut for 60 s.

The cut takes a minute whatever else happens, so the first test that uses `wan_cut`
(package-scoped; the hub tests name it with `usefixtures`) starts it, and it runs while
the other tests use the hub; test_wan_cut.py (last in file order) waits for it and checks
what arrived. Run alone, it simply waits.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devservices.nats_cluster import LocalNatsCluster, LocalNatsLeaf
from devservices.paths import REPO_ROOT
from tests.cluster.helpers import client, hub_count, join_store
from tests.cluster.netns import StoreSite
from tests.support.polling import eventually

CUT_S = 60.0
CUT_STORE = "store-cut"
CUT_CAMERAS = 3
CUT_RATE = 10.0  # frames per camera per second


@pytest.fixture(scope="package")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cluster")


@pytest.fixture(scope="package")
def store_site() -> Iterator[StoreSite]:
    """The namespace of the store whose link is cut (fails, with the reason, without root)."""
    site = StoreSite.create()
    try:
        yield site
    finally:
        site.close()


@pytest.fixture(scope="package")
def hub(cluster_dir: Path, store_site: StoreSite) -> Iterator[LocalNatsCluster]:
    """The hub: its leafnode listeners on the WAN side of the store site's link, which
    the loopback leaves reach too (a local address of this namespace)."""
    with LocalNatsCluster(cluster_dir / "hub", leaf_host=store_site.host_addr) as cluster:
        yield cluster


LeafFactory = Callable[[str], LocalNatsLeaf]


@pytest.fixture
def leaf_factory(hub: LocalNatsCluster, tmp_path: Path) -> Iterator[LeafFactory]:
    """`make(store_id)` -> a started leaf on loopback, linked to the hub."""
    leaves: list[LocalNatsLeaf] = []

    def make(store_id: str) -> LocalNatsLeaf:
        leaf = LocalNatsLeaf(
            tmp_path / f"leaf-{store_id}",
            store_id=store_id,
            hub_urls=hub.leaf_urls,
            log_path=tmp_path / f"leaf-{store_id}.log",
        )
        leaves.append(leaf)
        return leaf.start()

    yield make
    for leaf in leaves:
        leaf.close()


@dataclass
class WanCut:
    """The cut store's run: its publisher's reports and what the hub held meanwhile."""

    site: StoreSite
    leaf: LocalNatsLeaf
    publisher: subprocess.Popen[bytes]
    report: Path
    hub_urls: list[str]
    cut_at: float = 0.0
    restored_at: float = 0.0
    hub_early: int = -1  # the store's messages at the hub a few seconds into the cut
    hub_late: int = -1  # ... and just before the link came back
    error: BaseException | None = None
    _abort: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wan-cut", daemon=True)
        self._thread.start()

    def wait(self, timeout_s: float) -> None:
        assert self._thread is not None
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the WAN cut did not end"
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self._abort.set()
        if self._thread is not None:
            self._thread.join(10)

    def reports(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.report.read_text().splitlines() if line]

    def stored_at(self, moment: float) -> int:
        """Events the leaf had acked by `moment` (the last report before it)."""
        return max((r["stored"] for r in self.reports() if r["t"] <= moment), default=0)

    def _run(self) -> None:
        try:
            asyncio.run(self._cut())
        except BaseException as exc:  # reported by wait()
            self.error = exc
        finally:
            self.site.restore()

    async def _cut(self) -> None:
        async with client(self.hub_urls) as nc:
            self.site.cut()
            self.cut_at = time.time()
            # In-flight copies land within the first seconds; nothing after that.
            await asyncio.to_thread(self._abort.wait, 5)
            self.hub_early = await hub_count(nc, "DETECTIONS", CUT_STORE)
            await asyncio.to_thread(self._abort.wait, self.cut_at + CUT_S - 1 - time.time())
            self.hub_late = await hub_count(nc, "DETECTIONS", CUT_STORE)
            await asyncio.to_thread(self._abort.wait, self.cut_at + CUT_S - time.time())
            self.site.restore()
            self.restored_at = time.time()


def _spawn_publisher(
    site: StoreSite, leaf: LocalNatsLeaf, report: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    """tests/cluster/store_publisher.py as a process of the store's namespace."""
    command = [
        *site.exec_prefix(),
        sys.executable,
        "-m",
        "tests.cluster.store_publisher",
        "--url",
        leaf.local_url,
        "--store",
        CUT_STORE,
        "--cameras",
        str(CUT_CAMERAS),
        "--rate",
        str(CUT_RATE),
        "--report",
        str(report),
    ]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="package")
async def wan_cut(
    hub: LocalNatsCluster, store_site: StoreSite, cluster_dir: Path
) -> AsyncIterator[WanCut]:
    """The cut store: a leaf inside the namespace, the real EventPublisher publishing
    there (a process of the namespace), the link cut for CUT_S once the hub copies."""
    leaf = LocalNatsLeaf(
        cluster_dir / "leaf-cut",
        store_id=CUT_STORE,
        hub_urls=hub.leaf_urls,
        netns=store_site.name,
        reach_host=store_site.store_addr,
        log_path=cluster_dir / "leaf-cut.log",
    ).start()
    await join_store(hub, leaf)
    report = cluster_dir / "cut-publisher.jsonl"
    publisher = _spawn_publisher(store_site, leaf, report, cluster_dir / "cut-publisher.log")
    run = WanCut(store_site, leaf, publisher, report, hub.urls)
    try:
        async with client(hub.urls) as nc:
            await eventually(
                lambda: hub_count(nc, "DETECTIONS", CUT_STORE),
                30,
                interval_s=0.2,
                message="the hub copying the cut store before the cut",
            )
        run.start()
        yield run
    finally:
        run.abort()
        if publisher.poll() is None:
            publisher.kill()
            publisher.wait(10)
        leaf.close()
