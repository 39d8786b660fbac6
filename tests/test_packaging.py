"""The wheel is a complete gateway: built from the tree as `pip install .` would build it,
installed into a fresh virtualenv, and run from there (not from this checkout), it
migrates a real database and serves the dashboard.

The fresh venv holds only the wheel; the third-party dependencies come from the app venv
through a .pth file, which puts them *after* the wheel's own site-packages, so every
project module is the installed copy (each test checks where its modules came from).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from devservices.paths import REPO_ROOT
from gateway.dashboard import STATIC
from gateway.db.dialect import Dialect
from gateway.db.migrations import SQL_ROOT, plan

pytestmark = pytest.mark.timeout(120)

UV = Path(sys.executable).with_name("uv")
# Not part of what a build reads: environments, caches, the model weights.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".venv-triton",
    ".cache",
    "model_repository",
    "build",
    "dist",
    "__pycache__",
    "*.egg-info",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
)
JWT_SECRET = "packaging-test-secret-0123456789abcdef"

# Run inside the installed venv: where the modules and their files came from.
WHERE = """
import importlib.resources, json
import gateway, identity, orchestrator, trinetra
from gateway.dashboard import STATIC
from gateway.db.migrations import SQL_ROOT
static = importlib.resources.files("gateway.dashboard").joinpath("static")
print(json.dumps({
    "modules": [m.__file__ for m in (gateway, identity, orchestrator, trinetra)],
    "sql_root": str(SQL_ROOT),
    "sql_files": sorted(str(p.relative_to(SQL_ROOT)) for p in SQL_ROOT.rglob("*.sql")),
    "static": str(STATIC),
    "static_resources": sorted(f.name for f in static.iterdir() if f.is_file()),
}))
"""

# Run inside the installed venv: the whole gateway app, its dashboard fetched over HTTP.
SERVE = """
import hashlib, json
from fastapi.testclient import TestClient
from gateway.app import create_app
from gateway.config import GatewaySettings
client = TestClient(create_app(GatewaySettings()))  # no lifespan: nothing else starts
fetched = {}
for path in ("/dashboard/", "/dashboard/static/dashboard.js", "/dashboard/static/dashboard.css"):
    response = client.get(path)
    fetched[path] = [response.status_code, hashlib.sha256(response.content).hexdigest()]
print(json.dumps(fetched))
"""


@dataclass(frozen=True)
class InstalledWheel:
    python: Path
    site_packages: Path
    workdir: Path  # outside the checkout, so `python -m` cannot pick up the source tree

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "TRINETRA_JWT_SECRET": JWT_SECRET,
        }
        return subprocess.run(
            [str(self.python), *args],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def probe(self, script: str) -> Any:
        result = self.run("-c", script)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


def _checked(command: list[str], timeout: float) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the working tree (the build writes build/ and
    *.egg-info into its source, which must not be the shared checkout)."""
    assert UV.is_file(), f"{UV} missing: run make setup"
    source = tmp_path_factory.mktemp("source") / "trinetra"
    shutil.copytree(REPO_ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("dist")
    _checked([str(UV), "build", "--wheel", "--quiet", "--out-dir", str(out), str(source)], 180)
    (built,) = out.glob("trinetra-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> InstalledWheel:
    venv = tmp_path_factory.mktemp("venv") / "env"
    _checked([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], 60)
    python = venv / "bin" / "python"
    _checked(
        [str(UV), "pip", "install", "--quiet", "--python", str(python), "--no-deps", str(wheel)],
        60,
    )
    site_packages = Path(
        _checked(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], 30
        ).strip()
    )
    # Appended after the venv's own site-packages (and not scanned for .pth files itself,
    # so the app venv's editable-install finder stays out).
    (site_packages / "app-venv-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return InstalledWheel(python, site_packages, tmp_path_factory.mktemp("workdir"))


def test_the_project_modules_come_from_the_wheel(installed: InstalledWheel) -> None:
    where = installed.probe(WHERE)
    for module in where["modules"]:
        assert Path(module).is_relative_to(installed.site_packages), module


def test_the_wheel_carries_every_migration_and_dashboard_file(installed: InstalledWheel) -> None:
    where = installed.probe(WHERE)
    package = Path(where["modules"][0]).parent  # the installed gateway/
    assert Path(where["sql_root"]).is_relative_to(package), (
        f"the installed gateway finds its SQL at {where['sql_root']}, outside the wheel: "
        "the migrations are not package data (they must live in gateway/sql/, see the "
        "[tool.setuptools.package-data] of pyproject.toml)"
    )
    assert where["sql_files"] == sorted(
        str(p.relative_to(SQL_ROOT)) for p in SQL_ROOT.rglob("*.sql")
    )
    assert Path(where["static"]).is_relative_to(package)
    assert where["static_resources"] == sorted(p.name for p in STATIC.iterdir() if p.is_file())


def test_the_installed_migrate_command_has_help(installed: InstalledWheel) -> None:
    result = installed.run("-m", "gateway.migrate", "--help")
    assert result.returncode == 0, result.stderr
    assert "--database-url" in result.stdout


async def test_the_installed_wheel_migrates_a_database(
    installed: InstalledWheel, empty_database_url: str
) -> None:
    result = installed.run("-m", "gateway.migrate", "--database-url", empty_database_url)
    assert result.returncode == 0, result.stderr
    expected = plan(Dialect.POSTGRES)
    assert result.stdout.splitlines() == [f"applied {m.name}" for m in expected]
    conn = await asyncpg.connect(empty_database_url)
    try:
        ledger = await conn.fetch("SELECT name, checksum FROM schema_migrations ORDER BY name")
    finally:
        await conn.close()
    # The installed files are the checkout's, byte for byte.
    assert [(r["name"], r["checksum"]) for r in ledger] == sorted(
        (m.name, m.checksum) for m in expected
    )


def test_the_installed_app_serves_the_dashboard(installed: InstalledWheel) -> None:
    fetched = installed.probe(SERVE)
    for path, name in [
        ("/dashboard/", "index.html"),
        ("/dashboard/static/dashboard.js", "dashboard.js"),
        ("/dashboard/static/dashboard.css", "dashboard.css"),
    ]:
        digest = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()
        assert fetched[path] == [200, digest], path
