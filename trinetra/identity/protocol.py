"""The identity service's NATS request/reply protocol: subjects and JSON messages.

Subjects (core NATS request/reply, never captured by a JetStream stream, so photos and
embeddings in requests are not persisted by the bus):

    trinetra.<store>.identity.enroll       EnrollRequest     -> EnrollResult
    trinetra.<store>.identity.erase        EraseRequest      -> EraseResult
    trinetra.<store>.identity.erase_visit  EraseVisitRequest -> EraseVisitResult
    trinetra.<store>.identity.lookup       LookupRequest     -> LookupResult
    trinetra.<store>.identity.observe      ObserveRequest    -> ObserveResult
    trinetra.<store>.identity.health       HealthRequest     -> HealthResult  (cheap: for probes)

Every reply is `{"ok": true, "result": {...}}` or `{"ok": false, "error": {"code": ...,
"message": ...}}`; a bad request gets an error reply, never a crashed service. Photos
travel base64-encoded inside the JSON when the request fits one NATS message (the
server's max_payload, 1 MiB by default: photos up to about 750 KB together); larger ones
go through the JetStream object store bucket IDENTITY_UPLOADS (trinetra/events/kv.py)
and the request names them (`uploads`): the service reads each and deletes it. Object
store rather than home-made chunking: nats-py 2.16 has it built in (chunking, flow,
SHA-256 check, TTL), and the bucket bounds the bytes in flight.

An observation carries, with its face's embedding, what the detector measured of the face
(`FaceIn`: box, score, landmarks) for the service's quality gate, and the face_embedder
version that embedded it, so that the service can refuse embeddings of a version its
gallery does not hold.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Final, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from trinetra.events.schema import SUBJECT_ROOT, subject_token
from trinetra.identity.errors import ErrorCode
from trinetra.inference.detections import EMBEDDING_DIM

Operation = Literal["enroll", "erase", "erase_visit", "lookup", "observe", "health"]
OPERATIONS: Final[tuple[Operation, ...]] = (
    "enroll",
    "erase",
    "erase_visit",
    "lookup",
    "observe",
    "health",
)


CustomerId = Annotated[str, Field(min_length=1, max_length=128)]
Text = Annotated[str, Field(min_length=1, max_length=1000)]
MAX_OBSERVATIONS: Final = 256
MAX_ENROLL_PHOTOS: Final = 15  # besides `photo`; the service's own limit is lower
# An object's name in IDENTITY_UPLOADS: random, so it says nothing about whose photo it is.
UploadName = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


def service_subject(store_id: str, operation: Operation) -> str:
    """`trinetra.<store>.identity.<operation>`."""
    return f"{SUBJECT_ROOT}.{subject_token(store_id)}.identity.{operation}"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Audited(_Message):
    actor: Text = Field(description="Who asks (user or service), for the audit log.")
    reason: Text = Field(description="Why, for the audit log.")


class EnrollRequest(_Audited):
    customer_id: CustomerId = Field(description="Pseudonymous customer id to enrol.")
    photo: str | None = Field(
        default=None, min_length=1, description="JPEG/PNG photo of exactly one face, base64."
    )
    photos: list[Annotated[str, Field(min_length=1)]] = Field(
        default_factory=list,
        max_length=MAX_ENROLL_PHOTOS,
        description="More photos of the same person, base64 (the service takes at most its "
        "enrollment.max_photos, 3 by default, with `photo`).",
    )
    uploads: list[UploadName] = Field(
        default_factory=list,
        max_length=MAX_ENROLL_PHOTOS + 1,
        description="Instead of `photo`/`photos`: the photos' object names in the "
        "IDENTITY_UPLOADS object store, in order (for photos too large for one message).",
    )
    upload_domain: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="JetStream domain of the IDENTITY_UPLOADS bucket holding `uploads`: "
        "the sender's (a gateway at the hub, a service on a store's leaf node); None: "
        "the service's own.",
    )
    vip: bool = Field(default=False, description="Flag the customer as VIP.")
    replace: bool = Field(
        default=False,
        description="Re-enrolment: the customer's stored embeddings are replaced by these "
        "photos (only once at least one of them is accepted).",
    )

    @model_validator(mode="after")
    def _some_photo(self) -> Self:
        inline = self.photo is not None or bool(self.photos)
        if not inline and not self.uploads:
            raise ValueError("an enrolment needs a photo")
        if inline and self.uploads:
            raise ValueError("photos go inline or as uploads, not both")
        return self

    def photo_bytes(self) -> bytes:
        """The first decoded photo; ValueError if it is not valid base64."""
        return self.all_photo_bytes()[0]

    def all_photo_bytes(self) -> list[bytes]:
        """Every decoded inline photo, `photo` first (none when they are `uploads`);
        ValueError if one is not valid base64."""
        encoded = ([self.photo] if self.photo is not None else []) + list(self.photos)
        out = []
        for i, text in enumerate(encoded):
            try:
                out.append(base64.b64decode(text, validate=True))
            except binascii.Error as exc:
                raise ValueError(f"photo {i} is not valid base64: {exc}") from None
        return out

    @classmethod
    def for_uploads(
        cls,
        customer_id: str,
        uploads: Sequence[str],
        *,
        actor: str,
        reason: str,
        domain: str | None = None,
        vip: bool = False,
        replace: bool = False,
    ) -> EnrollRequest:
        """The request for photos already put in IDENTITY_UPLOADS (of JetStream domain
        `domain`) under `uploads`."""
        return cls(
            customer_id=customer_id,
            uploads=list(uploads),
            upload_domain=domain,
            vip=vip,
            replace=replace,
            actor=actor,
            reason=reason,
        )

    @classmethod
    def for_photo(
        cls, customer_id: str, photo: bytes, *, actor: str, reason: str, vip: bool = False
    ) -> EnrollRequest:
        return cls.for_photos(customer_id, [photo], actor=actor, reason=reason, vip=vip)

    @classmethod
    def for_photos(
        cls,
        customer_id: str,
        photos: Sequence[bytes],
        *,
        actor: str,
        reason: str,
        vip: bool = False,
        replace: bool = False,
    ) -> EnrollRequest:
        if not photos:
            raise ValueError("an enrolment needs a photo")
        encoded = [base64.b64encode(p).decode() for p in photos]
        return cls(
            customer_id=customer_id,
            photo=encoded[0],
            photos=encoded[1:],
            vip=vip,
            replace=replace,
            actor=actor,
            reason=reason,
        )


class PhotoRefusal(_Message):
    """One photo of an enrolment that was not used, and why."""

    index: int = Field(ge=0, description="Position of the photo in the request.")
    code: ErrorCode = Field(description="Machine-readable reason (low_quality_face, ...).")
    message: str = Field(description="What is wrong with it, for a person.")


class EmbeddingInfo(_Message):
    slot: int = Field(ge=0, description="Gallery slot.")
    camera_id: str = Field(description="Where the embedding came from.")
    enrolled_at: AwareDatetime = Field(description="When it was stored.")
    vip: bool = Field(description="VIP flag.")


class EnrollResult(_Message):
    customer_id: str = Field(description="The customer.")
    slot: int = Field(ge=0, description="Slot the (first) new embedding went to.")
    enrolled_at: AwareDatetime = Field(description="When it was stored.")
    embeddings: int = Field(ge=1, description="Embeddings the customer now has.")
    slots: list[int] = Field(default_factory=list, description="Slots of every new embedding.")
    refused: list[PhotoRefusal] = Field(
        default_factory=list, description="Photos not used, with the reason."
    )
    replaced: int = Field(
        default=0, ge=0, description="Embeddings deleted first (re-enrolment with replace)."
    )


class EraseRequest(_Audited):
    customer_id: CustomerId = Field(description="Customer whose biometric data to delete.")


class EraseResult(_Message):
    customer_id: str = Field(description="The customer.")
    embeddings_removed: int = Field(ge=0, description="Gallery embeddings deleted.")
    was_active: bool = Field(description="The customer was in the active registry.")
    tracks_withdrawn: int = Field(ge=0, description="Live tracks that lost this identity.")
    events_purged: int = Field(
        0, ge=0, description="Stored identity/alert events naming the customer, deleted."
    )


class EraseVisitRequest(_Audited):
    visit_id: uuid.UUID = Field(description="Anonymous visit whose face templates to delete.")


class EraseVisitResult(_Message):
    visit_id: uuid.UUID = Field(description="The visit.")
    found: bool = Field(description="The visit still had a template (it had not ended).")
    templates_removed: int = Field(
        ge=0, description="Face templates deleted: the visit's and its tracks' own."
    )
    tracks: int = Field(ge=0, description="Tracks of the visit that stop taking part.")


class LookupRequest(_Audited):
    customer_id: CustomerId = Field(description="Customer to look up.")


class LookupResult(_Message):
    customer_id: str = Field(description="The customer.")
    enrolled: bool = Field(description="The gallery has embeddings for them.")
    embeddings: list[EmbeddingInfo] = Field(default_factory=list, description="By slot.")
    active: bool = Field(description="In the active registry (seen recently).")
    last_seen_at: AwareDatetime | None = Field(default=None, description="Latest sighting.")


class FaceIn(_Message):
    """What the face detector measured of the observed face (frame pixels)."""

    box: tuple[float, float, float, float] = Field(description="Face box x1, y1, x2, y2.")
    score: float = Field(ge=0.0, le=1.0, allow_inf_nan=False, description="Detector score.")
    landmarks: tuple[
        tuple[float, float],
        tuple[float, float],
        tuple[float, float],
        tuple[float, float],
        tuple[float, float],
    ] = Field(description="Eyes, nose tip, mouth corners (x, y).")
    sharpness: float | None = Field(
        default=None,
        ge=0.0,
        description="Variance of the Laplacian of the aligned crop, if the sender has it.",
    )


class ObservationIn(_Message):
    camera_id: Annotated[str, Field(min_length=1, max_length=128)] = Field(description="Camera.")
    track_id: int = Field(ge=0, description="Tracker id on the camera.")
    at: AwareDatetime = Field(description="Observation (frame) time.")
    embeddings: list[
        Annotated[list[float], Field(min_length=EMBEDDING_DIM, max_length=EMBEDDING_DIM)]
    ] = Field(default_factory=list, max_length=8, description="Samples of the track's face.")
    box: tuple[float, float, float, float] | None = Field(
        default=None, description="Person box x1, y1, x2, y2."
    )
    track_uid: uuid.UUID | None = Field(default=None, description="Global track id.")
    face: FaceIn | None = Field(
        default=None, description="Measurements of the face, for the quality gate."
    )
    embedder_version: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        default=None, description="face_embedder version that produced the embeddings."
    )


class TrackEndIn(_Message):
    camera_id: Annotated[str, Field(min_length=1, max_length=128)] = Field(description="Camera.")
    track_id: int = Field(ge=0, description="Tracker id.")
    at: AwareDatetime | None = Field(default=None, description="When the tracker ended it.")


class ObserveRequest(_Message):
    observations: list[ObservationIn] = Field(
        default_factory=list, max_length=MAX_OBSERVATIONS, description="In time order."
    )
    ended: list[TrackEndIn] = Field(
        default_factory=list, max_length=MAX_OBSERVATIONS, description="Tracks that ended."
    )


class DecisionOut(_Message):
    camera_id: str
    track_id: int
    visit_id: uuid.UUID
    status: Literal["pending", "resolved", "unknown", "contradicted"]
    customer_id: str | None
    vote: str | None
    vote_reason: str
    score: float | None
    companion: bool
    visit_scope: Literal["track", "linked"] = "track"


class ObserveResult(_Message):
    decisions: list[DecisionOut] = Field(default_factory=list)


class HealthRequest(_Message):
    """A liveness question (an empty body is one too); answered on the event loop, never
    queued behind gallery work, so a probe sees the process, not the queue."""


class HealthResult(_Message):
    store_id: str = Field(description="The store the service serves.")
    ready: bool = Field(description="Subscribed to every request subject.")
    embedder_version: str = Field(description="face_embedder version of the gallery.")
    active_identities: int = Field(ge=0, description="Customers in the active registry.")
    events_pending: int = Field(ge=0, description="Events not yet stored by JetStream.")
    uptime_s: float = Field(ge=0, description="Seconds since the service was created.")


class ErrorInfo(_Message):
    code: ErrorCode
    message: str


def ok_reply(result: BaseModel) -> bytes:
    return b'{"ok":true,"result":' + result.model_dump_json().encode() + b"}"


def error_reply(code: ErrorCode, message: str) -> bytes:
    body: dict[str, Any] = {"ok": False, "error": ErrorInfo(code=code, message=message)}
    return _Reply.model_validate(body).model_dump_json(exclude_none=True).encode()


class _Reply(_Message):
    ok: bool
    result: dict[str, Any] | None = None
    error: ErrorInfo | None = None


def parse_reply(data: bytes) -> tuple[dict[str, Any] | None, ErrorInfo | None]:
    """(result, None) or (None, error) from a reply payload."""
    reply = _Reply.model_validate_json(data)
    if reply.ok:
        return reply.result or {}, None
    return None, reply.error or ErrorInfo(code="internal", message="error reply without error")
