"""A store node killed with SIGKILL between two checkpoints, then restarted: no track id is
handed out twice, and every track open at the kill gets its `track.ended` (reason
node_restart). A real node process (`python -m orchestrator`) on a video file camera, real
Triton, real NATS JetStream; what consumers saw is read back from the TRACKS stream.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nats
import pytest
import yaml
from nats.aio.client import Client as NATS

from devservices.paths import REPO_ROOT
from tests.support.media import media_path
from tests.support.nats_server import NatsServer
from tests.support.polling import eventually
from tests.support.triton_server import LocalTriton
from trinetra.events.schema import (
    TrackEndedEvent,
    TrackEvent,
    TrackStartedEvent,
    TrackUpdatedEvent,
    decode,
    subject_token,
)

pytestmark = pytest.mark.timeout(420)

STORE = "crash-store"
CAMERA = "aisle"
CHECKPOINT_EVERY_S = 6.0
# Kill only this soon after a checkpoint, so the next one is still seconds away.
KILL_WITHIN_S = CHECKPOINT_EVERY_S - 3.0


class Node:
    """`python -m orchestrator` as a child process, its log in a file."""

    def __init__(self, nats_url: str, triton_url: str, workdir: Path, name: str) -> None:
        cameras = workdir / "cameras.yaml"
        camera = {
            "id": CAMERA,
            "name": CAMERA,
            "role": "tracking",
            "source": str(media_path("vtest.avi")),
            "target_fps": 5,
            "loop": True,
        }
        cameras.write_text(yaml.safe_dump({"cameras": [camera]}))
        self.log = workdir / f"{name}.log"
        env = {
            **os.environ,
            "TRINETRA_STORE_ID": STORE,
            "TRINETRA_NATS_URL": nats_url,
            "TRINETRA_TRITON__URL": triton_url,
            "TRINETRA_TRITON__CALL_TIMEOUT_S": "30",
            "TRINETRA_HEALTH_PORT": "0",
            "TRINETRA_CHECKPOINT_EVERY_S": str(CHECKPOINT_EVERY_S),
            "TRINETRA_TRACK_UPDATE_EVERY": "3",
            "TRINETRA_IDENTITY_ENABLED": "false",
            "TRINETRA_PUBLISH_DETECTIONS": "false",
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "orchestrator", "--cameras", str(cameras)],
                cwd=REPO_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self, timeout_s: float = 90) -> int:
        """SIGTERM, a clean stop; its exit status (a hang fails the test)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            message = f"the node did not stop in {timeout_s} s:\n{self.tail()}"
            raise AssertionError(message) from None


class Tracks:
    """The TRACKS stream read incrementally (direct gets, no consumer left behind)."""

    def __init__(self, client: NATS) -> None:
        self._js = client.jetstream()
        self._next_seq = 1
        self.events: list[TrackEvent] = []

    async def refresh(self) -> list[TrackEvent]:
        try:
            info = await self._js.stream_info("TRACKS")
        except nats.js.errors.NotFoundError:
            return self.events
        for seq in range(max(self._next_seq, info.state.first_seq), info.state.last_seq + 1):
            msg = await self._js.get_msg("TRACKS", seq)
            assert msg.data is not None
            event = decode(msg.data)
            assert isinstance(event, TrackStartedEvent | TrackUpdatedEvent | TrackEndedEvent)
            self.events.append(event)
        self._next_seq = info.state.last_seq + 1
        return self.events


def started(events: list[TrackEvent]) -> dict[str, TrackStartedEvent]:
    return {str(e.track_uid): e for e in events if isinstance(e, TrackStartedEvent)}


def ended(events: list[TrackEvent]) -> list[TrackEndedEvent]:
    return [e for e in events if isinstance(e, TrackEndedEvent)]


async def checkpoint(client: NATS) -> dict[str, Any] | None:
    """The camera's last tracker checkpoint (what a restart reads), if any."""
    try:
        kv = await client.jetstream().key_value("TRACKER_STATE")
        entry = await kv.get(subject_token(CAMERA))
    except (nats.js.errors.BucketNotFoundError, nats.js.errors.KeyNotFoundError):
        return None
    state: dict[str, Any] = json.loads(entry.value or b"")["state"]
    return state


def checkpointed_uids(state: dict[str, Any]) -> set[str]:
    return {track["uid"] for track in state["journal"]["tracks"].values()}


async def test_a_killed_node_reuses_no_id_and_ends_every_open_track(
    triton_server: LocalTriton, nats_server: NatsServer, tmp_path: Path
) -> None:
    client = await nats.connect(nats_server.url)
    tracks = Tracks(client)
    first = Node(nats_server.url, triton_server.grpc_url, tmp_path, "node-a")
    try:
        # Kill once a checkpoint holds open tracks and a track has started since it.
        async def between_checkpoints() -> bool:
            state = await checkpoint(client)
            if state is None or not checkpointed_uids(state):
                return False
            saved_at = float(state["saved_at"])
            if time.time() - saved_at > KILL_WITHIN_S:
                return False
            known = checkpointed_uids(state)
            return any(
                e.published_at.timestamp() > saved_at and uid not in known
                for uid, e in started(await tracks.refresh()).items()
            )

        await eventually(between_checkpoints, 180, interval_s=0.1, message="a kill moment")
        first.kill()
    finally:
        if first.process.poll() is None:
            first.process.kill()
    before = list(await tracks.refresh())
    open_at_kill = set(started(before)) - {str(e.track_uid) for e in ended(before)}
    saved = await checkpoint(client)
    assert saved is not None
    # The kill fell between checkpoints: some open track is not in the last one.
    assert open_at_kill - checkpointed_uids(saved), first.tail()
    ids_before = {e.track_id for e in started(before).values()}

    second = Node(nats_server.url, triton_server.grpc_url, tmp_path, "node-b")
    try:

        async def new_tracks() -> bool:
            return len(set(started(await tracks.refresh())) - set(started(before))) >= 3

        async def all_ended() -> bool:
            return open_at_kill <= {str(e.track_uid) for e in ended(await tracks.refresh())}

        try:
            await eventually(new_tracks, 180, interval_s=0.5, message="tracks after the restart")
            # Zero ids reused: every id the restarted node hands out is new (and so is
            # every uid, which includes the first-seen time).
            restarted = [
                e for uid, e in started(tracks.events).items() if uid not in started(before)
            ]
            reused = {e.track_id for e in restarted} & ids_before
            assert not reused, f"track ids handed out again after the crash: {sorted(reused)}"
            await eventually(all_ended, 60, interval_s=0.5, message="the tracks open at the kill")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{second.tail()}") from None
        assert second.stop() == 0, second.tail()
    finally:
        if second.process.poll() is None:
            second.process.kill()
    after = await tracks.refresh()
    await client.close()

    # Every track open at the kill got exactly one track.ended, with reason node_restart.
    endings = ended(after)
    reasons = {str(e.track_uid): e.end_reason for e in endings if str(e.track_uid) in open_at_kill}
    assert reasons == dict.fromkeys(open_at_kill, "node_restart")
    twice = [uid for uid, n in Counter(str(e.track_uid) for e in endings).items() if n > 1]
    assert not twice, f"tracks ended more than once: {twice}"
    # And after the clean stop, nothing is left open.
    assert set(started(after)) == {str(e.track_uid) for e in endings}
