"""Run the gateway: `python -m gateway` (settings from TRINETRA_* variables, see
gateway/config.py; TRINETRA_JWT_SECRET is required).

Serves GraphQL (with subscriptions) at /graphql, /health, /ready, /metrics and
POST /api/v1/detections/process-frame; consumes the JetStream streams into the database
(TRINETRA_INGEST__ENABLED=false for an API-only replica). SIGINT/SIGTERM stop it after
in-flight batches are written and acked.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from gateway.app import create_app
from gateway.config import GatewaySettings
from gateway.runtime import Gateway
from gateway.serve import build_server
from trinetra.logs import configure_logging


def main(argv: Sequence[str] | None = None) -> int:
    del argv
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        print(f"invalid gateway settings:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_json)
    gateway = Gateway(settings)
    server = build_server(create_app(settings, gateway), gateway, settings.host, settings.port)
    # uvicorn re-raises Ctrl-C after its graceful shutdown: by then everything stopped
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
