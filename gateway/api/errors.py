"""GraphQL errors with a machine-readable `extensions.code`."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from gateway.auth import AuthError

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
BAD_USER_INPUT = "BAD_USER_INPUT"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
UNAVAILABLE = "UNAVAILABLE"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


def api_error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def from_auth(error: AuthError) -> GraphQLError:
    return api_error(error.message, FORBIDDEN if error.status == 403 else UNAUTHENTICATED)
