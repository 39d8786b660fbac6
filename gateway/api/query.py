"""GraphQL queries. Every list is newest first, paginated with opaque cursors; the
analytics queries are in gateway/api/analytics_query.py, the audit trail's in
gateway/api/audit_query.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import asyncpg
import strawberry

from gateway.api import decorators
from gateway.api.analytics_query import AnalyticsQuery
from gateway.api.audit_query import AuditQuery
from gateway.api.context import Info
from gateway.api.errors import BAD_USER_INPUT, FORBIDDEN, api_error
from gateway.api.health_query import HealthQuery
from gateway.api.pagination import Page, check_range, fetch_page
from gateway.api.push_query import PushQuery
from gateway.api.types import Alert, Camera, Detection, IdentityEvent, OccupancyPoint, Track
from gateway.auth import Scope
from gateway.db import reads, writes

READ = (Scope.VIEWER,)  # operator and privacy_officer imply viewer
IDENTITY_READ = (Scope.OPERATOR, Scope.PRIVACY_OFFICER)

# The (time, id) columns each paged read orders by: a page's cursor is its last row's key.
EVENT_KEY = ("occurred_at", "event_id")
TRACK_KEY = ("first_seen_at", "track_uid")

From = Annotated[datetime, strawberry.argument(name="from", description="Start (inclusive).")]
To = Annotated[datetime, strawberry.argument(description="End (exclusive).")]
First = Annotated[int, strawberry.argument(description="Page size.")]
After = Annotated[
    str | None, strawberry.argument(description="pageInfo.endCursor of the previous page.")
]
StoreArg = Annotated[
    str | None, strawberry.argument(description="Store (default: the gateway's store).")
]


def _store(info: Info, store_id: str | None) -> str:
    """`storeId` or the gateway's store, once the token is seen to grant it."""
    return info.context.store(store_id)


@strawberry.type
class Query(AnalyticsQuery, AuditQuery, HealthQuery, PushQuery):
    @decorators.field(description="Cameras of a store with their live status.")
    async def cameras(self, info: Info, store_id: StoreArg = None) -> list[Camera]:
        info.context.require(*READ)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn:
            rows = await reads.cameras(conn, _store(info, store_id))
        return [Camera.of(row) for row in rows]

    @decorators.field(description="One camera, or null.")
    async def camera(self, info: Info, id: str, store_id: StoreArg = None) -> Camera | None:
        info.context.require(*READ)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn:
            row = await reads.camera(conn, _store(info, store_id), id)
        return None if row is None else Camera.of(row)

    @decorators.field(description="Per-frame detections of a camera in a time range.")
    async def detections(
        self,
        info: Info,
        camera_id: str,
        from_: From,
        to: To,
        first: First = 100,
        after: After = None,
        store_id: StoreArg = None,
    ) -> Page[Detection]:
        info.context.require(*READ)
        store = _store(info, store_id)
        return await fetch_page(
            info,
            from_=from_,
            to=to,
            first=first,
            after=after,
            read=lambda conn, limit, cursor: reads.detections(
                conn, store, camera_id, from_, to, limit, cursor
            ),
            node=Detection.of,
            key_columns=EVENT_KEY,
        )

    @decorators.field(description="Tracks of a camera visible at some time in a range.")
    async def tracks(
        self,
        info: Info,
        camera_id: str,
        from_: From,
        to: To,
        first: First = 100,
        after: After = None,
        store_id: StoreArg = None,
    ) -> Page[Track]:
        info.context.require(*READ)
        store = _store(info, store_id)
        return await fetch_page(
            info,
            from_=from_,
            to=to,
            first=first,
            after=after,
            read=lambda conn, limit, cursor: reads.tracks(
                conn, store, camera_id, from_, to, limit, cursor
            ),
            node=Track.of,
            key_columns=TRACK_KEY,
        )

    @decorators.field(description="Alerts in a time range, optionally of one camera.")
    async def alerts(
        self,
        info: Info,
        from_: From,
        to: To,
        camera_id: str | None = None,
        acknowledged: bool | None = None,
        first: First = 100,
        after: After = None,
        store_id: StoreArg = None,
    ) -> Page[Alert]:
        info.context.require(*READ)
        store = _store(info, store_id)
        return await fetch_page(
            info,
            from_=from_,
            to=to,
            first=first,
            after=after,
            read=lambda conn, limit, cursor: reads.alerts(
                conn, store, camera_id, from_, to, acknowledged, limit, cursor
            ),
            node=Alert.of,
            key_columns=EVENT_KEY,
        )

    @decorators.field(
        description="Identity decisions (operators and privacy officers). Every call is "
        "audited with its reason; customer ids are visible to privacy officers only, and "
        "only they may filter by customer."
    )
    async def identities(
        self,
        info: Info,
        reason: str,
        from_: From,
        to: To,
        camera_id: str | None = None,
        customer_id: str | None = None,
        first: First = 100,
        after: After = None,
        store_id: StoreArg = None,
    ) -> Page[IdentityEvent]:
        principal = info.context.require(*IDENTITY_READ)
        if customer_id is not None and not principal.has(Scope.PRIVACY_OFFICER):
            raise api_error("filtering by customerId requires scope privacy_officer", FORBIDDEN)
        if len(reason.strip()) < 3:
            raise api_error("reason must say why identity data is read", BAD_USER_INPUT)
        store = _store(info, store_id)

        async def read_audited(
            conn: asyncpg.Connection, limit: int, cursor: reads.Key | None
        ) -> reads.Page:
            # Read and audit commit together: no identity read without its audit entry.
            async with conn.transaction():
                page = await reads.identity_events(
                    conn, store, camera_id, customer_id, from_, to, limit, cursor
                )
                await writes.audit(
                    conn,
                    principal,
                    action="identity.read",
                    target=f"store:{store}" + (f"/camera:{camera_id}" if camera_id else ""),
                    reason=reason.strip(),
                    details={
                        "from": from_.isoformat(),
                        "to": to.isoformat(),
                        "customer_id_filter": customer_id is not None,
                        "customer_ids_visible": principal.has(Scope.PRIVACY_OFFICER),
                        "rows": len(page.rows),
                        "after": after,
                    },
                )
            return page

        return await fetch_page(
            info,
            from_=from_,
            to=to,
            first=first,
            after=after,
            read=read_audited,
            node=IdentityEvent.of,
            key_columns=EVENT_KEY,
        )

    @decorators.field(description="Occupancy per camera per minute in a time range.")
    async def occupancy(
        self,
        info: Info,
        from_: From,
        to: To,
        camera_ids: list[str] | None = None,
        store_id: StoreArg = None,
    ) -> list[OccupancyPoint]:
        info.context.require(*READ)
        check_range(from_, to, info.context.settings.limits)
        info.context.check_database()
        async with info.context.gateway.db.connection() as conn:
            rows = await reads.occupancy(conn, _store(info, store_id), camera_ids, from_, to)
        return [OccupancyPoint.of(r) for r in rows]
