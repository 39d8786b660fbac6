"""`make demo`: the whole system on one machine, every part in its embedded form.

Starts Triton (CPU profile), NATS JetStream, PostgreSQL, a sample RTSP camera playing
vtest.avi, the analytics service (zones and lines of devservices/analytics.demo.yaml), the
identity service (Qdrant local mode), a store node and the gateway, with a progress line
for every step, then prints dashboard links for an operator and a privacy officer.

    .venv/bin/python -m devservices.demo [--port 8080] [--seconds N] [--workdir DIR]
    make demo PORT=8090

- A busy port fails at once, before anything starts, naming a port to use instead.
- Ctrl-C stops the applications first, in order (the store node drains and ends its
  tracks while NATS, PostgreSQL and the gateway still run), then the services. The
  services run in their own sessions (devservices/lifecycle.py), so the terminal's Ctrl-C
  reaches this process alone; one pressed while stopping is reported and ignored.
- The tokens' secret is kept in <workdir>/jwt-secret (mode 0600), so links stay valid
  across restarts and more tokens can be minted with `python -m gateway.token`. The
  workdir (default .cache/demo/) also keeps the JetStream store and the face gallery.
- The services' output goes to .cache/logs/; OpenCV and FFmpeg are kept quiet here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final

import cv2
import httpx

from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from devservices.capacity import camera_fps, measure_frames_per_s, sample_frames
from devservices.lifecycle import ServiceStartError
from devservices.nats import NatsServer
from devservices.paths import LOG_DIR, REPO_ROOT
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from devservices.progress import step
from devservices.rtsp import RtspServer
from devservices.triton import LocalTriton
from gateway.app import create_app
from gateway.auth import issue_token
from gateway.config import GatewaySettings
from gateway.runtime import Gateway
from gateway.serve import build_server
from identity.config import AuditConfig, GalleryConfig, IdentityConfig, ServiceConfig
from identity.service import IdentityService
from orchestrator.config.node import NodeSettings
from orchestrator.node import StoreNode
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.config.camera import CameraConfig
from trinetra.events.connection import NatsConnection
from trinetra.inference import TritonSettings, VisionClient
from trinetra.logs import configure_logging
from trinetra.settings import load_yaml

STORE = "demo-store"
CAMERA_ID = "entrance-1"
HOST = "127.0.0.1"
DEFAULT_PORT = 8080
WORKDIR = REPO_ROOT / ".cache" / "demo"
SAMPLE_VIDEO = REPO_ROOT / ".cache" / "media" / "vtest.avi"
# The sample camera's entrance line, two area zones and a queue zone: seeds the store's
# configuration when NATS has none (the gateway imports it, the dashboard edits it).
ANALYTICS_CONFIG = REPO_ROOT / "devservices" / "analytics.demo.yaml"
SECRET_NAME = "jwt-secret"
TOKEN_TTL_S: Final = 7 * 24 * 3600
# The CPU Triton under the demo's load (one camera, enrolments, process-frame) answers in
# seconds, not the GPU's milliseconds.
INFERENCE_DEADLINE_S: Final = 60.0
# The RTSP open, FFmpeg's frame-rate probe (~3 s at 8 fps) and a first inference.
FIRST_FRAME_TIMEOUT_S: Final = 120.0
# Its request subjects subscribed on NATS, which is already up.
IDENTITY_READY_TIMEOUT_S: Final = 30.0
# Where the next free port is looked for, to name it in the busy-port message.
PORT_SEARCH: Final = 100


# --- before anything starts -----------------------------------------------------------------


def port_problem(port: int, host: str = HOST) -> str | None:
    """Why the gateway could not listen on `port` (with the fix), or None if it can.

    Bound the way uvicorn binds (SO_REUSEADDR), so a port that only has connections in
    TIME_WAIT from an earlier run counts as free, as it is for the server.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except PermissionError:
            return f"cannot listen on port {port} (permission denied): {_fix(port, host)}"
        except OSError:
            return f"port {port} is in use: {_fix(port, host)}"
    return None


def _fix(port: int, host: str) -> str:
    start = 8090 if port == DEFAULT_PORT else port + 1
    for candidate in range(start, min(start + PORT_SEARCH, 65536)):
        if candidate >= 1024 and port_problem(candidate, host) is None:
            return f"run `make demo PORT={candidate}` (or --port {candidate})"
    return "run `make demo PORT=<a free port>` (or --port <a free port>)"


def quiet_media_libraries() -> None:
    """OpenCV warns at every camera open and reconnect (OPENCV_FFMPEG_IS_THREAD_SAFE is
    set, orchestrator/cameras/opencv_sources.py), and FFmpeg's decoder reports each broken
    frame of a stream it joined between keyframes; the node counts both (reconnects,
    undecodable frames: /metrics), so the demo's terminal shows neither. Values already in
    the environment win. FFmpeg reads its level at the first capture, which is later."""
    if "OPENCV_LOG_LEVEL" not in os.environ:
        os.environ["OPENCV_LOG_LEVEL"] = "ERROR"
        # OpenCV may have read the variable already (cv2 is imported by now).
        cv2.setLogLevel(2)  # cv::utils::logging::LOG_LEVEL_ERROR
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


def demo_secret(path: Path) -> str:
    """The demo's JWT secret: kept in `path` (owner-only), made on the first run or when
    the kept one is too short for the gateway."""
    with contextlib.suppress(OSError):
        kept = path.read_text().strip()
        if len(kept) >= 32:
            return kept
    secret = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret


# --- the services ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    triton_url: str
    nats_url: str
    database_url: str
    camera_url: str


def _stopping_service(label: str, stop: Callable[[], None]) -> Callable[[], None]:
    def stop_with_progress() -> None:
        with step(f"stopping {label}", done="stopped"):
            stop()

    return stop_with_progress


def start_services(stack: contextlib.ExitStack, workdir: Path) -> Services:
    """Start the embedded services; each is stopped by `stack`, in reverse order."""
    triton = LocalTriton()
    stack.callback(_stopping_service("Triton", triton.stop))
    with step("Triton, CPU profile (loading the models of model_repository/)"):
        triton.start()
    nats_server = NatsServer(workdir / "nats")
    stack.callback(_stopping_service("NATS", nats_server.stop))
    with step("NATS JetStream"):
        nats_server.start()
    postgres = LocalPostgres(base_dir=None, throwaway=False)  # acked events must be on disk
    stack.callback(_stopping_service("PostgreSQL", postgres.cleanup))
    with step("PostgreSQL (embedded; TimescaleDB in production)"):
        postgres.start()
    camera = RtspServer(Path(SAMPLE_VIDEO))
    stack.callback(_stopping_service("the sample camera", camera.close))
    with step("sample RTSP camera playing vtest.avi"):
        camera.start()
    return Services(triton.grpc_url, nats_server.url, postgres.url, camera.url)


# --- the applications -----------------------------------------------------------------------


def _stopping_part(
    label: str, stop: Callable[[], Awaitable[object]]
) -> Callable[[], Awaitable[None]]:
    async def stop_with_progress() -> None:
        with step(f"stopping {label}", done="stopped"):
            await stop()

    return stop_with_progress


async def register_camera(base: str, token: str, camera: CameraConfig) -> None:
    mutation = "mutation ($c: JSON!) { registerCamera(config: $c) { id } }"
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post(
            "/graphql",
            json={"query": mutation, "variables": {"c": camera.model_dump(mode="json")}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body = response.json()
    errors = body.get("errors") or []
    if errors and "already" not in errors[0].get("message", ""):
        raise RuntimeError(f"registering the camera failed: {errors}")


async def wait_ready(base: str, server: asyncio.Task[None], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while time.monotonic() < deadline:
            if server.done():
                server.result()  # it failed: raise why
                raise RuntimeError("the gateway stopped while starting")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    raise RuntimeError("the gateway did not become ready")


async def wait_analytics_config(service: AnalyticsService, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while service.processor is None:  # its configuration read (or seeded) from NATS KV
        if time.monotonic() > deadline:
            raise RuntimeError("the analytics service found no configuration")
        await asyncio.sleep(0.1)


async def wait_first_frame(node: StoreNode, camera_id: str, timeout_s: float) -> None:
    """Until the node has analysed a frame of the camera; TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if node.cameras[camera_id].frames_analysed > 0:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError


@dataclass(frozen=True)
class Running:
    base: str
    node: StoreNode
    operator_token: str
    privacy_token: str
    secret_file: Path


async def start_parts(
    args: argparse.Namespace, services: Services, parts: contextlib.AsyncExitStack
) -> Running:
    """Start the applications; each is stopped by `parts`, the last started first."""
    workdir: Path = args.workdir
    secret = demo_secret(workdir / SECRET_NAME)
    triton_settings = TritonSettings(url=services.triton_url, call_timeout_s=INFERENCE_DEADLINE_S)
    node_port = free_port()  # known before the node starts: the gateway relays live views to it

    # Before the gateway, so the configuration it imports at start is already seeded.
    analytics = AnalyticsService(
        AnalyticsSettings(
            store_id=STORE,
            nats_url=services.nats_url,
            health_port=0,
            log_json=False,
            log_level="WARNING",
        ),
        seed=load_yaml(ANALYTICS_CONFIG, StoreAnalyticsConfig, what="analytics config"),
    )
    parts.push_async_callback(_stopping_part("the analytics service", analytics.stop))
    with step("analytics service (zones and lines: devservices/analytics.demo.yaml)"):
        await analytics.start()
        await wait_analytics_config(analytics)

    gateway_settings = GatewaySettings(
        store_id=STORE,
        database_url=services.database_url,
        nats_url=services.nats_url,
        jwt_secret=secret,
        triton=triton_settings,
        node_urls={STORE: f"http://{HOST}:{node_port}"},
        host=HOST,
        port=args.port,
        log_json=False,
        log_level="WARNING",
    )
    gateway = Gateway(gateway_settings)
    server = build_server(create_app(gateway_settings, gateway), gateway, HOST, args.port)
    # The demo owns Ctrl-C: uvicorn's own handler would stop the gateway at once, under a
    # store node that is still draining into it, and re-raise the signal afterwards.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    base = f"http://{HOST}:{args.port}"
    server_task = asyncio.create_task(server.serve(), name="gateway")

    async def stop_gateway() -> None:
        server.should_exit = True
        await server_task

    parts.push_async_callback(_stopping_part("the gateway", stop_gateway))
    with step(f"gateway at {base} (migrating the database on first start)"):
        await wait_ready(base, server_task)

    connection = NatsConnection(services.nats_url, name="trinetra-identity")
    parts.push_async_callback(connection.close)
    vision = VisionClient(triton_settings)
    parts.push_async_callback(vision.close)
    identity = IdentityService(
        ServiceConfig(
            store_id=STORE,
            nats_servers=(services.nats_url,),
            triton=triton_settings,
            identity=IdentityConfig(
                gallery=GalleryConfig(path=str(workdir / "gallery")),
                audit=AuditConfig(path=workdir / "audit.jsonl"),
            ),
        ),
        analyzer=vision,
        connection=connection,
    )
    parts.push_async_callback(_stopping_part("the identity service", identity.close))
    with step(f"identity service (Qdrant local mode, {_shown(workdir / 'gallery')})"):
        await identity.start()
        if not await identity.wait_ready(IDENTITY_READY_TIMEOUT_S):
            raise RuntimeError("the identity service did not subscribe to its requests")

    # The camera's rate from what this machine's inference tier analyses (capacity.py).
    with step("inference capacity of the CPU profile", done="measured"):
        capacity = await measure_frames_per_s(vision, sample_frames(SAMPLE_VIDEO, 14))
    fps = camera_fps(capacity)
    print(
        f"  the camera runs at {fps:g} fps: half the {capacity:.1f} frames/s measured",
        flush=True,
    )
    camera = CameraConfig(
        id=CAMERA_ID,
        name="Entrance (sample RTSP camera)",
        role="entrance",
        source=services.camera_url,
        target_fps=fps,
    )
    operator = issue_token(secret, "demo-operator", ["operator"], ttl_s=TOKEN_TTL_S)
    privacy = issue_token(secret, "demo-privacy-officer", ["privacy_officer"], ttl_s=TOKEN_TTL_S)
    await register_camera(base, operator, camera)
    node = StoreNode(
        NodeSettings(
            store_id=STORE,
            nats_url=services.nats_url,
            inference_profile="cpu",
            triton=triton_settings,
            health_port=node_port,
            log_json=False,
        ),
        [camera],
    )
    parts.push_async_callback(_stopping_part("the store node (ending its tracks)", node.stop))
    with step(f"store node (health http://{HOST}:{node_port}/health)"):
        await node.start()
    try:
        with step(f"first frame of {CAMERA_ID} analysed", done="done"):
            await wait_first_frame(node, CAMERA_ID, FIRST_FRAME_TIMEOUT_S)
    except TimeoutError:
        print(
            f"  no frame analysed after {FIRST_FRAME_TIMEOUT_S:.0f} s: the dashboard shows the "
            f"camera's status, {_shown(LOG_DIR)}/ the services' logs",
            flush=True,
        )
    return Running(base, node, operator, privacy, workdir / SECRET_NAME)


def _shown(path: Path) -> Path:
    """`path` as the user types it: relative to the checkout when inside it."""
    absolute = path.resolve()
    return absolute.relative_to(REPO_ROOT) if absolute.is_relative_to(REPO_ROOT) else absolute


def print_links(running: Running) -> None:
    base, secret_file = running.base, _shown(running.secret_file)
    print(
        f"\nDashboard, operator:        {base}/dashboard/#token={running.operator_token}\n"
        f"Dashboard, privacy officer: {base}/dashboard/#token={running.privacy_token}\n"
        "  (customer ids, enrolment and erasure; privacy_officer does not include operator)\n"
        f"GraphQL:   {base}/graphql (Authorization: Bearer <a token above>)\n"
        f"More tokens: TRINETRA_JWT_SECRET=$(cat {secret_file}) "
        ".venv/bin/python -m gateway.token --scope viewer --all-stores --ttl 8h\n"
        "Ctrl-C stops everything.",
        flush=True,
    )


async def run(args: argparse.Namespace, services: Services) -> None:
    """Start the applications, serve until Ctrl-C (or --seconds), stop them in order."""
    stop = asyncio.Event()

    def on_signal() -> None:
        if stop.is_set():
            print("\n  (already stopping: every step is bounded)", flush=True)
        stop.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    async with contextlib.AsyncExitStack() as parts:
        startup = asyncio.create_task(start_parts(args, services, parts), name="startup")
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({startup, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if not startup.done():
            startup.cancel()  # Ctrl-C while starting: what started is stopped below
            with contextlib.suppress(asyncio.CancelledError):
                await startup
            print("\nstopping (interrupted while starting)", flush=True)
            return
        running = startup.result()  # a failed start raises here; the parts still stop
        print_links(running)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.seconds)
        analysed = running.node.cameras[CAMERA_ID].frames_analysed
        print(f"\nstopping: {analysed} frames analysed", flush=True)


def _still_stopping(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    print("\n  (already stopping: every step is bounded)", flush=True)


def _port(text: str) -> int:
    port = int(text)
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (1-65535)")
    return port


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devservices.demo", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="the gateway's port (default 8080)"
    )
    parser.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=WORKDIR,
        help="kept between runs: JetStream store, face gallery, audit log, token secret "
        "(default .cache/demo)",
    )
    args = parser.parse_args(argv)
    problem = port_problem(args.port)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    quiet_media_libraries()
    configure_logging("WARNING", as_json=False)
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"TRINETRA demo: starting the embedded services (their logs: {_shown(LOG_DIR)}/)",
        flush=True,
    )
    try:
        with contextlib.ExitStack() as stack:
            try:
                asyncio.run(run(args, start_services(stack, args.workdir)))
            finally:
                # The services stop next (the stack unwinds): a Ctrl-C or SIGTERM must
                # not cut that short and leave one half-stopped.
                for sig in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(sig, _still_stopping)
    except KeyboardInterrupt:
        print("interrupted while starting: everything started is stopped", flush=True)
        return 130
    except ServiceStartError as error:
        print(f"\n{error}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
