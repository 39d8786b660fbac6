"""The active identity registry: who is in the store now, where they were seen, and their
adaptive templates.

- Sightings: for each active customer, the interval of every track resolved to them
  (kept after the track ends, until the customer's TTL), which is what the spatiotemporal
  gate and the false-merge check compare against.
- Adaptive template: an EMA of the customer's embedding, started from their best-matching
  stored embedding and updated only by matches above `ema_min_score` on tracks resolved to
  them (re-normalized each time). The gallery's enrolled embeddings are never modified, so
  a bad update cannot poison the permanent record, and the template dies with the TTL.
- Per-camera mean embedding (optional): subtracted from probes before matching.

Everything expires by observation time (`expire(now)`); `forget` erases a customer.
`snapshot`/`restore` give a JSON form that `crypto.EmbeddingCipher` encrypts on disk.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from identity.config import RegistryConfig
from identity.outcomes import VisitScope
from identity.topology import Interval
from identity.vectors import Vector, ema, unit_vector

TrackKey = tuple[str, int]  # (camera_id, track_id)
_SNAPSHOT_VERSION: Final = 1


@dataclass
class Sighting:
    """Where one of a customer's tracks was. `visit_id` is the id the track was created
    with, which identifies the track instance (tracker ids are reused after a restart);
    `visit` and `visit_scope` are the visit it belongs to now, for reports."""

    camera_id: str
    track_id: int
    first: float
    last: float
    visit_id: uuid.UUID
    track_uid: uuid.UUID | None = None
    visit: uuid.UUID | None = None
    visit_scope: VisitScope = "track"

    @property
    def key(self) -> TrackKey:
        return (self.camera_id, self.track_id)

    @property
    def interval(self) -> Interval:
        return Interval(self.camera_id, self.first, self.last)


@dataclass
class ActiveIdentity:
    customer_id: str
    vip: bool
    last_seen: float
    sightings: dict[TrackKey, Sighting] = field(default_factory=dict)
    template: Vector | None = None
    template_updates: int = 0


def _encode_vector(vector: Vector) -> str:
    return base64.b64encode(np.asarray(vector, np.float32).tobytes()).decode()


def _decode_vector(text: str) -> Vector:
    return unit_vector(np.frombuffer(base64.b64decode(text), np.float32))


class ActiveIdentityRegistry:
    def __init__(self, config: RegistryConfig | None = None) -> None:
        self.config = config or RegistryConfig()
        self._active: dict[str, ActiveIdentity] = {}
        self._camera_mean: dict[str, tuple[Vector, int]] = {}
        self._templates_cache: tuple[list[str], Vector] | None = None

    def __len__(self) -> int:
        return len(self._active)

    def __contains__(self, customer_id: object) -> bool:
        return customer_id in self._active

    def __iter__(self) -> Iterator[ActiveIdentity]:
        return iter(list(self._active.values()))

    def get(self, customer_id: str) -> ActiveIdentity | None:
        return self._active.get(customer_id)

    # --- sightings --------------------------------------------------------------------

    def sightings(self, customer_id: str) -> list[Sighting]:
        identity = self._active.get(customer_id)
        return list(identity.sightings.values()) if identity is not None else []

    def record(
        self,
        customer_id: str,
        sighting: Sighting,
        *,
        vip: bool | None = None,
    ) -> ActiveIdentity:
        """Add or extend the sighting of one of the customer's tracks."""
        identity = self._active.get(customer_id)
        if identity is None:
            identity = ActiveIdentity(customer_id, bool(vip), sighting.last)
            self._active[customer_id] = identity
        elif vip is not None:
            identity.vip = vip
        current = identity.sightings.get(sighting.key)
        if current is None or current.visit_id != sighting.visit_id:
            identity.sightings[sighting.key] = sighting
        else:
            current.first = min(current.first, sighting.first)
            current.last = max(current.last, sighting.last)
            current.visit, current.visit_scope = sighting.visit, sighting.visit_scope
        identity.last_seen = max(identity.last_seen, sighting.last)
        return identity

    def detach(self, customer_id: str, key: TrackKey) -> None:
        """A track no longer counts as the customer (its assignment was withdrawn)."""
        identity = self._active.get(customer_id)
        if identity is not None:
            identity.sightings.pop(key, None)

    # --- templates --------------------------------------------------------------------

    def has_template(self, customer_id: str) -> bool:
        identity = self._active.get(customer_id)
        return identity is not None and identity.template is not None

    def set_template(self, customer_id: str, vector: Vector) -> None:
        identity = self._active.get(customer_id)
        if identity is not None:
            identity.template = unit_vector(vector)
            self._templates_cache = None

    def drop_template(self, customer_id: str) -> None:
        """Forget the adaptive template (re-enrolment: it restarts from the new photos)."""
        identity = self._active.get(customer_id)
        if identity is not None and identity.template is not None:
            identity.template = None
            identity.template_updates = 0
            self._templates_cache = None

    def update_template(self, customer_id: str, sample: Vector, score: float) -> bool:
        """EMA step towards `sample` if the match was strong enough; True if applied."""
        identity = self._active.get(customer_id)
        if (
            not self.config.ema_enabled
            or identity is None
            or identity.template is None
            or score < self.config.ema_min_score
        ):
            return False
        identity.template = ema(identity.template, sample, self.config.ema_alpha)
        identity.template_updates += 1
        self._templates_cache = None
        return True

    def template_scores(self, probe: Vector) -> dict[str, float]:
        """Cosine similarity of `probe` to every active template."""
        if self._templates_cache is None:
            ids = [i.customer_id for i in self._active.values() if i.template is not None]
            matrix = (
                np.stack([t for i in self._active.values() if (t := i.template) is not None])
                if ids
                else np.zeros((0, probe.size), np.float32)
            )
            self._templates_cache = (ids, matrix)
        ids, matrix = self._templates_cache
        if not ids:
            return {}
        scores = matrix @ probe
        return {customer: float(s) for customer, s in zip(ids, scores, strict=True)}

    # --- per-camera normalization ----------------------------------------------------

    def normalize(self, camera_id: str, probe: Vector) -> Vector:
        """`probe` minus the camera's running mean, re-normalized (when enabled and the
        mean has enough samples), then the mean is updated with `probe`."""
        if not self.config.camera_normalization:
            return probe
        mean, count = self._camera_mean.get(camera_id, (np.zeros_like(probe), 0))
        out = probe
        if count >= self.config.camera_mean_min_samples:
            try:
                out = unit_vector(probe - mean, probe.size)
            except ValueError:
                out = probe  # the probe *is* the mean: nothing left to compare
        count += 1
        weight = 1.0 / min(count, self.config.camera_mean_max_samples)
        self._camera_mean[camera_id] = ((mean + weight * (probe - mean)).astype(np.float32), count)
        return out

    # --- lifecycle --------------------------------------------------------------------

    def expire(self, now: float) -> list[str]:
        """Drop customers unseen for `ttl_s`; returns their ids."""
        cutoff = now - self.config.ttl_s
        gone = [c for c, i in self._active.items() if i.last_seen < cutoff]
        for customer in gone:
            del self._active[customer]
        if gone:
            self._templates_cache = None
        return gone

    def forget(self, customer_id: str) -> bool:
        """Erase every trace of a customer (sightings, template); True if there was any."""
        found = self._active.pop(customer_id, None) is not None
        self._templates_cache = None
        return found

    # --- snapshot ---------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state, embeddings included: encrypt before writing it anywhere."""
        return {
            "v": _SNAPSHOT_VERSION,
            "identities": [
                {
                    "customer_id": i.customer_id,
                    "vip": i.vip,
                    "last_seen": i.last_seen,
                    "template": None if i.template is None else _encode_vector(i.template),
                    "template_updates": i.template_updates,
                    "sightings": [
                        {
                            "camera_id": s.camera_id,
                            "track_id": s.track_id,
                            "first": s.first,
                            "last": s.last,
                            "visit_id": str(s.visit_id),
                            "track_uid": None if s.track_uid is None else str(s.track_uid),
                        }
                        for s in i.sightings.values()
                    ],
                }
                for i in self._active.values()
            ],
            "camera_means": {
                camera: {"mean": base64.b64encode(m.tobytes()).decode(), "count": n}
                for camera, (m, n) in self._camera_mean.items()
            },
        }

    def restore(self, state: dict[str, Any]) -> None:
        if state.get("v") != _SNAPSHOT_VERSION:
            raise ValueError(f"unsupported registry snapshot version {state.get('v')!r}")
        self._active.clear()
        for item in state["identities"]:
            identity = ActiveIdentity(
                customer_id=str(item["customer_id"]),
                vip=bool(item["vip"]),
                last_seen=float(item["last_seen"]),
                template=None if item["template"] is None else _decode_vector(item["template"]),
                template_updates=int(item["template_updates"]),
            )
            for s in item["sightings"]:
                sighting = Sighting(
                    camera_id=str(s["camera_id"]),
                    track_id=int(s["track_id"]),
                    first=float(s["first"]),
                    last=float(s["last"]),
                    visit_id=uuid.UUID(s["visit_id"]),
                    track_uid=None if s["track_uid"] is None else uuid.UUID(s["track_uid"]),
                )
                identity.sightings[sighting.key] = sighting
            self._active[identity.customer_id] = identity
        self._camera_mean = {
            camera: (np.frombuffer(base64.b64decode(v["mean"]), np.float32).copy(), int(v["count"]))
            for camera, v in state.get("camera_means", {}).items()
        }
        self._templates_cache = None
