"""Fixtures that start the real services the tests talk to (each in tests/support/), and
the markers that say what a test needs, decided by its path.

    pytest -m unit              the fast tests: no service started (well under a minute)
    pytest -m services          the tests against real NATS, PostgreSQL, Triton, cameras
    pytest -m browser           the dashboard in a real headless Chromium (also `services`)

| path (first match wins)                                | markers            |
|--------------------------------------------------------|--------------------|
| tests/test_import_graph.py                             | unit               |
| tests/ensembles/**                                     | unit               |
| tests/analytics/engine/**                              | unit               |
| tests/deploy/test_dashboards.py                        | unit               |
| tests/deploy/test_rules.py                             | unit               |
| tests/analytics/alerts/rules/**                        | unit               |
| tests/analytics/test_config.py                         | unit               |
| tests/analytics/test_groundtruth.py                    | unit               |
| tests/analytics/test_accuracy_groundtruth.py           | unit               |
| tests/analytics/test_processor.py                      | unit               |
| tests/analytics/test_partition.py                      | unit               |
| tests/analytics/test_kv_config.py                      | unit               |
| tests/identity/test_units.py                           | unit               |
| tests/orchestrator/config/**                           | unit               |
| tests/orchestrator/frames/**                           | unit               |
| tests/orchestrator/tracking/**                         | unit               |
| tests/orchestrator/pipeline/test_track_journal.py      | unit               |
| tests/gateway/push/test_queue.py                       | unit               |
| tests/orchestrator/cameras/test_buffer_backoff.py      | unit               |
| tests/orchestrator/cameras/test_decode_errors.py       | unit               |
| tests/orchestrator/cameras/test_file_source.py         | unit               |
| tests/orchestrator/cameras/test_worker.py              | unit               |
| tests/trinetra/events/test_schema.py                   | unit               |
| tests/trinetra/test_logs.py                            | unit               |
| tests/trinetra/test_retry.py                           | unit               |
| tests/trinetra/test_settings.py                        | unit               |
| tests/gateway/dashboard/**                             | services, browser  |
| anything else                                          | services           |

`unit` means: starts no service (NATS, PostgreSQL, Triton, a camera or HTTP server);
the media files of `.cache/media`, in-memory fakes and a short CLI run are fine. A new
test file is `services` until it is listed here, the safe side for `-m unit`. The table
is checked: a `unit` test that asks for a service fixture (directly or through another
fixture) stops the collection.
"""

from __future__ import annotations

from fnmatch import fnmatch
from typing import Final

import pytest

pytest_plugins = [
    "tests.support.triton_server",
    "tests.support.nats_server",
    "tests.support.rtsp_server",
    "tests.support.postgres",
]

MARKERS: Final = {
    "unit": "starts no service: fast, runs anywhere (tests/conftest.py has the table)",
    "services": "needs real services: NATS, PostgreSQL, Triton, an RTSP or MJPEG camera",
    "browser": "drives the dashboard in a real headless Chromium (chromium-driver)",
}

# (pattern on the repository-relative path, markers); the first matching row decides.
PATH_MARKERS: Final[tuple[tuple[str, frozenset[str]], ...]] = (
    ("tests/test_import_graph.py", frozenset({"unit"})),
    ("tests/ensembles/*", frozenset({"unit"})),
    ("tests/analytics/engine/*", frozenset({"unit"})),
    ("tests/deploy/test_dashboards.py", frozenset({"unit"})),
    ("tests/deploy/test_rules.py", frozenset({"unit"})),
    ("tests/analytics/alerts/rules/*", frozenset({"unit"})),
    ("tests/analytics/test_config.py", frozenset({"unit"})),
    ("tests/analytics/test_groundtruth.py", frozenset({"unit"})),
    ("tests/analytics/test_accuracy_groundtruth.py", frozenset({"unit"})),
    ("tests/analytics/test_processor.py", frozenset({"unit"})),
    ("tests/analytics/test_partition.py", frozenset({"unit"})),
    ("tests/analytics/test_kv_config.py", frozenset({"unit"})),
    ("tests/identity/test_units.py", frozenset({"unit"})),
    ("tests/orchestrator/config/*", frozenset({"unit"})),
    ("tests/orchestrator/frames/*", frozenset({"unit"})),
    ("tests/orchestrator/tracking/*", frozenset({"unit"})),
    ("tests/orchestrator/pipeline/test_track_journal.py", frozenset({"unit"})),
    ("tests/gateway/push/test_queue.py", frozenset({"unit"})),
    ("tests/orchestrator/cameras/test_buffer_backoff.py", frozenset({"unit"})),
    ("tests/orchestrator/cameras/test_decode_errors.py", frozenset({"unit"})),
    ("tests/orchestrator/cameras/test_file_source.py", frozenset({"unit"})),
    ("tests/orchestrator/cameras/test_worker.py", frozenset({"unit"})),
    ("tests/trinetra/events/test_schema.py", frozenset({"unit"})),
    ("tests/trinetra/test_logs.py", frozenset({"unit"})),
    ("tests/trinetra/test_retry.py", frozenset({"unit"})),
    ("tests/trinetra/test_settings.py", frozenset({"unit"})),
    ("tests/gateway/dashboard/*", frozenset({"services", "browser"})),
)
DEFAULT_MARKERS: Final = frozenset({"services"})

# The fixtures of tests/support that start a service; every other service fixture
# (gateway, publisher, faces, ...) depends on one of them.
SERVICE_FIXTURES: Final = frozenset(
    {
        "nats_server",
        "nats_server_factory",
        "postgres_server",
        "postgres_factory",
        "triton_server",
        "rtsp_server",
        "rtsp_server_factory",
    }
)


def markers_for(path: str) -> frozenset[str]:
    """The markers of a test module at `path` (relative to the repository, with `/`)."""
    for pattern, markers in PATH_MARKERS:
        if fnmatch(path, pattern):
            return markers
    return DEFAULT_MARKERS


def pytest_configure(config: pytest.Config) -> None:
    for name, description in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")


# First, so that `-m unit` (deselection, itself a modifyitems hook) sees the markers.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    misplaced: list[str] = []
    for item in items:
        path = item.path.relative_to(config.rootpath).as_posix()
        markers = markers_for(path)
        for name in sorted(markers):
            item.add_marker(name)
        if "unit" in markers:
            services = SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
            if services:
                misplaced.append(f"{item.nodeid} uses {', '.join(sorted(services))}")
    if misplaced:
        raise pytest.UsageError(
            "tests marked `unit` by tests/conftest.py start services; move them out of "
            "the unit rows of its table:\n  " + "\n  ".join(misplaced)
        )
