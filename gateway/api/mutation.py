"""GraphQL mutations: cameras, alert acknowledgement, customer enrolment and erasure (the
analytics configuration's are in gateway/api/analytics_mutation.py).

Camera configs are validated with the orchestrator's own `CameraConfig` (unknown keys
are errors, so a typo names the field). Enrolment and erasure go to the store's identity
service over NATS request/reply (`trinetra.identity.client`); the gateway never sees
an embedding and never stores the photo. Every mutation is audited.

After a camera mutation commits, the camera goes into the NATS KV camera registry that
the store nodes watch (gateway/feeds/camera_registry.py): registering, changing,
disabling or deleting a camera takes effect on the running node within seconds. When NATS
cannot take it, the mutation still succeeds with `registryPending: true` and the gateway
delivers it later.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import strawberry
from pydantic import ValidationError
from strawberry.file_uploads import Upload
from strawberry.scalars import JSON

from gateway.api import decorators
from gateway.api.analytics_mutation import AnalyticsMutation
from gateway.api.context import GatewayContext, Info
from gateway.api.errors import (
    BAD_USER_INPUT,
    CONFLICT,
    NOT_FOUND,
    PAYLOAD_TOO_LARGE,
    UNAVAILABLE,
    api_error,
)
from gateway.api.types import Alert, Camera, Enrollment, Erasure
from gateway.auth import Scope
from gateway.db import reads, writes
from trinetra.config.camera import CameraConfig
from trinetra.identity.errors import (
    EnrollmentError,
    IdentityServiceError,
    IdentityServiceUnavailableError,
    InvalidCustomerIdError,
    PhotoTooLargeError,
    check_customer_id,
)


async def _validate_camera(config: object) -> tuple[CameraConfig, dict[str, Any]]:
    """The validated camera, and what is stored: the keys the client gave, with their
    validated values (defaults such as the role's tier stay implicit). Validated once,
    here, off the event loop: sizes are bounded (trinetra.config.limits), but a config
    still costs CPU that /health and every other request must not wait for."""
    if not isinstance(config, dict):
        raise api_error("config must be a JSON object", BAD_USER_INPUT)
    try:
        camera = await asyncio.to_thread(CameraConfig.model_validate, config)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in err["loc"]) or "config", "message": err["msg"]}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        raise api_error(
            f"invalid camera config: {summary}", BAD_USER_INPUT, fields=fields
        ) from None
    return camera, camera.model_dump(mode="json", include=set(config))


def _reason(reason: str) -> str:
    if len(reason.strip()) < 3:
        raise api_error("reason must say why (it is kept in the audit log)", BAD_USER_INPUT)
    return reason.strip()


def _customer(customer_id: str) -> str:
    try:
        return check_customer_id(customer_id)
    except InvalidCustomerIdError as exc:
        raise api_error(str(exc), BAD_USER_INPUT) from None


def _customer_target(customer_id: str) -> str:
    """Audit entries name customers by hash: the append-only log must not keep an id
    that erasure removes everywhere else (hash a known id to find its entries)."""
    return f"customer-sha256:{writes.customer_hash(customer_id).hex()}"


async def _audit(
    context: GatewayContext,
    action: str,
    target: str,
    reason: str | None,
    details: dict[str, Any],
) -> None:
    principal = context.principal
    assert principal is not None
    async with context.gateway.db.connection() as conn:
        await writes.audit(
            conn,
            principal,
            action=action,
            target=target,
            reason=reason,
            details=details,
        )


async def _read_upload(upload: Upload, limit: int) -> bytes:
    file = cast(Any, upload)  # a starlette UploadFile at run time
    data = await file.read(limit + 1)
    if not isinstance(data, bytes) or not data:
        raise api_error("photo is empty", BAD_USER_INPUT)
    if len(data) > limit:
        raise api_error(f"photo larger than {limit} bytes", PAYLOAD_TOO_LARGE, limit=limit)
    return data


def _identity_failure(exc: Exception) -> Exception:
    if isinstance(exc, IdentityServiceUnavailableError):
        return api_error(f"identity service unavailable: {exc.message}", UNAVAILABLE)
    if isinstance(exc, PhotoTooLargeError):  # the identity service's own limit is lower
        return api_error(str(exc), PAYLOAD_TOO_LARGE, reason=exc.code)
    if isinstance(exc, EnrollmentError):
        return api_error(str(exc), BAD_USER_INPUT, reason=exc.code)
    if isinstance(exc, InvalidCustomerIdError):
        return api_error(str(exc), BAD_USER_INPUT, reason="invalid_customer_id")
    if isinstance(exc, IdentityServiceError):
        return api_error(f"identity service: {exc.message}", BAD_USER_INPUT, reason=exc.code)
    return exc


@strawberry.type
class Mutation(AnalyticsMutation):
    @decorators.mutation(description="Register a camera (a CameraConfig as JSON).")
    async def register_camera(
        self, info: Info, config: JSON, store_id: str | None = None
    ) -> Camera:
        principal = info.context.require(Scope.OPERATOR)
        store = info.context.store(store_id)  # before any work for a foreign token
        camera, stored = await _validate_camera(config)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn, conn.transaction():
            try:
                row = await writes.register_camera(conn, store, camera.id, stored)
            except writes.CameraExistsError as exc:
                raise api_error(str(exc), CONFLICT) from None
            except writes.CameraLimitError as exc:
                raise api_error(str(exc), BAD_USER_INPUT, limit=exc.limit) from None
            await writes.audit(
                conn,
                principal,
                action="camera.register",
                target=f"camera:{store}/{camera.id}",
                reason=None,
                details={"fields": sorted(stored)},
            )
        published = await info.context.gateway.camera_registry.put(
            store, camera.id, stored, row["updated_at"]
        )
        return Camera.of(row, registry_pending=not published)

    @decorators.mutation(
        description="Change a registered camera: `patch` replaces the top-level keys it "
        "names; the result is validated as a whole."
    )
    async def update_camera(
        self, info: Info, id: str, patch: JSON, store_id: str | None = None
    ) -> Camera:
        principal = info.context.require(Scope.OPERATOR)
        if not isinstance(patch, dict) or not patch:
            raise api_error("patch must be a non-empty JSON object", BAD_USER_INPUT)
        if "id" in patch and patch["id"] != id:
            raise api_error("a camera's id cannot change; register a new camera", BAD_USER_INPUT)
        info.context.check_database()
        store = info.context.store(store_id)
        async with info.context.gateway.db.connection() as conn, conn.transaction():
            try:
                current = await writes.camera_config_for_update(conn, store, id)
            except writes.CameraNotFoundError as exc:
                raise api_error(str(exc), NOT_FOUND) from None
            _, merged = await _validate_camera({**current, **patch})
            row = await writes.update_camera(conn, store, id, merged)
            await writes.audit(
                conn,
                principal,
                action="camera.update",
                target=f"camera:{store}/{id}",
                reason=None,
                details={"fields": sorted(patch)},
            )
        published = await info.context.gateway.camera_registry.put(
            store, id, merged, row["updated_at"]
        )
        return Camera.of(row, registry_pending=not published)

    @decorators.mutation(
        description="Start or stop analysis of a registered camera (operators): its store "
        "node opens the stream and analyses it while `enabled`, and stops its worker (its "
        "open tracks end, reason camera_stopped) when not. Audited with the reason."
    )
    async def set_camera_enabled(
        self,
        info: Info,
        camera_id: str,
        enabled: bool,
        reason: str,
        store_id: str | None = None,
    ) -> Camera:
        principal = info.context.require(Scope.OPERATOR)
        why = _reason(reason)
        store = info.context.store(store_id)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn, conn.transaction():
            try:
                current = await writes.camera_config_for_update(conn, store, camera_id)
            except writes.CameraNotFoundError as exc:
                raise api_error(str(exc), NOT_FOUND) from None
            _, merged = await _validate_camera({**current, "enabled": enabled})
            row = await writes.update_camera(conn, store, camera_id, merged)
            await writes.audit(
                conn,
                principal,
                action="camera.enable" if enabled else "camera.disable",
                target=f"camera:{store}/{camera_id}",
                reason=why,
                details={"enabled": enabled},
            )
        published = await info.context.gateway.camera_registry.put(
            store, camera_id, merged, row["updated_at"]
        )
        return Camera.of(row, registry_pending=not published)

    @decorators.mutation(
        description="Delete a camera (operators): its registration and live status go, and "
        "`cameras` no longer lists it; its stored events (detections, tracks, alerts, status "
        "history, analytics) are kept until retention removes them. Its store node stops it "
        "(the camera registry). Audited with "
        "the reason. Returns the camera as it was."
    )
    async def delete_camera(
        self, info: Info, camera_id: str, reason: str, store_id: str | None = None
    ) -> Camera:
        principal = info.context.require(Scope.OPERATOR)
        why = _reason(reason)
        store = info.context.store(store_id)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn, conn.transaction():
            row = await writes.delete_camera(conn, store, camera_id)
            if row is None:
                raise api_error(f"no camera {camera_id!r} in store {store!r}", NOT_FOUND)
            await writes.audit(
                conn,
                principal,
                action="camera.delete",
                target=f"camera:{store}/{camera_id}",
                reason=why,
                details={"registered": row["config"] is not None},
            )
        published = await info.context.gateway.camera_registry.delete(store, camera_id)
        return Camera.of(row, registry_pending=not published)

    @decorators.mutation(description="Acknowledge an alert (the first acknowledgement stays).")
    async def acknowledge_alert(self, info: Info, id: uuid.UUID, note: str | None = None) -> Alert:
        principal = info.context.require(Scope.OPERATOR)
        if note is not None and len(note) > 2000:
            raise api_error("note longer than 2000 characters", BAD_USER_INPUT)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn, conn.transaction():
            # Another store's alert is as absent as a missing one (ids cannot be probed).
            found = await reads.alert(conn, id)
            if found is None or not info.context.may_see(found["store_id"]):
                raise api_error(f"no alert {id}", NOT_FOUND)
            row = await writes.acknowledge_alert(conn, id, principal.subject, note)
            if row is None:
                raise api_error(f"no alert {id}", NOT_FOUND)
            await writes.audit(
                conn,
                principal,
                action="alert.acknowledge",
                target=f"alert:{id}",
                reason=note,
            )
        return Alert.of(row)

    @decorators.mutation(
        description="Enrol a customer from a photo showing exactly one face (privacy "
        "officers). The photo goes to the identity service and is not stored."
    )
    async def enroll_customer(
        self,
        info: Info,
        customer_id: str,
        photo: Upload,
        reason: str,
        vip: bool = False,
    ) -> Enrollment:
        principal = info.context.require(Scope.PRIVACY_OFFICER)
        info.context.store(None)  # the gateway's store: its identity service enrols
        customer, why = _customer(customer_id), _reason(reason)
        data = await _read_upload(photo, info.context.settings.limits.max_upload_bytes)
        info.context.check_database()
        gateway = info.context.gateway
        outcome = "ok"
        try:
            result = await gateway.identity.enroll(
                customer, data, actor=f"gateway:{principal.subject}", reason=why, vip=vip
            )
        except Exception as exc:
            outcome = getattr(exc, "code", type(exc).__name__)
            raise _identity_failure(exc) from None
        finally:
            await _audit(
                info.context,
                "customer.enroll",
                _customer_target(customer),
                why,
                {"outcome": outcome, "vip": vip, "photo_bytes": len(data)},
            )
        return Enrollment(
            customer_id=result.customer_id,
            slot=result.slot,
            enrolled_at=result.enrolled_at,
            embeddings=result.embeddings,
        )

    @decorators.mutation(
        description="Erase a customer (privacy officers): their embeddings in the identity "
        "service, and their id from stored identity events and alerts."
    )
    async def erase_customer(self, info: Info, customer_id: str, reason: str) -> Erasure:
        principal = info.context.require(Scope.PRIVACY_OFFICER)
        # The gateway's store: its identity service holds the embeddings. The stored ids
        # are redacted in every store, as erasure is of the person, not of one store.
        info.context.store(None)
        customer, why = _customer(customer_id), _reason(reason)
        info.context.check_database()
        gateway = info.context.gateway
        target = _customer_target(customer)
        try:
            result = await gateway.identity.erase(
                customer, actor=f"gateway:{principal.subject}", reason=why
            )
        except Exception as exc:
            await _audit(
                info.context,
                "customer.erase",
                target,
                why,
                {"outcome": getattr(exc, "code", type(exc).__name__)},
            )
            raise _identity_failure(exc) from None
        async with gateway.db.connection() as conn, conn.transaction():
            redacted = await writes.forget_customer(conn, customer, datetime.now(UTC))
            await writes.audit(
                conn,
                principal,
                action="customer.erase",
                target=target,
                reason=why,
                details={
                    "outcome": "ok",
                    "embeddings_removed": result.embeddings_removed,
                    **redacted,
                },
            )
        return Erasure(
            customer_id=result.customer_id,
            embeddings_removed=result.embeddings_removed,
            was_active=result.was_active,
            tracks_withdrawn=result.tracks_withdrawn,
            identity_events_redacted=redacted["identity_events"],
            alerts_redacted=redacted["alerts"],
        )
