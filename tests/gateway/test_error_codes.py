"""The "Error codes" table in gateway/README.md lists exactly the codes the gateway emits:
GraphQL `extensions.code` values and REST `error.code` values, including the store node's
live-view errors that the gateway relays as they are (gateway/live/router.py).

The codes are found in the source by where a code can stand (`code_literals`), so a new
code without a row fails, and so does a row for a code nothing emits any more.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "gateway" / "README.md"
# The node's live-view offer errors reach clients through the gateway's relay.
RELAYED = [ROOT / "orchestrator" / "live" / "offer.py"]
CODE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
ROW = re.compile(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|")


def _constants(node: ast.AST) -> Iterable[str]:
    """Code-like string constants anywhere under `node` (a ternary picks one of two)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and CODE.match(sub.value):
            yield sub.value


def _callee(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    return func.attr if isinstance(func, ast.Attribute) else ""


def _code_constants(tree: ast.Module) -> set[str]:
    """Module-level constants named as their value (`NOT_FOUND = "NOT_FOUND"`)."""
    return {
        target.id
        for stmt in tree.body
        if isinstance(stmt, ast.Assign)
        and isinstance(stmt.value, ast.Constant)
        and CODE.match(str(stmt.value.value))
        for target in stmt.targets
        if isinstance(target, ast.Name) and target.id == stmt.value.value
    }


def _used_names(tree: ast.Module) -> set[str]:
    """Names a module reads or imports."""
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            used.update(alias.name for alias in node.names)
    return used


def code_literals(tree: ast.Module) -> set[str]:
    """The codes written out where a code stands:
    - the value of a `"code"` key in a dict (`extensions={"code": ...}`, REST bodies);
    - an argument of an error constructor, any callee named `*error*`
      (`_error(404, "NOT_FOUND", ...)`, `ProcessFrameError(...)`, `ChangeError(...)`);
    - a `code=` keyword, or a value assigned to a variable named `code`.
    """
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    found.update(_constants(value))
        elif isinstance(node, ast.Call):
            constructor = "error" in _callee(node).lower()
            for arg in node.args if constructor else []:
                found.update(_constants(arg))
            for keyword in node.keywords:
                if constructor or keyword.arg == "code":
                    found.update(_constants(keyword.value))
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "code" for t in node.targets
        ):
            found.update(_constants(node.value))
    return found


def emitted_codes(sources: dict[str, str]) -> dict[str, list[str]]:
    """Code -> the modules (name -> source) that emit it: written out (`code_literals`),
    or a code constant (the gateway/api/errors.py registry) that some module uses."""
    trees = {name: ast.parse(source) for name, source in sources.items()}
    used = set().union(*(_used_names(tree) for tree in trees.values()))
    by_code: dict[str, list[str]] = {}
    for name, tree in trees.items():
        for code in sorted(code_literals(tree) | (_code_constants(tree) & used)):
            by_code.setdefault(code, []).append(name)
    return by_code


def gateway_sources() -> dict[str, str]:
    files = sorted((ROOT / "gateway").rglob("*.py")) + RELAYED
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in files}


def documented_codes(readme: str) -> list[str]:
    """The first column of the table under the "Error codes" heading."""
    lines = readme.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if re.match(r"^#+\s+Error codes\b", line)), None
    )
    assert start is not None, f'{README} has no "Error codes" section'
    codes: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        match = ROW.match(line)
        if match:
            codes.append(match.group(1))
    return codes


def test_the_table_lists_every_code_the_gateway_emits_and_no_other() -> None:
    emitted = emitted_codes(gateway_sources())
    documented = documented_codes(README.read_text(encoding="utf-8"))
    duplicates = sorted({c for c in documented if documented.count(c) > 1})
    missing = {code: emitted[code] for code in sorted(set(emitted) - set(documented))}
    stale = sorted(set(documented) - set(emitted))
    assert not duplicates, f"listed more than once in the Error codes table: {duplicates}"
    assert not missing, f"codes emitted but not in the {README.name} Error codes table: {missing}"
    assert not stale, f"codes in the {README.name} Error codes table that nothing emits: {stale}"


def test_the_scan_finds_a_code_wherever_one_can_stand() -> None:
    errors = """
USED_ELSEWHERE = "USED_ELSEWHERE"
USED_HERE = "USED_HERE"
UNUSED = "UNUSED"
LOG_LEVEL = "DEBUG"

def from_auth(error):
    return api_error("m", USED_HERE)
"""
    resolvers = """
from errors import USED_ELSEWHERE, api_error

class Bucket(Enum):
    HOUR = "HOUR"

def f(exc, status):
    api_error("message in CAPS is no code", USED_ELSEWHERE)
    _error(409, "IN_A_CALL", "message")
    ProcessFrameError(status, "FORBIDDEN_A" if status == 403 else "UNAUTH_B", "m")
    raise SomeError("m", code="BY_KEYWORD")
    reply = {"status": "error", "error": {"code": "IN_A_DICT", "message": "m"}}
    code = "ASSIGNED"
    metrics.labels("NOT_A_CODE").inc()
    streams = ("TRACKS", "ALERTS")
    return {"kind": "ALSO_NOT"}
"""
    emitted = emitted_codes({"errors.py": errors, "resolvers.py": resolvers})
    assert emitted == {
        "USED_ELSEWHERE": ["errors.py"],
        "USED_HERE": ["errors.py"],
        "IN_A_CALL": ["resolvers.py"],
        "FORBIDDEN_A": ["resolvers.py"],
        "UNAUTH_B": ["resolvers.py"],
        "BY_KEYWORD": ["resolvers.py"],
        "IN_A_DICT": ["resolvers.py"],
        "ASSIGNED": ["resolvers.py"],
    }


def test_the_table_parser_reads_only_the_error_codes_section() -> None:
    readme = (
        "# Gateway\n| `OTHER` | x |\n\n### Error codes\n\n| code | meaning |\n|---|---|\n"
        "| `NOT_FOUND` | no such row |\n| `CONFLICT` | taken |\n\n### Next\n| `LATER` | y |\n"
    )
    assert documented_codes(readme) == ["NOT_FOUND", "CONFLICT"]
