"""Sends each tracked person's face observations to the identity service.

The store node does not own the face gallery (one identity service does, see
identity/service.py); it batches the observations of every camera and sends
them over NATS request/reply every `interval_s`. Losing some is acceptable by design: a
missed observation only delays a match, so when the service is away or slow the batch is
dropped and counted, and the node never waits for it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

from orchestrator.metrics import OrchestratorMetrics
from orchestrator.tracking import TrackUpdate
from trinetra.events.connection import NatsConnection
from trinetra.identity.client import IdentityServiceClient, IdentityServiceError
from trinetra.identity.protocol import MAX_OBSERVATIONS, FaceIn, ObservationIn, TrackEndIn
from trinetra.inference.detections import Faces
from trinetra.shutdown import cancel_and_wait

log = logging.getLogger(__name__)


class IdentityFeed:
    def __init__(
        self,
        connection: NatsConnection,
        store_id: str,
        metrics: OrchestratorMetrics,
        *,
        interval_s: float = 0.2,
        max_pending: int = 1024,
        timeout_s: float = 5.0,
    ) -> None:
        self._client = IdentityServiceClient(connection, store_id=store_id, timeout_s=timeout_s)
        self._metrics = metrics
        self._interval_s, self._max_pending = interval_s, max_pending
        self._observations: list[ObservationIn] = []
        self._ended: list[TrackEndIn] = []
        self._task: asyncio.Task[None] | None = None

    def add(
        self,
        camera_id: str,
        update: TrackUpdate,
        faces: Faces,
        at: datetime,
        track_uids: dict[int, str],
        *,
        embedder_version: str | None = None,
    ) -> None:
        """Queue the faces of tracked people in this frame, each with what the detector
        measured of it (the service's quality gate judges them) and the face_embedder
        version that embedded it (`FrameAnalysis.model_versions`, known when pinned).

        A face linked to no person box (person index -1), or to a box the tracker did not
        keep, belongs to no track and is never sent: it must not vote for anyone."""
        ids = update.detections.tracker_id
        if ids is None or len(faces) == 0:
            return
        by_row = {int(row): i for i, row in enumerate(update.detection_index.tolist())}
        for face in range(len(faces)):
            person = int(faces.person_index[face])
            tracked = by_row.get(person) if person >= 0 else None
            if tracked is None:
                continue
            track_id = int(ids[tracked])
            uid = track_uids.get(track_id)
            box = update.detections.xyxy[tracked].tolist()
            self._queue(
                ObservationIn(
                    camera_id=camera_id,
                    track_id=track_id,
                    at=at,
                    embeddings=[faces.embeddings[face].tolist()],
                    box=(box[0], box[1], box[2], box[3]),
                    track_uid=uuid.UUID(uid) if uid else None,
                    face=_face_in(faces, face),
                    embedder_version=embedder_version,
                )
            )

    def ended(self, camera_id: str, track_ids: tuple[int, ...], at: datetime) -> None:
        self._ended.extend(TrackEndIn(camera_id=camera_id, track_id=t, at=at) for t in track_ids)

    def _queue(self, observation: ObservationIn) -> None:
        if len(self._observations) >= self._max_pending:
            self._observations.pop(0)
            self._metrics.identity_observations.labels(result="dropped_full").inc()
        self._observations.append(observation)

    def start(self) -> None:
        self._task = asyncio.create_task(self._send_forever(), name="identity-feed")

    async def close(self) -> None:
        if self._task:
            await cancel_and_wait(self._task)

    async def _send_forever(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            if self._observations or self._ended:
                await self._send()

    async def _send(self) -> None:
        observations = self._observations[:MAX_OBSERVATIONS]
        ended = self._ended[:MAX_OBSERVATIONS]
        del self._observations[: len(observations)]
        del self._ended[: len(ended)]
        try:
            await self._client.observe(observations, ended)
        except IdentityServiceError as error:
            self._metrics.identity_observations.labels(result="dropped_unavailable").inc(
                len(observations)
            )
            log.debug(
                "identity service unavailable; observations dropped",
                extra={"observations": len(observations), "error": str(error)},
            )
            return
        self._metrics.identity_observations.labels(result="sent").inc(len(observations))


def _face_in(faces: Faces, index: int) -> FaceIn:
    """The detector's measurements of one face, for the identity service's quality gate."""
    x1, y1, x2, y2 = (float(v) for v in faces.xyxy[index])
    points = [(float(x), float(y)) for x, y in faces.landmarks[index]]
    return FaceIn(
        box=(x1, y1, x2, y2),
        score=min(max(float(faces.confidence[index]), 0.0), 1.0),
        landmarks=(points[0], points[1], points[2], points[3], points[4]),
    )
