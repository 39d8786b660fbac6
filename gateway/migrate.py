"""Apply the database migrations: `python -m gateway.migrate [--database-url DSN]`.

The DSN defaults to TRINETRA_DATABASE_URL. Safe to run any number of times and from
several places at once (gateway/db/migrations.py). Exit status 0 when the schema is
current, 1 when a migration failed, 2 when the database could not be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence

import asyncpg

from gateway.db.migrations import MigrationError, migrate

log = logging.getLogger("gateway.migrate")

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/trinetra"


async def run(dsn: str) -> int:
    try:
        conn = await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        log.error("cannot connect to the database: %s", exc)
        return 2
    try:
        report = await migrate(conn)
    except MigrationError as exc:
        log.error("%s", exc)
        return 1
    finally:
        await conn.close()
    log.info(
        "schema current (%s): %d applied, %d already applied",
        report.dialect.value,
        len(report.applied),
        len(report.already_applied),
    )
    for name in report.applied:
        print(f"applied {name}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.migrate", description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TRINETRA_DATABASE_URL", DEFAULT_DSN),
        help="PostgreSQL DSN (default: TRINETRA_DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(args.database_url))


if __name__ == "__main__":
    sys.exit(main())
