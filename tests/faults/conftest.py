"""The fault suite's fixtures: one chain for the module (parts restarted as faults need),
one ledger, and the figure table printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pytest

from tests.faults.chain import Chain, build_chain
from tests.faults.ledger import Ledger
from tests.support.triton_server import LocalTriton

HEADER: Final = (
    "fault",
    "outage s",
    "events",
    "lost",
    "dup",
    "ids reused",
    "open tracks",
    "recovery s",
)
FIGURES: Final = pytest.StashKey[list[tuple[str, ...]]]()


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, triton_server: LocalTriton) -> Iterator[Chain]:
    built = build_chain(tmp_path_factory.mktemp("faults"), triton_server)
    try:
        built.start_missing()
        yield built
    finally:
        built.close()
        # A Triton fault restarts the session's server; leave it serving for the rest.
        triton_server.start()


@pytest.fixture(scope="module")
def ledger(chain: Chain) -> Ledger:
    return Ledger(chain.nats.url, chain.database_url)


@pytest.fixture
def fault_table(request: pytest.FixtureRequest) -> list[tuple[str, ...]]:
    """The rows of the figure table; each fault test appends its own."""
    return request.config.stash.setdefault(FIGURES, [])


def format_table(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(row[i]) for row in (HEADER, *rows)) for i in range(len(HEADER))]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

    return [line(HEADER), line(tuple("-" * w for w in widths)), *map(line, rows)]


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    rows = config.stash.get(FIGURES, [])
    if not rows:
        return
    terminalreporter.section("fault suite figures (tests/faults)")
    for text in format_table(rows):
        terminalreporter.write_line(text)
