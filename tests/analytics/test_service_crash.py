"""Kill -9 the analytics service mid-stream, restart it: the ANALYTICS stream holds exactly
the events of an uninterrupted run, none missing, none doubled."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from tests.analytics.scenarios import STORE, facts, store_config, store_frames
from tests.analytics.service_helpers import analytics_events, health, publish_detections
from tests.analytics.test_service import CAMERAS, reference
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually


class ServiceProcess:
    """`python -m analytics` as a child process, with its log in a file."""

    def __init__(self, nats_url: str, config_file: Path, log_dir: Path) -> None:
        self.port = free_port()
        self._env = {
            **os.environ,
            "TRINETRA_STORE_ID": STORE,
            "TRINETRA_NATS_URL": nats_url,
            "TRINETRA_HEALTH_PORT": str(self.port),
            "TRINETRA_CHECKPOINT_INTERVAL_S": "0.5",
            "TRINETRA_FETCH_TIMEOUT_S": "0.2",
            "TRINETRA_FETCH_BATCH": "32",
        }
        self._command = [sys.executable, "-m", "analytics", "--config", str(config_file)]
        self._log_dir = log_dir
        self._runs = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._runs += 1
        log = open(self._log_dir / f"analytics-{self._runs}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            self._command, cwd=REPO_ROOT, env=self._env, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def health(self) -> dict[str, Any] | None:
        try:
            return health(self.port)
        except OSError:
            return None

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def service_process(nats_server: NatsServer, tmp_path: Path) -> Iterator[ServiceProcess]:
    config_file = tmp_path / "analytics.yaml"
    config_file.write_text(yaml.safe_dump(store_config(CAMERAS[:2]).model_dump(mode="json")))
    process = ServiceProcess(nats_server.url, config_file, tmp_path)
    yield process
    process.close()


async def test_kill_9_mid_stream_then_restart_equals_an_uninterrupted_run(
    nats_server: NatsServer, service_process: ServiceProcess
) -> None:
    frames = store_frames(CAMERAS[:2], cycles=3)
    publishing = asyncio.create_task(publish_detections(nats_server.url, frames, per_second=300.0))
    service_process.start()

    def progressed_past_a_checkpoint() -> dict[str, Any] | None:
        status = service_process.health()
        if status is None or not status["checkpoint_seq"]:
            return None
        # Work done since the last checkpoint: what the kill throws away.
        return status if status["stream_seq"] - status["checkpoint_seq"] >= 10 else None

    at_kill = await eventually(
        lambda: asyncio.to_thread(progressed_past_a_checkpoint),
        30,
        interval_s=0.02,
        message="the service to get past a checkpoint",
    )
    service_process.signal(signal.SIGKILL)
    assert not publishing.done(), "the kill must land mid-stream"
    assert at_kill["stream_seq"] < len(frames)
    last = await publishing
    service_process.start()

    def caught_up() -> bool:
        status = service_process.health()
        return bool(status and status["stream_seq"] >= last and status["events_unpublished"] == 0)

    await eventually(lambda: asyncio.to_thread(caught_up), 60, message="the restart to catch up")
    service_process.signal(signal.SIGTERM)
    assert service_process.process is not None and service_process.process.returncode == 0

    events = await analytics_events(nats_server.url)
    doubled = [i for i, n in Counter(e.event_id for e in events).items() if n > 1]
    assert doubled == []
    expected = facts(reference(frames, store_config(CAMERAS[:2])))
    assert sorted(facts(events), key=str) == sorted(expected, key=str)
    assert len(expected) > 50
