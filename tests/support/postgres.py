"""Real PostgreSQL fixtures: the embedded server of devservices/postgres.py, or any
PostgreSQL / TimescaleDB the suite is pointed at.

postgres_server    where the session's databases live (a `TestDatabases`)
migrated_template  a database migrated once per session, the template of the others
database_url       a fresh, migrated database per test (CREATE DATABASE ... TEMPLATE)
empty_database_url a fresh database with no schema (migration tests)
postgres_factory   dedicated embedded servers a test may stop, start or kill, cleaned up
                   afterwards (always embedded: a test must not kill a shared server)

By default the session starts one embedded PostgreSQL 18 on a loopback port, throwaway
(fsync off: its data is worth nothing after the run). With

    TRINETRA_TEST_DATABASE_URL=postgresql://user:password@host:5432/postgres

the databases are created on that server instead, e.g. the TimescaleDB of
docker-compose.yml, so the whole suite runs on it. The URL names a role that may create
databases, and any database to connect to for that (its path). Every database the
session creates is called `trinetra_test_<random>_...` (several runs can share a server)
and is dropped at the end of the session. The migrations pick the dialect the server has
(gateway/db/dialect.py), and the tests follow it.

The template trick, made robust: CREATE DATABASE ... TEMPLATE refuses while anyone is
connected to the template (SQLSTATE 55006), and TimescaleDB's background workers (its
job scheduler, one per database with the extension) connect by themselves. So once
migrated, the template is sealed: ALLOW_CONNECTIONS false (nobody can connect, and
TimescaleDB's launcher starts no scheduler for such a database) and every other backend
still on it is terminated. A clone that still finds it in use terminates those backends
again and retries with backoff, for up to `CLONE_TIMEOUT_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from devservices.postgres import LocalPostgres, PostgresCommandError
from gateway.db.migrations import migrate

__all__ = [
    "EXTERNAL_DATABASE_URL_ENV",
    "LocalPostgres",
    "PostgresCommandError",
    "PostgresFactory",
    "TestDatabases",
    "database_url",
    "empty_database_url",
    "migrate_database",
    "migrate_dsn",
    "migrated_template",
    "postgres_factory",
    "postgres_server",
]

EXTERNAL_DATABASE_URL_ENV: Final = "TRINETRA_TEST_DATABASE_URL"
# How long a clone waits for its template to be free (background workers), seconds.
CLONE_TIMEOUT_S: Final = 30.0
_CLONE_BACKOFF_S: Final = (0.05, 1.0)  # first wait, cap

PostgresFactory = Callable[..., LocalPostgres]


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class TestDatabases:
    """Creates (and at the end drops) the session's databases on one server, through an
    admin DSN. Synchronous, for fixtures: each call runs its own short event loop."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.prefix = f"trinetra_test_{secrets.token_hex(4)}_"
        self._created: list[str] = []

    def dsn(self, database: str) -> str:
        """The admin DSN, pointing at `database` instead."""
        parts = urlsplit(self.admin_dsn)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create `prefix + name` (a copy of `template`, a name this object created);
        returns its DSN."""
        database = self.prefix + name
        asyncio.run(self._create(database, template))
        self._created.append(database)
        return self.dsn(database)

    def seal_template(self, dsn: str) -> None:
        """Make the database of `dsn` a template nobody connects to (module docs)."""
        database = urlsplit(dsn).path.lstrip("/")
        asyncio.run(self._seal(database))

    def drop_created(self) -> None:
        asyncio.run(self._drop(list(reversed(self._created))))
        self._created.clear()

    async def _admin(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.admin_dsn)

    async def _create(self, database: str, template: str | None) -> None:
        conn = await self._admin()
        try:
            if template is None:
                await conn.execute(f"CREATE DATABASE {_quoted(database)}")
            else:
                await _clone(conn, database, template)
        finally:
            await conn.close()

    async def _seal(self, database: str) -> None:
        conn = await self._admin()
        try:
            await conn.execute(f"ALTER DATABASE {_quoted(database)} WITH ALLOW_CONNECTIONS false")
            await _terminate_backends(conn, database)
        finally:
            await conn.close()

    async def _drop(self, databases: list[str]) -> None:
        conn = await self._admin()
        try:
            for database in databases:
                # FORCE (PostgreSQL 13+): background workers may still be connected.
                await conn.execute(f"DROP DATABASE IF EXISTS {_quoted(database)} WITH (FORCE)")
        finally:
            await conn.close()


async def _terminate_backends(conn: asyncpg.Connection, database: str) -> None:
    # Another role's backends are not ours to end: the retry waits for them instead.
    with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )


async def _clone(conn: asyncpg.Connection, database: str, template: str) -> None:
    deadline = time.monotonic() + CLONE_TIMEOUT_S
    delay, cap = _CLONE_BACKOFF_S
    while True:
        try:
            await conn.execute(f"CREATE DATABASE {_quoted(database)} TEMPLATE {_quoted(template)}")
            return
        except asyncpg.ObjectInUseError:
            if time.monotonic() >= deadline:
                raise
        await _terminate_backends(conn, template)
        await asyncio.sleep(delay)
        delay = min(2 * delay, cap)


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
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabases]:
    external = os.environ.get(EXTERNAL_DATABASE_URL_ENV)
    if external:
        databases = TestDatabases(external)
        try:
            yield databases
        finally:
            databases.drop_created()
        return
    log = tmp_path_factory.mktemp("postgres") / "postgres.log"
    with LocalPostgres(throwaway=True, log_path=log) as server:
        yield TestDatabases(server.url)  # the whole server goes at the end


@pytest.fixture(scope="session")
def migrated_template(postgres_server: TestDatabases) -> str:
    dsn = postgres_server.create_database("template")
    migrate_database(dsn)
    postgres_server.seal_template(dsn)
    return postgres_server.prefix + "template"


_names = itertools.count()


@pytest.fixture
def database_url(postgres_server: TestDatabases, migrated_template: str) -> str:
    """A new database with the current schema (a copy of the migrated template)."""
    return postgres_server.create_database(f"test_{next(_names)}", template=migrated_template)


@pytest.fixture
def empty_database_url(postgres_server: TestDatabases) -> str:
    return postgres_server.create_database(f"empty_{next(_names)}")


@pytest.fixture
def postgres_factory(tmp_path: Path) -> Iterator[PostgresFactory]:
    """`factory(start=True, throwaway=True)` -> an embedded server of its own (for
    stop/start/kill tests); `throwaway=False` for the durable settings the project
    ships."""
    servers: list[LocalPostgres] = []

    def make(*, start: bool = True, throwaway: bool = True) -> LocalPostgres:
        server = LocalPostgres(
            throwaway=throwaway, log_path=tmp_path / f"postgres-{len(servers)}.log"
        )
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.close()
