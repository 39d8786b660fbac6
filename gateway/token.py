"""Mint a bearer token for a gateway you run yourself (local runs, trying the API; production
has an identity provider):

    TRINETRA_JWT_SECRET=<the gateway's secret> \\
      .venv/bin/python -m gateway.token --scope operator --store blr-01 --ttl 8h [--subject alice]

The token is signed with the same settings the gateway reads (TRINETRA_JWT_SECRET, and
TRINETRA_JWT_ISSUER / TRINETRA_JWT_AUDIENCE when set, gateway/config.py), so the gateway
accepts it. It goes to stdout alone (`TOKEN=$(python -m gateway.token ...)`); with
`--dashboard URL` the dashboard link carrying it is printed instead. What it grants and
until when goes to stderr. Scopes are gateway/auth.py's; `privacy_officer` does not
include `operator`, so name both for both. The stores it may see are named with `--store`
(repeat for several) or `--all-stores` (chain-wide staff); one of them is required, so
nobody grants every store by forgetting a flag.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from gateway.auth import ALL_STORES, Scope, is_store_id, issue_token
from gateway.config import GatewaySettings

__all__ = ["main", "parse_ttl"]

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
# A leaked token is valid until it expires and cannot be revoked: keep them short.
MAX_TTL_S = 30 * 86400


def parse_ttl(text: str) -> float:
    """Seconds from `90`, `90s`, `30m`, `8h` or `7d`; ValueError for anything else."""
    match = _TTL.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 90s, 30m, 8h or 7d")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if not 0 < seconds <= MAX_TTL_S:
        raise ValueError(f"{text!r}: a token's lifetime must be over 0 and at most 30 days")
    return seconds


def _ttl_argument(text: str) -> float:
    try:
        return parse_ttl(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _store_argument(text: str) -> str:
    if not is_store_id(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a store id (letters, digits, _ and -; --all-stores for every store)"
        )
    return text


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # a container user without a passwd entry or $USER
        return "token-cli"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.token",
        description="Mint a bearer token signed with the gateway's JWT settings "
        "(TRINETRA_JWT_SECRET, TRINETRA_JWT_ISSUER, TRINETRA_JWT_AUDIENCE).",
    )
    parser.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[scope.value for scope in Scope],
        help="a scope to grant (repeat for several)",
    )
    stores = parser.add_mutually_exclusive_group(required=True)
    stores.add_argument(
        "--store",
        action="append",
        type=_store_argument,
        metavar="ID",
        help="a store the token may see (repeat for several)",
    )
    stores.add_argument(
        "--all-stores",
        action="store_true",
        help="the token may see every store (chain-wide staff)",
    )
    parser.add_argument(
        "--subject",
        default=_login_name(),
        help="who the token names: the actor in the audit log (default: your login name)",
    )
    parser.add_argument(
        "--ttl",
        type=_ttl_argument,
        default=parse_ttl("8h"),
        help="lifetime: 90s, 30m, 8h (default) or 7d; at most 30 days",
    )
    parser.add_argument(
        "--dashboard",
        metavar="URL",
        help="print the dashboard link for the gateway at URL (e.g. http://127.0.0.1:8080) "
        "instead of the bare token",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not os.environ.get("TRINETRA_JWT_SECRET"):
        print(
            "TRINETRA_JWT_SECRET is not set: set it to the secret the gateway runs with",
            file=sys.stderr,
        )
        return 2
    try:
        settings = GatewaySettings()
    except ValidationError as exc:
        print(f"cannot read the gateway's settings:\n{exc}", file=sys.stderr)
        return 2
    scopes = sorted(set(args.scope))
    stores = ALL_STORES if args.all_stores else sorted(set(args.store))
    token = issue_token(
        settings.jwt_secret.get_secret_value(),
        args.subject,
        scopes,
        stores=stores,
        ttl_s=args.ttl,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    expires = datetime.fromtimestamp(time.time() + args.ttl, UTC).isoformat(timespec="seconds")
    granted = " ".join(scopes)
    where = "all stores" if stores == ALL_STORES else "stores " + " ".join(stores)
    print(
        f"token for {args.subject!r}, scopes {granted}, {where}, expires {expires}",
        file=sys.stderr,
    )
    if args.dashboard:
        print(f"{args.dashboard.rstrip('/')}/dashboard/#token={token}")
    else:
        print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
