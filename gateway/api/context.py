"""Per-request context: the gateway's services, the caller, and its scope and store checks.

Every resolver that reads or writes a store's data names the store through `store()`
(explicit `storeId`, or the gateway's own by default), which refuses a store the token
does not grant with FORBIDDEN (`extensions.reason` "store"). A lookup by an id that
carries no store (an alert's uuid) uses `may_see()` and answers another store's row as
NOT_FOUND, exactly as a missing one, so ids of other stores cannot be probed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext
from strawberry.types import Info as _Info

from gateway.api.dropping import schedule_drop
from gateway.api.errors import FORBIDDEN, UNAUTHENTICATED, UNAVAILABLE, api_error, from_auth
from gateway.auth import AuthError, Principal, Scope
from gateway.config import GatewaySettings
from gateway.db import writes
from gateway.feeds.analytics_config import AnalyticsConfigPublisher
from gateway.runtime import Gateway


class GatewayContext(BaseContext):
    def __init__(self, gateway: Gateway, principal: Principal | None) -> None:
        super().__init__()
        self.gateway = gateway
        self.principal = principal
        self.on_slow: Callable[[str], None] | None = None
        self._audited: set[tuple[str, str, str]] = set()
        self._audit_lock = asyncio.Lock()

    @property
    def settings(self) -> GatewaySettings:
        return self.gateway.settings

    @property
    def analytics_config(self) -> AnalyticsConfigPublisher | None:
        """What puts analytics configuration versions into NATS KV (set up by
        gateway/app.py on the app's state), or None outside the app."""
        app = getattr(self.request, "app", None)
        publisher = getattr(getattr(app, "state", None), "analytics_config", None)
        return publisher if isinstance(publisher, AnalyticsConfigPublisher) else None

    def require(self, *any_of: Scope) -> Principal:
        """The caller, if they hold one of `any_of`; else a GraphQL error."""
        if self.principal is None:
            raise api_error("missing bearer token", UNAUTHENTICATED)
        try:
            self.principal.require(*any_of)
        except AuthError as exc:
            self.gateway.metrics.auth_failures.labels(exc.reason).inc()
            raise from_auth(exc) from None
        return self.principal

    def store(self, store_id: str | None) -> str:
        """The store an operation works on: `store_id`, or the gateway's when omitted, if
        the caller's token grants it; else FORBIDDEN naming the store (module docs)."""
        if self.principal is None:
            raise api_error("missing bearer token", UNAUTHENTICATED)
        store = store_id or self.settings.store_id
        try:
            self.principal.require_store(store)
        except AuthError as exc:
            self.gateway.metrics.auth_failures.labels(exc.reason).inc()
            raise api_error(exc.message, FORBIDDEN, reason=exc.reason) from None
        return store

    def may_see(self, store_id: str) -> bool:
        """Whether a row of `store_id` found by its own id is the caller's to see."""
        return self.principal is not None and self.principal.may_see(store_id)

    def slow_consumer(self, reason: str) -> None:
        """A live feed of this context fell behind: a shared subscription's own context
        hands it to its group (`on_slow`); a client's closes that client's WebSocket."""
        if self.on_slow is not None:
            self.on_slow(reason)
        elif isinstance(self.request, WebSocket):
            schedule_drop(
                self.request,
                reason,
                self.gateway.abort_connection,
                self.settings.live.close_grace_s,
            )

    def check_database(self) -> None:
        if not self.gateway.schema_ready.is_set():
            raise api_error("database unavailable; try again shortly", UNAVAILABLE)

    async def audit_once(
        self, action: str, target: str, reason: str, details: dict[str, Any] | None = None
    ) -> None:
        """Audit an access once per request (several fields may read the same thing)."""
        principal = self.principal
        assert principal is not None
        key = (action, target, reason)
        async with self._audit_lock:
            if key in self._audited:
                return
            async with self.gateway.db.connection() as conn:
                await writes.audit(
                    conn,
                    principal,
                    action=action,
                    target=target,
                    reason=reason,
                    details=details,
                )
            self._audited.add(key)


Info = _Info[GatewayContext, None]
