"""Run one analytics partition: `python -m analytics [--config store-analytics.yaml]`.

Settings come from the environment (analytics/settings.py, prefix TRINETRA_: store id,
NATS URL, partition index and count, checkpoint interval, health port, engine knobs).
`--config` is a StoreAnalyticsConfig YAML that seeds the NATS KV bucket ANALYTICS_CONFIG
when the store has no configuration there yet; from then on the bucket is the source
(the gateway writes it) and changes apply live. SIGINT/SIGTERM stop cleanly with a
final checkpoint; a crash loses nothing either (analytics/service.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from analytics.checkpoint import CheckpointError
from analytics.service import AnalyticsService
from analytics.settings import AnalyticsSettings
from trinetra.config.analytics import StoreAnalyticsConfig
from trinetra.logs import configure_logging
from trinetra.settings import ConfigFileError, load_yaml

log = logging.getLogger("analytics")


async def serve(settings: AnalyticsSettings, seed: StoreAnalyticsConfig | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    service = AnalyticsService(settings, seed=seed)
    await service.start()
    stopped = asyncio.create_task(stop.wait())
    running = asyncio.create_task(service.wait())
    try:
        await asyncio.wait({stopped, running}, return_when=asyncio.FIRST_COMPLETED)
        if running.done() and running.exception() is not None:
            error = running.exception()
            if isinstance(error, CheckpointError):
                log.error(
                    "cannot resume: the checkpoint is unreadable (delete its key in "
                    "ANALYTICS_STATE to start this partition over)",
                    extra={"error": str(error)},
                )
                return 2
            log.error("analytics service failed", extra={"error": repr(error)})
            return 1
        return 0
    finally:
        stopped.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopped
        await service.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analytics", description=__doc__)
    parser.add_argument(
        "--config", type=Path, help="store analytics YAML: seeds ANALYTICS_CONFIG when empty"
    )
    args = parser.parse_args(argv)
    settings = AnalyticsSettings()
    configure_logging(settings.log_level, settings.log_json)
    seed: StoreAnalyticsConfig | None = None
    if args.config is not None:
        try:
            seed = load_yaml(args.config, StoreAnalyticsConfig, what="analytics config")
        except (ConfigFileError, ValidationError) as error:
            log.error("invalid analytics configuration", extra={"error": str(error)})
            return 2
        if seed.store_id != settings.store_id:
            log.error(
                "the analytics configuration is for another store",
                extra={"config_store_id": seed.store_id, "store_id": settings.store_id},
            )
            return 2
    return asyncio.run(serve(settings, seed))


if __name__ == "__main__":
    sys.exit(main())
