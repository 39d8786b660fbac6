"""The hub's streams: a JetStream cluster that gathers every store's events.

Topology (README "Scale-out"):

    store (leaf node, JetStream domain = its store id)        hub (3-node cluster, domain "hub")
      DETECTIONS TRACKS CAMERA_STATUS IDENTITY ALERTS  --source-->  the same names, R3
      TRACK_IDS TRACKER_STATE (KV)                                  ANALYTICS, ALERTS (own subjects)
                                                                    ANALYTICS_CONFIG/_STATE (KV, R3)

- A store's applications connect to their leaf and change nothing: with a domain on the
  leaf, the server keeps `$JS.API` from crossing the leaf link, so every stream and KV
  bucket they create (track-id blocks included) is the store's own, and they keep
  publishing through a WAN cut.
- Each hub stream that holds store events has one source per store (`$JS.<store>.API`).
  Sourcing resumes from the last copied sequence after a cut or a hub node's death,
  keeps each store's order, and drops Nats-Msg-Id (event id) duplicates within the
  duplicate window. Those streams have no subjects of their own, so the core copies of
  store events that the leaf link carries live to the hub's subscribers (the gateway's
  live feeds) are never stored twice.
- ANALYTICS is published at the hub only (the analytics service runs there). ALERTS is
  published at both ends (identity at the store, analytics rules at the hub), so the hub's
  ALERTS has its subjects and the stores' sources: a store alert that arrives both live
  and sourced is dropped as a duplicate of its event id; the leaf does not import
  hub-published event subjects (deploy/nats/leaf.conf), so nothing loops back.
- The hub streams are marked hub-managed: an application's own `ensure_stream` leaves
  them alone, and only this module changes them.

A new store is added with `python -m trinetra.events.hub --nats-url URL add-store STORE`
(idempotent: run it again and nothing changes); `setup` creates the streams and buckets
alone, `remove-store` stops copying a store, `status` shows each source's lag.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Final

import nats
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from trinetra.events.kv import (
    ANALYTICS_CONFIG_BUCKET,
    ANALYTICS_STATE_BUCKET,
    KvBucketSpec,
    ensure_bucket,
)
from trinetra.events.streams import (
    ALERTS_STREAM,
    ANALYTICS_STREAM,
    DEFAULT_STREAMS,
    HUB_MANAGED,
    IDENTITY_STREAMS,
    MANAGED_BY_KEY,
    StreamSourceSpec,
    StreamSpec,
    ensure_stream,
)

__all__ = [
    "HUB_DOMAIN",
    "HUB_REPLICAS",
    "STORE_STREAMS",
    "add_store",
    "ensure_hub",
    "hub_bucket",
    "hub_spec",
    "hub_stores",
    "leaf_deny_imports",
    "remove_store",
    "store_domain",
]

HUB_DOMAIN: Final = "hub"
HUB_REPLICAS: Final = 3
# What a store's domain holds and the hub copies; ALERTS and ANALYTICS are also
# published at the hub (module docs).
STORE_STREAMS: Final = (*DEFAULT_STREAMS, *IDENTITY_STREAMS)
HUB_PUBLISHED: Final = frozenset({ALERTS_STREAM.name, ANALYTICS_STREAM.name})
HUB_STREAMS: Final = (*STORE_STREAMS, ANALYTICS_STREAM)
HUB_BUCKETS: Final = (ANALYTICS_CONFIG_BUCKET, ANALYTICS_STATE_BUCKET)

# A JetStream domain is one subject token; store ids already are (STORE_ID_PATTERN).
_DOMAIN_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def store_domain(store_id: str) -> str:
    """A store's JetStream domain: its store id, which must be one subject token."""
    if not _DOMAIN_PATTERN.fullmatch(store_id):
        raise ValueError(
            f"store_id {store_id!r} cannot name a JetStream domain: use 1-64 of [A-Za-z0-9_-]"
        )
    if store_id == HUB_DOMAIN:
        raise ValueError(f"store_id {store_id!r} is the hub's own domain")
    return store_id


def leaf_deny_imports() -> list[str]:
    """What a store's leaf refuses from the hub: the subjects its own streams capture, so
    an event published at the hub never lands in a store's stream (and is never sourced
    back). Requests to the store (identity) and their replies still cross."""
    return sorted({subject for spec in STORE_STREAMS for subject in spec.subjects})


def hub_spec(spec: StreamSpec, stores: Iterable[str], replicas: int = HUB_REPLICAS) -> StreamSpec:
    """`spec` as the hub runs it: replicated, sourcing `stores` where the stores hold it,
    with subjects only where the hub publishes too (module docs)."""
    if spec.name not in {s.name for s in HUB_STREAMS}:
        raise ValueError(f"stream {spec.name} is not one of the hub's")
    sourced = spec.name in {s.name for s in STORE_STREAMS}
    return spec.replace(
        subjects=spec.subjects if spec.name in HUB_PUBLISHED else (),
        sources=tuple(
            StreamSourceSpec(spec.name, store_domain(store)) for store in sorted(set(stores))
        )
        if sourced
        else (),
        num_replicas=replicas,
        metadata={**spec.metadata, MANAGED_BY_KEY: HUB_MANAGED},
    )


def hub_bucket(spec: KvBucketSpec, replicas: int = HUB_REPLICAS) -> KvBucketSpec:
    return KvBucketSpec(
        name=spec.name,
        description=spec.description,
        history=spec.history,
        max_value_bytes=spec.max_value_bytes,
        ttl_s=spec.ttl_s,
        replicas=replicas,
    )


async def hub_stores(js: JetStreamContext) -> set[str]:
    """The stores the hub copies now (the domains of DETECTIONS' sources)."""
    try:
        info = await js.stream_info(STORE_STREAMS[0].name)
    except NotFoundError:
        return set()
    stores: set[str] = set()
    for source in info.config.sources or ():
        api = source.external.api if source.external is not None else None
        match = re.fullmatch(r"\$JS\.([^.]+)\.API", api or "")
        if match:
            stores.add(match.group(1))
    return stores


async def ensure_hub(
    js: JetStreamContext, stores: Iterable[str] = (), *, replicas: int = HUB_REPLICAS
) -> set[str]:
    """Create or update the hub's streams (sourcing the stores already there plus
    `stores`) and KV buckets; returns the stores copied."""
    wanted = await hub_stores(js) | {store_domain(s) for s in stores}
    await _apply(js, wanted, replicas)
    return wanted


async def add_store(
    js: JetStreamContext, store_id: str, *, replicas: int = HUB_REPLICAS
) -> set[str]:
    """Start copying a store's streams into the hub (idempotent)."""
    return await ensure_hub(js, [store_id], replicas=replicas)


async def remove_store(
    js: JetStreamContext, store_id: str, *, replicas: int = HUB_REPLICAS
) -> set[str]:
    """Stop copying a store (what was copied stays in the hub's streams)."""
    wanted = await hub_stores(js) - {store_domain(store_id)}
    await _apply(js, wanted, replicas)
    return wanted


async def _apply(js: JetStreamContext, stores: set[str], replicas: int) -> None:
    for spec in HUB_STREAMS:
        await ensure_stream(js, hub_spec(spec, stores, replicas))
    for bucket in HUB_BUCKETS:
        await ensure_bucket(js, hub_bucket(bucket, replicas))


async def _status(nc: NATS) -> str:
    # The raw STREAM.INFO: nats-py's StreamSourceInfo drops the source's `external`.
    lines = []
    for spec in HUB_STREAMS:
        reply = await nc.request(f"$JS.API.STREAM.INFO.{spec.name}", b"", timeout=10.0)
        info = json.loads(reply.data)
        if "error" in info:
            lines.append(f"{spec.name}: {info['error'].get('description', info['error'])}")
            continue
        leader = (info.get("cluster") or {}).get("leader", "-")
        lines.append(
            f"{spec.name}: {info['state']['messages']} messages, "
            f"R{info['config'].get('num_replicas', 1)}, leader {leader}"
        )
        for source in info.get("sources") or ():
            api = (source.get("external") or {}).get("api", "-")
            error = f", error {source['error']}" if source.get("error") else ""
            lines.append(f"  <- {source['name']} via {api}: lag {source.get('lag', 0)}{error}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m trinetra.events.hub", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--nats-url", default="nats://127.0.0.1:4222", help="hub node URL(s), comma-separated"
    )
    parser.add_argument("--replicas", type=int, default=HUB_REPLICAS, help="stream replicas")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="create or update the hub's streams and buckets")
    for name, what in (("add-store", "start copying"), ("remove-store", "stop copying")):
        command = commands.add_parser(name, help=f"{what} stores' streams")
        command.add_argument("stores", nargs="+", metavar="STORE")
    commands.add_parser("status", help="streams, sources and their lag")
    args = parser.parse_args(argv)
    try:
        for store in getattr(args, "stores", ()):
            store_domain(store)
    except ValueError as exc:
        parser.error(str(exc))
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    nc = await nats.connect(args.nats_url.split(","), connect_timeout=5, max_reconnect_attempts=2)
    try:
        js = nc.jetstream(timeout=10.0)
        if args.command == "status":
            print(await _status(nc))
            return 0
        stores: set[str]
        if args.command == "setup":
            stores = await ensure_hub(js, replicas=args.replicas)
        elif args.command == "add-store":
            stores = await ensure_hub(js, args.stores, replicas=args.replicas)
        else:
            stores = await hub_stores(js)
            for store in args.stores:
                stores = await remove_store(js, store, replicas=args.replicas)
        print(f"hub copies {len(stores)} store(s): {', '.join(sorted(stores)) or '-'}")
        return 0
    finally:
        await nc.close()


if __name__ == "__main__":
    sys.exit(main())
