"""`IdentityServiceClient`: how other processes use the identity service over NATS.

    client = IdentityServiceClient(nc, store_id="blr-01")
    await client.enroll("cust-42", photo_bytes, actor="gateway:alice", reason="signup")
    await client.enroll("cust-42", [a, b, c], actor=..., reason=..., replace=True)  # re-enrol
    await client.lookup("cust-42", actor=..., reason=...)
    await client.erase("cust-42", actor=..., reason="customer request")
    await client.erase_visit(visit_id, actor=..., reason="visitor request")
    await client.health()  # HealthResult, within HEALTH_TIMEOUT_S (for probes)

Error replies become the exceptions of `trinetra.identity.errors`, the same types the
service raises in-process (`NoFaceError`, `MultipleFacesError`, ...); no responder or no
reply in time is `IdentityServiceUnavailableError`. This module imports no Qdrant or
crypto code, so any process can use it.

Enrolment photos that do not fit one NATS message with the request are put in the
IDENTITY_UPLOADS object store (trinetra/events/kv.py) under random names that the
request carries; the client deletes them once the request is over, whatever happened
(the service deletes each as soon as it has read it, the bucket's TTL is the backstop).
So the photo size limit is the service's `max_photo_bytes`, not the bus's max_payload.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TypeVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.js.object_store import ObjectStore
from pydantic import BaseModel

from trinetra.events.connection import NatsConnection
from trinetra.events.kv import IDENTITY_UPLOADS_BUCKET, ensure_object_store
from trinetra.identity.errors import (
    IdentityServiceError,
    IdentityServiceUnavailableError,
    PhotoTooLargeError,
    error_for,
)
from trinetra.identity.protocol import (
    EnrollRequest,
    EnrollResult,
    EraseRequest,
    EraseResult,
    EraseVisitRequest,
    EraseVisitResult,
    HealthRequest,
    HealthResult,
    LookupRequest,
    LookupResult,
    ObservationIn,
    ObserveRequest,
    ObserveResult,
    Operation,
    TrackEndIn,
    parse_reply,
    service_subject,
)

R = TypeVar("R", bound=BaseModel)
log = logging.getLogger(__name__)
# Room left in a message for the reply subject and headers next to the request.
_MESSAGE_MARGIN = 4096
# A health probe's deadline: the service answers it on its event loop at once, so a
# late answer means a stuck or overloaded process, never a slow model.
HEALTH_TIMEOUT_S = 2.0


__all__ = [
    "HEALTH_TIMEOUT_S",
    "IdentityServiceClient",
    "IdentityServiceError",
    "IdentityServiceUnavailableError",
    "discard_upload",
]


class IdentityServiceClient:
    def __init__(
        self,
        nats_client: NATS | NatsConnection,
        *,
        store_id: str,
        timeout_s: float = 30.0,
    ) -> None:
        """`timeout_s`: per request; enrolment runs the vision pipeline, so not too low."""
        self._nats = nats_client
        self.store_id = store_id
        self.timeout_s = timeout_s

    def _client(self) -> NATS:
        if isinstance(self._nats, NatsConnection):
            client = self._nats.client
            if client is None or not self._nats.connected:
                raise IdentityServiceUnavailableError("not connected to NATS")
            return client
        return self._nats

    async def _call(
        self,
        operation: Operation,
        request: BaseModel,
        result: type[R],
        timeout_s: float | None = None,
    ) -> R:
        client = self._client()
        payload = request.model_dump_json().encode()
        return await self._send(client, operation, payload, result, timeout_s)

    async def _send(
        self,
        client: NATS,
        operation: Operation,
        payload: bytes,
        result: type[R],
        timeout_s: float | None = None,
    ) -> R:
        """`timeout_s`: this request's deadline (default: the client's `timeout_s`)."""
        deadline_s = self.timeout_s if timeout_s is None else timeout_s
        if client.max_payload and len(payload) > client.max_payload:
            raise PhotoTooLargeError(
                f"request is {len(payload)} bytes, the NATS server accepts {client.max_payload}"
            )
        try:
            msg = await client.request(
                service_subject(self.store_id, operation), payload, timeout=deadline_s
            )
        except nats.errors.NoRespondersError:
            raise IdentityServiceUnavailableError(
                f"no identity service for store {self.store_id!r}"
            ) from None
        except (TimeoutError, nats.errors.TimeoutError):
            raise IdentityServiceUnavailableError(
                f"identity {operation} got no reply in {deadline_s} s"
            ) from None
        body, error = parse_reply(msg.data)
        if error is not None:
            raise error_for(error.code, error.message)
        return result.model_validate(body)

    async def enroll(
        self,
        customer_id: str,
        photo: bytes | Sequence[bytes],
        *,
        actor: str,
        reason: str,
        vip: bool = False,
        replace: bool = False,
    ) -> EnrollResult:
        """Enrol from one photo or several of the same person (the service takes up to
        its enrollment.max_photos, 3 by default). Photos refused for quality are listed in
        the result; when every photo is refused, the first refusal is raised. `replace`:
        re-enrolment, the customer's stored embeddings are replaced."""
        photos = [bytes(photo)] if isinstance(photo, bytes | bytearray) else list(photo)
        request = EnrollRequest.for_photos(
            customer_id, photos, actor=actor, reason=reason, vip=vip, replace=replace
        )
        client = self._client()
        payload = request.model_dump_json().encode()
        if not client.max_payload or len(payload) + _MESSAGE_MARGIN <= client.max_payload:
            return await self._send(client, "enroll", payload, EnrollResult)
        store, domain = await self._uploads(client)
        names = [uuid.uuid4().hex for _ in photos]
        try:
            for name, data in zip(names, photos, strict=True):
                await self._put(store, name, data)
            request = EnrollRequest.for_uploads(
                customer_id,
                names,
                actor=actor,
                reason=reason,
                domain=domain,
                vip=vip,
                replace=replace,
            )
            return await self._call("enroll", request, EnrollResult)
        finally:
            for name in names:
                await discard_upload(store, name)

    async def _uploads(self, client: NATS) -> tuple[ObjectStore, str | None]:
        """The bucket, and the JetStream domain it is in (the service may be in another:
        a gateway at the hub enrols through a store's leaf node)."""
        try:
            js = client.jetstream()
            domain = (await js.account_info()).domain
            return await ensure_object_store(js, IDENTITY_UPLOADS_BUCKET), domain
        except (nats.errors.Error, TimeoutError) as exc:
            raise IdentityServiceUnavailableError(
                f"cannot hand the photo to the identity service ({type(exc).__name__})"
            ) from None

    async def _put(self, store: ObjectStore, name: str, data: bytes) -> None:
        try:
            await store.put(name, data)
        except nats.js.errors.ServiceUnavailableError:
            # The bucket is full (discard new): other enrolments are in flight.
            raise IdentityServiceUnavailableError(
                "too many enrolment photos in transit; try again in a moment"
            ) from None
        except (nats.errors.Error, TimeoutError) as exc:
            raise IdentityServiceUnavailableError(
                f"cannot hand the photo to the identity service ({type(exc).__name__})"
            ) from None

    async def erase(self, customer_id: str, *, actor: str, reason: str) -> EraseResult:
        request = EraseRequest(customer_id=customer_id, actor=actor, reason=reason)
        return await self._call("erase", request, EraseResult)

    async def erase_visit(
        self, visit_id: uuid.UUID, *, actor: str, reason: str
    ) -> EraseVisitResult:
        """Delete an anonymous visit's face templates (they also expire at visit end)."""
        request = EraseVisitRequest(visit_id=visit_id, actor=actor, reason=reason)
        return await self._call("erase_visit", request, EraseVisitResult)

    async def lookup(self, customer_id: str, *, actor: str, reason: str) -> LookupResult:
        request = LookupRequest(customer_id=customer_id, actor=actor, reason=reason)
        return await self._call("lookup", request, LookupResult)

    async def observe(
        self, observations: Sequence[ObservationIn], ended: Sequence[TrackEndIn] = ()
    ) -> ObserveResult:
        request = ObserveRequest(observations=list(observations), ended=list(ended))
        return await self._call("observe", request, ObserveResult)

    async def health(self, timeout_s: float = HEALTH_TIMEOUT_S) -> HealthResult:
        """The service's liveness and readiness; IdentityServiceUnavailableError when
        nothing answers within `timeout_s`."""
        return await self._call("health", HealthRequest(), HealthResult, timeout_s)


async def discard_upload(store: ObjectStore, name: str) -> None:
    """Delete an uploaded photo; one the service already deleted (or never got) is fine."""
    try:
        await store.delete(name)
    except nats.js.errors.NotFoundError:
        pass
    except (nats.errors.Error, TimeoutError) as exc:
        # The bucket's TTL removes it; say so, the photo is personal data.
        log.warning(
            "enrolment upload not deleted; the bucket TTL will remove it",
            extra={"bucket": IDENTITY_UPLOADS_BUCKET.name, "error": repr(exc)},
        )
