"""The hub and the stores, locally: a 3-node JetStream cluster and leaf nodes in their own
JetStream domains (trinetra.events.hub has the topology), all real `nats-server`s.

    with LocalNatsCluster(base_dir) as hub:                  # routes, JetStream, file store
        leaf = LocalNatsLeaf(dir, store_id="blr-01", hub_urls=hub.leaf_urls).start()

Each server is a `NatsServer` (devservices/nats.py: lifecycle, readiness on /healthz,
ports kept across restarts) run from a configuration file, which is JSON: nats-server's
format is a superset of it. A leaf may run in a network namespace (`netns`, made by the
caller): then it listens on every address of that namespace, which only the namespace
has, and is found through `reach_host`. deploy/nats/ holds the production forms.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from devservices.lifecycle import LocalService
from devservices.nats import NatsServer
from devservices.ports import free_port
from trinetra.events.hub import HUB_DOMAIN, leaf_deny_imports, store_domain

__all__ = ["LocalNatsCluster", "LocalNatsLeaf", "NatsNode"]

# Short pings: a dead WAN link (no FIN, no RST) is noticed in ~3 intervals, and a leaf
# link that comes back is used at once instead of after TCP's retransmission backoff.
TEST_PING_INTERVAL_S = 2.0
TEST_PING_MAX = 3


class NatsNode(NatsServer):
    """A nats-server started from a configuration file (written before each start)."""

    def __init__(
        self,
        store_dir: Path,
        *,
        server_name: str,
        log_path: Path | None = None,
        ping_interval_s: float = TEST_PING_INTERVAL_S,
    ) -> None:
        super().__init__(store_dir, log_path=log_path)
        self.server_name = server_name
        self.ping_interval_s = ping_interval_s
        self.config_path = store_dir / "nats-server.conf"

    def config(self) -> dict[str, Any]:
        """The server's configuration (subclasses add their blocks)."""
        return {
            "server_name": self.server_name,
            "host": "127.0.0.1",
            "port": self.port,
            "http": f"127.0.0.1:{self.monitor_port}",
            "ping_interval": f"{self.ping_interval_s:g}s",
            "ping_max": TEST_PING_MAX,
            "jetstream": {"store_dir": str(self.store_dir / "jetstream")},
        }

    def monitor(self, path: str) -> dict[str, Any]:
        """A monitoring endpoint's JSON (`/leafz`, `/jsz?...`)."""
        url = f"http://{self.monitor_host}:{self.monitor_port}{path}"
        with urllib.request.urlopen(url, timeout=2.0) as response:
            body: dict[str, Any] = json.loads(response.read())
            return body

    def _prepare(self) -> None:
        super()._prepare()
        self.config_path.write_text(json.dumps(self.config(), indent=2) + "\n")

    def _command(self) -> list[str]:
        return [self.binary, "--config", str(self.config_path)]


class _HubNode(NatsNode):
    def __init__(
        self,
        store_dir: Path,
        *,
        server_name: str,
        cluster: LocalNatsCluster,
        index: int,
        log_path: Path | None,
        ping_interval_s: float,
    ) -> None:
        super().__init__(
            store_dir, server_name=server_name, log_path=log_path, ping_interval_s=ping_interval_s
        )
        self._cluster = cluster
        self._index = index

    def config(self) -> dict[str, Any]:
        config = super().config()
        cluster = self._cluster
        config["jetstream"]["domain"] = cluster.domain
        config["cluster"] = {
            "name": cluster.cluster_name,
            "host": "127.0.0.1",
            "port": cluster.route_ports[self._index],
            "routes": [
                f"nats-route://127.0.0.1:{port}"
                for i, port in enumerate(cluster.route_ports)
                if i != self._index
            ],
        }
        config["leafnodes"] = {"host": cluster.leaf_host, "port": cluster.leaf_ports[self._index]}
        return config


class LocalNatsCluster(LocalService):
    """`size` clustered JetStream servers on loopback (routes, file store, domain `hub`);
    their leafnode listeners on `leaf_host` (a WAN-side address for leaves elsewhere)."""

    name = "nats-cluster"
    start_timeout_s = 30.0

    def __init__(
        self,
        base_dir: Path,
        *,
        size: int = 3,
        name: str = "trinetra-hub",
        domain: str = HUB_DOMAIN,
        leaf_host: str = "127.0.0.1",
        ping_interval_s: float = TEST_PING_INTERVAL_S,
    ) -> None:
        super().__init__()
        if size < 1:
            raise ValueError("size must be >= 1")
        self.cluster_name = name
        self.domain = domain
        self.leaf_host = leaf_host
        self.route_ports = [free_port() for _ in range(size)]
        self.leaf_ports = [free_port() for _ in range(size)]
        self.nodes: list[NatsNode] = [
            _HubNode(
                base_dir / f"hub-{i}",
                server_name=f"{name}-{i}",
                cluster=self,
                index=i,
                log_path=base_dir / f"hub-{i}.log",
                ping_interval_s=ping_interval_s,
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        """Client URLs of every node (clients fail over between them)."""
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The client URLs comma-separated, as `TRINETRA_NATS_URL` takes them."""
        return ",".join(self.urls)

    @property
    def leaf_urls(self) -> list[str]:
        return [f"nats-leaf://{self.leaf_host}:{port}" for port in self.leaf_ports]

    def node_named(self, server_name: str) -> NatsNode:
        for node in self.nodes:
            if node.server_name == server_name:
                return node
        raise KeyError(server_name)

    @property
    def running(self) -> bool:
        return all(node.running for node in self.nodes)

    def _start(self, timeout: float) -> None:
        # Together: a clustered node reports healthy only once it sees a quorum.
        stopped = [node for node in self.nodes if not node.running]
        with ThreadPoolExecutor(len(stopped)) as pool:
            futures = [pool.submit(node.start, timeout) for node in stopped]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            self.stop()
            raise errors[0]  # type: ignore[misc]

    def stop(self, timeout: float | None = None) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda node: node.stop(timeout), self.nodes))

    def close(self) -> None:
        for node in self.nodes:
            node.close()
        super().close()


class LocalNatsLeaf(NatsNode):
    """A store's server: JetStream in the store's own domain, a leafnode remote to the
    hub's `hub_urls`, and no import of the subjects its streams capture (see
    trinetra.events.hub). With `netns` it runs inside that network namespace, listens on
    all of its addresses, and `reach_host` is the address to reach it by from outside."""

    name = "nats-leaf"

    def __init__(
        self,
        store_dir: Path,
        *,
        store_id: str,
        hub_urls: Sequence[str],
        netns: str | None = None,
        reach_host: str = "127.0.0.1",
        log_path: Path | None = None,
        ping_interval_s: float = TEST_PING_INTERVAL_S,
    ) -> None:
        super().__init__(
            store_dir,
            server_name=f"leaf-{store_id}",
            log_path=log_path,
            ping_interval_s=ping_interval_s,
        )
        self.store_id = store_id
        self.domain = store_domain(store_id)
        self.hub_urls = list(hub_urls)
        self.netns = netns
        self.monitor_host = reach_host
        if netns is None and reach_host != "127.0.0.1":
            raise ValueError("reach_host is for a leaf in a network namespace")

    @property
    def local_url(self) -> str:
        """The URL the store's own processes use (inside its namespace, if any)."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"nats://{self.monitor_host}:{self.port}"

    def config(self) -> dict[str, Any]:
        config = super().config()
        if self.netns is not None:
            # The namespace's addresses are its own: loopback for the store's processes,
            # its veth end for readiness checks from outside.
            config["host"] = "0.0.0.0"
            config["http"] = f"0.0.0.0:{self.monitor_port}"
        config["jetstream"]["domain"] = self.domain
        config["leafnodes"] = {
            "reconnect": "1s",
            "remotes": [{"urls": self.hub_urls, "deny_imports": leaf_deny_imports()}],
        }
        return config

    def hub_connected(self) -> bool:
        """Whether the leafnode link to the hub is up now."""
        try:
            return bool(self.monitor("/leafz").get("leafs"))
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            return False

    def _command(self) -> list[str]:
        command = super()._command()
        if self.netns is None:
            return command
        # `ip netns exec` execs the server in place: its pid is the server's.
        return ["ip", "netns", "exec", self.netns, *command]
