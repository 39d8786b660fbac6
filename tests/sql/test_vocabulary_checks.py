"""The database's CHECK constraints list exactly the values of the Python vocabularies.

A `col IN (...)` CHECK repeats a vocabulary in SQL; a value added to the Python enum but
not to the constraint is an ingest failure on the first event that carries it. Every
migration is parsed with PostgreSQL's own parser (pglast) in the order it applies, so a
later migration that redefines a constraint is what counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

import pytest
from pglast import ast, enums, parse_sql

from gateway.db.dialect import Dialect
from gateway.db.migrations import plan
from trinetra.vocabulary import AlertSeverity, CameraState, TrackEventKind

# (table, column) -> the vocabulary its CHECK must list.
VOCABULARIES: dict[tuple[str, str], type[StrEnum]] = {
    ("cameras", "status"): CameraState,
    ("track_events", "kind"): TrackEventKind,
    ("alerts", "severity"): AlertSeverity,
}


@dataclass(frozen=True)
class InCheck:
    table: str
    column: str
    values: frozenset[str]
    migration: str


def _walk(node: object) -> Iterator[ast.Node]:
    if isinstance(node, ast.Node):
        yield node
        for attribute in node:  # a node iterates over its attribute names
            yield from _walk(getattr(node, attribute))
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _walk(item)


def _table(statement: ast.Node) -> str | None:
    """The table a CREATE TABLE or ALTER TABLE statement defines or changes."""
    if isinstance(statement, ast.CreateStmt | ast.AlterTableStmt):
        relation = statement.relation
        return None if relation is None else relation.relname
    return None


def _in_lists(expression: ast.Node) -> Iterator[tuple[str, frozenset[str]]]:
    """(column, values) of every `column IN ('a', 'b', ...)` inside a CHECK expression."""
    for node in _walk(expression):
        if not (isinstance(node, ast.A_Expr) and node.kind == enums.A_Expr_Kind.AEXPR_IN):
            continue
        operator = node.name[0] if node.name else None
        assert isinstance(operator, ast.String) and operator.sval == "=", (
            f"NOT IN in a CHECK: {node}; the vocabulary test only knows IN"
        )
        assert isinstance(node.lexpr, ast.ColumnRef) and node.lexpr.fields, node
        column = node.lexpr.fields[-1]
        assert isinstance(column, ast.String) and column.sval is not None, node
        values: set[str] = set()
        assert isinstance(node.rexpr, tuple), node
        for item in node.rexpr:
            assert isinstance(item, ast.A_Const) and isinstance(item.val, ast.String), item
            assert item.val.sval is not None, item
            values.add(item.val.sval)
        yield column.sval, frozenset(values)


def checks_in(sql: str, migration: str) -> Iterator[InCheck]:
    """Every `col IN (...)` CHECK of a SQL file, in statement order."""
    for raw in parse_sql(sql):
        table = None if raw.stmt is None else _table(raw.stmt)
        if table is None:
            continue
        for node in _walk(raw.stmt):
            if (
                isinstance(node, ast.Constraint)
                and node.contype == enums.ConstrType.CONSTR_CHECK
                and node.raw_expr is not None
            ):
                for column, values in _in_lists(node.raw_expr):
                    yield InCheck(table, column, values, migration)


def in_checks(dialect: Dialect) -> dict[tuple[str, str], InCheck]:
    """The `col IN (...)` CHECKs of a dialect's schema, the latest definition winning."""
    return {
        (check.table, check.column): check
        for migration in plan(dialect)
        for check in checks_in(migration.sql, migration.name)
    }


@pytest.mark.parametrize("dialect", list(Dialect), ids=lambda d: d.value)
def test_every_in_check_matches_its_python_vocabulary(dialect: Dialect) -> None:
    checks = in_checks(dialect)
    unmapped = sorted(f"{t}.{c}" for t, c in checks.keys() - VOCABULARIES.keys())
    assert not unmapped, (
        f"CHECK ... IN (...) on {', '.join(unmapped)} with no Python vocabulary: declare it in "
        "trinetra/vocabulary.py and map it in VOCABULARIES"
    )
    unchecked = sorted(f"{t}.{c}" for t, c in VOCABULARIES.keys() - checks.keys())
    assert not unchecked, f"no CHECK ... IN (...) constrains {', '.join(unchecked)} any more"
    mismatches = []
    for key, vocabulary in VOCABULARIES.items():
        check = checks[key]
        expected = frozenset(member.value for member in vocabulary)
        missing, extra = sorted(expected - check.values), sorted(check.values - expected)
        if missing or extra:
            mismatches.append(
                f"{check.table}.{check.column} ({check.migration}) against "
                f"{vocabulary.__module__}.{vocabulary.__qualname__}: "
                f"missing from the CHECK {missing}, not in the enum {extra}"
            )
    assert not mismatches, "\n".join(mismatches)


def test_the_parser_sees_through_every_form_of_check() -> None:
    """Column and table constraints, ALTER TABLE, an IS NULL alternative, and a later
    definition replacing an earlier one: the walk finds each (else the test above could
    pass by finding nothing)."""
    sql = """
        CREATE TABLE a (k text CHECK (k IN ('x', 'y')), s text,
                        CHECK (s IS NULL OR s IN ('p')));
        ALTER TABLE a ADD CONSTRAINT a_k CHECK (k IN ('x', 'y', 'z'));
    """
    found = {(c.table, c.column): c.values for c in checks_in(sql, "example")}
    assert found == {("a", "k"): {"x", "y", "z"}, ("a", "s"): {"p"}}
