"""GraphQL mutations of the analytics configuration (operator scope).

Each mutation is one new configuration version (gateway/api/analytics_changes.py says
what each does and how it is validated): in one transaction the store's configuration
is locked, the newest version read, the change applied and validated off the event loop,
and the new version stored with its audit entry, so nothing is stored half-done and two
operators editing at once take turns. Then it is put into the NATS KV bucket
ANALYTICS_CONFIG, which the analytics service watches and applies live; with NATS down
the version is stored all the same and published once NATS is back
(gateway/feeds/analytics_config.py). `replaceAnalyticsConfig` is optimistic: it names the
version it was edited from, and a newer stored one is a CONFLICT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from gateway.api import decorators
from gateway.api.analytics_changes import (
    ChangeError,
    Section,
    delete_item,
    empty_document,
    prepare,
    put_item,
    replace_document,
)
from gateway.api.analytics_types import AnalyticsConfig
from gateway.api.context import Info
from gateway.api.errors import BAD_USER_INPUT, CONFLICT, api_error
from gateway.auth import Scope
from gateway.db import writes
from gateway.db.analytics import config as stored_config

StoreArg = Annotated[
    str | None, strawberry.argument(description="Store (default: the gateway's store).")
]
ReasonArg = Annotated[
    str | None, strawberry.argument(description="Why (kept with the version and in the audit log).")
]
MAX_REASON = 2000

# (document before) -> (document after, the section and id of the item put, if one)
Edit = Callable[[dict[str, Any]], tuple[dict[str, Any], Section | None, str | None]]


def _reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if len(reason) > MAX_REASON:
        raise api_error(f"reason longer than {MAX_REASON} characters", BAD_USER_INPUT)
    return reason.strip() or None


async def change(
    info: Info,
    store_id: str | None,
    action: str,
    edit: Edit,
    reason: str | None,
    expected_version: int | None = None,
) -> AnalyticsConfig:
    """Apply `edit` as the store's next configuration version (module docs)."""
    principal = info.context.require(Scope.OPERATOR)
    why = _reason(reason)
    info.context.check_database()
    store = info.context.store(store_id)
    gateway = info.context.gateway
    try:
        async with gateway.db.connection() as conn, conn.transaction():
            await stored_config.lock(conn, store)
            current = await stored_config.current(conn, store)
            version = 0 if current is None else current.version
            if expected_version is not None and expected_version != version:
                raise api_error(
                    f"the configuration is at version {version}, not {expected_version}: "
                    "read it again and reapply the change",
                    CONFLICT,
                    version=version,
                )
            before = empty_document(store) if current is None else current.config
            after, section, item_id = edit(before)
            prepared = await asyncio.to_thread(
                prepare, before, after, version + 1, section=section, item_id=item_id
            )
            row = await stored_config.insert(
                conn,
                store,
                version + 1,
                prepared.document,
                actor=principal.subject,
                action=action,
                reason=why,
                diff=prepared.diff,
            )
            await writes.audit(
                conn,
                principal,
                action=action,
                target=f"analytics-config:{store}",
                reason=why,
                details={"version": version + 1, "diff": prepared.diff},
            )
    except ChangeError as exc:
        raise api_error(exc.message, exc.code, field=exc.field, fields=exc.fields) from None
    stored_config.remember(prepared.config)
    publisher = info.context.analytics_config
    if publisher is not None:
        await publisher.publish(prepared.config)
    return AnalyticsConfig.of(row, prepared.config)


def _put(section: Section, item: object) -> Edit:
    def edit(document: dict[str, Any]) -> tuple[dict[str, Any], Section | None, str | None]:
        after = put_item(document, section, item)
        item_id = item.get("id") if isinstance(item, dict) else None
        return after, section, item_id if isinstance(item_id, str) else None

    return edit


def _delete(section: Section, item_id: str) -> Edit:
    def edit(document: dict[str, Any]) -> tuple[dict[str, Any], Section | None, str | None]:
        return delete_item(document, section, item_id), None, None

    return edit


@strawberry.type
class AnalyticsMutation:
    @decorators.mutation(description="Create or replace a zone (a ZoneDefinition as JSON).")
    async def put_zone(
        self, info: Info, zone: JSON, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.put_zone", _put("zones", zone), reason
        )

    @decorators.mutation(description="Delete a zone.")
    async def delete_zone(
        self, info: Info, zone_id: str, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.delete_zone", _delete("zones", zone_id), reason
        )

    @decorators.mutation(description="Create or replace a line (a LineDefinition as JSON).")
    async def put_line(
        self, info: Info, line: JSON, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.put_line", _put("lines", line), reason
        )

    @decorators.mutation(description="Delete a line.")
    async def delete_line(
        self, info: Info, line_id: str, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.delete_line", _delete("lines", line_id), reason
        )

    @decorators.mutation(description="Create or replace a funnel (a FunnelDefinition as JSON).")
    async def put_funnel(
        self, info: Info, funnel: JSON, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.put_funnel", _put("funnels", funnel), reason
        )

    @decorators.mutation(description="Delete a funnel.")
    async def delete_funnel(
        self, info: Info, funnel_id: str, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.delete_funnel", _delete("funnels", funnel_id), reason
        )

    @decorators.mutation(description="Create or replace an alert rule (an AlertRule as JSON).")
    async def put_alert_rule(
        self, info: Info, rule: JSON, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.put_alert_rule", _put("alert_rules", rule), reason
        )

    @decorators.mutation(description="Delete an alert rule.")
    async def delete_alert_rule(
        self, info: Info, rule_id: str, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info,
            store_id,
            "analytics_config.delete_alert_rule",
            _delete("alert_rules", rule_id),
            reason,
        )

    @decorators.mutation(
        description="Create or replace a webhook (a WebhookEndpoint as JSON); without a "
        "secret, an existing endpoint keeps its own."
    )
    async def put_webhook(
        self, info: Info, webhook: JSON, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info, store_id, "analytics_config.put_webhook", _put("webhooks", webhook), reason
        )

    @decorators.mutation(description="Delete a webhook.")
    async def delete_webhook(
        self, info: Info, webhook_id: str, store_id: StoreArg = None, reason: ReasonArg = None
    ) -> AnalyticsConfig:
        return await change(
            info,
            store_id,
            "analytics_config.delete_webhook",
            _delete("webhooks", webhook_id),
            reason,
        )

    @decorators.mutation(
        description="Replace the whole configuration (a StoreAnalyticsConfig as JSON; its "
        "store_id and version are the server's). expectedVersion is the version it was "
        "edited from: a newer stored version is a CONFLICT."
    )
    async def replace_analytics_config(
        self,
        info: Info,
        config: JSON,
        expected_version: int,
        store_id: StoreArg = None,
        reason: ReasonArg = None,
    ) -> AnalyticsConfig:
        store = store_id or info.context.settings.store_id

        def edit(document: dict[str, Any]) -> tuple[dict[str, Any], Section | None, str | None]:
            return replace_document(document, config, store), None, None

        return await change(
            info, store_id, "analytics_config.replace", edit, reason, expected_version
        )
