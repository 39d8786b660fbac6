"""The /graphql endpoint: HTTP queries and mutations (multipart uploads on), and
graphql-transport-ws subscriptions, all behind bearer-token authentication.

HTTP: a missing or invalid token is a 401 before any GraphQL runs. WebSocket: the token
comes in the upgrade's Authorization header or the connection_init payload
({"Authorization": "Bearer ..."}); without a valid one the socket is closed with 4401
and the reason. A connection lives no longer than its token: when the token expires (its
`exp` plus the leeway the verifier allows, TRINETRA_JWT_LEEWAY_S) the socket is closed
with 4401 "token expired", and nothing is sent on it after that moment. The protocol has
no message to renew a token, so a client reconnects with a new one and subscribes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import timedelta
from typing import Any, Final

from cross_web import AsyncHTTPRequestAdapter
from cross_web import HTTPException as StrawberryHTTPError
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
    ConnectionInitMessage,
    ErrorMessage,
)
from strawberry.types.execution import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from gateway.api.bad_input import BadInputError, decode_request_json, place_files
from gateway.api.context import GatewayContext
from gateway.api.schema import GatewaySchema
from gateway.api.shared import Failed, SlowMemberError, group_key
from gateway.auth import AuthError
from gateway.runtime import Gateway

UNAUTHORIZED_CLOSE_CODE: Final = 4401
TOKEN_EXPIRED: Final = "token expired"


class _ClosingAdapter(ASGIWebSocketAdapter):
    """Tolerates a socket we closed ourselves (auth failure, slow consumer): a second
    close is a no-op and a send reports a disconnect instead of a RuntimeError. Past
    `expires_at` (Unix time) a send closes the socket (4401) instead, so not even a
    message already on its way when the token expired gets out."""

    expires_at: float | None = None

    async def _check_open(self) -> None:
        if self.expires_at is not None and time.time() >= self.expires_at:
            await self.close(UNAUTHORIZED_CLOSE_CODE, TOKEN_EXPIRED)
        if self.ws.application_state == WebSocketState.DISCONNECTED:
            raise WebSocketDisconnected

    async def send_json(self, message: Mapping[str, object]) -> None:
        await self._check_open()
        await super().send_json(message)

    async def send_text(self, text: str) -> None:
        """An already serialized message (shared subscription results)."""
        await self._check_open()
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def close(self, code: int, reason: str) -> None:
        if self.ws.application_state != WebSocketState.DISCONNECTED:
            await super().close(code, reason)


class SharingHandler(BaseGraphQLTransportWSHandler[GatewayContext, None]):
    """graphql-transport-ws with identical subscriptions shared (gateway/api/shared.py),
    closed when the connection's token expires (module docs)."""

    _expiry: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        principal = self.context.principal
        if self.connection_acknowledged and principal and principal.expires_at is not None:
            deadline = principal.expires_at + self.context.settings.jwt_leeway_s
            adapter = self.websocket
            assert isinstance(adapter, _ClosingAdapter)
            adapter.expires_at = deadline
            self._expiry = asyncio.create_task(self._close_at(deadline), name="token-expiry")

    async def _close_at(self, deadline: float) -> None:
        """Closes an idle connection too (sends check the deadline themselves)."""
        await asyncio.sleep(max(0.0, deadline - time.time()))
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.websocket.close(UNAUTHORIZED_CLOSE_CODE, TOKEN_EXPIRED)

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        await super().shutdown()

    async def handle_task_exception(self, error: Exception) -> None:
        # A socket we closed (expiry, slow consumer) under a running operation is no fault.
        if not isinstance(error, WebSocketDisconnected):
            await super().handle_task_exception(error)

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
    """Also refuses malformed request bodies with a 400 and a message
    (gateway/api/bad_input.py)."""

    websocket_adapter_class = _ClosingAdapter
    graphql_transport_ws_handler_class = SharingHandler

    def __init__(self, schema: GatewaySchema, *, max_json_depth: int, **options: Any) -> None:
        super().__init__(schema, **options)
        self.max_json_depth = max_json_depth

    def parse_json(self, data: str | bytes) -> Any:
        """An HTTP body, or a multipart request's operations or map."""
        try:
            return decode_request_json(data, self.max_json_depth)
        except json.JSONDecodeError:
            raise StrawberryHTTPError(400, "Unable to parse request body as JSON") from None
        except BadInputError as exc:
            raise StrawberryHTTPError(400, str(exc)) from None

    def decode_json(self, data: str | bytes) -> object:
        """A WebSocket message: one too deep for the decoder closes the socket as invalid
        JSON (4400) instead of failing the connection."""
        try:
            return json.loads(data)
        except RecursionError:
            raise json.JSONDecodeError("nested too deeply", "", 0) from None

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, str]:
        try:
            form_data = await request.get_form_data()
        except ValueError:
            raise StrawberryHTTPError(400, "Unable to parse the multipart body") from None
        parts = form_data.form
        operations, files_map = parts.get("operations", "{}"), parts.get("map", "{}")
        if isinstance(operations, str | bytes):
            operations = self.parse_json(operations)
        if isinstance(files_map, str | bytes):
            files_map = self.parse_json(files_map)
        try:
            placed: dict[str, str] = place_files(operations, files_map, form_data.files)
        except BadInputError as exc:
            raise StrawberryHTTPError(400, f"invalid multipart request: {exc}") from None
        return placed

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
        max_json_depth=settings.limits.max_json_depth,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=False,
        multipart_uploads_enabled=True,
        max_subscriptions_per_connection=settings.live.max_subscriptions_per_connection,
        connection_init_wait_timeout=timedelta(seconds=10),
    )
