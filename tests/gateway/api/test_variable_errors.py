"""A variable value that does not fit its declared type (null or missing for a required
variable, a malformed scalar) is the client's mistake: a validation error naming the
variable, counted as GRAPHQL_VALIDATION, never an INTERNAL error logged at ERROR."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.gateway.helpers import RunningGateway
from tests.support.metrics import read_metric

pytestmark = pytest.mark.timeout(120)

ERRORS = "trinetra_gateway_graphql_errors_total"
CAMERA = "query ($id: String!) { camera(id: $id) { id } }"
REGISTER = "mutation ($c: JSON!) { registerCamera(config: $c) { id } }"
ACKNOWLEDGE = "mutation ($id: UUID!) { acknowledgeAlert(id: $id) { id } }"


@pytest.mark.parametrize(
    ("query", "variables", "scopes", "says"),
    [
        (CAMERA, {"id": None}, ("viewer",), "non-null type 'String!' not to be None"),
        (CAMERA, {}, ("viewer",), "non-null type 'String!' to be provided"),
        (REGISTER, {"c": None}, ("operator",), "non-null type 'JSON!' not to be None"),
        (ACKNOWLEDGE, {"id": "not-a-uuid"}, ("operator",), "cannot represent a UUID"),
    ],
    ids=["null", "missing", "null-json", "malformed-uuid"],
)
async def test_a_bad_variable_is_a_validation_error(
    gateway: RunningGateway,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any],
    scopes: tuple[str, ...],
    says: str,
) -> None:
    caplog.set_level(logging.WARNING)
    body = await gateway.graphql(query, variables, scopes=scopes)

    assert body.get("data") is None
    [error] = body["errors"]
    variable = query.split("(")[1].split(":")[0]  # "$id", "$c"
    assert error["message"].startswith(f"Variable '{variable}' has invalid value")
    assert says.lower() in error["message"].lower()
    assert "INTERNAL" not in str(error.get("extensions"))
    registry = gateway.gateway.metrics.registry
    assert read_metric(registry, ERRORS, {"code": "GRAPHQL_VALIDATION"}) == 1.0
    assert read_metric(registry, ERRORS, {"code": "INTERNAL"}) == 0.0
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged == [], [r.getMessage() for r in logged]
