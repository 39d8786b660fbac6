"""Cursor pagination of the list queries: the generic `Page` type, opaque cursors, the
argument checks, and `fetch_page`, the one path every paged query takes.

Strawberry names a `Page[Track]` `TrackPage` (type argument, then the generic's name),
so the GraphQL types keep the names they had as hand-written classes.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

import asyncpg
import strawberry

from gateway.api.context import Info
from gateway.api.errors import BAD_USER_INPUT, api_error
from gateway.config import LimitSettings
from gateway.db import reads
from gateway.db.reads import Key

T = TypeVar("T")


@strawberry.type
class PageInfo:
    end_cursor: str | None
    has_next_page: bool


@strawberry.type
class Page(Generic[T]):
    nodes: list[T]
    page_info: PageInfo


# Reads one page from the database: (connection, limit, cursor) -> rows.
PageReader = Callable[[asyncpg.Connection, int, Key | None], Awaitable[reads.Page]]


def encode_cursor(key: Key) -> str:
    raw = json.dumps([key[0].isoformat(), str(key[1])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> Key | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, ident = json.loads(base64.urlsafe_b64decode(padded.encode()))
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise ValueError("naive timestamp")
        return moment, uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise api_error(
            "invalid cursor: pass a pageInfo.endCursor back as is", BAD_USER_INPUT
        ) from None


def check_page(first: int, limits: LimitSettings) -> int:
    if not 1 <= first <= limits.max_page_size:
        raise api_error(f"first must be between 1 and {limits.max_page_size}", BAD_USER_INPUT)
    return first


def check_range(start: datetime, end: datetime, limits: LimitSettings) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise api_error("from and to need a timezone (e.g. 2026-01-01T10:00:00Z)", BAD_USER_INPUT)
    if end <= start:
        raise api_error("to must be after from", BAD_USER_INPUT)
    if end - start > timedelta(days=limits.max_range_days):
        raise api_error(
            f"time range longer than {limits.max_range_days:g} days; page through shorter ones",
            BAD_USER_INPUT,
        )


def _page_info(page: reads.Page, key_columns: tuple[str, str]) -> PageInfo:
    """The cursor of a page is the (time, id) key of its last row, named by `key_columns`
    (the columns the read orders by)."""
    cursor = None
    if page.has_next and page.rows:
        last = page.rows[-1]
        time_column, id_column = key_columns
        cursor = encode_cursor((last[time_column], last[id_column]))
    return PageInfo(end_cursor=cursor, has_next_page=page.has_next)


async def fetch_page(
    info: Info,
    *,
    from_: datetime,
    to: datetime,
    first: int,
    after: str | None,
    read: PageReader,
    node: Callable[[asyncpg.Record], T],
    key_columns: tuple[str, str],
) -> Page[T]:
    """Check a time-range page request against the limits, read it on one connection
    (`read` may open a transaction on it, e.g. to audit the read) and build the Page."""
    limits = info.context.settings.limits
    check_range(from_, to, limits)
    limit, cursor = check_page(first, limits), decode_cursor(after)
    info.context.check_database()
    async with info.context.gateway.db.connection() as conn:
        page = await read(conn, limit, cursor)
    return Page(nodes=[node(row) for row in page.rows], page_info=_page_info(page, key_columns))
