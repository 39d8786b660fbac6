"""The /graphql endpoint: HTTP queries and mutations (multipart uploads on), and
graphql-transport-ws subscriptions, all behind bearer-token authentication.

HTTP: a missing or invalid token is a 401 before any GraphQL runs. WebSocket: the token
comes in the upgrade's Authorization header or the connection_init payload
({"Authorization": "Bearer ..."}); without a valid one the socket is closed with 4401
and the reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from typing import Final

from fastapi import HTTPException
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ErrorMessage,
)
from strawberry.types.execution import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from gateway.api.context import GatewayContext
from gateway.api.schema import GatewaySchema
from gateway.api.shared import Failed, SlowMemberError, group_key
from gateway.auth import AuthError
from gateway.runtime import Gateway

UNAUTHORIZED_CLOSE_CODE: Final = 4401


class _ClosingAdapter(ASGIWebSocketAdapter):
    """Tolerates a socket we closed ourselves (auth failure, slow consumer): a second
    close is a no-op and a send reports a disconnect instead of a RuntimeError."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            raise WebSocketDisconnected
        await super().send_json(message)

    async def send_text(self, text: str) -> None:
        """An already serialized message (shared subscription results)."""
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            raise WebSocketDisconnected
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)


class SharingHandler(BaseGraphQLTransportWSHandler[GatewayContext, None]):
    """graphql-transport-ws with identical subscriptions shared (gateway/api/shared.py)."""

    async def run_operation(self, operation: Operation[GatewayContext, None]) -> None:
        context = self.context
        key = group_key(
            operation.query, operation.variables, operation.operation_name, context.principal
        )
        if key is None:
            await super().run_operation(operation)
            return

        async def source(on_slow: Callable[[str], None]) -> AsyncIterator[ExecutionResult]:
            group_context = GatewayContext(context.gateway, context.principal)
            group_context.on_slow = on_slow
            return await self.schema.subscribe(
                operation.query,
                variable_values=operation.variables,
                context_value=group_context,
                operation_name=operation.operation_name,
            )

        adapter = self.websocket
        assert isinstance(adapter, _ClosingAdapter)
        prefix = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":'
        try:
            with context.gateway.shared.join(key, source, context.slow_consumer) as member:
                async for item in member.items():
                    if isinstance(item, Failed):
                        await operation.send_operation_message(
                            ErrorMessage(id=operation.id, type="error", payload=item.errors)
                        )
                        return
                    if operation.completed:
                        return
                    await adapter.send_text(prefix + item + "}")
            await operation.send_operation_message(
                CompleteMessage(id=operation.id, type="complete")
            )
        except SlowMemberError:
            # Being dropped (Member.on_overflow); the connection's shutdown cancels us.
            await asyncio.Event().wait()
        except WebSocketDisconnected:
            return


async def get_context(connection: HTTPConnection) -> GatewayContext:
    gateway: Gateway = connection.app.state.gateway
    header = connection.headers.get("authorization")
    if connection.scope["type"] == "websocket":
        # Decided at connection_init when the upgrade carried no (valid) token.
        try:
            principal = gateway.verifier.from_header(header) if header else None
        except AuthError:
            principal = None
        return GatewayContext(gateway, principal)
    try:
        return GatewayContext(gateway, gateway.verifier.from_header(header))
    except AuthError as exc:
        gateway.metrics.auth_failures.labels(exc.reason).inc()
        raise HTTPException(
            401,
            detail=exc.message,
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None


class GatewayRouter(GraphQLRouter[GatewayContext, None]):
    websocket_adapter_class = _ClosingAdapter
    graphql_transport_ws_handler_class = SharingHandler

    async def on_ws_connect(self, context: GatewayContext) -> UnsetType | dict[str, object] | None:
        if context.principal is None:
            params = context.connection_params
            try:
                context.principal = context.gateway.verifier.from_params(
                    params if isinstance(params, dict) else {}
                )
            except AuthError as exc:
                context.gateway.metrics.auth_failures.labels(exc.reason).inc()
                if isinstance(context.request, WebSocket):
                    await context.request.close(UNAUTHORIZED_CLOSE_CODE, exc.message[:123])
                raise ConnectionRejectionError from None
        acknowledged: UnsetType = UNSET
        return acknowledged


def graphql_router(gateway: Gateway) -> GatewayRouter:
    settings = gateway.settings
    return GatewayRouter(
        GatewaySchema(gateway.metrics, settings.limits),
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        multipart_uploads_enabled=True,
        max_subscriptions_per_connection=settings.live.max_subscriptions_per_connection,
        connection_init_wait_timeout=timedelta(seconds=10),
    )
