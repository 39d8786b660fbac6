"""Bearer tokens: HS256 JWTs whose `scope` claim names what the caller may do.

Scopes (a space-separated string, as in OAuth 2, or a JSON list):

    viewer           read cameras, tracks, detections, occupancy, alerts; live feeds
    operator         viewer + register/update cameras, acknowledge alerts, identity
                     events without customer ids, process-frame
    privacy_officer  viewer + customer ids, enrolment and erasure of customers,
                     embeddings from process-frame

`privacy_officer` deliberately does not include `operator` (separation of duties): a
person who needs both gets both. Tokens must carry `sub` (who, for the audit log) and
`exp`; `iss`/`aud` are checked when configured.

Tokens must also carry `stores`, the stores the caller may see: a JSON list of store ids,
or the string "*" for every store (chain-wide staff). A token without it is refused (401
naming the claim), so an identity provider that forgets it grants nothing. Every read or
write of a store's data checks it (`Principal.require_store`, 403 with reason `store`);
what each transport does with it is in gateway/README.md ("Store scoping").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal

import jwt
import jwt.types

ALGORITHM = "HS256"
ALL_STORES: Final = "*"
# A store id as GatewaySettings.store_id accepts it.
_STORE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
StoreGrant = frozenset[str] | Literal["*"]


def is_store_id(text: str) -> bool:
    return _STORE_ID.fullmatch(text) is not None


class Scope(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    PRIVACY_OFFICER = "privacy_officer"


# What each scope grants beyond itself.
_IMPLIES: dict[Scope, frozenset[Scope]] = {
    Scope.VIEWER: frozenset(),
    Scope.OPERATOR: frozenset({Scope.VIEWER}),
    Scope.PRIVACY_OFFICER: frozenset({Scope.VIEWER}),
}


class AuthError(Exception):
    """The request carries no usable token (401), or lacks a scope or a store (403)."""

    def __init__(self, message: str, *, status: int = 401, reason: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who is calling and what they may do."""

    subject: str
    scopes: frozenset[Scope]
    stores: StoreGrant  # the store ids it may see, or ALL_STORES
    # The token's `exp` (Unix seconds): a WebSocket is closed then (gateway/api/router.py).
    expires_at: float | None = None

    def has(self, scope: Scope) -> bool:
        return scope in self.scopes

    def require(self, *any_of: Scope) -> None:
        """Raise a 403 AuthError unless the principal has one of `any_of`."""
        if not any(self.has(scope) for scope in any_of):
            names = " or ".join(s.value for s in any_of)
            raise AuthError(f"requires scope {names}", status=403, reason="scope")

    def may_see(self, store_id: str) -> bool:
        return self.stores == ALL_STORES or store_id in self.stores

    def require_store(self, store_id: str) -> None:
        """Raise a 403 AuthError (reason `store`) unless the token grants `store_id`."""
        if not self.may_see(store_id):
            raise AuthError(
                f"the token does not grant store {store_id!r}", status=403, reason="store"
            )

    @property
    def scope_names(self) -> list[str]:
        return sorted(s.value for s in self.scopes)


def _expand(names: Iterable[str]) -> frozenset[Scope]:
    granted: set[Scope] = set()
    for name in names:
        try:
            scope = Scope(name)
        except ValueError:
            continue  # scopes of other services are none of our business
        granted |= {scope, *_IMPLIES[scope]}
    return frozenset(granted)


_STORES_CLAIM = 'the stores claim must be a list of store ids, or "*" for all stores'


def _stores(claims: Mapping[str, Any]) -> StoreGrant:
    if "stores" not in claims:
        raise AuthError(f"invalid token: no stores claim ({_STORES_CLAIM})")
    raw = claims["stores"]
    if raw == ALL_STORES:
        return ALL_STORES
    if not isinstance(raw, list) or not raw:
        raise AuthError(f"invalid token: {_STORES_CLAIM}")
    for store in raw:
        if not isinstance(store, str) or not is_store_id(store):
            raise AuthError(
                f"invalid token: stores holds {store!r}, not a store id (letters, digits, _ "
                'and -; "*" for all stores is the whole claim, not an item)'
            )
    return frozenset(raw)


class TokenVerifier:
    def __init__(
        self,
        secret: str,
        *,
        issuer: str | None = None,
        audience: str | None = None,
        leeway_s: float = 30.0,
    ) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must be at least 32 characters")
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_s

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; AuthError (401) for anything else."""
        options: jwt.types.Options = {"require": ["exp", "sub"]}
        if self._audience is None:
            options["verify_aud"] = False
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token expired", reason="expired") from None
        except jwt.InvalidTokenError as exc:
            raise AuthError(f"invalid token: {exc}", reason="invalid") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip():
            raise AuthError("invalid token: sub must be a non-empty string")
        raw = claims.get("scope", "")
        if isinstance(raw, str):
            names: list[str] = raw.split()
        elif isinstance(raw, list) and all(isinstance(n, str) for n in raw):
            names = list(raw)
        else:
            raise AuthError("invalid token: scope must be a string or a list of strings")
        expires_at = float(claims["exp"])  # required above, and a number to PyJWT
        return Principal(subject, _expand(names), _stores(claims), expires_at)

    def from_header(self, authorization: str | None) -> Principal:
        """Principal from an `Authorization: Bearer <token>` value."""
        if not authorization:
            raise AuthError("missing bearer token", reason="missing")
        kind, _, token = authorization.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization must be 'Bearer <token>'", reason="invalid")
        return self.verify(token.strip())

    def from_params(self, params: Mapping[str, object]) -> Principal:
        """Principal from a graphql-transport-ws connection_init payload:
        {"Authorization": "Bearer <token>"} (or "authorization", or "token")."""
        for key in ("Authorization", "authorization"):
            value = params.get(key)
            if isinstance(value, str):
                return self.from_header(value)
        token = params.get("token")
        if isinstance(token, str) and token:
            return self.verify(token)
        raise AuthError("missing bearer token", reason="missing")


def issue_token(
    secret: str,
    subject: str,
    scopes: Iterable[str],
    *,
    stores: Sequence[str] | Literal["*"] = ALL_STORES,
    ttl_s: float = 3600.0,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """A signed token (tests, benchmarks and local tooling; production has an IdP).
    `stores`: the store ids it may see, or "*" (the default) for every store."""
    import time

    if isinstance(stores, str) and stores != ALL_STORES:
        raise ValueError(f'stores must be a list of store ids or "*", not the string {stores!r}')
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "scope": " ".join(scopes),
        "stores": ALL_STORES if stores == ALL_STORES else list(stores),
        "iat": now,
        "exp": now + int(ttl_s),
    }
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)
