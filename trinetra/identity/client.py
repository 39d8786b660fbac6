"""`IdentityServiceClient`: how other processes use the identity service over NATS.

    client = IdentityServiceClient(nc, store_id="blr-01")
    await client.enroll("cust-42", photo_bytes, actor="gateway:alice", reason="signup")
    await client.enroll("cust-42", [a, b, c], actor=..., reason=..., replace=True)  # re-enrol
    await client.lookup("cust-42", actor=..., reason=...)
    await client.erase("cust-42", actor=..., reason="customer request")
    await client.erase_visit(visit_id, actor=..., reason="visitor request")

Error replies become the exceptions of `trinetra.identity.errors`, the same types the
service raises in-process (`NoFaceError`, `MultipleFacesError`, ...); no responder or no
reply in time is `IdentityServiceUnavailableError`. This module imports no Qdrant or
crypto code, so any process can use it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TypeVar

import nats.errors
from nats.aio.client import Client as NATS
from pydantic import BaseModel

from trinetra.events.connection import NatsConnection
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


__all__ = ["IdentityServiceClient", "IdentityServiceError", "IdentityServiceUnavailableError"]


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

    async def _call(self, operation: Operation, request: BaseModel, result: type[R]) -> R:
        client = self._client()
        payload = request.model_dump_json().encode()
        if client.max_payload and len(payload) > client.max_payload:
            raise PhotoTooLargeError(
                f"request is {len(payload)} bytes, the NATS server accepts {client.max_payload}"
            )
        try:
            msg = await client.request(
                service_subject(self.store_id, operation), payload, timeout=self.timeout_s
            )
        except nats.errors.NoRespondersError:
            raise IdentityServiceUnavailableError(
                f"no identity service for store {self.store_id!r}"
            ) from None
        except (TimeoutError, nats.errors.TimeoutError):
            raise IdentityServiceUnavailableError(
                f"identity {operation} got no reply in {self.timeout_s} s"
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
        photos = [photo] if isinstance(photo, bytes | bytearray) else list(photo)
        request = EnrollRequest.for_photos(
            customer_id, photos, actor=actor, reason=reason, vip=vip, replace=replace
        )
        return await self._call("enroll", request, EnrollResult)

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
