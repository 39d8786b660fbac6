"""A real Prometheus and Alertmanager for the deploy tests (Debian's `prometheus` and
`prometheus-alertmanager`, installed by scripts/install-system-packages.sh), a webhook
receiver for Alertmanager to call, and the committed configuration they run with.

    with LocalPrometheus(config, tmp_path) as prometheus:
        prometheus.alerts()                     # GET /api/v1/alerts -> the alerts

Both servers listen on free loopback ports, keep their data under the given folder and
log to it (devservices/lifecycle.py is their lifecycle).
"""

from __future__ import annotations

import copy
import json
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from devservices.lifecycle import ProcessService
from devservices.paths import REPO_ROOT
from devservices.ports import free_port

DEPLOY: Final = REPO_ROOT / "deploy"
RULES_FILE: Final = DEPLOY / "prometheus" / "rules" / "trinetra.rules.yml"
PROMETHEUS_CONFIG: Final = DEPLOY / "prometheus" / "prometheus.yml"
PROMETHEUS_TESTS: Final = DEPLOY / "prometheus" / "tests"
ALERTMANAGER_CONFIG: Final = DEPLOY / "alertmanager" / "alertmanager.yml"
DASHBOARDS: Final = DEPLOY / "grafana" / "dashboards"

INSTALL_HINT: Final = "run scripts/install-system-packages.sh (make setup does)"


def tool(name: str) -> str:
    """The path of a Prometheus tool; a missing one fails the test and says how to get it."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: {INSTALL_HINT}")
    return path


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules_with(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The committed rules, with some keys of the named alerts replaced (a short `for:`
    for a test); the expressions are the committed ones."""
    rules = copy.deepcopy(load_yaml(RULES_FILE))
    found: set[str] = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") in overrides:
                rule.update(overrides[rule["alert"]])
                found.add(rule["alert"])
    missing = set(overrides) - found
    assert not missing, f"no such alerts in {RULES_FILE.name}: {sorted(missing)}"
    return dict(rules)


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class LocalPrometheus(ProcessService):
    """Prometheus with `config` (a prometheus.yml as a dict; `rule_files` may name files
    written next to it with `rules`)."""

    name = "prometheus"
    start_timeout_s = 60.0
    ready_poll_s = 0.1

    def __init__(
        self, config: Mapping[str, Any], workdir: Path, *, rules: Mapping[str, Any] | None = None
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.config = dict(config)
        self.rules = rules
        super().__init__(port=self.port, log_path=workdir / "prometheus.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = dict(self.config)
        if self.rules is not None:
            rules_path = self.workdir / "rules.yml"
            rules_path.write_text(yaml.safe_dump(dict(self.rules), sort_keys=False))
            config["rule_files"] = [str(rules_path)]
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))

    def _command(self) -> list[str]:
        return [
            tool("prometheus"),
            f"--config.file={self.workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]

    def _ready(self) -> bool:
        return _ready(f"{self.url}/-/ready")

    def api(self, path: str, **params: str) -> Any:
        """The `data` of a GET on the HTTP API (`path` after /api/v1/)."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        body = _get_json(f"{self.url}/api/v1/{path}{query}")
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self) -> list[dict[str, Any]]:
        alerts: list[dict[str, Any]] = self.api("alerts")["alerts"]
        return alerts

    def query(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result


class LocalAlertmanager(ProcessService):
    """Alertmanager with `config` (an alertmanager.yml as a dict), clustering off."""

    name = "alertmanager"
    start_timeout_s = 30.0
    ready_poll_s = 0.1

    def __init__(self, config: Mapping[str, Any], workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.config = dict(config)
        super().__init__(port=self.port, log_path=workdir / "alertmanager.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "alertmanager.yml").write_text(yaml.safe_dump(self.config))

    def _command(self) -> list[str]:
        return [
            tool("prometheus-alertmanager"),
            f"--config.file={self.workdir / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",  # one instance: no gossip port
            "--log.level=warn",
        ]

    def _ready(self) -> bool:
        return _ready(f"{self.url}/-/ready")


@contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server on a free loopback port that keeps every JSON body POSTed to it:
    yields (its URL, the bodies received so far)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test asserts on what arrived

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alerts", received
    finally:
        server.shutdown()
        server.server_close()
