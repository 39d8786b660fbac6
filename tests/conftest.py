"""Fixtures that start the real services the tests talk to (each in tests/support/)."""

pytest_plugins = [
    "tests.support.triton_server",
    "tests.support.nats_server",
    "tests.support.rtsp_server",
    "tests.support.postgres",
]
