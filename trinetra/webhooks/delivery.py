"""One signed HTTP POST to a webhook, and how its result is classified.

SSRF, at send time: the URL's host is resolved before every attempt and every address it
resolves to is checked against the webhook policy (trinetra.config.network); the request
then goes to the checked address itself, with the original `Host` header and, for
https, the original name for SNI and certificate verification. A name whose DNS answer
changes between the check and the connection (DNS rebinding) therefore cannot steer the
request to a refused address: the connection never resolves again. Redirects are never
followed (a 3xx could point anywhere): pass a client made with `follow_redirects=False,
trust_env=False` (proxies from the environment would resolve the name themselves).

Outcomes: 2xx delivered; 408, 425, 429 and 5xx, timeouts, connection errors and DNS
failures are worth retrying (a `Retry-After` in seconds is honoured, capped); any other
status, a redirect or a refused address is permanent: retrying cannot help.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from trinetra.config.network import IPAddress, NetworkPolicy, SourceNotAllowedError
from trinetra.webhooks.signature import EVENT_ID_HEADER, SIGNATURE_HEADER, signature_header

__all__ = ["Attempt", "classify", "post_signed", "resolve_checked"]

_RETRYABLE_STATUS: Final = frozenset({408, 425, 429})
MAX_RETRY_AFTER_S: Final = 300.0


@dataclass(frozen=True)
class Attempt:
    """What one attempt came to."""

    outcome: Literal["delivered", "retry", "permanent"]
    reason: str
    status: int | None = None
    retry_after_s: float | None = None

    @property
    def result_label(self) -> str:
        """For metrics: 2xx, 4xx, 5xx, error or refused."""
        if self.status is not None:
            return f"{self.status // 100}xx"
        return "refused" if self.reason.startswith("address refused") else "error"


async def resolve_checked(host: str, port: int, policy: NetworkPolicy) -> IPAddress:
    """The address to connect to: `host` resolved now, every answer allowed by `policy`
    (one refused answer refuses the host). Raises SourceNotAllowedError when refused,
    OSError when the name does not resolve."""
    literal = host.strip("[]").split("%", 1)[0]
    try:
        address: IPAddress = ipaddress.ip_address(literal)
    except ValueError:
        pass
    else:
        policy.check_address(address, host=host)
        return address
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    answers = sorted(
        {ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos},
        key=lambda a: (a.version, int(a)),
    )
    if not answers:
        raise OSError(f"{host!r} resolved to no address")
    for answer in answers:
        policy.check_address(answer, host=host)
    return answers[0]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "").strip()
    if not value.isdigit():
        return None  # an HTTP date is not worth parsing for a capped wait
    return min(float(value), MAX_RETRY_AFTER_S)


def classify(response: httpx.Response) -> Attempt:
    status = response.status_code
    if 200 <= status < 300:
        return Attempt("delivered", f"HTTP {status}", status)
    if 300 <= status < 400:
        return Attempt("permanent", f"redirect refused (HTTP {status})", status)
    if status >= 500 or status in _RETRYABLE_STATUS:
        return Attempt("retry", f"HTTP {status}", status, _retry_after(response))
    return Attempt("permanent", f"rejected (HTTP {status})", status)


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    *,
    secret: str,
    event_id: str,
    timeout_s: float,
    policy: NetworkPolicy,
    user_agent: str,
    headers: Mapping[str, str] | None = None,
    now: float | None = None,
) -> Attempt:
    """POST `body` to `url` once, signed with `secret` (module docs); `headers` are added
    to the signature, event id and content headers."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    try:
        address = await resolve_checked(host, port, policy)
    except SourceNotAllowedError as exc:
        return Attempt("permanent", f"address refused: {exc}")
    except (OSError, UnicodeError) as exc:
        return Attempt("retry", f"dns: {exc}")
    shown = f"[{address}]" if address.version == 6 else str(address)
    pinned = urlunsplit((parts.scheme, f"{shown}:{port}", parts.path or "/", parts.query, ""))
    host_header = parts.netloc.rsplit("@", 1)[-1]
    timestamp = int(time.time() if now is None else now)
    sent = {
        "Host": host_header,
        "Content-Type": "application/json",
        "User-Agent": user_agent,
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        **(headers or {}),
    }
    extensions = {"sni_hostname": host} if https else {}
    try:
        # httpx's timeout bounds each phase; the attempt as a whole gets the same bound.
        async with asyncio.timeout(timeout_s):
            response = await client.post(
                pinned, content=body, headers=sent, timeout=timeout_s, extensions=extensions
            )
    except (httpx.TimeoutException, TimeoutError) as exc:
        return Attempt("retry", f"timeout after {timeout_s:g} s: {type(exc).__name__}")
    except httpx.HTTPError as exc:
        return Attempt("retry", f"connection: {type(exc).__name__}: {exc}")
    return classify(response)
