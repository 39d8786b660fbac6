"""A stuck test fails within its timeout, with every thread's stack, instead of hanging the
run; and the hang once seen in a store node's shutdown (a NATS close that never returned)
is bounded.

The first test runs pytest in a subprocess on a test file of its own, under this
project's pytest configuration (pyproject.toml), so it checks the configuration itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from devservices.paths import REPO_ROOT
from tests.support.nats_server import NatsServerFactory
from trinetra.events.connection import NatsConnection

pytestmark = pytest.mark.timeout(120)

# The shape of the hang: a shutdown step that swallows its cancellation, under wait_for
# (which then waits for it forever), while another thread idles. SIGALRM cannot end it:
# the alarm fails the test, then the event loop's teardown waits on the stubborn task.
HANGING_TEST = """
import asyncio
import threading

import pytest


@pytest.mark.timeout(3)
async def test_a_shutdown_that_never_ends():
    threading.Thread(target=threading.Event().wait, name="idle-helper", daemon=True).start()

    async def stubborn_close():
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass

    await asyncio.wait_for(stubborn_close(), 0.2)
"""


def test_a_hung_asyncio_test_fails_within_its_timeout_with_every_stack(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(textwrap.dedent(HANGING_TEST))
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(REPO_ROOT / "pyproject.toml"),
        "--rootdir",
        str(tmp_path),
        "-p",
        "no:cacheprovider",
        str(tmp_path / "test_hangs.py"),
    ]
    started = time.monotonic()
    try:
        run = subprocess.run(
            command,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        )
    except subprocess.TimeoutExpired as hung:
        output = (hung.stdout or b"").decode(errors="replace") if hung.stdout else ""
        pytest.fail(f"the stuck test hung the run for 60 s instead of failing in 3:\n{output}")
    elapsed = time.monotonic() - started
    output = run.stdout + run.stderr
    assert run.returncode != 0, output
    assert elapsed < 30, f"took {elapsed:.1f} s"
    assert "Timeout" in output, output
    # Every thread's stack: the event loop's main thread and the idle helper.
    assert "Stack of MainThread" in output, output
    assert "Stack of idle-helper" in output, output
    assert "timeout method: thread" in output, output  # from pyproject.toml


async def test_nats_close_returns_in_time_when_the_server_stops_reading(
    nats_server_factory: NatsServerFactory,
) -> None:
    """The root cause of the hung store-node shutdown: with more unsent data than the
    socket takes and a server that reads nothing, nats-py's close waits forever (and
    swallows the cancellation meant to end it). NatsConnection.close is bounded and frees
    the connection anyway."""
    server = nats_server_factory()
    connection = NatsConnection(
        server.url, pending_size=1024 * 1024, flush_timeout_s=2.0, close_timeout_s=2.0
    )
    await connection.start()
    assert await connection.wait_connected(5)
    client = connection.client
    assert client is not None and server.pid is not None

    async def publish_a_lot() -> None:
        for _ in range(1000):
            await client.publish("stuck.subject", b"x" * 60_000)

    os.killpg(server.pid, signal.SIGSTOP)  # alive, but reads nothing any more
    publisher = asyncio.create_task(publish_a_lot())
    try:
        await asyncio.sleep(2)  # the socket's buffers fill up; the publisher blocks
        assert not publisher.done()
        started = time.monotonic()
        closing = asyncio.ensure_future(connection.close())
        # asyncio.wait, not wait_for: the old close would hold wait_for up as well.
        done, _ = await asyncio.wait({closing}, timeout=20)
        assert done, "NatsConnection.close() still waiting after 20 s"
        assert time.monotonic() - started < 2.0 + 1.5
        assert closing.exception() is None
        assert connection.client is None and not connection.connected
        assert client.is_closed
        # ...and a publisher blocked on it gets its turn back instead of waiting forever.
        done, _ = await asyncio.wait({publisher}, timeout=10)
        assert done, "the blocked publish never returned"
    finally:
        os.killpg(server.pid, signal.SIGCONT)
        publisher.cancel()
