"""`python -m gateway.token`: a token the gateway's own verifier accepts, with the scopes,
stores, subject, lifetime, issuer and audience asked for; refusals name what is wrong."""

from __future__ import annotations

import subprocess
import sys
import time

import jwt
import pytest

from gateway.auth import AuthError, Scope, TokenVerifier
from gateway.token import main, parse_ttl

SECRET = "a-local-gateway-secret-of-32-characters-or-more"


def test_the_token_is_accepted_by_the_gateway_verifier(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRINETRA_JWT_SECRET", SECRET)
    monkeypatch.setenv("TRINETRA_JWT_ISSUER", "trinetra-local")
    monkeypatch.setenv("TRINETRA_JWT_AUDIENCE", "gateway")
    began = time.time()
    argv = ["--scope", "privacy_officer", "--scope", "operator", "--subject", "dpo"]
    assert main([*argv, "--store", "mum-02", "--store", "blr-01", "--store", "mum-02"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    principal = TokenVerifier(SECRET, issuer="trinetra-local", audience="gateway").verify(token)
    assert principal.subject == "dpo"
    assert principal.scopes == {Scope.VIEWER, Scope.OPERATOR, Scope.PRIVACY_OFFICER}
    assert principal.stores == frozenset({"blr-01", "mum-02"})
    assert "operator privacy_officer, stores blr-01 mum-02" in err
    with pytest.raises(AuthError, match="issuer"):
        TokenVerifier(SECRET, issuer="someone-else", audience="gateway").verify(token)
    expiry = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert began + 8 * 3600 - 5 <= expiry <= time.time() + 8 * 3600 + 5


def test_dashboard_link(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRINETRA_JWT_SECRET", SECRET)
    argv = ["--scope", "viewer", "--all-stores", "--ttl", "30m", "--dashboard", "http://h:8090/"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    prefix = "http://h:8090/dashboard/#token="
    assert out.startswith(prefix)
    principal = TokenVerifier(SECRET).verify(out.strip().removeprefix(prefix))
    assert principal.scopes == {Scope.VIEWER} and principal.stores == "*"
    assert "all stores" in err


@pytest.mark.parametrize(
    ("stores", "error"),
    [
        ([], "one of the arguments --store --all-stores is required"),
        (["--store", "blr-01", "--all-stores"], "not allowed with argument"),
        (["--store", "blr 01"], "'blr 01' is not a store id"),
        (["--store", "*"], "'*' is not a store id"),
    ],
)
def test_the_stores_must_be_named(
    stores: list[str],
    error: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No flag is no token: nobody grants every store by forgetting one."""
    monkeypatch.setenv("TRINETRA_JWT_SECRET", SECRET)
    with pytest.raises(SystemExit) as exited:
        main(["--scope", "viewer", *stores])
    assert exited.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and error in err


def test_without_the_secret_it_says_which_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRINETRA_JWT_SECRET", raising=False)
    assert main(["--scope", "operator", "--all-stores"]) == 2
    assert "TRINETRA_JWT_SECRET is not set" in capsys.readouterr().err


def test_a_short_secret_is_refused_as_the_gateway_refuses_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRINETRA_JWT_SECRET", "too-short")
    assert main(["--scope", "operator", "--store", "blr-01"]) == 2
    assert "jwt_secret" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("8h", 28800), ("7d", 604800)]
)
def test_ttl(text: str, seconds: float) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "8x", "-1h", "0s", "31d", "h"])
def test_bad_ttl(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|lifetime"):
        parse_ttl(text)


def test_it_runs_as_a_module() -> None:
    """The README's command line, as written (an unknown scope is a usage error)."""
    run = subprocess.run(
        [sys.executable, "-m", "gateway.token", "--scope", "admin"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "invalid choice: 'admin'" in run.stderr
