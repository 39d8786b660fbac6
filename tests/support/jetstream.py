"""Reading what reached JetStream, for assertions."""

from __future__ import annotations

import nats

from trinetra.events.schema import Event, decode


async def stream_events(url: str, stream: str) -> list[Event]:
    """Every event currently stored in `stream`, in stream order (direct reads, no consumer
    state left behind, so a test can call it repeatedly)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        try:
            info = await js.stream_info(stream)
        except nats.js.errors.NotFoundError:
            return []
        events: list[Event] = []
        if info.state.messages == 0:
            return events
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except nats.js.errors.NotFoundError:
                continue
            assert msg.data is not None
            events.append(decode(msg.data))
        return events
    finally:
        await nc.close()
