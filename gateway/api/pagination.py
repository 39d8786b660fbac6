"""Opaque cursors and argument checks shared by the list queries."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime, timedelta

from gateway.api.errors import BAD_USER_INPUT, api_error
from gateway.config import LimitSettings
from gateway.db.reads import Key


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
