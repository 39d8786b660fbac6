"""The import graph: applications are peers over the contracts package.

- An application (orchestrator, identity, gateway, analytics) imports its own modules,
  `trinetra`, `ensembles.ops`, and the standard library or third-party packages; never
  another application, the dev harness (`devservices`) or `tests`.
- `trinetra` imports itself and `ensembles.ops` (and stdlib/third-party); never an
  application, `devservices` or `tests`.

Every import counts: module level, inside functions (lazy), under TYPE_CHECKING, and
`importlib.import_module("...")` with a literal name (relative imports cannot leave their
package). The source is parsed (ast), never imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devservices.paths import REPO_ROOT

APPLICATIONS: Final = ("orchestrator", "identity", "gateway", "analytics")
CONTRACTS: Final = "trinetra"
SHARED: Final = (CONTRACTS, "ensembles.ops")  # what every checked package may import


@dataclass(frozen=True)
class Violation:
    path: Path  # relative to the root that was checked
    line: int
    importer: str  # the checked package
    imported: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def first_party(root: Path) -> frozenset[str]:
    """The top-level names the source tree itself provides (packages and modules)."""
    names = {path.stem for path in root.glob("*.py")}
    names |= {
        path.name
        for path in root.iterdir()
        if path.is_dir() and not path.name.startswith(".") and any(path.rglob("*.py"))
    }
    return frozenset(names)


def imported_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything `tree` imports absolutely; for `from X import Y`
    the name is `X.Y`, since Y may be a submodule. Relative imports are left out: they
    cannot leave their top-level package, so they never cross a boundary."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                name = node.module if alias.name == "*" else f"{node.module}.{alias.name}"
                yield node.lineno, name
        elif (
            isinstance(node, ast.Call)
            and _is_import_module(node.func)
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            yield node.lineno, node.args[0].value


def _is_import_module(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return func.attr == "import_module"
    return isinstance(func, ast.Name) and func.id in {"import_module", "__import__"}


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(
    root: Path, packages: tuple[str, ...] = (*APPLICATIONS, CONTRACTS)
) -> list[Violation]:
    """Every import in `packages` (under `root`) of a first-party module outside what
    that package may import: itself and SHARED."""
    ours = first_party(root)
    found: list[Violation] = []
    for package in packages:
        allowed = (package, *SHARED)
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, name in imported_names(tree):
                top = name.partition(".")[0]
                if top not in ours or any(_within(name, prefix) for prefix in allowed):
                    continue
                found.append(Violation(path.relative_to(root), line, package, name))
    return found


def test_applications_import_only_the_contracts_and_ensembles_ops() -> None:
    problems = violations(REPO_ROOT)
    assert not problems, "imports across the package boundaries:\n" + "\n".join(
        str(problem) for problem in problems
    )


# --- the checker itself, on a small tree ------------------------------------------------


def write(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source)


def test_the_checker_finds_each_kind_of_crossing(tmp_path: Path) -> None:
    for package in (*APPLICATIONS, CONTRACTS, "devservices", "tests", "ensembles"):
        write(tmp_path, f"{package}/__init__.py", "")
    write(tmp_path, "ensembles/ops/__init__.py", "")
    write(tmp_path, "ensembles/triton_io.py", "")
    write(
        tmp_path,
        "gateway/live/webrtc.py",
        "import json\n"  # 1 stdlib
        "import numpy as np\n"  # 2 third-party
        "from trinetra.events import schema\n"  # 3 the contracts
        "from ensembles.ops.boxes import iou\n"  # 4 shared pure functions
        "from ensembles import ops\n"  # 5 the same, spelled another way
        "from . import overlay\n"  # 6 its own package, relative
        "from ..config import Settings\n"  # 7 its own package, two levels up
        "\n"
        "def view():\n"
        "    from orchestrator.cameras.worker import CameraWorker\n"  # 10 lazy, another app
        "    return CameraWorker\n",
    )
    write(
        tmp_path,
        "orchestrator/node.py",
        "import importlib\n"
        "import devservices.paths\n"  # 2 the harness
        "from ensembles import triton_io\n"  # 3 ensembles, but not ensembles.ops
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from identity.service import IdentityService\n"  # 6 another app, typing only
        "support = importlib.import_module('tests.support')\n",  # 7 tests, by name
    )
    write(
        tmp_path,
        "trinetra/events/__init__.py",
        "from gateway import app\n"  # 1 an application
        "from .. import retry\n"  # 2 trinetra itself
        "from ensembles.ops import image\n",  # 3 allowed for trinetra too
    )
    write(
        tmp_path,
        "analytics/engine/geometry.py",
        "from ..config import AnalyticsConfig\n"  # 1 its own package, relative
        "import identity.gate as gate\n",  # 2 another application
    )
    write(tmp_path, "devservices/demo.py", "import gateway, orchestrator\n")  # not checked

    found = {(v.path.as_posix(), v.line, v.importer, v.imported) for v in violations(tmp_path)}

    assert found == {
        ("gateway/live/webrtc.py", 10, "gateway", "orchestrator.cameras.worker.CameraWorker"),
        ("orchestrator/node.py", 2, "orchestrator", "devservices.paths"),
        ("orchestrator/node.py", 3, "orchestrator", "ensembles.triton_io"),
        ("orchestrator/node.py", 6, "orchestrator", "identity.service.IdentityService"),
        ("orchestrator/node.py", 7, "orchestrator", "tests.support"),
        ("trinetra/events/__init__.py", 1, "trinetra", "gateway.app"),
        ("analytics/engine/geometry.py", 2, "analytics", "identity.gate"),
    }
    message = str(next(v for v in violations(tmp_path) if v.importer == "gateway"))
    assert message == (
        "gateway/live/webrtc.py:10: gateway imports orchestrator.cameras.worker.CameraWorker"
    )


def test_a_clean_tree_has_no_violations(tmp_path: Path) -> None:
    write(tmp_path, "trinetra/__init__.py", "import pydantic\n")
    write(tmp_path, "gateway/__init__.py", "from trinetra import logs\nfrom . import config\n")
    write(tmp_path, "orchestrator/__init__.py", "import ensembles.ops.image\n")
    write(tmp_path, "ensembles/ops/__init__.py", "")
    assert violations(tmp_path) == []
