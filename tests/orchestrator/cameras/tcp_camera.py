"""A real raw-socket camera for tests: an asyncio TCP server on the test's event loop.

Every client gets `chunks(index)` for index 0, 1, 2, ... (each a frame in some framing, a
truncated frame, noise ...), paced at `fps`; `script_length` ends the script (the
connection then stays open and silent) and `close_after` closes the connection after
that many chunks instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from orchestrator.cameras.framing import JPEG_START, PNG_SIGNATURE

__all__ = ["TcpCamera", "TcpCameraOptions", "length_prefixed", "noise"]


def length_prefixed(payload: bytes) -> bytes:
    """One frame of the length_prefixed framing."""
    return len(payload).to_bytes(4, "big") + payload


def noise(size: int, seed: int) -> bytes:
    """Random bytes that contain no image signature (so they cannot start a frame)."""
    data = random.Random(seed).randbytes(size)
    for signature in (JPEG_START, PNG_SIGNATURE):
        data = data.replace(signature, bytes(len(signature)))
    return data


@dataclass
class TcpCameraOptions:
    fps: float = 20.0
    script_length: int = 0  # send chunks 0..N-1, then stay silent (0: never stop)
    close_after: int = 0  # close the connection after N chunks (0: never)


class TcpCamera:
    """`async with TcpCamera(chunks) as camera: camera.url` (module docs)."""

    def __init__(
        self, chunks: Callable[[int], bytes], options: TcpCameraOptions | None = None
    ) -> None:
        self.chunks = chunks
        self.options = options or TcpCameraOptions()
        self.port = 0
        self.connections = 0
        self.sent = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._stream, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for writer in list(self._writers):
            writer.close()
        await server.wait_closed()
        # Python 3.11's wait_closed does not wait for the connection handlers.
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=5)

    async def __aenter__(self) -> TcpCamera:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _stream(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        options = self.options
        loop = asyncio.get_running_loop()
        interval = 1.0 / options.fps
        next_due = loop.time()
        index = 0
        try:
            while not writer.is_closing():
                if options.close_after and index >= options.close_after:
                    return
                if options.script_length and index >= options.script_length:
                    await asyncio.sleep(0.05)
                    continue
                writer.write(self.chunks(index))
                await writer.drain()
                index += 1
                self.sent += 1
                next_due += interval
                await asyncio.sleep(max(0.0, next_due - loop.time()))
        except (ConnectionError, OSError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
