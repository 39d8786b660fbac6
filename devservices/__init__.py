"""The development harness: local, embedded forms of every service the system talks to
(NATS, PostgreSQL, Triton, a sample RTSP camera, an MJPEG server) for the demo, the tests
and the benchmarks. Production runs none of this; `docker-compose.yml` starts the real
services.

Every launcher follows one lifecycle (`devservices.lifecycle.LocalService`): `start()`
is idempotent, the context manager's exit stops the process and removes what it
created, and the process's output goes to one log file under `.cache/logs/` unless a
log path is given. `paths.REPO_ROOT` is the one place the repository root is found.
"""
