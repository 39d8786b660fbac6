"""The committed SDL (gateway/schema.graphql) is the code's schema: frontend codegen runs
against it, and API changes show in its diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema

from gateway.api.sdl import REGENERATE, SDL_PATH, current_sdl, main, stale_report


def test_the_committed_sdl_is_the_codes_schema() -> None:
    report = stale_report()
    if report is not None:
        pytest.fail(report, pytrace=False)


def test_the_sdl_is_valid_graphql_with_every_root_type() -> None:
    # What codegen tools read: graphql-core builds it without the Python code.
    schema = build_schema(SDL_PATH.read_text(encoding="utf-8"))
    assert schema.query_type and schema.mutation_type and schema.subscription_type
    assert "cameras" in schema.query_type.fields


def test_check_reports_a_changed_schema_with_a_diff_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "schema.graphql"
    assert main(["--write", "--path", str(path)]) == 0
    assert path.read_text(encoding="utf-8") == current_sdl()
    assert main(["--check", "--path", str(path)]) == 0

    # A field the code no longer has (as if it had been removed or renamed).
    edited = current_sdl().replace("type Query {\n", "type Query {\n  retired: Int\n", 1)
    assert edited != current_sdl()
    path.write_text(edited, encoding="utf-8")
    capsys.readouterr()
    assert main(["--check", "--path", str(path)]) == 1
    err = capsys.readouterr().err
    assert "-  retired: Int" in err
    assert REGENERATE in err


def test_check_reports_a_missing_file(tmp_path: Path) -> None:
    report = stale_report(tmp_path / "schema.graphql")
    assert report is not None and "+type Query {" in report
