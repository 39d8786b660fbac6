"""GraphQL `systemHealth` (viewer scope): the same report as /health's `components`
(gateway/health_probes.py), for one store: the parts that serve every store (Triton,
ingest) and that store's own (its node, identity service, analytics partitions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

import strawberry
from strawberry.scalars import JSON

from gateway.api import decorators
from gateway.api.context import Info
from gateway.auth import Scope
from gateway.health_probes import ComponentHealth, ComponentStatus, overall_status

strawberry.enum(ComponentStatus, name="HealthStatus")


@strawberry.type(description="One part of the system, as its last background probe saw it.")
class SystemComponent:
    name: str = strawberry.field(
        description="triton, node:<store>, identity, analytics:<i>/<n>, ingest."
    )
    kind: str = strawberry.field(description="triton, store_node, identity, analytics or ingest.")
    status: ComponentStatus
    reason: str = strawberry.field(description="Why it has this status, for a person.")
    checked_at: datetime | None = strawberry.field(description="Null: not checked yet.")
    store_id: str | None = strawberry.field(description="Null: serves every store.")
    details: JSON = strawberry.field(description="The figures the status was decided from.")

    @classmethod
    def of(cls, component: ComponentHealth) -> SystemComponent:
        return cls(
            name=component.name,
            kind=component.kind,
            status=component.status,
            reason=component.reason,
            checked_at=component.checked_at,
            store_id=component.store_id,
            details=cast(JSON, component.as_json()["details"]),
        )


@strawberry.type(description="The health of every part of the system a store relies on.")
class SystemHealth:
    status: ComponentStatus = strawberry.field(description="The worst of the components'.")
    components: list[SystemComponent]


@strawberry.type
class HealthQuery:
    @decorators.field(
        description="Health of Triton, the store node, identity, analytics and ingest "
        "(background probes; never waits on a peer)."
    )
    def system_health(
        self,
        info: Info,
        store_id: Annotated[
            str | None, strawberry.argument(description="Store (default: the gateway's store).")
        ] = None,
    ) -> SystemHealth:
        info.context.require(Scope.VIEWER)
        store = info.context.store(store_id)
        components = [
            c
            for c in info.context.gateway.health.components()
            if c.store_id is None or c.store_id == store
        ]
        return SystemHealth(
            status=overall_status(components),
            components=[SystemComponent.of(c) for c in components],
        )
