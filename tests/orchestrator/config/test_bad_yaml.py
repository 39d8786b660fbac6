"""A camera file that is not UTF-8, or nests 50,000 levels deep, stops the store node with
one clear line and exit code 2, never a traceback (the probe of issue 14 saw a
UnicodeDecodeError and a RecursionError); trinetra.settings.read_yaml, which every YAML
configuration goes through, refuses both with ConfigFileError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from devservices.paths import REPO_ROOT
from orchestrator.config import CameraSettings
from trinetra.settings import MAX_YAML_DEPTH, ConfigFileError, parse_yaml, read_yaml

pytestmark = pytest.mark.timeout(120)

DEPTH = 50_000
CAMERA = 'cameras:\n  - id: "caf\xe9"\n    name: lobby\n'
BAD_FILES: dict[str, bytes] = {
    "latin-1": CAMERA.encode("latin-1"),
    "nested-lists": b"cameras: " + b"[" * DEPTH + b"]" * DEPTH + b"\n",
    "nested-mappings": b"cameras: " + b"{a: " * DEPTH + b"1" + b"}" * DEPTH + b"\n",
}
SAYS = {
    "latin-1": "is not UTF-8 text: byte 0xe9 at line 2",
    "nested-lists": f"nests deeper than {MAX_YAML_DEPTH} levels",
    "nested-mappings": f"nests deeper than {MAX_YAML_DEPTH} levels",
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_the_store_node_exits_with_one_clear_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "cameras.yaml"
    path.write_bytes(BAD_FILES[kind])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRINETRA_")}
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "--cameras", str(path)],
        cwd=REPO_ROOT,
        env={**env, "TRINETRA_LOG_JSON": "false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = (result.stdout + result.stderr).strip()
    assert "Traceback" not in output, output[-2000:]
    assert result.returncode == 2, output[-2000:]
    [line] = output.splitlines()
    assert "invalid camera configuration" in line
    assert f"camera file {path} {SAYS[kind]}" in line, line


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_read_yaml_refuses_it(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "analytics.yaml"
    path.write_bytes(BAD_FILES[kind])
    with pytest.raises(ConfigFileError, match=SAYS[kind]) as refused:
        read_yaml(path, what="analytics config")
    assert str(refused.value).startswith(f"analytics config {path} ")
    assert "\n" not in str(refused.value)


def test_the_depth_limit_is_exact() -> None:
    def nested(levels: int) -> str:
        return "[" * levels + "]" * levels

    assert parse_yaml(nested(MAX_YAML_DEPTH), origin="x") is not None
    with pytest.raises(ConfigFileError, match=r"^x nests deeper than \d+ levels \(line 1\)$"):
        parse_yaml(nested(MAX_YAML_DEPTH + 1), origin="x")


def test_a_yaml_syntax_error_is_one_line() -> None:
    with pytest.raises(ConfigFileError) as refused:
        parse_yaml("cameras:\n  - id: [\n", origin="camera file c.yaml")
    message = str(refused.value)
    assert message.startswith("camera file c.yaml is not valid YAML: ")
    assert "\n" not in message


def test_a_deep_allowlist_variable_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRINETRA_SOURCE_ALLOWLIST", "[" * DEPTH + "]" * DEPTH)
    with pytest.raises(ValidationError, match="TRINETRA_SOURCE_ALLOWLIST nests deeper"):
        CameraSettings()
