"""A real Triton server for the tests (the CPU launcher on free loopback ports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devservices.paths import CACHE_DIR
from devservices.triton import LAUNCHER, LocalTriton

__all__ = ["LAUNCHER", "TEST_WORKDIR", "LocalTriton", "triton_server"]

# The tests' own backends folder and server logs, apart from the demo's.
TEST_WORKDIR = CACHE_DIR / "triton-tests"


@pytest.fixture(scope="session")
def triton_server() -> Iterator[LocalTriton]:
    with LocalTriton(workdir=TEST_WORKDIR) as server:
        yield server
