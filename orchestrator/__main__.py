"""Run a store node: `python -m orchestrator --cameras cameras.yaml`.

Settings come from the environment (orchestrator/config/node.py, prefix TRINETRA_), the
camera list from the NATS KV camera registry, which the YAML file seeds
(orchestrator/registry.py, orchestrator/config/loader.py); with the registry (the
default) the file may be left out. SIGINT/SIGTERM stop it
cleanly: tracker state is checkpointed and open tracks are ended.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from orchestrator.config.loader import CameraSettings, ConfigError, load_cameras
from orchestrator.config.node import NodeSettings
from orchestrator.node import StoreNode
from trinetra.logs import configure_logging

log = logging.getLogger("orchestrator")


async def serve(settings: NodeSettings, cameras_file: Path | None) -> int:
    camera_settings = CameraSettings()
    try:
        if (
            cameras_file is None
            and camera_settings.cameras_file is None
            and (settings.camera_registry)
        ):
            cameras = []  # the registry alone says what runs
        else:
            cameras = load_cameras(cameras_file, settings=camera_settings)
    except ConfigError as error:
        log.error("invalid camera configuration", extra={"error": str(error)})
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    policy = camera_settings.network_policy()
    async with StoreNode(settings, cameras, network_policy=policy) as node:
        log.info("serving", extra={"health": f"http://{settings.health_host}:{node.health.port}"})
        await stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator", description=__doc__)
    parser.add_argument("--cameras", type=Path, help="camera YAML (else TRINETRA_CAMERAS_FILE)")
    args = parser.parse_args(argv)
    settings = NodeSettings()
    configure_logging(settings.log_level, settings.log_json)
    return asyncio.run(serve(settings, args.cameras))


if __name__ == "__main__":
    sys.exit(main())
