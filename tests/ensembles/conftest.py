"""Fixtures of the ensembles tests."""

import pytest

from tests.ensembles.real_pipeline import Detectors


@pytest.fixture(scope="session")
def detectors() -> Detectors:
    return Detectors()
