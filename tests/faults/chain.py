"""The whole chain of one store, every part its own process on free loopback ports:

    RTSP camera (vtest.avi) -> store node -> NATS JetStream (file store) -> gateway ingest
    -> PostgreSQL (durable)          Triton (CPU) serves the node and the identity service;
                                     analytics and identity consume and publish on NATS.

The services are devservices/ ProcessServices (NATS, PostgreSQL, Triton, RTSP); the four
applications are `python -m ...` of this checkout, wrapped in the same lifecycle
(`AppProcess`), so every part is started, stopped, killed and restarted the same way, on
the same ports, with its log under the test's folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Final

import yaml

from devservices.lifecycle import ProcessService
from devservices.nats import NatsServer
from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from devservices.rtsp import RtspServer
from devservices.triton import LocalTriton
from tests.support.media import media_path
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.settings import load_yaml

STORE: Final = "fault-store"
CAMERA: Final = "entrance-1"
DATABASE: Final = "trinetra"
# The demo's zones and lines for this very camera and video: analytics has work to do.
ANALYTICS_SEED: Final = REPO_ROOT / "devservices" / "analytics.demo.yaml"
# A fraction of the camera's 25 fps: enough tracks and events on two shared cores.
TARGET_FPS: Final = 5
# Redelivery of what a killed gateway held unacked comes after this, so it bounds the
# gateway faults' recovery (the default, 30 s, would be most of the suite's budget).
INGEST_ACK_WAIT_S: Final = 4.0


def _http_json(url: str) -> tuple[int, Any] | None:
    """(status, JSON body) of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None
    except (OSError, ValueError):
        return None


class AppProcess(ProcessService):
    """`python -m <module> <args>` from the repository root, configured by environment
    variables (TRINETRA_*), with an HTTP port kept across restarts."""

    module: ClassVar[str]
    start_timeout_s = 120.0
    # The node drains its publisher and ends its tracks on SIGTERM.
    stop_timeout_s = 60.0
    ready_poll_s = 0.1

    def __init__(
        self, *, port: int, env: Mapping[str, str], log_path: Path, args: Sequence[str] = ()
    ) -> None:
        super().__init__(port=port, log_path=log_path)
        self.port = port
        self.env = dict(env)
        self.args = list(args)

    def _command(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args]

    def _popen_options(self) -> dict[str, Any]:
        return {"cwd": REPO_ROOT, "env": {**os.environ, **self.env}}

    def get(self, path: str) -> tuple[int, Any] | None:
        return _http_json(f"http://127.0.0.1:{self.port}{path}")


class NodeProcess(AppProcess):
    name = "store-node"
    module = "orchestrator"

    def _ready(self) -> bool:
        reply = self.get("/ready")
        return reply is not None and reply[0] == 200

    def health(self) -> dict[str, Any] | None:
        reply = self.get("/health")
        return reply[1] if reply is not None and isinstance(reply[1], dict) else None


class GatewayProcess(AppProcess):
    name = "gateway"
    module = "gateway"

    def _ready(self) -> bool:
        reply = self.get("/ready")
        return reply is not None and reply[0] == 200


class AnalyticsProcess(AppProcess):
    name = "analytics"
    module = "analytics"

    def _ready(self) -> bool:
        reply = self.get("/health")
        return reply is not None and isinstance(reply[1], dict) and reply[1].get("ready") is True


class IdentityProcess(AppProcess):
    """The identity service has no HTTP port: it is ready once it logged so (after its
    request subjects are subscribed)."""

    name = "identity"
    module = "identity.service"

    def _ready(self) -> bool:
        return "identity service ready" in self.log_text()


@dataclass
class Chain:
    triton: LocalTriton
    nats: NatsServer
    postgres: LocalPostgres
    camera: RtspServer
    gateway: GatewayProcess
    analytics: AnalyticsProcess
    identity: IdentityProcess
    node: NodeProcess
    database_url: str

    @property
    def in_start_order(self) -> tuple[ProcessService, ...]:
        # Infrastructure first, then the gateway (it migrates the database), the
        # consumers and services the node talks to, and the node last.
        return (
            self.triton,
            self.nats,
            self.postgres,
            self.camera,
            self.gateway,
            self.analytics,
            self.identity,
            self.node,
        )

    def start_missing(self) -> None:
        """Start every part that is not running (all of them the first time; after a
        failed test, what it left down)."""
        for service in self.in_start_order:
            service.start()
            if service is self.postgres:
                self._ensure_database()

    def _ensure_database(self) -> None:
        found = self.postgres.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", "postgres"
        )
        if "(1 row)" not in found:
            self.postgres.create_database(DATABASE)

    def close(self) -> None:
        """Stop the applications (the node first: it ends its tracks), then remove the
        services' data. Triton is the session's and is left running."""
        for service in reversed(self.in_start_order):
            if service is not self.triton:
                with contextlib.suppress(Exception):
                    service.close()


def build_chain(workdir: Path, triton: LocalTriton) -> Chain:
    """Every part configured on free ports (nothing started yet): `start_missing()`."""
    logs = workdir / "logs"
    nats = NatsServer(workdir / "nats", log_path=logs / "nats.log")
    # Durable (the default); its data under the system temp dir, where its OS user (when
    # running as root) can reach it: pytest's folders are private to this user.
    postgres = LocalPostgres(log_path=logs / "postgres.log")
    camera = RtspServer(media_path("vtest.avi"), log_path=logs / "rtsp.log")
    database_url = postgres.dsn(DATABASE)
    common = {
        "TRINETRA_STORE_ID": STORE,
        "TRINETRA_NATS_URL": nats.url,
        "TRINETRA_LOG_JSON": "true",
        "OPENCV_LOG_LEVEL": "ERROR",
        "OPENCV_FFMPEG_LOGLEVEL": "-8",
    }
    gateway_port = free_port()
    node_port = free_port()
    gateway = GatewayProcess(
        port=gateway_port,
        log_path=logs / "gateway.log",
        env={
            **common,
            "TRINETRA_DATABASE_URL": database_url,
            "TRINETRA_JWT_SECRET": secrets.token_urlsafe(32),
            "TRINETRA_PORT": str(gateway_port),
            "TRINETRA_TRITON__URL": triton.grpc_url,
            "TRINETRA_INGEST__ACK_WAIT_S": str(INGEST_ACK_WAIT_S),
            # Several commits per backlog, so a kill can land between two of them.
            "TRINETRA_INGEST__BATCH_SIZE": "20",
            "TRINETRA_NODE_URLS": json.dumps({STORE: f"http://127.0.0.1:{node_port}"}),
        },
    )
    seed = load_yaml(ANALYTICS_SEED, StoreAnalyticsConfig, what="analytics config")
    seed_file = workdir / "analytics.yaml"
    seed_file.write_text(
        yaml.safe_dump(seed.model_copy(update={"store_id": STORE}).model_dump(mode="json"))
    )
    analytics_port = free_port()
    analytics = AnalyticsProcess(
        port=analytics_port,
        log_path=logs / "analytics.log",
        args=["--config", str(seed_file)],
        env={
            **common,
            "TRINETRA_HEALTH_PORT": str(analytics_port),
            "TRINETRA_CHECKPOINT_INTERVAL_S": "1.0",
            "TRINETRA_FETCH_TIMEOUT_S": "0.5",
        },
    )
    identity_config = workdir / "identity.yaml"
    identity_config.write_text(
        yaml.safe_dump(
            {
                "store_id": STORE,
                "nats_servers": [nats.url],
                "triton": {"url": triton.grpc_url, "call_timeout_s": 30},
                "identity": {
                    "gallery": {"path": str(workdir / "gallery")},
                    "audit": {"path": str(workdir / "audit.jsonl")},
                },
            }
        )
    )
    identity = IdentityProcess(
        port=free_port(),  # names its log only: the service serves no HTTP
        log_path=logs / "identity.log",
        args=["--config", str(identity_config)],
        env=common,
    )
    cameras_file = workdir / "cameras.yaml"
    cameras_file.write_text(
        yaml.safe_dump(
            {
                "cameras": [
                    {
                        "id": CAMERA,
                        "name": "Entrance",
                        "role": "entrance",
                        "source": camera.url,
                        "target_fps": TARGET_FPS,
                    }
                ]
            }
        )
    )
    node = NodeProcess(
        port=node_port,
        log_path=logs / "node.log",
        args=["--cameras", str(cameras_file)],
        env={
            **common,
            "TRINETRA_TRITON__URL": triton.grpc_url,
            "TRINETRA_INFERENCE_PROFILE": "cpu",
            "TRINETRA_HEALTH_PORT": str(node_port),
            "TRINETRA_TRACK_UPDATE_EVERY": "3",
        },
    )
    return Chain(
        triton=triton,
        nats=nats,
        postgres=postgres,
        camera=camera,
        gateway=gateway,
        analytics=analytics,
        identity=identity,
        node=node,
        database_url=database_url,
    )
