"""Record what a real store node, gateway and Triton export through a scripted run of
failures, as promtool `input_series` for the alert rule tests (deploy/prometheus/tests/).

    .venv/bin/python -m scripts.record_metric_series             # the committed recording
    .venv/bin/python -m scripts.record_metric_series --scale 0.2 --out /tmp/quick.yml

It starts the embedded services (devservices: Triton on the CPU profile, NATS JetStream,
PostgreSQL, two sample RTSP cameras playing vtest.avi), a store node watching both cameras
and the gateway ingesting everything, then scrapes every target's /metrics each
`--interval` seconds, as Prometheus would, through these phases:

    healthy        both cameras live, everything up
    camera_down    entrance-1's RTSP server killed (the camera dies; aisle-2 stays)
    camera_back    that RTSP server started again on the same port
    triton_down    Triton stopped (every frame fails inference)
    triton_back    Triton started again (the node's client reconnects by itself)
    database_down  PostgreSQL stopped (ingest pauses; nothing is acked)

Each sample becomes a series labelled like production's (job and instance as in
deploy/prometheus/prometheus.yml), plus the `up` series Prometheus itself makes (0 while a
target does not answer). A series that stops being exported gets a staleness marker, as
Prometheus writes one. The output file records the phases' start times next to the
series; the expectations (deploy/prometheus/tests/recorded_run.expect.yml) refer to them.

Values are exact (repr of the float) and run-length encoded in promtool's notation
(`a+bxn`: n more samples, each b above the last; `_xn`: n missing samples).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import logging
import re
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import asyncpg
import httpx
import yaml
from prometheus_client import CollectorRegistry

from devservices.nats import NatsServer
from devservices.paths import MEDIA_DIR, REPO_ROOT
from devservices.ports import free_port
from devservices.postgres import LocalPostgres
from devservices.rtsp import RtspServer
from devservices.triton import LocalTriton
from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.db.migrations import migrate
from gateway.runtime import Gateway
from gateway.serve import build_server
from orchestrator.config.node import NodeSettings
from orchestrator.metrics import OrchestratorMetrics
from orchestrator.node import StoreNode
from trinetra.config.camera import BackoffConfig, CameraConfig
from trinetra.inference import TritonSettings
from trinetra.logs import configure_logging

log = logging.getLogger("record_metric_series")

DEFAULT_OUT: Final = REPO_ROOT / "deploy/prometheus/tests/recorded/store_run.series.yml"
STORE: Final = "store-1"
# Phase name -> seconds at --scale 1. The alert rules' `for:` durations fit inside.
PHASES: Final = (
    ("healthy", 240.0),
    ("camera_down", 180.0),
    ("camera_back", 60.0),
    ("triton_down", 210.0),
    ("triton_back", 120.0),
    ("database_down", 300.0),
)
# Prometheus's default scrape timeout.
SCRAPE_TIMEOUT_S: Final = 10.0
# Low enough that this CPU profile keeps up with both cameras: the healthy phase is
# healthy (no load shedding), as a production node on its GPU is.
CAMERA_FPS: Final = 1.0
# (job, instance) as production's scrape config names them.
NODE_TARGET: Final = ("store-node", "orchestrator:9108")
GATEWAY_TARGET: Final = ("gateway", "gateway:8080")
TRITON_TARGET: Final = ("triton", "triton:8002")


# --- series ---------------------------------------------------------------------------

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


_SAMPLE_LINE: Final = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+-?\d+)?$"
)
_LABEL_PAIR: Final = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE: Final = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    position = 0
    while position < len(text.rstrip()):
        match = _LABEL_PAIR.match(text, position)
        if match is None:
            raise ValueError(f"unparsable labels: {text!r}")
        value = re.sub(r"\\[\\\"n]", lambda m: _UNESCAPE[m.group(0)], match.group(2))
        labels[match.group(1)] = value
        position = match.end()
    return labels


def parse_exposition(text: str, job: str, instance: str) -> dict[SeriesKey, float]:
    """The samples of one scrape under the names Prometheus stores them by, labelled with
    the target's job and instance.

    Parsed here rather than by prometheus_client's parser, which renames counter samples
    (Triton's `nv_inference_count` would come out as `nv_inference_count_total`). The
    `_created` samples prometheus_client adds are left out: Prometheus 2.42 does not
    store them as series unless told to, and no rule or dashboard reads them.
    """
    samples: dict[SeriesKey, float] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = _SAMPLE_LINE.match(line.strip())
        if match is None:
            raise ValueError(f"unparsable sample line: {line!r}")
        name = match.group("name")
        if name.endswith("_created"):
            continue
        labels = {**_labels(match.group("labels") or ""), "job": job, "instance": instance}
        samples[(name, tuple(sorted(labels.items())))] = float(match.group("value"))
    return samples


def series_selector(key: SeriesKey) -> str:
    name, labels = key
    inner = ",".join(f"{label}={json.dumps(value)}" for label, value in labels)
    return f"{name}{{{inner}}}"


def _number(value: float) -> str:
    value = float(value)
    if value != value:  # NaN
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


STALE: Final = "stale"


def encode_values(values: Sequence[float | str | None]) -> str:
    """promtool's notation for one series' samples: numbers, `stale`, `_` for none,
    runs of a constant step as `a+bxn` (or `a-bxn`), runs of `_` as `_xn`."""
    parts: list[str] = []
    i = 0
    while i < len(values):
        value = values[i]
        if value is None or isinstance(value, str):
            j = i
            while j + 1 < len(values) and values[j + 1] == value:
                j += 1
            token = "_" if value is None else value
            count = j - i + 1
            # `_xn` means n missing samples; `stale` has no repeat form.
            parts.append(f"_x{count}" if value is None and count > 1 else token)
            if isinstance(value, str):
                parts.extend([token] * (count - 1))
            i = j + 1
            continue
        # promtool expands `a+bxn` by adding b n times (a, a+b, (a+b)+b, ...): a run is
        # kept only while that sum reproduces each recorded value exactly.
        j = i
        step: float | None = None
        expanded = value
        while j + 1 < len(values):
            following = values[j + 1]
            if following is None or isinstance(following, str):
                break
            if step is None:
                step = following - expanded
            if expanded + step != following:
                break
            expanded += step
            j += 1
        if j - i < 2:  # two values read better as themselves
            j = i
            parts.append(_number(value))
        else:
            assert step is not None
            sign = "-" if step < 0 else "+"
            parts.append(f"{_number(value)}{sign}{_number(abs(step))}x{j - i}")
        i = j + 1
    return " ".join(parts)


@dataclass
class Recording:
    """Scrapes over time, turned into input_series by `input_series()`."""

    interval_s: float
    steps: list[dict[SeriesKey, float]] = field(default_factory=list)
    phases: list[tuple[str, float]] = field(default_factory=list)  # (name, start offset)

    def add(self, samples: dict[SeriesKey, float]) -> None:
        self.steps.append(samples)

    def input_series(self) -> list[dict[str, str]]:
        keys = sorted({key for step in self.steps for key in step})
        series = []
        for key in keys:
            values: list[float | str | None] = []
            seen = False
            for step in self.steps:
                if key in step:
                    values.append(step[key])
                    seen = True
                elif seen and values and values[-1] not in (None, STALE):
                    values.append(STALE)  # Prometheus marks a vanished series stale
                else:
                    values.append(None)
            while values and values[-1] is None:
                values.pop()
            series.append({"series": series_selector(key), "values": encode_values(values)})
        return series

    def document(self, note: str) -> dict[str, object]:
        return {
            "recorded": note,
            "interval": f"{self.interval_s:g}s",
            "phases": [
                {"name": name, "start": f"{round(start / self.interval_s) * self.interval_s:g}s"}
                for name, start in self.phases
            ],
            "input_series": self.input_series(),
        }


# --- the run ----------------------------------------------------------------------------


@dataclass
class Target:
    job: str
    instance: str
    url: Callable[[], str]  # where to scrape now (ports are known once things start)


async def scrape(client: httpx.AsyncClient, target: Target) -> dict[SeriesKey, float]:
    """One scrape as Prometheus makes it: the samples and `up` (0 when it fails)."""
    up_key: SeriesKey = ("up", (("instance", target.instance), ("job", target.job)))
    try:
        response = await client.get(target.url(), timeout=SCRAPE_TIMEOUT_S)
        response.raise_for_status()
    except httpx.HTTPError:
        return {up_key: 0.0}
    samples = parse_exposition(response.text, target.job, target.instance)
    samples[up_key] = 1.0
    return samples


def cameras(urls: Mapping[str, str]) -> list[CameraConfig]:
    roles = {"entrance-1": "entrance", "aisle-2": "tracking"}
    return [
        CameraConfig(
            id=camera_id,
            name=camera_id,
            role=roles[camera_id],
            source=url,
            target_fps=CAMERA_FPS,
            open_timeout_s=5,
            read_timeout_s=3,
            reconnect=BackoffConfig(initial_s=0.5, max_s=2.0),
        )
        for camera_id, url in urls.items()
    ]


@contextlib.contextmanager
def services(
    workdir: Path,
) -> Iterator[tuple[LocalTriton, NatsServer, LocalPostgres, dict[str, RtspServer]]]:
    video = MEDIA_DIR / "vtest.avi"
    with contextlib.ExitStack() as stack:
        triton = stack.enter_context(LocalTriton(log_path=workdir / "triton.log"))
        triton.start()
        nats = stack.enter_context(NatsServer(workdir / "nats", log_path=workdir / "nats.log"))
        nats.start()
        postgres = stack.enter_context(LocalPostgres(log_path=workdir / "postgres.log"))
        postgres.start()
        rtsp = {
            camera_id: stack.enter_context(
                RtspServer(video, log_path=workdir / f"rtsp-{camera_id}.log")
            )
            for camera_id in ("entrance-1", "aisle-2")
        }
        for server in rtsp.values():
            server.start()
        yield triton, nats, postgres, rtsp


async def migrated_database(postgres: LocalPostgres) -> str:
    dsn = postgres.create_database("trinetra")
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


async def record(args: argparse.Namespace, workdir: Path) -> Recording:
    recording = Recording(args.interval)
    with services(workdir) as (triton, nats, postgres, rtsp):
        database_url = await migrated_database(postgres)
        gateway_settings = GatewaySettings(
            store_id=STORE,
            database_url=database_url,
            nats_url=nats.url,
            jwt_secret=secrets.token_urlsafe(32),
            host="127.0.0.1",
            port=free_port(),
            log_json=True,
            log_level="WARNING",
        )
        gateway = Gateway(gateway_settings)
        server = build_server(
            create_app(gateway_settings, gateway), gateway, "127.0.0.1", gateway_settings.port
        )
        server_task = asyncio.create_task(server.serve())
        node_settings = NodeSettings(
            store_id=STORE,
            nats_url=nats.url,
            triton=TritonSettings(url=triton.grpc_url, call_timeout_s=30, retries=1),
            health_port=free_port(),
            identity_enabled=False,  # no identity service in this run
            log_level="WARNING",
        )
        node = StoreNode(
            node_settings,
            cameras({camera_id: server.url for camera_id, server in rtsp.items()}),
            metrics=OrchestratorMetrics(CollectorRegistry()),
        )
        targets = [
            Target(*NODE_TARGET, lambda: f"http://127.0.0.1:{node.health.port}/metrics"),
            Target(*GATEWAY_TARGET, lambda: f"http://127.0.0.1:{gateway_settings.port}/metrics"),
            Target(*TRITON_TARGET, lambda: triton.metrics_url),
        ]
        actions: dict[str, Callable[[], object]] = {
            "healthy": lambda: None,
            "camera_down": rtsp["entrance-1"].kill,
            "camera_back": rtsp["entrance-1"].start,
            "triton_down": triton.stop,
            "triton_back": triton.start,
            "database_down": postgres.stop,
        }
        async with node, httpx.AsyncClient() as client:
            # Let the first frames through before the clock starts: a warm, live system.
            await asyncio.sleep(20 * args.scale)
            started = time.monotonic()
            total = sum(seconds for _, seconds in PHASES) * args.scale

            async def scrape_all() -> None:
                step = 0
                while step * args.interval <= total:
                    await asyncio.sleep(max(0.0, started + step * args.interval - time.monotonic()))
                    samples: dict[SeriesKey, float] = {}
                    for target in targets:
                        samples.update(await scrape(client, target))
                    recording.add(samples)
                    step += 1

            async def run_phases() -> None:
                offset = 0.0
                for name, seconds in PHASES:
                    await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
                    recording.phases.append((name, offset))
                    log.warning("phase", extra={"phase": name, "at_s": offset})
                    # Blocking starts and stops (Triton takes a while) off the event loop.
                    await asyncio.to_thread(actions[name])
                    offset += seconds * args.scale

            await asyncio.gather(scrape_all(), run_phases())
        server.should_exit = True
        # The database is down by now: a slow shutdown must not cost the recording.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server_task, 30)
    return recording


def write(recording: Recording, out: Path, args: argparse.Namespace) -> None:
    note = (
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d} by scripts/record_metric_series.py "
        f"--interval {args.interval:g} --scale {args.scale:g}"
    )
    header = (
        "# Recorded from a real run: store node, gateway and Triton scraped every interval\n"
        "# (scripts/record_metric_series.py). Regenerate, do not edit.\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + yaml.safe_dump(recording.document(note), sort_keys=False, width=10_000))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--interval", type=float, default=15.0, help="scrape interval, s")
    parser.add_argument("--scale", type=float, default=1.0, help="phase durations x this")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory(prefix="trinetra-record-") as tmp:
        workdir = Path(tmp)
        try:
            recording = asyncio.run(record(args, workdir))
        except Exception:
            # The services' logs go with the temp dir: show why before they do.
            for path in sorted(workdir.glob("*.log")):
                tail = path.read_text(errors="replace").splitlines()[-15:]
                print(f"--- {path.name} ---", *tail, sep="\n", file=sys.stderr)
            raise
    write(recording, args.out, args)
    print(f"{len(recording.steps)} scrapes -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
