"""The static query cost limit (gateway/api/cost.py): a cheap-looking document of a few
hundred repeated fields, within the token, depth and alias limits, used to take seconds of
graphql-core validation on the event loop each, and five in parallel stalled /health. It is
now refused before validation with QUERY_TOO_COSTLY, naming its cost and the limit, while
every document the dashboard sends passes."""

from __future__ import annotations

import asyncio
import pathlib
import re
import time
from typing import Any

import pytest
from graphql import GraphQLSyntaxError, parse, validate

from gateway.api.cost import DEFAULT_LIST_SIZE, CostModel, query_cost
from gateway.api.schema import GatewaySchema
from gateway.config import LimitSettings
from gateway.metrics import GatewayMetrics
from tests.gateway.helpers import RunningGateway, token
from tests.support.metrics import read_metric

pytestmark = pytest.mark.timeout(180)

LIMITS = LimitSettings()
SCHEMA = GatewaySchema(GatewayMetrics(), LIMITS)._schema
MODEL = CostModel(DEFAULT_LIST_SIZE, LIMITS.max_page_size)
# The probe of issue 14: 490 copies of a 4-token field, under every other limit.
REPEATED = "{ " + "cameras { id } " * 490 + "}"
DASHBOARD = pathlib.Path(__file__).parents[3] / "gateway" / "dashboard" / "static"
ERRORS = "trinetra_gateway_graphql_errors_total"


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    return query_cost(SCHEMA, parse(document), variables, MODEL)


TRACKS = 'tracks(cameraId: "a", from: "2026-01-01T00:00:00Z", to: "2026-01-01T01:00:00Z"'


@pytest.mark.parametrize(
    ("document", "variables", "expected"),
    [
        ("{ __typename }", None, 1),
        # a list without a page size: 1 + 10 x (id + name)
        ("{ cameras { id name } }", None, 21),
        # the page's schema default (100) weighs its nodes; pageInfo is not a list
        ("{ " + TRACKS + ") { nodes { uid } pageInfo { endCursor } } }", None, 1 + 101 + 2),
        # a page size from a variable, and one from the operation's variable default
        ("query ($n: Int!) { " + TRACKS + ", first: $n) { nodes { uid } } }", {"n": 7}, 9),
        ("query ($n: Int! = 3) { " + TRACKS + ", first: $n) { nodes { uid } } }", {}, 5),
        # over max_page_size weighs as max_page_size (the page check names `first`)
        ("{ " + TRACKS + ", first: 100000) { nodes { uid } } }", None, 502),
        ("{ " + TRACKS + ", first: " + "9" * 5000 + ") { nodes { uid } } }", None, 502),
        # fragments expanded where spread
        (
            "query { ...A } fragment A on Query { cameras { ...C } } "
            "fragment C on Camera { id name }",
            None,
            21,
        ),
        # a repeated field counts twice, plus its validation pair: 2 x 11 + (1 x 4) // 2
        ("{ cameras { id } cameras { id } }", None, 24),
        # an unspread fragment is validated, so it is counted
        ("{ __typename } fragment U on Query { cameras { id } }", None, 12),
        # introspection lists weigh 1: the schema is small and fixed
        ("{ __schema { types { name fields { name } } } }", None, 5),
    ],
    ids=[
        "typename",
        "list",
        "page-default",
        "page-variable",
        "page-variable-default",
        "page-clamped",
        "page-huge-literal",
        "fragments",
        "repeated",
        "unused-fragment",
        "introspection",
    ],
)
def test_cost_of_known_documents(
    document: str, variables: dict[str, Any] | None, expected: int
) -> None:
    assert cost(document, variables) == expected


def test_repeated_fields_cost_far_over_the_limit() -> None:
    assert cost(REPEATED) > 5 * LIMITS.max_query_cost
    # Fragments doubling each other: counted once per fragment, yet weighed in full.
    chain = "".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }} " for i in range(60))
    assert cost("{ ...F0 } " + chain + "fragment F60 on Query { __typename }") > 2**60


def _dashboard_documents() -> list[tuple[str, str]]:
    """Every GraphQL document in the dashboard's scripts, `${NAME}` filled in from the
    scripts' own string constants."""
    literal = re.compile(r'"((?:[^"\\\n]|\\.)*)"|`([^`]*)`')
    sources = {p.name: p.read_text() for p in sorted(DASHBOARD.glob("*.js")) if "min" not in p.name}
    constants: dict[str, str] = {}
    for text in sources.values():
        for name, double, back in re.findall(r'const (\w+) = (?:"([^"]*)"|`([^`]*)`)', text):
            constants[name] = double or back
    documents = []
    for filename, text in sources.items():
        for double, back in literal.findall(text):
            body = re.sub(r"\$\{(\w+)\}", lambda m: constants.get(m.group(1), "?"), double or back)
            if "{" not in body:
                continue
            try:
                document = parse(body)
            except GraphQLSyntaxError:
                continue  # HTML, CSS, messages
            if not validate(SCHEMA, document):
                documents.append((filename, body))
    return documents


def test_every_dashboard_document_is_under_the_limit() -> None:
    documents = _dashboard_documents()
    assert len(documents) >= 20, [name for name, _ in documents]  # the extraction works
    costs = sorted(((cost(body), name) for name, body in documents), reverse=True)
    print(f"dashboard documents: {len(costs)}, costliest {costs[:3]}")
    assert costs[0][0] <= LIMITS.max_query_cost // 10, costs[0]


async def test_a_costly_document_is_refused_before_validation(gateway: RunningGateway) -> None:
    started = time.perf_counter()
    body = await gateway.graphql(REPEATED)
    elapsed = time.perf_counter() - started

    [error] = body["errors"]
    limit = LIMITS.max_query_cost
    assert error["message"] == f"query cost {cost(REPEATED)} exceeds the limit {limit}"
    assert error["extensions"] == {
        "code": "QUERY_TOO_COSTLY",
        "cost": cost(REPEATED),
        "limit": limit,
    }
    assert body.get("data") is None
    registry = gateway.gateway.metrics.registry
    assert read_metric(registry, ERRORS, {"code": "QUERY_TOO_COSTLY"}) == 1.0
    print(f"refused in {elapsed * 1000:.0f} ms")


async def test_dashboard_queries_pass(gateway: RunningGateway) -> None:
    cameras = await gateway.data("{ cameras { id name status storeId } }")
    assert cameras == {"cameras": []}
    config = [body for name, body in _dashboard_documents() if body.startswith("{ analyticsConfig")]
    assert config, "the dashboard's analytics configuration query"
    data = await gateway.data(config[0])
    assert isinstance(data["analyticsConfig"]["zones"], list)


async def test_health_stays_responsive_under_costly_queries(gateway: RunningGateway) -> None:
    """Five probes in parallel while /health is polled: the longest /health wait stays
    far below the seconds one probe's validation took (15 s in the probe of issue 14)."""
    bearer = token("viewer")
    waits: list[float] = []
    done = asyncio.Event()

    async def poll_health() -> None:
        while not done.is_set():
            started = time.perf_counter()
            response = await gateway.http.get("/health")
            assert response.status_code == 200
            waits.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    async def probe() -> dict[str, Any]:
        response = await gateway.http.post(
            "/graphql", json={"query": REPEATED}, headers={"Authorization": f"Bearer {bearer}"}
        )
        body: dict[str, Any] = response.json()
        return body

    poller = asyncio.create_task(poll_health())
    await asyncio.sleep(0.1)
    try:
        started = time.perf_counter()
        bodies = await asyncio.gather(*(probe() for _ in range(5)))
        elapsed = time.perf_counter() - started
    finally:
        done.set()
        await poller
    print(f"5 probes in {elapsed:.2f} s; /health polls {len(waits)}, longest {max(waits):.3f} s")
    # Generous: before the limit, one probe's validation alone took 1-5 s on 2 cores.
    assert max(waits) < 1.0, max(waits)
    for body in bodies:
        assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY", body
