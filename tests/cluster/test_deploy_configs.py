"""deploy/nats/: the production hub and leaf configurations parse (nats-server -t), and the
leaf refuses exactly the subjects trinetra.events.hub says it must."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from devservices.nats import find_nats_server
from devservices.paths import REPO_ROOT
from trinetra.events.hub import leaf_deny_imports

DEPLOY = REPO_ROOT / "deploy" / "nats"


@pytest.mark.parametrize(
    ("name", "env"),
    [
        ("hub.conf", {"NATS_SERVER_NAME": "nats-0"}),
        ("leaf.conf", {"STORE_ID": "blr-01", "HUB_HOST": "hub.example.com"}),
    ],
)
def test_the_configuration_is_valid(name: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [find_nats_server(), "--config", str(DEPLOY / name), "-t"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout + result.stderr


def test_the_leaf_denies_the_store_streams_subjects() -> None:
    text = (DEPLOY / "leaf.conf").read_text()
    block = re.search(r"deny_imports: \[(.*?)\]", text, re.DOTALL)
    assert block is not None
    assert sorted(re.findall(r'"([^"]+)"', block.group(1))) == leaf_deny_imports()
