"""The audit trail as a read-only query for privacy officers (`auditLog`): who did or read
what, why and when, newest first, paginated like every other list.

`audit_log` has no store column: an entry belongs to the store its target names (cameras,
identity reads, the analytics configuration), to the store of the alert it names, and
customer entries (enrolment, erasure) to the gateway's own store, whose identity service
they went to (gateway/api/mutation.py). Customers are named there by hash, never by id;
`customerId` filters by that hash, so a known id finds its entries and nothing else does.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

import asyncpg
import strawberry
from strawberry.scalars import JSON

from gateway.api import decorators
from gateway.api.analytics_query import From, StoreArg, To
from gateway.api.context import Info
from gateway.api.pagination import Page, fetch_page
from gateway.auth import Scope
from gateway.db import reads, writes

# A page's cursor is (at, id); pagination's cursors carry a UUID, so the bigint id
# travels as the UUID with that integer value (`entry_key`, uuid.UUID(int=id)).
AUDIT_KEY = ("at", "entry_key")
CUSTOMER_TARGET = "customer-sha256:"  # as gateway/api/mutation.py names customers


def customer_target(customer_id: str) -> str:
    """The audit target of a customer: the hash of their id."""
    return CUSTOMER_TARGET + writes.customer_hash(customer_id).hex()


@strawberry.type(description="One audit entry: who did or read what, why and when.")
class AuditEntry:
    id: str = strawberry.field(description="The entry's sequence number (append-only log).")
    at: datetime
    actor: str = strawberry.field(description="The token's subject, or a service.")
    scopes: list[str]
    action: str = strawberry.field(description="e.g. camera.register, customer.erase.")
    target: str = strawberry.field(
        description="What it acted on: camera:<store>/<id>, alert:<id>, "
        "customer-sha256:<hash of the customer id>, ..."
    )
    reason: str | None
    details: JSON

    @classmethod
    def of(cls, row: asyncpg.Record) -> AuditEntry:
        return cls(
            id=str(row["id"]),
            at=row["at"],
            actor=row["actor"],
            scopes=list(row["scopes"]),
            action=row["action"],
            target=row["target"],
            reason=row["reason"],
            details=cast(JSON, row["details"]),
        )


async def read_audit_log(
    conn: asyncpg.Connection,
    store_id: str,
    with_customers: bool,
    start: datetime,
    end: datetime,
    action_prefix: str | None,
    target: str | None,
    limit: int,
    after: reads.Key | None,
) -> reads.Page:
    """A page of the store's audit entries in [start, end), newest first (module docs)."""
    rows = await conn.fetch(
        """
        SELECT id, at, actor, scopes, action, target, reason, details,
               lpad(to_hex(id), 32, '0')::uuid AS entry_key
        FROM audit_log l
        WHERE at >= $2 AND at < $3
          AND ($4::text IS NULL OR starts_with(action, $4))
          AND ($5::text IS NULL OR target = $5)
          AND ($6::timestamptz IS NULL OR (at, id) < ($6, $7::bigint))
          AND (starts_with(target, 'camera:' || $1 || '/')
               OR target = 'store:' || $1 OR starts_with(target, 'store:' || $1 || '/')
               OR target = 'analytics-config:' || $1
               OR ($8 AND starts_with(target, 'customer-sha256:'))
               OR (starts_with(target, 'alert:') AND EXISTS (
                     SELECT 1 FROM alerts a
                     WHERE 'alert:' || a.event_id::text = l.target AND a.store_id = $1)))
        ORDER BY at DESC, id DESC
        LIMIT $9
        """,
        store_id,
        start,
        end,
        action_prefix,
        target,
        after[0] if after else None,
        after[1].int if after else None,
        with_customers,
        limit + 1,
    )
    return reads.Page(rows[:limit], len(rows) > limit)


@strawberry.type
class AuditQuery:
    @decorators.field(
        description="The audit trail of a store, newest first (privacy officers): camera "
        "and configuration changes, identity reads, acknowledgements, and the customers "
        "enrolled and erased (named by hash). `action`: entries whose action starts with "
        "it (e.g. `customer.`); `customerId`: only that customer's entries."
    )
    async def audit_log(
        self,
        info: Info,
        from_: From,
        to: To,
        action: str | None = None,
        customer_id: str | None = None,
        first: int = 100,
        after: str | None = None,
        store_id: StoreArg = None,
    ) -> Page[AuditEntry]:
        info.context.require(Scope.PRIVACY_OFFICER)
        store = info.context.store(store_id)
        with_customers = store == info.context.settings.store_id
        target = None if customer_id is None else customer_target(customer_id)

        return await fetch_page(
            info,
            from_=from_,
            to=to,
            first=first,
            after=after,
            read=lambda conn, limit, cursor: read_audit_log(
                conn, store, with_customers, from_, to, action, target, limit, cursor
            ),
            node=AuditEntry.of,
            key_columns=AUDIT_KEY,
        )
