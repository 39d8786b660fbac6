"""Webhook signatures: what the sender writes is what verify_signature accepts, and
nothing else."""

from __future__ import annotations

import hashlib
import hmac

from trinetra.webhooks.signature import sign, signature_header, verify_signature

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"kind":"alert.raised","rule_id":"q"}'
NOW = 1_767_607_200


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, NOW, BODY) == expected
    assert signature_header(SECRET, NOW, BODY) == f"t={NOW},v1={expected}"


def test_a_valid_signature_verifies() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert verify_signature(SECRET, header, BODY, now=NOW + 10)
    # Several v1 values (a secret being rotated): one match is enough.
    rotated = f"t={NOW},v1={'0' * 64},v1={sign(SECRET, NOW, BODY)}"
    assert verify_signature(SECRET, rotated, BODY, now=NOW)


def test_tampering_wrong_secrets_replays_and_garbage_are_refused() -> None:
    header = signature_header(SECRET, NOW, BODY)
    assert not verify_signature(SECRET, header, BODY + b" ", now=NOW)
    assert not verify_signature("another-secret-value", header, BODY, now=NOW)
    assert not verify_signature(SECRET, header, BODY, now=NOW + 301)  # replayed later
    assert not verify_signature(SECRET, header, BODY, now=NOW - 301)
    retimed = header.replace(f"t={NOW}", f"t={NOW + 1}")
    assert not verify_signature(SECRET, retimed, BODY, now=NOW)
    for garbage in ("", "v1=abc", f"t={NOW}", "t=x,v1=y", f"t={NOW},v2={sign(SECRET, NOW, BODY)}"):
        assert not verify_signature(SECRET, garbage, BODY, now=NOW)
