"""Dead letters: alert deliveries a webhook never accepted, kept for an operator.

A delivery goes here after `max_attempts` failed attempts, or at once when retrying
cannot help (a 4xx, a redirect, a refused address). The record is published to the
JetStream stream ALERTS_DEADLETTER on `trinetra.<store>.alerts_deadletter` (three
tokens, so no event stream's `trinetra.*.*.<family>` captures it, and the gateway's
ingest, which decodes events, never sees it), with `Nats-Msg-Id = <event id>.<endpoint>`
so a retried publish is stored once. Only after JetStream has stored it is the original
alert acknowledged on the endpoint's queue, which then moves on.

A record is JSON: endpoint_id, host (not the URL, which may carry a token), event_id,
event_kind, rule_id, attempts, reason (the last failure), last_status (HTTP status, if
any), first_attempt_at, failed_at (UTC ISO-8601) and alert: the body that was POSTed,
parsed. To redeliver, an operator reads the stream (`nats stream view
ALERTS_DEADLETTER`) and POSTs `alert` again; its event id lets the receiver deduplicate.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

from nats.js import JetStreamContext

from trinetra.events.schema import SUBJECT_ROOT, subject_token
from trinetra.events.streams import DAY, MiB, StreamSpec

__all__ = ["DEADLETTER_FAMILY", "DEADLETTER_STREAM", "DeadLetter", "deadletter_subject"]

DEADLETTER_FAMILY: Final = "alerts_deadletter"

# Rare by design (each is an alert nobody received): a month gives an operator time.
DEADLETTER_STREAM: Final = StreamSpec(
    name="ALERTS_DEADLETTER",
    subjects=(f"{SUBJECT_ROOT}.*.{DEADLETTER_FAMILY}",),
    description="Alert webhook deliveries that failed for good, one subject per store.",
    max_age_s=30 * DAY,
    max_bytes=256 * MiB,
    max_msg_size=256 * 1024,
    duplicate_window_s=10 * 60.0,
)


def deadletter_subject(store_id: str) -> str:
    return f"{SUBJECT_ROOT}.{subject_token(store_id)}.{DEADLETTER_FAMILY}"


@dataclass(frozen=True)
class DeadLetter:
    """One failed delivery (module docs)."""

    endpoint_id: str
    host: str
    event_id: str
    event_kind: str
    rule_id: str
    attempts: int
    reason: str
    last_status: int | None
    first_attempt_at: str
    failed_at: str
    alert: dict[str, Any]

    def payload(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    async def publish(self, js: JetStreamContext, store_id: str, timeout_s: float = 5.0) -> None:
        """Store the record in ALERTS_DEADLETTER; raises if JetStream did not take it."""
        await js.publish(
            deadletter_subject(store_id),
            self.payload(),
            timeout=timeout_s,
            stream=DEADLETTER_STREAM.name,
            headers={"Nats-Msg-Id": f"{self.event_id}.{self.endpoint_id}"},
        )
