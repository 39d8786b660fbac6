"""A real Triton server for the tests (the CPU launcher on free loopback ports)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devservices.paths import REPO_ROOT
from devservices.triton import LAUNCHER, LocalTriton

__all__ = ["LAUNCHER", "LocalTriton", "triton_server"]


@pytest.fixture(scope="session")
def triton_server() -> Iterator[LocalTriton]:
    with LocalTriton(workdir=REPO_ROOT / ".cache" / "triton-tests") as server:
        yield server
