"""After a crash, end every track the dead run left open, with reason `node_restart`.

A restarted node does not resume the tracks of a run that died: it cannot know where the
people went while it was down, and the tracks started after the last checkpoint are not
in it. Resuming some and forgetting others would leave the latter open for good (their
`track.started` reached the bus, no `track.ended` ever would). So every track open at the
crash is ended, from what is known about it:

1. the last checkpoint's journal: the tracks open when it was saved;
2. replayed with the camera's track events published from `SCAN_MARGIN_S` before that
   save (JetStream holds what consumers saw): tracks started since are opened, updates
   move them on, ended ones are dropped;
3. what is still open is ended (`track.ended`, reason `node_restart`, last seen as the
   last sighting that reached the bus).

The checkpoint is the store node's: `{"journal": TrackJournal.state_dict(), "saved_at":
<epoch seconds when the journal was copied>}`. A clean stop ends its tracks itself
(reason `shutdown`) and saves an empty journal, so this then finds nothing.

The margin covers an event still queued in the publisher when a checkpoint was saved
without its track (which had just ended), and clock skew between the node and the
server; the publisher drains within seconds whenever a save can succeed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from orchestrator.checkpoint import CheckpointStore
from orchestrator.pipeline.track_journal import TrackJournal
from orchestrator.tracking.published import published_track_events
from trinetra.events.connection import NatsConnection
from trinetra.events.schema import TrackEndedEvent

SCAN_MARGIN_S: Final = 120.0


async def tracks_left_open(
    checkpoints: CheckpointStore,
    connection: NatsConnection,
    store_id: str,
    camera_id: str,
) -> list[TrackEndedEvent]:
    """The `track.ended` events (reason node_restart) of every track the previous run of
    `camera_id` left open; [] after a clean stop or when there was no previous run.

    Raises `CheckpointUnavailableError` or `PublishedEventsUnavailableError` while NATS
    cannot tell: the caller retries, and must not overwrite the checkpoint meanwhile.
    A checkpoint this build cannot read raises ValueError.
    """
    state = await checkpoints.read(camera_id)
    if state is None:
        return []
    try:
        saved_at = datetime.fromtimestamp(float(state["saved_at"]), UTC)
        journal = TrackJournal()
        journal.load_state(state["journal"])
    except (KeyError, TypeError) as error:
        raise ValueError(f"unusable tracker checkpoint: {error!r}") from error
    since = saved_at - timedelta(seconds=SCAN_MARGIN_S)
    journal.replay(await published_track_events(connection, store_id, camera_id, since))
    return journal.end_all_on(camera_id, store_id, "node_restart")
