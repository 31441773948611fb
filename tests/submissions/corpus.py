"""Known submissions for the grader, built from a lesson's student and solution notebooks.

Every case starts from the released (student) notebook and the solution, so
the corpus follows the lessons as they change. ``expected.json`` (beside this
file) says what each case must score, in terms of the lesson's own points:

- ``"all"`` / ``0``: every point / none;
- ``"all_but_first"``: all but the points of the first exercise (the answer
  cell that the case breaks, and the test cells after it);
- ``"first_half"``: the points of the first half of the exercises;
- ``"all_but_choice"``: all but the points of the first multiple-choice item.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
CHOICE = re.compile(r"^\s*(answer_\w+)\s*=\s*['\"]([A-Za-z])['\"]\s*$", re.M)


def expected() -> dict:
    return json.loads((HERE / "expected.json").read_text())


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_code(source: str) -> str:
    """The answer as a student would type it: the solution without its markers."""
    return "\n".join(
        line
        for line in source.split("\n")
        if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
    )


@dataclass(frozen=True)
class Exercise:
    answer_id: str
    solution: str  # what a correct student writes
    tests: tuple[tuple[str, float], ...]  # (grade_id, points) of the test cells after the answer

    @property
    def points(self) -> float:
        return sum(p for _, p in self.tests)


def exercises(released, source) -> list[Exercise]:
    """Answer cells of ``released`` in order, each with its solution and the tests that follow it."""
    solutions = {_meta(c).get("grade_id"): c.source for c in source.cells}
    found: list[Exercise] = []
    for cell in released.cells:
        meta = _meta(cell)
        if meta.get("solution"):
            found.append(Exercise(meta["grade_id"], solution_code(solutions[meta["grade_id"]]), ()))
        elif meta.get("grade") and found:
            last = found[-1]
            found[-1] = Exercise(
                last.answer_id,
                last.solution,
                (*last.tests, (meta["grade_id"], float(meta["points"]))),
            )
    return [e for e in found if e.tests]


def first_choice(items: list[Exercise]) -> tuple[Exercise, str, str] | None:
    """The first multiple-choice exercise, its variable and its right letter."""
    for item in items:
        match = CHOICE.search(item.solution)
        if match:
            return item, match.group(1), match.group(2).upper()
    return None


def answered(released, source, which: list[str] | None = None):
    """``released`` with the answers of ``which`` exercises (default: all) filled in."""
    nb = copy.deepcopy(released)
    chosen = {e.answer_id: e.solution for e in exercises(released, source)}
    for cell in nb.cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id in chosen and (which is None or grade_id in which):
            cell.source = chosen[grade_id]
    return nb


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id)


def _prefix_first(released, source, code: str):
    """All answers right, but the first exercise's answer cell starts with ``code``."""
    nb = answered(released, source)
    cell = _cell(nb, exercises(released, source)[0].answer_id)
    cell.source = code + "\n" + cell.source
    return nb


def _insert_after_setup(nb, code: str):
    from nbformat.v4 import new_code_cell

    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, new_code_cell(code))
    return nb


# Undoes everything a checker relies on. With the guard this changes nothing; without it,
# every test cell would pass for an untouched notebook.
MONKEYPATCH = """
import builtins, sys
def _ok(*args, **kwargs):
    return None
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("course_utils") and _mod is not None:
        for _attr in list(vars(_mod)):
            if _attr.startswith("check") or _attr in ("fail", "correct"):
                setattr(_mod, _attr, _ok)
for _attr in [a for a in globals() if a.startswith("check")]:
    globals()[_attr] = _ok
class _Anything:
    def __getattr__(self, name):
        return _ok
checks = _Anything()
class _Never(Exception):
    pass
builtins.AssertionError = _Never
print = _ok
get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
"""

# Lies about errors below everything the guard restores: caught by the canary.
ERROR_HIDING = """
_kernel = get_ipython().kernel
class _Liar:
    def __init__(self, real):
        self._real = real
    def __getattr__(self, name):
        return getattr(self._real, name)
    def send(self, stream, msg_or_type, content=None, *args, **kwargs):
        if msg_or_type == "error":
            return None
        if msg_or_type == "execute_reply" and content and content.get("status") == "error":
            content = {"status": "ok", "execution_count": content.get("execution_count"),
                       "user_expressions": {}, "payload": []}
        return self._real.send(stream, msg_or_type, content, *args, **kwargs)
_liar = _Liar(_kernel.session)
for _obj in (_kernel, get_ipython().displayhook, get_ipython().display_pub):
    _obj._trait_values["session"] = _liar  # past traitlets' type check
"""

# Replaces the guard the grader built in the kernel: its functions, and its challenge answer.
GUARD_TAMPER = """
import sys
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("_course_guard_"):
        _mod.restore = lambda *args, **kwargs: []
        _mod.remember = lambda *args, **kwargs: None
        _mod.answer = lambda nonce, call, *args: "0" * 64 + "\\n[]\\n[]"
"""

# Only the guard's functions, leaving its challenge answer in place: it reports them replaced.
GUARD_FUNCTIONS = """
import sys
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("_course_guard_"):
        _mod.restore = lambda *args, **kwargs: []
"""

# Tries to write where a submission must not; prints WROTE for every success.
WRITES = """
import glob, os, course_utils
_targets = [
    os.path.join(os.path.dirname(course_utils.__file__), "checks", "_corpus_pwned.py"),
    os.path.join(os.path.dirname(os.path.dirname(course_utils.__file__)), "solutions", "_corpus_pwned"),
    os.path.join(os.path.dirname(os.path.dirname(course_utils.__file__)), "grader", "_corpus_pwned"),
    "../../gradebook.db", "../gradebook.db", "../../../gradebook.db",
]
_targets += glob.glob("/tmp/**/gradebook.db", recursive=True)
_targets += glob.glob("/tmp/**/grades.csv", recursive=True)
_targets += glob.glob("/tmp/**/submitted/*/*/*.ipynb", recursive=True)
_targets += glob.glob("/tmp/**/feedback/*/*.html", recursive=True)
for _path in _targets:
    try:
        if os.path.exists(_path):
            with open(_path, "r+b"):
                pass  # opened for writing: that is already too much
        else:
            with open(_path, "x") as _fh:
                _fh.write("pwned")
        print("WROTE", _path)
    except OSError:
        pass
print("tried", len(_targets), "paths")
"""

# Prints every cell the kernel ran, hidden tests included, once they have run.
EXFILTRATE = """
print("\\n".join(In))
print(open(__file__).read() if "__file__" in dir() else "")
"""


def build(case: str, released, source, *, wrong_letter: str | None = None):
    """The notebook (or raw bytes) of one corpus case."""
    items = exercises(released, source)
    if case == "perfect":
        return answered(released, source)
    if case == "untouched":
        return copy.deepcopy(released)
    if case == "partial":
        half = [e.answer_id for e in items[: (len(items) + 1) // 2]]
        return answered(released, source, half)
    if case == "misconception":
        item, variable, _ = first_choice(items)
        nb = answered(released, source)
        _cell(nb, item.answer_id).source = f'{variable} = "{wrong_letter}"'
        return nb
    prefixes = {
        "syntax_error": "def broken(:",
        "exception": "raise RuntimeError('a bug in the answer')",
        "infinite_loop": "while True:\n    pass",
        "stubborn_loop": (
            "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
            "    except BaseException:\n        pass"
        ),
        "sys_exit": "import sys\nsys.exit(3)",
        "os_exit": "import os\nos._exit(0)",
        "memory_bomb": "blob = bytearray(64 * 2**30)",
        "output_flood": "while True:\n    print('flood ' * 2000)",
    }
    if case in prefixes:
        return _prefix_first(released, source, prefixes[case])
    if case == "deleted_test_cells":
        nb = answered(released, source)
        nb.cells = [c for c in nb.cells if not _meta(c).get("grade")]
        return nb
    if case == "edited_tests":
        nb = copy.deepcopy(released)
        for cell in nb.cells:
            if _meta(cell).get("locked") and cell.cell_type == "code" and _meta(cell).get("grade"):
                cell.source = "pass"
                _meta(cell)["points"] = 100
        return nb
    if case == "changed_cell_types":
        nb = answered(released, source)
        for cell in nb.cells:
            if _meta(cell).get("grade") or _meta(cell).get("solution"):
                cell.cell_type = "markdown"
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        return nb
    if case == "monkeypatch":
        return _insert_after_setup(copy.deepcopy(released), MONKEYPATCH)
    if case == "error_hiding":
        return _insert_after_setup(copy.deepcopy(released), ERROR_HIDING)
    if case == "guard_tamper":
        return _insert_after_setup(answered(released, source), GUARD_TAMPER)
    if case == "guard_functions":  # not in expected.json: tests/test_grading.py uses it directly
        return _insert_after_setup(answered(released, source), GUARD_FUNCTIONS)
    if case == "writes_outside":
        return _insert_after_setup(answered(released, source), WRITES)
    if case == "exfiltrate":
        nb = answered(released, source)
        from nbformat.v4 import new_code_cell

        nb.cells.append(new_code_cell(EXFILTRATE))
        return nb
    if case == "not_a_notebook":
        return b"{ this is not json"
    raise ValueError(f"unknown corpus case {case!r}: see tests/submissions/expected.json")


def expected_score(spec, items: list[Exercise], max_score: float) -> float:
    if spec == "all":
        return max_score
    if spec == "all_but_first":
        return max_score - items[0].points
    if spec == "first_half":
        return sum(e.points for e in items[: (len(items) + 1) // 2])
    if spec == "all_but_choice":
        return max_score - first_choice(items)[0].points
    return float(spec)
