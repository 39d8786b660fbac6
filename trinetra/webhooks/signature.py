"""Webhook signatures: how TRINETRA signs a webhook (alert deliveries, push-mode job
callbacks), and how a receiver checks it.

Every POST carries

    X-Trinetra-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
    X-Trinetra-Event-Id:  <the alert event's id, or the push job's id>

where the HMAC key is the endpoint's `secret` (UTF-8) and the signed message is the
timestamp, a dot, and the raw request body, byte for byte:

    v1 = hex(HMAC_SHA256(secret, f"{t}.".encode() + body))

`t` is when this attempt was signed (each retry signs again), so a receiver can refuse
replays of an old delivery.

To verify, a receiver (this module uses only the standard library: copy
`verify_signature` as it is):

1. reads the raw body *before* parsing the JSON (re-serialized JSON will not match);
2. parses the header into `t` and the `v1` values (there may be several while a secret is
   being rotated; one match is enough);
3. recomputes the HMAC over `f"{t}." + body` and compares in constant time
   (`hmac.compare_digest`);
4. refuses a `t` more than a few minutes from its own clock (default 5 min);
5. deduplicates by `X-Trinetra-Event-Id`: delivery is at least once (a retry after a
   lost response, or a restart, sends the same event again, same id, new signature).

An alert's body is the alert event itself, as it is on the bus (trinetra/events/schema.py:
`alert.raised` / `alert.resolved`, schema_version 1); a push job's is described in
gateway/push/callbacks.py.
"""

from __future__ import annotations

import hashlib
import hmac
import time

__all__ = ["EVENT_ID_HEADER", "SIGNATURE_HEADER", "sign", "signature_header", "verify_signature"]

SIGNATURE_HEADER = "X-Trinetra-Signature"
EVENT_ID_HEADER = "X-Trinetra-Event-Id"
DEFAULT_TOLERANCE_S = 300.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `f"{timestamp}." + body` under `secret`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Trinetra-Signature value for one attempt."""
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `header` (X-Trinetra-Signature) signs `body` (the raw request body)
    under `secret` and its timestamp is within `tolerance_s` of `now` (default: the
    clock). Receivers: copy this function (module docs)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
