"""The lifecycle contract of the local services (devservices/lifecycle.py), against the
real servers: an idempotent start, a session of their own, an exit that removes what they
created and keeps what they were given, one log per service and port, ServiceStartError
with the log's tail, and a bounded stop that ends the whole process group."""

from __future__ import annotations

import os
import signal
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from devservices.lifecycle import ProcessService, ServiceStartError
from devservices.mjpeg import MjpegServer
from devservices.nats import NatsServer
from devservices.paths import LOG_DIR
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from devservices.rtsp import RtspServer
from devservices.triton import LocalTriton
from tests.support.media import media_bytes, media_path
from tests.support.polling import eventually_sync
from tests.support.triton_server import TEST_WORKDIR

pytestmark = pytest.mark.timeout(180)


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in {"Z", "X"}


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_a_second_start_returns_the_running_server_in_its_own_session(tmp_path: Path) -> None:
    with NatsServer(tmp_path / "store") as server:
        pid = server.pid
        assert pid is not None
        assert server.start() is server
        assert server.pid == pid  # no second process
        # Its own session and process group: a terminal's Ctrl-C does not reach it.
        assert os.getsid(pid) == os.getpgid(pid) == pid
        assert os.getsid(pid) != os.getsid(0)
        assert server.log_path == LOG_DIR / f"nats-{server.port}.log"
    assert gone(pid)
    assert server.log_path.stat().st_size > 0  # the log is kept


def test_exit_removes_what_the_service_created_and_keeps_what_it_was_given(
    tmp_path: Path,
) -> None:
    given = tmp_path / "store"
    with NatsServer() as made, NatsServer(given) as kept:
        created = made.store_dir
        assert created.is_dir() and kept.store_dir == given
        pids = [made.pid, kept.pid]
        made.restart()  # stop and start keep the store ...
        assert created.is_dir()
    assert not created.exists()  # ... and exit removes it
    assert given.is_dir() and any(given.iterdir())
    assert all(pid is not None and gone(pid) for pid in pids)


def test_postgres_starts_once_and_exit_removes_its_data_and_socket() -> None:
    with LocalPostgres() as postgres:
        pid = postgres.pid
        assert postgres.start().pid == pid
        assert "42" in postgres.psql("SELECT 40 + 2")
        assert any(postgres.socket_dir.iterdir())  # its unix socket
        root = postgres.root
    assert not root.exists()
    assert pid is not None and gone(pid)


def test_a_failed_start_raises_service_start_error_with_the_log_tail(tmp_path: Path) -> None:
    config = tmp_path / "nats.conf"
    config.write_text("no_such_setting: 1\n")
    server = NatsServer(tmp_path / "store", extra_args=["--config", str(config)])
    with pytest.raises(ServiceStartError) as failed:
        server.start()
    error = failed.value
    assert error.service == "nats"
    assert error.reason.startswith("exited with status")
    assert error.log_path == server.log_path
    assert 'unknown field "no_such_setting"' in error.log_tail  # nats-server's own words
    assert error.log_tail in str(error)
    assert not server.running
    server.close()


def test_a_camera_that_cannot_play_its_file_fails_to_start(tmp_path: Path) -> None:
    camera = RtspServer(tmp_path / "missing.avi")
    with pytest.raises(ServiceStartError) as failed:
        camera.start()
    assert failed.value.service == "rtsp"
    assert "producer" in failed.value.log_tail  # the serve script says which pipeline
    camera.close()


def test_rtsp_camera_restarts_on_its_port_and_stop_closes_it() -> None:
    with RtspServer(media_path("vtest.avi")) as camera:
        pid = camera.pid
        assert camera.start().pid == pid
        camera.kill()
        assert not camera.running and not accepts(camera.port)
        camera.start()
        assert camera.running and camera.pid != pid
    assert not accepts(camera.port)


def test_mjpeg_server_starts_once_and_again_on_the_same_port_after_stop() -> None:
    server = MjpegServer([media_bytes("bus.jpg")])
    with server:
        assert server.start() is server
        port = server.port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/snapshot.jpg", timeout=5) as r:
            assert r.status == 200
        server.stop()
        assert not server.running
        server.start()
        assert server.port == port and server.running
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/snapshot.jpg", timeout=5) as r:
            assert r.status == 200
    assert not server.running


def test_the_session_triton_is_not_started_twice(triton_server: LocalTriton) -> None:
    pid = triton_server.pid
    assert triton_server.start() is triton_server
    assert triton_server.pid == pid
    assert triton_server.log_path == LOG_DIR / f"triton-{triton_server.grpc_port}.log"
    assert "READY" in triton_server.log_text()


def test_triton_that_cannot_load_its_models_says_so(tmp_path: Path) -> None:
    server = LocalTriton(
        workdir=TEST_WORKDIR, extra_args=["--model", "no_such_model"], log_path=tmp_path / "t.log"
    )
    with pytest.raises(ServiceStartError) as failed:
        server.start()
    assert failed.value.log_path == tmp_path / "t.log"
    # The launcher's explanation, from the service's own log.
    assert "Triton did not become ready" in failed.value.log_tail
    assert "failed to load" in failed.value.log_tail
    server.close()


class Stubborn(ProcessService):
    """A shell that ignores SIGTERM, as does the child it started (same group)."""

    name = "stubborn"
    stop_timeout_s = 0.5

    def __init__(self, log_path: Path) -> None:
        super().__init__(port=free_port(), log_path=log_path)

    def _command(self) -> list[str]:
        return ["sh", "-c", 'trap "" TERM; sleep 300 & echo "child $!"; echo READY; wait']

    def _ready(self) -> bool:
        return "READY" in self.log_text()

    def child_pid(self) -> int:
        return int(self.log_text().split("child ")[1].split()[0])


def test_stop_kills_the_whole_group_once_its_bound_has_passed(tmp_path: Path) -> None:
    with Stubborn(tmp_path / "stubborn.log") as stubborn:
        leader, child = stubborn.pid, stubborn.child_pid()
        assert leader is not None and os.getpgid(child) == leader
        began = time.monotonic()
        stubborn.stop()
        took = time.monotonic() - began
    assert 0.5 <= took < 5
    assert gone(leader)
    # The child got the group's SIGKILL too (init reaps it, when it gets to it).
    eventually_sync(lambda: gone(child), 5, message=f"the child {child} to exit")


def test_kill_is_abrupt(tmp_path: Path) -> None:
    with Stubborn(tmp_path / "stubborn.log") as stubborn:
        leader = stubborn.pid
        assert Stubborn.kill_signal is signal.SIGKILL
        began = time.monotonic()
        stubborn.kill()
        assert time.monotonic() - began < 0.5  # no graceful wait
        assert leader is not None and gone(leader)
        assert stubborn.start().running  # and it starts again
