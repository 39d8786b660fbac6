"""Forwarding a live view offer to a store node's `POST /live/{camera_id}/offer` and
bringing back what it said."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

log = logging.getLogger(__name__)

# The node answers once its ICE host candidates are gathered: well under a second.
NODE_TIMEOUT_S = 15.0
NODE_CONNECT_TIMEOUT_S = 3.0


class NodeUnreachableError(Exception):
    """No answer from the store node (refused, timed out, cut off)."""


@dataclass(frozen=True)
class NodeReply:
    status: int
    payload: dict[str, Any] | None  # None when the body was not a JSON object


class NodeRelay:
    """One HTTP client for every store node (`node_urls`: store id -> base URL)."""

    def __init__(self, node_urls: Mapping[str, str], timeout_s: float = NODE_TIMEOUT_S) -> None:
        self._node_urls = dict(node_urls)
        # trust_env=False: nodes are reached directly, never through an HTTP(S)_PROXY.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=NODE_CONNECT_TIMEOUT_S), trust_env=False
        )

    def node_url(self, store_id: str) -> str | None:
        return self._node_urls.get(store_id)

    async def offer(self, node_url: str, camera_id: str, sdp: str) -> NodeReply:
        url = f"{node_url.rstrip('/')}/live/{quote(camera_id, safe='')}/offer"
        try:
            response = await self._client.post(url, json={"sdp": sdp, "type": "offer"})
        except httpx.HTTPError as error:
            log.warning(
                "store node unreachable for a live offer",
                extra={"node": node_url, "camera": camera_id, "error": repr(error)},
            )
            raise NodeUnreachableError(node_url) from error
        try:
            payload = response.json()
        except ValueError:
            payload = None
        return NodeReply(response.status_code, payload if isinstance(payload, dict) else None)

    async def close(self) -> None:
        await self._client.aclose()
