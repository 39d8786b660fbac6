"""The strawberry schema with its guards: cost, depth, token and alias limits, and an
error policy that keeps internals out of responses."""

from __future__ import annotations

import logging
from functools import partial

from graphql import GraphQLError
from strawberry import Schema
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.types import ExecutionContext

from gateway.api.bad_input import NulFreeStrings
from gateway.api.cost import DEFAULT_LIST_SIZE, CostModel, QueryCostLimiter
from gateway.api.errors import UNAVAILABLE, is_variable_error
from gateway.api.mutation import Mutation
from gateway.api.query import Query
from gateway.api.subscription import Subscription
from gateway.config import LimitSettings
from gateway.db.database import is_transient
from gateway.metrics import GatewayMetrics

log = logging.getLogger(__name__)

INTERNAL = "INTERNAL"


def _is_internal(error: GraphQLError) -> bool:
    """Errors our resolvers did not mean to show: anything raised without a code.
    Validation and syntax errors (no original error) are the client's and stay, and so do
    variable errors (`is_variable_error`)."""
    if error.extensions and "code" in error.extensions:
        return False
    return error.original_error is not None and not is_variable_error(error)


class ErrorPolicy(MaskErrors):
    """Database outages become UNAVAILABLE; other unexpected errors are logged with their
    traceback and reach the client as a bare INTERNAL error."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_internal)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        original = error.original_error
        if original is not None and is_transient(original):
            message, code = "database unavailable; try again shortly", UNAVAILABLE
        else:
            log.error("internal error at %s", error.path, exc_info=original)
            message, code = "internal error", INTERNAL
        return GraphQLError(
            message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": code},
        )


class GatewaySchema(Schema):
    """Counts errors by code instead of logging every client mistake as an error."""

    def __init__(self, metrics: GatewayMetrics, limits: LimitSettings) -> None:
        cost_model = CostModel(DEFAULT_LIST_SIZE, limits.max_page_size)
        super().__init__(
            query=Query,
            mutation=Mutation,
            subscription=Subscription,
            # Factories: a fresh extension per operation. The cost limit comes first: it
            # runs before validation, which it spares an over-costly document.
            extensions=[
                partial(QueryCostLimiter, max_cost=limits.max_query_cost, model=cost_model),
                partial(QueryDepthLimiter, max_depth=limits.max_query_depth),
                partial(MaxTokensLimiter, max_token_count=limits.max_query_tokens),
                partial(MaxAliasesLimiter, max_alias_count=limits.max_aliases),
                partial(AddValidationRules, [NulFreeStrings]),
                ErrorPolicy,
            ],
        )
        self._metrics = metrics

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        for error in errors:
            code = (error.extensions or {}).get("code", "GRAPHQL_VALIDATION")
            self._metrics.graphql_errors.labels(str(code)).inc()
