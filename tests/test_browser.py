"""A student's first minutes, in a real browser.

`make lab` (the README's command) serves the course; headless Chromium, driven by
tests/browser/drive_lab.mjs, opens lesson 1, runs every cell, pastes one correct answer,
re-runs it with its tests and presses nbgrader's Validate button. Only the unanswered stubs
(NotImplementedError) and their tests may show errors, and Validate must name exactly the
exercises still unanswered. Screenshots land in artifacts/browser/ (run with -s to see paths).

Set-up: `.ci/install-browser.sh` (Debian's chromium + playwright-core); without it this
test skips and says so. It never touches the committed notebooks: Lab serves a copy.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from _browser import DRIVER_DIR, run_driver
from _lab import make_lab

pytestmark = pytest.mark.long(60)

ROOT = Path(__file__).resolve().parents[1]
LESSON = "lesson1"
STUDENT = ROOT / "notebooks" / LESSON / f"{LESSON}.ipynb"
SOLUTION = ROOT / "solutions" / LESSON / f"{LESSON}.ipynb"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
# Lab must not nag (news toast) and must keep every cell in the DOM (no virtual scrolling).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
TIMEOUTS_MS = {"openMs": 90_000, "cellMs": 90_000, "validateMs": 150_000}


@dataclass(frozen=True)
class Exercise:
    """An answer cell of the student notebook and the graded cells that check it."""

    answer: int
    grade_id: str
    stub: bool
    graded: tuple[int, ...]


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def exercises(nb) -> list[Exercise]:
    """Code answer cells in order, each with the graded cells up to the next answer cell."""
    found: list[Exercise] = []
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        if cell.cell_type != "code":
            continue
        if meta.get("solution"):
            stub = "raise NotImplementedError" in cell.source
            graded = (index,) if meta.get("grade") else ()
            found.append(Exercise(index, meta["grade_id"], stub, graded))
        elif meta.get("grade") and found:
            last = found[-1]
            found[-1] = Exercise(last.answer, last.grade_id, last.stub, (*last.graded, index))
    return found


def solution_code(solution_nb, grade_id: str) -> str:
    """The instructor's answer for `grade_id`: the solution cell without nbgrader's markers."""
    for cell in solution_nb.cells:
        if _nbgrader(cell).get("grade_id") == grade_id:
            lines = cell.source.splitlines()
            return "\n".join(ln for ln in lines if ln.strip() not in SOLUTION_MARKERS)
    raise ValueError(
        f"no cell with grade_id {grade_id!r} in the solution notebook; "
        "re-run `course release` so notebooks/ matches solutions/"
    )


def _skip_without_browser() -> None:
    fix = "run .ci/install-browser.sh"
    if not CHROMIUM.exists():
        pytest.skip(f"browser test needs Debian's chromium at {CHROMIUM}: {fix}")
    if shutil.which("node") is None:
        pytest.skip(f"browser test needs node >= 20 on PATH: {fix}")
    if not (DRIVER_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.skip(f"browser test needs playwright-core in {DRIVER_DIR / 'node_modules'}: {fix}")


def _skip_without_lesson() -> None:
    if not SOLUTION.exists():
        pytest.skip(f"lesson 1 is not written yet: {SOLUTION} is missing")
    assert STUDENT.exists(), f"`make lab` opens {STUDENT}, which is missing: run `course release`"


def drive(plan: dict, tmp_path: Path, token: str) -> dict:
    """Run the browser driver on `plan` and return what it saw; skip if Chromium won't start."""
    return run_driver(
        "drive_lab.mjs",
        plan,
        tmp_path / "plan.json",
        timeout=300,
        secrets={"JUPYTER_TOKEN": token},
        what=f"the browser driver (see {ARTIFACTS})",
    )


def _errors(cell: dict) -> list[str]:
    # Lab renders both tracebacks and stderr text as application/vnd.jupyter.stderr;
    # the course writes nothing to stderr, so either one counts as an error here.
    return [out["text"] for out in cell["outputs"] if "stderr" in out["mime"]]


def check_run_through(cells: list[dict], stubs: list[Exercise]) -> None:
    """Errors only in the stubs and the cells that grade them, and every such graded cell
    fails (one that passes unanswered is a test that cannot fail)."""
    allowed = {i for ex in stubs for i in (ex.answer, *ex.graded)}
    erroring = {c["index"] for c in cells if _errors(c)}
    unexpected = sorted(erroring - allowed)
    assert not unexpected, f"cells {unexpected} fail but only stubs and their tests may: " + (
        "; ".join(f"cell {i}: {_errors(cells[i])[0][-300:]}" for i in unexpected)
    )
    passing_unanswered = sorted({i for ex in stubs for i in ex.graded} - erroring)
    assert not passing_unanswered, f"graded cells {passing_unanswered} pass unanswered"
    for ex in stubs:
        # A statement stub raises when run; a function stub only when its test calls it.
        answer_errors = "".join(_errors(cells[ex.answer]))
        assert not answer_errors or "NotImplementedError" in answer_errors, (
            f"stub {ex.grade_id!r} fails with something other than NotImplementedError: "
            f"{answer_errors[-300:]}"
        )
    never_ran = [c["index"] for c in cells if c["type"] == "code" and c["prompt"] == "[ ]:"]
    assert not never_ran, f"cells {never_ran} never ran"


def check_verdict(verdict: dict, still_failing: set[str]) -> None:
    """Validate's dialog lists exactly the sources of the graded cells still failing."""
    if not still_failing:
        assert "validation-success" in verdict["classes"], verdict
        return
    assert "validation-failed" in verdict["classes"], verdict
    # The dialog shows each failed cell as two <pre>: its source, then its error.
    assert {pre.strip() for pre in verdict["pres"][::2]} == still_failing, verdict


def student_session(student: Path, solution: Path, tmp_path: Path) -> dict:
    """Serve a copy of `student` with `make lab`, drive it in Chromium, check what it showed."""
    student_nb = nbformat.read(student, as_version=4)
    stubs = [ex for ex in exercises(student_nb) if ex.stub]
    assert stubs, f"{student} has no unanswered stub (raise NotImplementedError)"
    answered = next((ex for ex in stubs if ex.graded), None)
    assert answered is not None, f"no stub in {student} is followed by a graded cell"
    code = solution_code(nbformat.read(solution, as_version=4), answered.grade_id)

    # Lab serves the repo root (the README's command), so the copy lives under the
    # git-ignored artifacts/ folder, never in notebooks/.
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    workspace = ARTIFACTS / f"work-{secrets.token_hex(4)}"
    shutil.copytree(student.parent, workspace / LESSON)
    served = (workspace / LESSON / student.name).relative_to(ROOT)
    try:
        with make_lab(tmp_path, LAB_SETTINGS) as (port, token):
            started = time.monotonic()
            result = drive(
                {
                    "chromium": str(CHROMIUM),
                    "userDataDir": str(tmp_path / "chromium-profile"),
                    "url": f"http://127.0.0.1:{port}/lab/tree/{served.as_posix()}",
                    "screenshotDir": str(ARTIFACTS),
                    "resultPath": str(ARTIFACTS / "result.json"),
                    "fill": {"index": answered.answer, "code": code},
                    "rerun": [answered.answer, *answered.graded],
                    "timeouts": TIMEOUTS_MS,
                },
                tmp_path,
                token,
            )
            result["browserSeconds"] = round(time.monotonic() - started, 1)
        saved = nbformat.read(ROOT / served, as_version=4)
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
    for path in result["screenshots"]:
        print(f"screenshot: {path}")

    assert len(result["runThrough"]) == len(student_nb.cells), "Lab shows other cells"
    check_run_through(result["runThrough"], stubs)

    assert result["filledSource"].strip() == code.strip(), "the editor does not hold the answer"
    for cell in result["rerun"]:
        assert not _errors(cell), f"answered, cell {cell['index']} still fails: {_errors(cell)}"
    assert saved.cells[answered.answer].source.strip() == code.strip(), "Validate did not save"

    check_verdict(
        result["validate"],
        {
            student_nb.cells[i].source.strip()
            for ex in stubs
            if ex is not answered
            for i in ex.graded
        },
    )
    return result


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(420)
def test_student_runs_answers_and_validates_lesson1(tmp_path):
    _skip_without_browser()
    _skip_without_lesson()
    before = hashlib.sha256(STUDENT.read_bytes()).hexdigest()
    result = student_session(STUDENT, SOLUTION, tmp_path)
    print(f"browser session {result['browserSeconds']} s; timings (ms) {result['timings']}")
    assert hashlib.sha256(STUDENT.read_bytes()).hexdigest() == before, f"{STUDENT} was modified"


# The judge above, on hand-made notebooks and page readings: fast, no browser.


def _cell(cell_type: str, source: str, **nbgrader) -> nbformat.NotebookNode:
    new = nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
    cell = new(source)
    if nbgrader:
        cell.metadata["nbgrader"] = {"solution": False, "grade": False, "locked": False, **nbgrader}
    return cell


def _toy_student() -> nbformat.NotebookNode:
    stub = "# YOUR CODE HERE\nraise NotImplementedError()"
    return nbformat.v4.new_notebook(
        cells=[
            _cell("code", "import torch", grade_id="setup", locked=True),
            _cell(
                "code",
                "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                grade_id="f",
                solution=True,
            ),
            _cell("code", "assert f() == 1", grade_id="test_f", grade=True, locked=True, points=1),
            _cell("markdown", "Question 1"),
            _cell("code", stub, grade_id="q1", solution=True),
            _cell("code", "assert answer_q1 in 'AB'", grade_id="test_q1", grade=True, points=1),
            _cell("code", "print('done')"),
        ]
    )


def _reading(errors: dict[int, str], count: int = 7) -> list[dict]:
    return [
        {
            "index": i,
            "type": "code",
            "prompt": f"[{i}]:",
            "outputs": [{"mime": "application/vnd.jupyter.stderr", "text": errors[i]}]
            if i in errors
            else [],
        }
        for i in range(count)
    ]


def test_exercises_pair_answers_with_the_cells_that_grade_them():
    assert exercises(_toy_student()) == [
        Exercise(1, "f", True, (2,)),
        Exercise(4, "q1", True, (5,)),
    ]


def test_solution_code_drops_only_the_markers():
    solution = nbformat.v4.new_notebook(
        cells=[
            _cell(
                "code",
                "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                grade_id="f",
                solution=True,
            )
        ]
    )
    assert solution_code(solution, "f") == "def f():\n    return 1"
    with pytest.raises(ValueError, match="'g'"):
        solution_code(solution, "g")


def test_run_through_accepts_stub_errors_and_rejects_others():
    stubs = exercises(_toy_student())
    stub_errors = {2: "NotImplementedError", 4: "NotImplementedError", 5: "NameError"}
    check_run_through(_reading(stub_errors), stubs)
    with pytest.raises(AssertionError, match=r"cells \[6\] fail"):
        check_run_through(_reading({**stub_errors, 6: "NameError: x"}), stubs)
    with pytest.raises(AssertionError, match=r"graded cells \[5\] pass unanswered"):
        check_run_through(_reading({2: "NotImplementedError", 4: "NotImplementedError"}), stubs)
    with pytest.raises(AssertionError, match="other than NotImplementedError"):
        check_run_through(_reading({**stub_errors, 4: "SyntaxError"}), stubs)


def test_verdict_must_name_exactly_the_unanswered_exercises():
    failed = {"classes": ["validation-failed"], "pres": ["assert answer_q1 in 'AB'", "NameError"]}
    check_verdict(failed, {"assert answer_q1 in 'AB'"})
    with pytest.raises(AssertionError):
        check_verdict(failed, {"assert answer_q1 in 'AB'", "assert f() == 1"})
    with pytest.raises(AssertionError):
        check_verdict(failed, set())
    check_verdict({"classes": ["validation-success"], "pres": []}, set())
