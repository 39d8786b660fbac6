"""Versioned SQL migrations: <SQL_ROOT>/migrations/NNNN_*.sql (both dialects) and
<SQL_ROOT>/<dialect>/NNNN_*.sql (gateway/db/dialect.py picks the folder).

`migrate(conn)` applies what is pending, in order of number (a dialect file runs after
the core file of the same number), each file in its own transaction, and records it in
`schema_migrations` with its SHA-256; a recorded file whose content changed since is an
error, never silently skipped or re-run. A session advisory lock serializes concurrent
runs (several gateway replicas starting at once): the second waits, then finds nothing
to do. So running it twice, or concurrently, is safe.

A file whose first line is `-- migrate: no-transaction` runs statement by statement
outside a transaction (TimescaleDB refuses to create continuous aggregates inside one);
such files split on `;` at line ends, so they must not contain functions or DO blocks,
and their statements must be idempotent (IF NOT EXISTS) since a failure midway leaves
the earlier statements applied.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import asyncpg

from gateway.db import dialect as dialects
from gateway.db.dialect import Dialect

log = logging.getLogger(__name__)

# The SQL ships inside the gateway package as package data (pyproject.toml), so an
# installed wheel migrates as a checkout does. In the source tree gateway/sql is a link
# to the top-level sql/ folder, where the schema lives for people reading the repository.
SQL_ROOT: Final = Path(__file__).resolve().parents[1] / "sql"
CORE_FOLDER: Final = "migrations"
# Arbitrary but fixed: the advisory lock key every migrating session takes.
LOCK_KEY: Final = 0x7472696E6574  # "trinet"
NO_TRANSACTION_MARKER: Final = "-- migrate: no-transaction"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name       text        PRIMARY KEY,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


class MigrationError(RuntimeError):
    """A migration file is malformed, changed after being applied, or failed."""


@dataclass(frozen=True)
class Migration:
    name: str  # "<folder>/<file stem>", e.g. "migrations/0001_core"
    number: int
    rank: int  # 0 core, 1 dialect: the core file of a number runs first
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def transactional(self) -> bool:
        return not self.sql.lstrip().startswith(NO_TRANSACTION_MARKER)

    def statements(self) -> list[str]:
        """The file split into statements (for no-transaction files)."""
        parts = (_strip_comments(p).strip() for p in re.split(r";[ \t]*(?:\n|$)", self.sql))
        return [p for p in parts if p]


def _strip_comments(sql: str) -> str:
    return "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))


def load(folder: str, rank: int, root: Path = SQL_ROOT) -> list[Migration]:
    directory = root / folder
    if not directory.is_dir():
        raise MigrationError(f"no migration folder {directory}")
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path}: name must look like 0001_lowercase_words.sql")
        found.append(
            Migration(f"{folder}/{path.stem}", int(match.group(1)), rank, path.read_text())
        )
    numbers = [m.number for m in found]
    if len(set(numbers)) != len(numbers):
        raise MigrationError(f"{directory}: two files share a number")
    return found


def plan(dialect: Dialect, root: Path = SQL_ROOT) -> list[Migration]:
    """Every migration for `dialect`, in the order they apply."""
    migrations = load(CORE_FOLDER, 0, root) + load(dialect.migration_folder, 1, root)
    return sorted(migrations, key=lambda m: (m.number, m.rank))


@dataclass(frozen=True)
class MigrationReport:
    dialect: Dialect
    applied: tuple[str, ...]
    already_applied: tuple[str, ...]


async def migrate(conn: asyncpg.Connection, root: Path = SQL_ROOT) -> MigrationReport:
    """Apply pending migrations (module docs). `conn` must not be in a transaction."""
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(_LEDGER)
        dialect = await dialects.choose(conn)
        rows = await conn.fetch("SELECT name, checksum FROM schema_migrations")
        done = {row["name"]: row["checksum"] for row in rows}
        applied: list[str] = []
        skipped: list[str] = []
        for migration in plan(dialect, root):
            if migration.name in done:
                if done[migration.name] != migration.checksum:
                    raise MigrationError(
                        f"{migration.name} changed after it was applied; add a new "
                        "migration instead of editing an applied one"
                    )
                skipped.append(migration.name)
                continue
            await _apply(conn, migration)
            applied.append(migration.name)
        return MigrationReport(dialect, tuple(applied), tuple(skipped))
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def _apply(conn: asyncpg.Connection, migration: Migration) -> None:
    log.info("applying migration %s", migration.name)
    record = "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)"
    try:
        if migration.transactional:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(record, migration.name, migration.checksum)
        else:
            for statement in migration.statements():
                await conn.execute(statement)
            await conn.execute(record, migration.name, migration.checksum)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"{migration.name} failed: {exc}") from exc
