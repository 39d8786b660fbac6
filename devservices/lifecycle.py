"""One lifecycle for every local service the harness starts (NATS, PostgreSQL, Triton, the
sample RTSP camera, the MJPEG server).

- `start()` is idempotent: starting a running service returns it as it is (no second
  process, no error); after `stop()` or `kill()` it starts again on the same port(s).
- `stop()` shuts down gracefully within a bound, then kills; `kill()` is the abrupt death
  the failure tests need. Neither removes anything, so a restart finds its data again.
- `close()`, which the context manager's exit calls, stops the service and removes what
  it created (temp dirs, sockets); a directory the caller passed in is the caller's and is
  kept, and so is the log.
- A child process runs in its own session (`start_new_session=True`): a Ctrl-C in the
  terminal reaches the application alone, which then stops its services in order. Stop
  and kill signal the whole process group, so helpers a launcher started go too.
- Its stdout and stderr go to one log file, `LOG_DIR/<service>-<port>.log` unless a log
  path is given; each instance's first start truncates it, restarts append.
- A start that fails (binary missing, process exited, not ready in time) raises
  `ServiceStartError`, whose message ends with the tail of that start's log.
"""

from __future__ import annotations

import abc
import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from devservices.paths import LOG_DIR

__all__ = ["LocalService", "ProcessService", "ServiceStartError", "poll_until"]

# Enough for the reason a server gives up (a usage error, a failed model load), short
# enough to read in a test failure.
LOG_TAIL_LINES = 20
# Only the end of a long log is read for the tail.
_TAIL_BYTES = 64 * 1024


class ServiceStartError(RuntimeError):
    """A local service did not start: its binary is missing, its process exited, or it
    was not ready in time. The message names the service and ends with its log's tail."""

    def __init__(
        self, service: str, reason: str, *, log_path: Path | None = None, log_tail: str = ""
    ) -> None:
        self.service = service
        self.reason = reason
        self.log_path = log_path
        self.log_tail = log_tail
        message = f"{service} did not start: {reason}"
        if log_path is not None or log_tail:
            source = "its output" if log_path is None else f"the last lines of {log_path}"
            message += f"\n--- {source} ---\n{log_tail or '(empty)'}"
        super().__init__(message)


def poll_until(condition: Callable[[], bool], timeout_s: float, interval_s: float) -> bool:
    """Call `condition` until it is true (True) or `timeout_s` has passed (False)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
    return True


class LocalService(abc.ABC):
    """The lifecycle contract (module docs). Subclasses implement `running`, `_start` and
    `stop`, and register what they create with `_own` so that `close()` removes it."""

    name: ClassVar[str]
    start_timeout_s: ClassVar[float] = 30.0

    def __init__(self) -> None:
        self._created: list[Path] = []

    @property
    @abc.abstractmethod
    def running(self) -> bool: ...

    def start(self, timeout: float | None = None) -> Self:
        """Start and wait until it serves; a running service is returned as it is."""
        if not self.running:
            self._start(self.start_timeout_s if timeout is None else timeout)
        return self

    @abc.abstractmethod
    def _start(self, timeout: float) -> None:
        """Start a stopped service and return once it serves, or raise ServiceStartError."""

    @abc.abstractmethod
    def stop(self, timeout: float | None = None) -> None:
        """Graceful shutdown (bounded, then killed); nothing is removed. No-op if stopped."""

    def restart(self, timeout: float | None = None) -> Self:
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        """Stop, then remove what this service created (never the caller's directories)."""
        self.stop()
        self._remove_created()

    def _own(self, path: Path) -> Path:
        """Mark `path` as created by this service: `close()` removes it."""
        self._created.append(path)
        return path

    def _remove_created(self) -> None:
        # Kept in the list: a service started again after close() is removed again.
        for path in reversed(self._created):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class ProcessService(LocalService):
    """A service that is one child process (and whatever it starts, in its group).

    Subclasses give `_command()` and `_ready()`, and may extend `_prepare()` (before each
    start), `_popen_options()` and `_after_exit()` (after each stop or kill).
    """

    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM
    kill_signal: ClassVar[signal.Signals] = signal.SIGKILL
    stop_timeout_s: ClassVar[float] = 10.0
    kill_timeout_s: ClassVar[float] = 10.0
    ready_poll_s: ClassVar[float] = 0.02

    def __init__(self, *, port: int, log_path: Path | None = None) -> None:
        super().__init__()
        self.log_path = log_path if log_path is not None else LOG_DIR / f"{self.name}-{port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # where this start's output begins in the log
        self._started_once = False
        self._exit_hook = False

    # --- what subclasses provide ----------------------------------------------------------

    @abc.abstractmethod
    def _command(self) -> Sequence[str]:
        """The argv of the process."""

    @abc.abstractmethod
    def _ready(self) -> bool:
        """True once the (running) process serves."""

    def _prepare(self) -> None:
        """Before each start: create what the process needs (folders, a data dir)."""

    def _popen_options(self) -> dict[str, Any]:
        """Extra `subprocess.Popen` keywords (user, env, cwd)."""
        return {}

    def _after_exit(self) -> None:
        """After each stop or kill, once the process has exited."""

    # --- the contract ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process's id (also its process group's) while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    def _start(self, timeout: float) -> None:
        self._register_exit_hook()
        self._prepare()
        command = list(self._command())
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab" if self._started_once else "wb") as log:
            self._log_offset = log.tell()
            try:
                self._process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Its own session: a terminal's Ctrl-C reaches the application, not
                    # the service, and stop() can signal the whole group.
                    start_new_session=True,
                    **self._popen_options(),
                )
            except OSError as exc:
                raise self._start_error(f"cannot run {command[0]}: {exc}") from exc
        self._started_once = True
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout: float) -> None:
        process = self._process
        assert process is not None

        def serving() -> bool:
            if process.poll() is not None:
                raise self._start_error(f"exited with status {process.returncode}")
            return self._ready()

        if not poll_until(serving, timeout, self.ready_poll_s):
            raise self._start_error(f"not ready after {timeout:g} s")

    def stop(self, timeout: float | None = None) -> None:
        """Graceful shutdown (`stop_signal` to the group), SIGKILL after `timeout`."""
        self._end(self.stop_signal, self.stop_timeout_s if timeout is None else timeout)

    def kill(self) -> None:
        """Abrupt death (`kill_signal` to the group), like a crashed or OOM-killed server."""
        self._end(self.kill_signal, self.kill_timeout_s)

    def close(self) -> None:
        super().close()
        if self._exit_hook:
            atexit.unregister(self.close)
            self._exit_hook = False

    def _end(self, sig: signal.Signals, timeout: float) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        # Until it is waited for, an exited leader stays a zombie that holds its pid, so
        # the group id cannot name anyone else's processes here.
        if process.poll() is None:
            self._signal_group(process, sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait()
        self._after_exit()

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)

    # --- logs and created files -----------------------------------------------------------

    def log_text(self) -> str:
        """This start's output so far (the end of it, for a long log)."""
        try:
            with self.log_path.open("rb") as log:
                size = log.seek(0, os.SEEK_END)
                log.seek(max(self._log_offset, size - _TAIL_BYTES))
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last `lines` lines of this start's output."""
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _start_error(self, reason: str) -> ServiceStartError:
        return ServiceStartError(
            self.name, reason, log_path=self.log_path, log_tail=self.log_tail()
        )

    def _own(self, path: Path) -> Path:
        self._register_exit_hook()  # removed even if the script never closes it
        return super()._own(path)

    def _register_exit_hook(self) -> None:
        # The children do not see the interpreter's Ctrl-C (their own session), so a
        # script that exits without closing must not leave them running.
        if not self._exit_hook:
            atexit.register(self.close)
            self._exit_hook = True
