"""Apply the database migrations: `python -m gateway.migrate [--database-url DSN]`.

The DSN defaults to TRINETRA_DATABASE_URL. Safe to run any number of times and from
several places at once (gateway/db/migrations.py). Exit status 0 when the schema is
current, 1 when a migration failed, 2 when the database could not be reached. Logs are
structured JSON on stderr (trinetra.logs); stdout lists the migrations applied, one per
line, and stderr ends with a one-line summary for the operator.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Literal

import asyncpg
from pydantic import Field, SecretStr

from gateway.db.migrations import MigrationError, migrate
from trinetra.logs import configure_logging
from trinetra.settings import Settings

log = logging.getLogger("gateway.migrate")

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/trinetra"


class MigrateSettings(Settings):
    """What the migrate command reads from the environment (the gateway's names)."""

    database_url: SecretStr = Field(
        SecretStr(DEFAULT_DSN), description="PostgreSQL/TimescaleDB DSN (never logged)."
    )
    log_json: bool = Field(True, description="Structured JSON logs (one object per line).")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Root log level."
    )


async def run(dsn: str) -> int:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        log.error("cannot connect to the database", extra={"error": str(exc)})
        return 2
    try:
        report = await migrate(conn)
    except MigrationError as exc:
        log.error("migration failed", extra={"error": str(exc)})
        return 1
    finally:
        await conn.close()
    log.info(
        "schema current",
        extra={
            "dialect": report.dialect.value,
            "applied": list(report.applied),
            "already_applied": len(report.already_applied),
        },
    )
    for name in report.applied:
        print(f"applied {name}")
    print(
        f"schema current ({report.dialect.value}): {len(report.applied)} applied, "
        f"{len(report.already_applied)} already applied",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    settings = MigrateSettings()
    parser = argparse.ArgumentParser(prog="python -m gateway.migrate", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=settings.database_url.get_secret_value(),
        help="PostgreSQL DSN (default: TRINETRA_DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    configure_logging(settings.log_level, settings.log_json)
    return asyncio.run(run(args.database_url))


if __name__ == "__main__":
    sys.exit(main())
