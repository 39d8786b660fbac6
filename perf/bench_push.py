"""Push-mode throughput and latency: `POST /api/v1/detections/process-frame` at 1, 8 and
32 concurrent clients, synchronous and asynchronous, beside Triton called directly
(VisionClient, the same concurrency) as the ceiling.

Real parts: embedded NATS JetStream and PostgreSQL, the CPU Triton (devservices), the
gateway as its own process (default push settings: 4 frames in Triton at once, a queue
of 64; a callback secret), and a stdlib HTTP callback receiver in a thread that checks
every signature. Each client sends bus.jpg (810x1080 JPEG, 6 persons) as multipart, each
with its own frame_id (no duplicates), one request after the other.

- sync: latency = the request's round trip; throughput = frames / wall time;
- async: latency = submit to the signed callback's arrival (queue, JetStream, worker,
  Triton, KV, callback); throughput = frames / (last callback - first submit).

The load is printed with each row (1-minute load average of the machine, before and
after), since the cores may be shared.

    .venv/bin/python perf/bench_push.py [--frames 48] [--clients 1 8 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

if __package__ in (None, ""):  # run as a script: make the packages importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devservices.nats import NatsServer
from devservices.paths import CACHE_DIR, REPO_ROOT
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from devservices.triton import LocalTriton
from gateway.auth import issue_token
from trinetra.inference import TritonSettings, VisionClient
from trinetra.webhooks.signature import EVENT_ID_HEADER, SIGNATURE_HEADER, verify_signature

SECRET = "bench-secret-of-at-least-thirty-two-characters"
CALLBACK_SECRET = "bench-callback-secret-of-32-characters!"
STORE = "bench-push"
CAMERA = "bench-cam"
URL = "/api/v1/detections/process-frame"
FRAME = (CACHE_DIR / "media" / "bus.jpg").read_bytes()


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


class Receiver:
    """Records when each job's callback arrived, and whether its signature held."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ok = verify_signature(CALLBACK_SECRET, self.headers.get(SIGNATURE_HEADER, ""), body)
                with receiver.lock:
                    receiver.arrivals[self.headers.get(EVENT_ID_HEADER, "")] = time.perf_counter()
                    receiver.bad_signatures += 0 if ok else 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/callback"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def row(
    mode: str, clients: int, frames: int, wall_s: float, latencies: list[float], before: str
) -> None:
    print(
        f"| {mode} | {clients} | {frames / wall_s:.2f} | "
        f"{statistics.median(latencies) * 1000:.0f} | {percentile(latencies, 0.99) * 1000:.0f} | "
        f"{before} -> {load()} |",
        flush=True,
    )


async def clients_run(clients: int, frames: int, one: Callable[[int], Awaitable[None]]) -> float:
    """`frames` calls of `one(i)` spread over `clients` sequential workers; wall seconds."""
    counter = iter(range(frames))

    async def worker() -> None:
        for i in counter:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - started


async def bench_direct(triton_url: str, clients: int, frames: int) -> None:
    latencies: list[float] = []
    async with VisionClient(TritonSettings(url=triton_url, call_timeout_s=120)) as vision:
        await vision.wait_ready(timeout_s=120)

        async def one(_: int) -> None:
            started = time.perf_counter()
            await vision.analyze(FRAME)
            latencies.append(time.perf_counter() - started)

        before = load()
        wall = await clients_run(clients, frames, one)
    row("Triton direct", clients, frames, wall, latencies, before)


async def bench_sync(http: httpx.AsyncClient, clients: int, frames: int, run: str) -> None:
    latencies: list[float] = []

    async def one(i: int) -> None:
        started = time.perf_counter()
        response = await http.post(
            URL,
            files={"frame": ("bus.jpg", FRAME, "image/jpeg")},
            data={"camera_id": CAMERA, "frame_id": f"{run}-{i}"},
        )
        assert response.status_code == 200, response.text
        latencies.append(time.perf_counter() - started)

    before = load()
    wall = await clients_run(clients, frames, one)
    row("sync", clients, frames, wall, latencies, before)


async def bench_async(
    http: httpx.AsyncClient, receiver: Receiver, clients: int, frames: int, run: str
) -> None:
    submitted: dict[str, float] = {}

    async def one(i: int) -> None:
        started = time.perf_counter()
        response = await http.post(
            URL,
            files={"frame": ("bus.jpg", FRAME, "image/jpeg")},
            data={
                "camera_id": CAMERA,
                "frame_id": f"{run}-{i}",
                "async": "true",
                "callback_url": receiver.url,
            },
        )
        assert response.status_code == 202, response.text
        submitted[response.json()["job_id"]] = started

    before = load()
    first = time.perf_counter()
    await clients_run(clients, frames, one)
    deadline = time.perf_counter() + 600
    while not set(submitted) <= set(receiver.arrivals):
        if time.perf_counter() > deadline:
            raise TimeoutError("callbacks missing")
        await asyncio.sleep(0.02)
    latencies = [receiver.arrivals[job] - at for job, at in submitted.items()]
    wall = max(receiver.arrivals[job] for job in submitted) - first
    row("async", clients, frames, wall, latencies, before)


def spawn_gateway(
    dsn: str, nats_url: str, triton_url: str, port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TRINETRA_DATABASE_URL": dsn,
        "TRINETRA_NATS_URL": nats_url,
        "TRINETRA_JWT_SECRET": SECRET,
        "TRINETRA_PORT": str(port),
        "TRINETRA_STORE_ID": STORE,
        "TRINETRA_TRITON__URL": triton_url,
        "TRINETRA_TRITON__CALL_TIMEOUT_S": "120",
        "TRINETRA_INGEST__ENABLED": "false",
        "TRINETRA_HEALTH__IDENTITY": "false",
        "TRINETRA_PUSH__CALLBACK_SECRET": CALLBACK_SECRET,
        "TRINETRA_PUSH__DEFAULT_TIMEOUT_MS": "300000",
        "TRINETRA_LOG_LEVEL": "WARNING",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway"], cwd=REPO_ROOT, env=env, stdout=out, stderr=out
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


async def wait_ready(http: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if (await http.get("/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("gateway not ready")


async def main(args: argparse.Namespace) -> None:
    async with AsyncExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="bench-push-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        nats_server = NatsServer(workdir / "nats")
        nats_server.start()
        stack.callback(nats_server.stop)
        postgres = LocalPostgres()
        postgres.start()
        stack.callback(postgres.cleanup)
        triton = stack.enter_context(LocalTriton(workdir=CACHE_DIR / "triton-bench"))
        dsn = postgres.create_database("trinetra")
        port = free_port()
        process = spawn_gateway(dsn, nats_server.url, triton.grpc_url, port, workdir / "gw.log")
        stack.callback(stop, process)
        receiver = Receiver()
        stack.callback(receiver.server.shutdown)
        token = issue_token(SECRET, "bench", ["operator"], stores=[STORE], ttl_s=3600)
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=600,
                limits=httpx.Limits(max_connections=64),
            )
        )
        await wait_ready(http)
        camera = {"id": CAMERA, "name": "Bench", "role": "billing", "source": "rtsp://127.0.0.1/b"}
        registered = await http.post(
            "/graphql",
            json={
                "query": "mutation ($c: JSON!) { registerCamera(config: $c) { id } }",
                "variables": {"c": camera},
            },
        )
        assert "errors" not in registered.json(), registered.text
        print("warm-up (Triton, the gateway's first requests; not counted):")
        await bench_direct(triton.grpc_url, 2, 4)
        await bench_sync(http, 1, 2, "warm")
        print(
            f"\npush mode, bus.jpg, {args.frames} frames per row; CPU Triton; "
            f"{os.cpu_count()} cores, load average (1 min) before -> after each row\n"
        )
        print("| mode | clients | frames/s | p50 ms | p99 ms | load |")
        print("|---|---|---|---|---|---|")
        for clients in args.clients:
            await bench_direct(triton.grpc_url, clients, args.frames)
            await bench_sync(http, clients, args.frames, f"sync-{clients}")
            await bench_async(http, receiver, clients, args.frames, f"async-{clients}")
        if receiver.bad_signatures:
            raise AssertionError(f"{receiver.bad_signatures} callbacks with a bad signature")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=48, help="frames per row")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    asyncio.run(main(parser.parse_args()))
