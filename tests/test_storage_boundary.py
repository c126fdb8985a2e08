"""SQL lives in one package (teller_guard/storage/) and the schema in migrations.py: a string
literal that starts like an SQL statement anywhere else fails this test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "teller_guard"
SQL = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|PRAGMA|WITH|BEGIN|REPLACE|"
                 r"COMMIT|ROLLBACK|SAVEPOINT|RELEASE|VACUUM|ANALYZE)\b")  # the code writes SQL in capitals
ALLOWED = {"storage", "migrations.py"}

# Modules still holding SQL while it moves into the storage package (issue 14). Remove a module
# from this list when its SQL has moved; the test fails if a listed module has none left, so the
# list only shrinks.
NOT_YET_MOVED = {
    "db.py",
}


def sql_literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
            found.append((node.lineno, node.value.strip().splitlines()[0][:60]))
        elif isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and SQL.match(first.value):
                found.append((node.lineno, first.value.strip().splitlines()[0][:60]))
    return found


def modules_with_sql() -> dict[str, list[tuple[int, str]]]:
    result = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.split("/")[0] in ALLOWED:
            continue
        found = sql_literals(path)
        if found:
            result[name] = found
    return result


def test_no_sql_outside_the_storage_package():
    offenders = {name: found for name, found in modules_with_sql().items()
                 if name not in NOT_YET_MOVED}
    assert offenders == {}, "move these statements into teller_guard/storage/"


def test_the_not_yet_moved_list_only_shrinks():
    still = set(modules_with_sql())
    done = sorted(NOT_YET_MOVED - still)
    assert done == [], f"no SQL left in {done}: remove them from NOT_YET_MOVED"


# sqlite-utils' table helpers write SQL too: `db["users"].insert(...)` counts as a statement.
DATABASE_NAMES = {"db", "database", "writer", "connection"}


def table_helper_calls(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Subscript)
                and isinstance(node.value.value, ast.Name) and node.value.value.id in DATABASE_NAMES
                and isinstance(node.value.slice, ast.Constant)
                and isinstance(node.value.slice.value, str)):
            found.append((node.lineno, f'{node.value.value.id}["{node.value.slice.value}"].{node.attr}'))
    return found


def test_no_table_helpers_outside_the_storage_package():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.split("/")[0] not in ALLOWED and table_helper_calls(path):
            offenders[name] = table_helper_calls(path)
    assert offenders == {}, "move these table calls into teller_guard/storage/"


def test_table_helpers_are_recognised(tmp_path):
    module = tmp_path / "module.py"
    module.write_text('def f(db, row):\n    db["users"].insert({})\n    row["form"].get("x")\n',
                      encoding="utf-8")
    assert table_helper_calls(module) == [(2, 'db["users"].insert')]
