"""The alert rules on a real Prometheus's own tools (Debian's promtool and amtool):

- the rule file, the compose Prometheus config and the Alertmanager config are valid;
- `promtool test rules` on series recorded from a real run of a store node, gateway and
  Triton (deploy/prometheus/tests/recorded/, by scripts/record_metric_series.py) with the
  expectations of deploy/prometheus/tests/store_run.expect.yml, and on the hand-made
  series of the cases a recording cannot show (deploy/prometheus/tests/*.test.yml);
- every alert is shown firing by some test.

The recorded expectations name times relative to the run's phases (`camera_down+2m30s`);
they are resolved here from the phases the recording wrote down, then the whole test is
handed to promtool as one file.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.deploy.monitoring import (
    ALERTMANAGER_CONFIG,
    PROMETHEUS_CONFIG,
    PROMETHEUS_TESTS,
    RULES_FILE,
    load_yaml,
    tool,
)

EXPECTATIONS: Final = PROMETHEUS_TESTS / "store_run.expect.yml"
HAND_MADE: Final = sorted(PROMETHEUS_TESTS.glob("*.test.yml"))
_DURATION_PART: Final = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNITS_S: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=300, check=False
    )


def seconds(duration: str) -> float:
    """A Prometheus duration (1h30m, 45s) in seconds."""
    parts = _DURATION_PART.findall(duration)
    if not parts or "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a duration: {duration!r}")
    return sum(int(number) * _UNITS_S[unit] for number, unit in parts)


def resolve(eval_time: str, phases: dict[str, float]) -> str:
    """`phase+duration` (or a plain duration) as a duration from the run's start."""
    phase, _, offset = eval_time.partition("+")
    if phase not in phases:
        return eval_time
    return f"{int(phases[phase] + (seconds(offset) if offset else 0))}s"


def recorded_test(expectations: dict[str, Any]) -> dict[str, Any]:
    """The promtool test file: the recorded series with the expectations on them."""
    recording = load_yaml(PROMETHEUS_TESTS / expectations["series"])
    phases = {phase["name"]: seconds(phase["start"]) for phase in recording["phases"]}
    checks: dict[str, list[dict[str, Any]]] = {}
    for kind in ("alert_rule_test", "promql_expr_test"):
        checks[kind] = [
            {**check, "eval_time": resolve(str(check["eval_time"]), phases)}
            for check in expectations.get(kind, [])
        ]
    return {
        "rule_files": [str(RULES_FILE)],
        "evaluation_interval": expectations["evaluation_interval"],
        "tests": [
            {
                "name": f"recorded run ({recording['recorded']})",
                "interval": recording["interval"],
                "input_series": recording["input_series"],
                **checks,
            }
        ],
    }


def test_the_rule_file_is_valid() -> None:
    done = run(tool("promtool"), "check", "rules", RULES_FILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_prometheus_config_is_valid_with_the_rules(tmp_path: Path) -> None:
    # The config names the rules where compose mounts them; check it with ours.
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    config["rule_files"] = [str(RULES_FILE)]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    done = run(tool("promtool"), "check", "config", path)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert jobs == {"store-node", "gateway", "triton", "analytics", "identity"}


def test_the_alertmanager_config_is_valid() -> None:
    done = run(tool("amtool"), "check-config", ALERTMANAGER_CONFIG)
    assert done.returncode == 0, done.stdout + done.stderr
    config = load_yaml(ALERTMANAGER_CONFIG)
    [receiver] = config["receivers"]
    [webhook] = receiver["webhook_configs"]
    assert webhook["send_resolved"] is True


def test_the_rules_on_the_recorded_run(tmp_path: Path) -> None:
    path = tmp_path / "store_run.test.yml"
    path.write_text(yaml.safe_dump(recorded_test(load_yaml(EXPECTATIONS)), sort_keys=False))
    done = run(tool("promtool"), "test", "rules", path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr


@pytest.mark.parametrize("path", HAND_MADE, ids=lambda p: p.name)
def test_the_rules_on_hand_made_series(path: Path) -> None:
    done = run(tool("promtool"), "test", "rules", path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr


def _fired(test_file: dict[str, Any]) -> set[str]:
    """The alerts some check of a promtool test file expects to fire."""
    fired: set[str] = set()
    for test in test_file["tests"]:
        for check in test.get("alert_rule_test", []):
            if check.get("exp_alerts"):
                fired.add(check["alertname"])
        for check in test.get("promql_expr_test", []):
            for sample in check.get("exp_samples", []):
                match = re.search(r'alertname="([^"]+)",alertstate="firing"', sample["labels"])
                if match:
                    fired.add(match.group(1))
    return fired


def test_every_alert_is_shown_firing_by_a_test() -> None:
    alerts = {
        rule["alert"]
        for group in load_yaml(RULES_FILE)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    shown = _fired(recorded_test(load_yaml(EXPECTATIONS)))
    for path in HAND_MADE:
        shown |= _fired(load_yaml(path))
    assert alerts - shown == set()


def test_phase_times_resolve() -> None:
    phases = {"camera_down": 240.0}
    assert resolve("camera_down+2m30s", phases) == "390s"
    assert resolve("camera_down", phases) == "240s"
    assert resolve("5m", phases) == "5m"
    with pytest.raises(ValueError):
        seconds("2 minutes")
