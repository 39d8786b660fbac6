"""Progress lines for the demo's slow steps, so no stretch of its startup is silent:

    with step("Triton, CPU profile"):      #   Triton, CPU profile ... 14 s
        triton.start()                     #   Triton, CPU profile ... ready (21.3 s)

On a terminal the line counts the seconds in place; in a log (not a TTY) it gains a dot
every few seconds instead, so a CI log shows the step is alive without filling up. A step
that raises ends its line with "failed" ("interrupted" for Ctrl-C or a cancelled task),
and the exception goes on: the caller reports it. A thread does the ticking, so the step
may block the main thread (a subprocess start) or run on the event loop alike.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

__all__ = ["step"]

TTY_TICK_S = 1.0
LOG_TICK_S = 5.0


@contextmanager
def step(label: str, *, done: str = "ready", stream: TextIO | None = None) -> Iterator[None]:
    """Show `label` while the block runs, then `done` and how long it took."""
    out = stream if stream is not None else sys.stdout
    tty = out.isatty()
    head = f"  {label} ..."
    began = time.monotonic()
    stop = threading.Event()
    lock = threading.Lock()  # the ticker and the final line never write at once

    def tick() -> None:
        while not stop.wait(TTY_TICK_S if tty else LOG_TICK_S):
            with lock:
                if stop.is_set():
                    return
                out.write(f"\r{head} {time.monotonic() - began:.0f} s" if tty else ".")
                out.flush()

    out.write(head)
    out.flush()
    ticker = threading.Thread(target=tick, name=f"progress: {label}", daemon=True)
    ticker.start()
    outcome = "failed"
    try:
        yield
        outcome = f"{done} ({time.monotonic() - began:.1f} s)"
    except (KeyboardInterrupt, asyncio.CancelledError):
        outcome = "interrupted"
        raise
    finally:
        with lock:
            stop.set()
            # On a terminal the whole line is rewritten: the tick's "12 s" goes.
            prefix = f"\r{head}" if tty else ""
            out.write(f"{prefix} {outcome}\x1b[K\n" if tty else f" {outcome}\n")
            out.flush()
        ticker.join()
