"""Which metric names the rules and dashboards use, and which a process exports.

    names_in_expr('sum by (le) (rate(x_bucket{job="a"}[5m])) / y')   # {"x_bucket", "y"}
    exported_names(scrape_text)                                     # names Prometheus stores

PromQL is not parsed in full: strings, label matchers, ranges and grouping clauses are
cut out, then every identifier that is not a function call, a keyword or part of a number
is a metric name (or a recording rule's). Grafana's template syntax ($var, $__interval)
only appears inside the parts cut out, and `label_values(metric, label)` queries name
their metric in the first argument.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tests.deploy.monitoring import DASHBOARDS, RULES_FILE, load_yaml

_KEYWORDS: Final = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan", "atan2", "start", "end"}
)
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS: Final = re.compile(r"\{[^{}]*\}")
_RANGE: Final = re.compile(r"\[[^\[\]]*\]")
_GROUPING: Final = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_IDENTIFIER: Final = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_LABEL_VALUES: Final = re.compile(
    r"^\s*label_values\((?P<metric>.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$"
)

# Series Prometheus makes itself, not any process.
PROMETHEUS_SERIES: Final = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


def names_in_expr(expr: str) -> set[str]:
    """The metric (and recording rule) names a PromQL expression reads."""
    values = _LABEL_VALUES.match(expr)
    if values is not None:
        expr = values.group("metric")
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(0)
        before = text[match.start() - 1] if match.start() else " "
        if before.isdigit() or before == ".":
            continue  # the exponent of 1e6, or a duration's unit (offset 1w)
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function
        if name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


# Sample names of a family that has no samples (a labelled metric never used yet, as
# prometheus_client exposes it: HELP and TYPE lines only), by type. A counter's TYPE
# line already carries its `_total` name.
_EMPTY_FAMILY_NAMES: Final = {
    "counter": ("",),
    "gauge": ("",),
    "untyped": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
}


def exported_names(exposition: str) -> set[str]:
    """The sample names a scrape gives Prometheus, as it stores them (read from the text
    itself: prometheus_client's parser renames counter samples), plus the names an empty
    family will have once it gets samples."""
    samples: set[str] = set()
    types: dict[str, str] = {}
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            types[family] = kind.strip()
        elif line.strip() and not line.startswith("#"):
            match = _IDENTIFIER.match(line)
            if match is not None:
                samples.add(match.group(0))
    names = set(samples)
    for family, kind in types.items():
        if not any(sample.startswith(family) for sample in samples):
            names |= {family + suffix for suffix in _EMPTY_FAMILY_NAMES.get(kind, ("",))}
    return names


@dataclass(frozen=True)
class Use:
    """One expression and where it is (for the failure message)."""

    where: str
    expr: str


def rule_uses(path: Path = RULES_FILE) -> Iterator[Use]:
    for group in load_yaml(path)["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert") or rule.get("record")
            yield Use(f"{path.name}: {name}", rule["expr"])


def recorded_names(path: Path = RULES_FILE) -> set[str]:
    """The series the rule file's recording rules create."""
    return {
        rule["record"]
        for group in load_yaml(path)["groups"]
        for rule in group["rules"]
        if "record" in rule
    }


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))  # rows hold their panels


def dashboard_uses(path: Path) -> Iterator[Use]:
    board = json.loads(path.read_text())
    for panel in _panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                yield Use(f"{path.name}: {panel.get('title')}", target["expr"])
    for variable in board.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query":
            text = query.get("query") if isinstance(query, dict) else query
            yield Use(f"{path.name}: variable {variable['name']}", str(text))
