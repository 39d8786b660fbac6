"""The GraphQL schema as SDL, committed as gateway/schema.graphql so frontend teams can
run codegen against it and review API changes in diffs.

`python -m gateway.api.sdl --write` (or `make schema`) regenerates the file from
`GatewaySchema`; `--check` exits 1 with a unified diff when it is stale; with neither, the
SDL goes to stdout. tests/gateway/api/test_sdl.py fails while the file is stale.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.api.schema import GatewaySchema
from gateway.config import LimitSettings
from gateway.metrics import GatewayMetrics

SDL_PATH = Path(__file__).resolve().parent.parent / "schema.graphql"
REGENERATE = "make schema  (or: .venv/bin/python -m gateway.api.sdl --write)"


def current_sdl() -> str:
    """The code's schema, printed by strawberry. Limits shape only the guards, not the
    types, so the defaults print the same SDL as any deployment's settings."""
    return GatewaySchema(GatewayMetrics(), LimitSettings()).as_str() + "\n"


def sdl_diff(committed: str, current: str, path: Path = SDL_PATH) -> str:
    """A unified diff from the committed SDL to the code's; empty when they agree."""
    return "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{path.name} (committed)",
            tofile=f"{path.name} (from the code)",
        )
    )


def stale_report(path: Path = SDL_PATH) -> str | None:
    """None when `path` holds the code's schema, else what differs and how to fix it."""
    committed = path.read_text(encoding="utf-8") if path.exists() else ""
    diff = sdl_diff(committed, current_sdl(), path)
    if not diff:
        return None
    return (
        f"{path} differs from the code's GraphQL schema; regenerate it with\n"
        f"  {REGENERATE}\n\n{diff}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.api.sdl", description="Print, write or check the GraphQL SDL."
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help="write the SDL file")
    action.add_argument(
        "--check", action="store_true", help="exit 1 with a diff when the file is stale"
    )
    parser.add_argument("--path", type=Path, default=SDL_PATH, help=f"default: {SDL_PATH}")
    args = parser.parse_args(argv)
    if args.write:
        args.path.write_text(current_sdl(), encoding="utf-8")
        print(f"wrote {args.path}")
        return 0
    if args.check:
        report = stale_report(args.path)
        if report is None:
            print(f"{args.path} is up to date")
            return 0
        print(report, file=sys.stderr)
        return 1
    sys.stdout.write(current_sdl())
    return 0


if __name__ == "__main__":
    sys.exit(main())
