"""Trace ids in the logs (trinetra/logs.py): a log line about a frame names its store,
camera and frame sequence; one about an event also its event id and, for a track event,
its track id. Checked on what the processes really write:

- a real store node (`python -m orchestrator`, JSON logs on stderr) reads a real RTSP
  camera with Triton unreachable, so every frame it processes fails and is logged, by
  the Triton client's retries and by the node;
- the event publisher, on a real JetStream that refuses the events (too large for the
  stream), logs each refusal with the ids of that event.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest

from devservices.paths import REPO_ROOT
from devservices.ports import free_port
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually, eventually_sync
from tests.support.rtsp_server import RtspServer
from trinetra.events.connection import NatsConnection
from trinetra.events.publisher import EventPublisher
from trinetra.events.schema import (
    BoundingBox,
    TrackEndedEvent,
    TrackStartedEvent,
    make_track_uid,
    subject_for,
)
from trinetra.logs import LogContextFilter, log_context

STORE = "trace-store"
CAMERA = "door"
RETRIES = 2
# What the node logs about one frame it processes (besides its Triton client's lines).
FRAME_MESSAGES = {"inference failed", "frame refused by Triton", "processing a result failed"}


def json_lines(text: str) -> list[dict[str, Any]]:
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):  # OpenCV and FFmpeg print plain lines too
            entry = json.loads(line)
            assert isinstance(entry, dict)
            entries.append(entry)
    return entries


@pytest.fixture
def node_process(
    tmp_path: Path, nats_server: NatsServer, rtsp_server: RtspServer
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`python -m orchestrator` on the camera, Triton pointed at a port nobody serves."""
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(
        "cameras:\n"
        f"  - {{id: {CAMERA}, name: Door, role: entrance, source: '{rtsp_server.url}',"
        " target_fps: 4, open_timeout_s: 5, read_timeout_s: 3}\n"
    )
    env = {
        **os.environ,
        "TRINETRA_STORE_ID": STORE,
        "TRINETRA_NATS_URL": nats_server.url,
        "TRINETRA_TRITON__URL": f"127.0.0.1:{free_port()}",
        "TRINETRA_TRITON__RETRIES": str(RETRIES),
        "TRINETRA_TRITON__BACKOFF_INITIAL_S": "0.05",
        "TRINETRA_TRITON__BACKOFF_MAX_S": "0.1",
        "TRINETRA_TRITON__CALL_TIMEOUT_S": "2",
        "TRINETRA_HEALTH_PORT": "0",
        "TRINETRA_IDENTITY_ENABLED": "false",
        "TRINETRA_LOG_LEVEL": "INFO",
    }
    stderr = tmp_path / "node.stderr"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "--cameras", str(cameras)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    try:
        yield process, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_every_line_a_store_node_logs_about_a_frame_names_the_frame(
    node_process: tuple[subprocess.Popen[bytes], Path],
) -> None:
    process, stderr = node_process

    def failed_frames() -> int:
        return sum(e["msg"] == "inference failed" for e in json_lines(stderr.read_text()))

    eventually_sync(lambda: failed_frames() >= 6, 90, interval_s=0.2, message="failed frames")
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0, stderr.read_text()[-3000:]
    entries = json_lines(stderr.read_text())

    frame_lines = [
        e
        for e in entries
        if e["msg"] in FRAME_MESSAGES
        or e["logger"].startswith(("trinetra.inference", "orchestrator.pipeline"))
    ]
    unnamed = [
        e
        for e in frame_lines
        if not (
            e.get("store_id") == STORE
            and e.get("camera_id") == CAMERA
            and isinstance(e.get("frame_seq"), int)
        )
    ]
    assert unnamed == []
    # Each failure names its own frame, and the retries of that frame's Triton call (in
    # the micro-batcher's task) name the same frame: the context follows the frame.
    failures = [e["frame_seq"] for e in frame_lines if e["msg"] == "inference failed"]
    assert len(failures) == len(set(failures)) >= 6
    retries = [e["frame_seq"] for e in frame_lines if e["logger"] == "trinetra.inference.client"]
    assert all(retries.count(seq) == RETRIES for seq in failures)
    # The camera's own lines (its supervising task) name the store and the camera.
    states = [e for e in entries if e["msg"] == "camera state changed"]
    assert [e["state"] for e in states][:2] == ["connecting", "live"]
    assert all((e["store_id"], e["camera_id"]) == (STORE, CAMERA) for e in states)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(LogContextFilter())  # what configure_logging's handler does

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_an_event_the_server_refuses_is_logged_with_its_ids(nats_server: NatsServer) -> None:
    started_at = datetime.now(UTC)
    uid = make_track_uid(STORE, CAMERA, 7, started_at)
    box = BoundingBox(x1=0.1, y1=0.2, x2=0.3, y2=0.6)
    started = TrackStartedEvent(
        camera_id=CAMERA,
        store_id=STORE,
        occurred_at=started_at,
        track_id=7,
        track_uid=uid,
        frame_seq=41,
        box=box,
        score=0.9,
    )
    ended = TrackEndedEvent(
        camera_id=CAMERA,
        store_id=STORE,
        occurred_at=started_at + timedelta(seconds=3),
        track_id=8,
        track_uid=make_track_uid(STORE, CAMERA, 8, started_at),
        first_seen_at=started_at,
        last_seen_at=started_at + timedelta(seconds=3),
        duration_s=3.0,
        frames_seen=12,
    )
    # A stream too small for any event: JetStream refuses each one, for good.
    client = await nats.connect(nats_server.url)
    try:
        await client.jetstream().add_stream(
            name="TINY", subjects=[subject_for(started)], max_msg_size=64
        )
    finally:
        await client.close()

    handler = _Records()
    logging.getLogger().addHandler(handler)
    connection = NatsConnection(nats_server.url)
    publisher = EventPublisher(connection, streams=None, ack_timeout_s=2.0)
    try:
        await publisher.start()
        # The caller's context travels with the event to the drain task; the event's own
        # ids win over it (the started event has its frame, the ended one none).
        with log_context(frame_seq=99, camera_id="not-this-one"):
            publisher.publish(started)
            publisher.publish(ended)

        def refusals() -> list[logging.LogRecord]:
            return [r for r in handler.records if r.getMessage() == "JetStream rejected an event"]

        await eventually(lambda: len(refusals()) == 2, 20, message="both refusals logged")
    finally:
        logging.getLogger().removeHandler(handler)
        await publisher.close(timeout_s=2.0)
        await connection.close()

    def ids(record: logging.LogRecord) -> tuple[object, ...]:
        fields = vars(record)
        return tuple(
            fields.get(k) for k in ("store_id", "camera_id", "frame_seq", "track_id", "event_id")
        )

    assert sorted(ids(r) for r in refusals()) == sorted(
        [
            (STORE, CAMERA, 41, 7, str(started.event_id)),
            (STORE, CAMERA, 99, 8, str(ended.event_id)),
        ]
    )
