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
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"


def api_error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def from_auth(error: AuthError) -> GraphQLError:
    return api_error(error.message, FORBIDDEN if error.status == 403 else UNAUTHENTICATED)


def is_variable_error(error: GraphQLError) -> bool:
    """A variable value that does not fit its declared type (null or missing for `T!`, a
    malformed UUID or DateTime): the client's mistake, a validation error like any other.

    graphql-core (3.3) refuses such values before execution starts, so the error has no
    path, and it wraps the coercion error it found, itself a GraphQLError, as the
    original error; an exception a resolver raised always carries the field's path.
    """
    return error.path is None and isinstance(error.original_error, GraphQLError)
