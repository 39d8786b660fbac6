"""A camera's newest frame from its store node: `GET /live/{camera_id}/snapshot.jpg` on
the node's operational HTTP server (`node_urls`, as the live view relay uses), for
drawing over. Best effort: any failure (no node configured, node down, camera not live,
not a JPEG) is None, and the caller draws on a neutral background instead."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT_S: Final = 5.0
MAX_SNAPSHOT_BYTES: Final = 16 * 1024 * 1024


class SnapshotClient:
    def __init__(self, node_urls: Mapping[str, str], timeout_s: float = SNAPSHOT_TIMEOUT_S) -> None:
        self._node_urls = dict(node_urls)
        # trust_env=False: nodes are reached directly, never through an HTTP(S)_PROXY.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)), trust_env=False
        )

    async def fetch(self, store_id: str, camera_id: str) -> bytes | None:
        node = self._node_urls.get(store_id)
        if node is None:
            return None
        url = f"{node.rstrip('/')}/live/{quote(camera_id, safe='')}/snapshot.jpg"
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as error:
            log.info(
                "no snapshot from the store node",
                extra={"node": node, "camera": camera_id, "error": repr(error)},
            )
            return None
        body = response.content
        if response.status_code != 200 or not body.startswith(b"\xff\xd8"):
            log.info(
                "no snapshot from the store node",
                extra={"node": node, "camera": camera_id, "status": response.status_code},
            )
            return None
        return body if len(body) <= MAX_SNAPSHOT_BYTES else None

    async def close(self) -> None:
        await self._client.aclose()
