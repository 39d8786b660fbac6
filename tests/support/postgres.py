"""Real PostgreSQL fixtures (the embedded server in devservices/postgres.py).

postgres_server    one server for the session (PG 18, loopback port, fsync off)
migrated_template  a database migrated once per session, the template of the others
database_url       a fresh, migrated database per test (CREATE DATABASE ... TEMPLATE)
empty_database_url a fresh database with no schema (migration tests)
postgres_factory   dedicated servers a test may stop and start, cleaned up afterwards
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from devservices.postgres import LocalPostgres, PostgresCommandError
from gateway.db.migrations import migrate

__all__ = [
    "LocalPostgres",
    "PostgresCommandError",
    "PostgresFactory",
    "database_url",
    "empty_database_url",
    "migrate_database",
    "migrate_dsn",
    "migrated_template",
    "postgres_factory",
    "postgres_server",
]

TEMPLATE = "trinetra_template"
_names = itertools.count()

PostgresFactory = Callable[..., LocalPostgres]


async def migrate_dsn(dsn: str) -> None:
    """Apply the migrations to `dsn`."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()


def migrate_database(dsn: str) -> None:
    """`migrate_dsn` for sync fixtures (no event loop running)."""
    asyncio.run(migrate_dsn(dsn))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPostgres]:
    log = tmp_path_factory.mktemp("postgres") / "postgres.log"
    with LocalPostgres(log_path=log) as server:
        yield server


@pytest.fixture(scope="session")
def migrated_template(postgres_server: LocalPostgres) -> str:
    dsn = postgres_server.create_database(TEMPLATE)
    migrate_database(dsn)
    return TEMPLATE


@pytest.fixture
def database_url(postgres_server: LocalPostgres, migrated_template: str) -> str:
    """A new database with the current schema (a copy of the migrated template)."""
    return postgres_server.create_database(f"test_{next(_names)}", template=migrated_template)


@pytest.fixture
def empty_database_url(postgres_server: LocalPostgres) -> str:
    return postgres_server.create_database(f"empty_{next(_names)}")


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[PostgresFactory]:
    """`factory(start=True)` -> a server of its own (for stop/start tests)."""
    servers: list[LocalPostgres] = []

    def make(*, start: bool = True) -> LocalPostgres:
        server = LocalPostgres(log_path=tmp_path / f"postgres-{len(servers)}.log")
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.close()
