"""One execution per identical live subscription, fanned out to every client holding it.

Dashboards subscribe with the same documents, and executing a selection set costs far
more than sending its result (~80 us against ~10 us on 2 cores), so clients whose
subscriptions are identical share one: same document, variables and operation, same
scopes and stores, and for privacy officers the same subject (their reads are audited by
name). The group checks scope and store once, as its first member: a member whose token
grants other stores must never join it.
The group runs the subscription once, serializes each result once, and offers it to
every member's bounded queue; a member that falls `queue_size` results behind is
closed with 4008 like any slow consumer, without delaying the others. A group ends with
its source (completing every member) or when its last member leaves.

Anything that is not a single subscription operation over a valid token runs the
ordinary, unshared way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from graphql import (
    GraphQLError,
    GraphQLFormattedError,
    OperationDefinitionNode,
    OperationType,
    parse,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from gateway.auth import Principal, Scope, StoreGrant
from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupKey:
    query: str
    variables: str
    operation_name: str | None
    scopes: frozenset[Scope]
    stores: StoreGrant
    subject: str | None


@lru_cache(maxsize=256)
def _is_subscription(query: str, operation_name: str | None) -> bool:
    try:
        document = parse(query)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    return len(operations) == 1 and operations[0].operation is OperationType.SUBSCRIPTION


def group_key(
    query: str,
    variables: dict[str, Any] | None,
    operation_name: str | None,
    principal: Principal | None,
) -> GroupKey | None:
    """The key of the group an operation may join, or None to run it unshared."""
    if principal is None or not _is_subscription(query, operation_name):
        return None
    try:
        encoded = json.dumps(variables or {}, sort_keys=True)
    except (TypeError, ValueError):
        return None
    officer = principal.has(Scope.PRIVACY_OFFICER)
    return GroupKey(
        query,
        encoded,
        operation_name,
        principal.scopes,
        principal.stores,
        principal.subject if officer else None,
    )


class SlowMemberError(Exception):
    """The member fell too far behind its group."""


@dataclass(frozen=True)
class Failed:
    """The group's source failed before producing results: GraphQL errors to report."""

    errors: list[GraphQLFormattedError]


class _End:
    pass


class _Overflow:
    pass


END: Final = _End()
OVERFLOW: Final = _Overflow()
Item = str | Failed | _End | _Overflow


class Member:
    def __init__(self, queue_size: int, on_overflow: Callable[[str], None]) -> None:
        self.queue_size = queue_size
        self.on_overflow = on_overflow
        self._queue: asyncio.Queue[Item] = asyncio.Queue(queue_size)
        self.overflowed = False

    def offer(self, item: Item) -> None:
        if self.overflowed:
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflow(
                f"slow consumer: more than {self.queue_size} results waiting; "
                "reconnect and query what was missed"
            )

    def overflow(self, reason: str) -> None:
        """Cut the member off: its consumer sees SlowMemberError, and `on_overflow` acts
        now (the consumer itself may be blocked sending to its client)."""
        if self.overflowed:
            return
        self.overflowed = True
        self._reason = reason
        self._queue = asyncio.Queue(1)
        self._queue.put_nowait(OVERFLOW)
        self.on_overflow(reason)

    async def items(self) -> AsyncIterator[str | Failed]:
        """Serialized `next` payloads (or a Failed) until the group ends; raises
        SlowMemberError once the member overflowed."""
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, _Overflow):
                raise SlowMemberError(self._reason)
            yield item
            if isinstance(item, Failed):
                return


# Starts the group's one execution; its argument is the hook the execution's context
# calls when the group itself falls behind its live feed.
SourceFactory = Callable[[Callable[[str], None]], Awaitable[AsyncIterator[ExecutionResult]]]


def next_payload(result: ExecutionResult) -> str:
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return json.dumps(payload, separators=(",", ":"))


@dataclass
class _Group:
    key: GroupKey
    members: set[Member] = field(default_factory=set)
    task: asyncio.Task[None] | None = None

    def broadcast(self, item: Item) -> None:
        for member in list(self.members):
            member.offer(item)

    def overflow(self, reason: str) -> None:
        for member in list(self.members):
            member.overflow(reason)


class SharedSubscriptions:
    def __init__(self, metrics: GatewayMetrics, queue_size: int) -> None:
        self._metrics = metrics
        self._queue_size = queue_size
        self._groups: dict[GroupKey, _Group] = {}

    @property
    def groups(self) -> int:
        return len(self._groups)

    @contextlib.contextmanager
    def join(
        self, key: GroupKey, source: SourceFactory, on_overflow: Callable[[str], None]
    ) -> Iterator[Member]:
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key)
            group.task = asyncio.create_task(self._run(group, source), name="shared-subscription")

        def dropped(reason: str) -> None:
            self._metrics.live_dropped_clients.labels("shared").inc()
            on_overflow(reason)

        member = Member(self._queue_size, dropped)
        group.members.add(member)
        try:
            yield member
        finally:
            group.members.discard(member)
            if not group.members:
                if self._groups.get(key) is group:
                    del self._groups[key]
                if group.task is not None and not group.task.done():
                    group.task.cancel()

    async def _run(self, group: _Group, source: SourceFactory) -> None:
        try:
            stream = await source(group.overflow)
            first = True
            async with aclosing(stream):
                async for result in stream:
                    if first and isinstance(result, PreExecutionError):
                        errors = [error.formatted for error in result.errors or []]
                        group.broadcast(Failed(errors))
                        return
                    first = False
                    group.broadcast(next_payload(result))
            group.broadcast(END)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shared subscription failed")
            group.broadcast(
                Failed([{"message": "internal error", "extensions": {"code": "INTERNAL"}}])
            )
        finally:
            if self._groups.get(group.key) is group:
                del self._groups[group.key]
