"""A real Triton server for the tests (the CPU launcher on free loopback ports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.inference.local_server import LAUNCHER, ROOT, LocalTriton

__all__ = ["LAUNCHER", "ROOT", "LocalTriton", "triton_server"]


@pytest.fixture(scope="session")
def triton_server() -> Iterator[LocalTriton]:
    with LocalTriton(workdir=ROOT / ".cache" / "triton-tests") as server:
        yield server
