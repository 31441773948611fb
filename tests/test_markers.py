"""The file-level markers tests/conftest.py schedules by: no file loses one, none names nothing.

conftest.py sends the files marked ``long`` to pytest-xdist's workers first (the
longest first) and lets the grading of files marked ``warm`` fork from the session's
zygote. Both markers are read from a module's own ``pytestmark``, so that renaming
or moving a file keeps them; this checks, from the files' source (nothing is
imported or run), that:

- a file with a ``slow`` test carries ``long(SECONDS)``, SECONDS a positive number;
- a file whose slow tests run ``course grade`` (``Grader(...)``, ``grade_args(...)``,
  ``course("grade", ...)``) says ``warm``, or ``warm(False)`` where it is about the
  grader's own zygote; a file marked ``warm`` has a slow test (conftest only shares
  the zygote with slow tests);
- ``long`` and ``warm`` appear only in a module-level ``pytestmark`` (a test's or
  class's own would be ignored), are registered in pyproject.toml, and mark a file each.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import conftest
import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
READ = (conftest.LONG, conftest.WARM)


def _mark_name(node: ast.AST) -> str | None:
    """``X`` for ``pytest.mark.X`` or ``mark.X`` (called or not), else ``None``."""
    if isinstance(node, ast.Call):
        node = node.func
    if not isinstance(node, ast.Attribute):
        return None
    owner = node.value
    if (isinstance(owner, ast.Attribute) and owner.attr == "mark") or (
        isinstance(owner, ast.Name) and owner.id == "mark"
    ):
        return node.attr
    return None


@dataclass
class MarkedFile:
    """What a test file's source says about its markers."""

    path: Path
    file_marks: dict[str, ast.AST] = field(default_factory=dict)  # from module-level pytestmark
    stray: list[tuple[str, int]] = field(default_factory=list)  # long/warm anywhere else
    slow: bool = False
    grades: bool = False

    @property
    def name(self) -> str:
        return str(self.path.relative_to(ROOT))


def _grading_call(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in ("Grader", "grade_args"):
        return True
    if name not in ("main", "course"):  # cli.main(["grade", ...]), course("grade", ...)
        return False
    first = node.args[0] if node.args else None
    if isinstance(first, ast.List | ast.Tuple) and first.elts:
        first = first.elts[0]
    return isinstance(first, ast.Constant) and first.value == "grade"


def read(path: Path) -> MarkedFile:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = MarkedFile(path)
    file_level: set[int] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
        ):
            value = stmt.value
            for mark in value.elts if isinstance(value, ast.List | ast.Tuple) else [value]:
                if (name := _mark_name(mark)) is not None:
                    found.file_marks[name] = mark
                    file_level.update(id(n) for n in ast.walk(mark))
    for node in ast.walk(tree):
        name = _mark_name(node)
        if name == "slow":
            found.slow = True
        if name in READ and id(node) not in file_level and not isinstance(node, ast.Call):
            found.stray.append((name, node.lineno))
        if isinstance(node, ast.Call) and _grading_call(node):
            found.grades = True
    found.slow = found.slow or "slow" in found.file_marks
    return found


FILES = [read(p) for p in sorted(TESTS.rglob("test_*.py")) if "node_modules" not in p.parts]


def test_it_reads_the_test_files():
    assert len(FILES) > 30 and any(f.slow for f in FILES) and any(f.grades for f in FILES)


def test_the_markers_conftest_reads_are_registered_and_used():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    markers = config["tool"]["pytest"]["ini_options"]["markers"]
    registered = {m.split(":")[0].split("(")[0].strip() for m in markers}
    for name in READ:
        assert name in registered, f"register the marker {name!r} in pyproject.toml"
        assert [f for f in FILES if name in f.file_marks], f"no test file is marked {name!r}"


@pytest.mark.parametrize("test_file", FILES, ids=lambda f: f.name)
def test_long_and_warm_are_file_markers(test_file):
    assert test_file.stray == [], (
        f"{test_file.name}: {test_file.stray} (marker, line): conftest.py reads long and warm "
        "from the module's `pytestmark` only; move them there"
    )


@pytest.mark.parametrize("test_file", FILES, ids=lambda f: f.name)
def test_a_file_with_a_slow_test_is_scheduled_as_long(test_file):
    mark = test_file.file_marks.get(conftest.LONG)
    if test_file.slow:
        assert mark is not None, (
            f"{test_file.name} has slow tests: add `pytestmark = pytest.mark.long(SECONDS)`, "
            "SECONDS about how long it takes (tests/conftest.py starts it by that)"
        )
    if mark is not None:
        args = mark.args if isinstance(mark, ast.Call) else []
        assert len(args) == 1 and isinstance(args[0], ast.Constant), (
            f"{test_file.name}: long takes one number, its seconds, e.g. pytest.mark.long(60)"
        )
        value = args[0].value
        assert isinstance(value, int | float) and value > 0, f"{test_file.name}: long({value!r})"


@pytest.mark.parametrize("test_file", FILES, ids=lambda f: f.name)
def test_a_file_whose_slow_tests_grade_says_whether_they_fork_warm(test_file):
    mark = test_file.file_marks.get(conftest.WARM)
    if test_file.grades and test_file.slow:
        assert mark is not None, (
            f"{test_file.name} runs `course grade` in slow tests: add pytest.mark.warm to its "
            "pytestmark (or warm(False) where it is about the grader's own zygote)"
        )
    if mark is not None:
        args = mark.args if isinstance(mark, ast.Call) else []
        off = len(args) == 1 and isinstance(args[0], ast.Constant) and args[0].value is False
        assert off or not args, f"{test_file.name}: warm takes no argument, or False"
        assert off or test_file.slow, (
            f"{test_file.name} is marked warm but has no slow test: conftest shares the zygote "
            "with slow tests only, so the marker does nothing"
        )


def test_the_reader_finds_a_lost_or_misplaced_marker(tmp_path):
    path = tmp_path / "test_example.py"
    path.write_text(
        "import pytest\n"
        "from pytest import mark\n"
        "pytestmark = [pytest.mark.long(30), pytest.mark.warm]\n"
        "@pytest.mark.slow\n"
        "def test_a():\n"
        "    Grader(root)\n"
        "@mark.warm\n"
        "def test_b():\n"
        "    meta.get('grade')\n"
        "    course('grade', '--out', 'x')\n"
    )
    found = read(path)
    assert set(found.file_marks) == {"long", "warm"} and found.slow and found.grades
    assert found.stray == [("warm", 7)]
    path.write_text("import pytest\n@pytest.mark.slow\ndef test_a():\n    pass\n")
    found = read(path)
    assert found.slow and found.file_marks == {} and not found.grades
