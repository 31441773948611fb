"""``course new-lesson N``: the files of a new lesson, from templates that follow the house style.

One call writes, for lesson ``N`` (named ``lessonN`` like the others):

- ``solutions/lessonN/lessonN.ipynb``: a read-only set-up cell, one exercise (a heading
  with its points, an answer cell with ``### BEGIN SOLUTION``, a test cell with a visible
  check and ``### BEGIN HIDDEN TESTS``) and a recap, the shape the lessons share;
- ``course_utils/checks/lessonN.py``: the exercise's checker and the lesson's
  misconception registry (``MISCONCEPTIONS``), in the shape of the existing lessons';
- ``tests/test_checks_lessonN.py`` and ``tests/misconception_cases/lessonN.py``: test stubs for
  the checker and the lesson's misconception corpus.

The example exercise is real (it releases, and its solution scores full marks under
``course release --verify``), so a new lesson starts green and is edited from there. Nothing
is ever overwritten: when any of the files exists, nothing is written.
"""

from __future__ import annotations

from pathlib import Path

from grader._course import SOURCE_DIR, CourseError, lessons

PLACEHOLDER = "@N@"

SETUP = """import torch
import torchvision
from torch import nn

from course_utils import heads
from course_utils.checks import lesson@N@ as checks
from course_utils.training import select_device

torch.manual_seed(0)
# Small models: one CPU thread is fastest, and stays fast beside other graded notebooks.
torch.set_num_threads(1)
print("device available:", select_device(), "| this lesson uses: cpu")"""

INTRO = """# Lesson @N@ — TITLE

After this lesson (about NN minutes) you can WHAT THE STUDENT CAN DO. It assumes
WHAT EARLIER LESSONS TAUGHT.

_Written from `course new-lesson @N@`: replace the example below with the lesson
(grader/README.md, "Adding or changing a lesson")._"""

SECTION = """## 1. The head decides how many scores come out

Why before how: a short explanation, then a small demonstration on a real model.
A classifier's head gives one score per class: its `out_features`. What goes
into the head, `in_features`, is the size of the backbone's feature vector."""

DEMO = """model = torchvision.models.resnet18(num_classes=5)
head = heads.find_head(model)
print("head:", head.module)
print("in_features:", head.in_features, "| out_features:", head.out_features)"""

EXERCISE = """### Exercise 1 — count the class scores (1 point)

Write `head_outputs(model)` that returns how many class scores `model` gives
for each image. It must work for any torchvision classifier, not only the
ResNet-18 above: find the head, do not type a number."""

ANSWER = """def head_outputs(model: nn.Module) -> int:
    ### BEGIN SOLUTION
    return heads.find_head(model).out_features
    ### END SOLUTION"""

TESTS = """checks.check_head_outputs(head_outputs)
### BEGIN HIDDEN TESTS
checks.check_head_outputs(head_outputs, ("resnet50", 10), ("vgg11", 3), ("vit_b_16", 7))
### END HIDDEN TESTS"""

RECAP = """## Recap

- The head gives one score per class: its `out_features`.
- `in_features` is what goes into the head, not what comes out.
- Next lesson: WHAT IT BUILDS ON."""

CHECKER = '''"""Checkers for lesson @N@ (written by `course new-lesson @N@`: replace with the lesson's own).

Each checker returns nothing and prints a confirmation when the answer is right, and
raises ``ExerciseError`` (expected / your answer shows / hint) naming a registered
misconception when it recognises the mistake.
"""

from __future__ import annotations

from collections.abc import Callable

from course_utils.checks._feedback import Misconception, correct, fail, registry
from course_utils.checks._toolkit import build, call_student, plain_int
from course_utils.heads import find_head

S1 = "1. The head decides how many scores come out"

MISCONCEPTIONS = registry(
    "lesson@N@",
    Misconception("in_features_not_out", "the head's in_features (what goes in) counted", S1),
    Misconception("typed_class_count", "a typed class count instead of the model's own", S1),
)
M = MISCONCEPTIONS

# (torchvision model, classes): the visible check runs on two families, so a typed
# number fails before the student submits.
VISIBLE_CASES = (("resnet18", 5), ("mobilenet_v3_small", 3))


def check_head_outputs(head_outputs: Callable, *cases: tuple[str, int]) -> None:
    """``head_outputs(model)`` is the number of class scores ``model`` gives per image."""
    if not callable(head_outputs):
        fail("a function head_outputs(model)", f"{head_outputs!r}", "define it with def.")
    checked = []
    for name, classes in cases or VISIBLE_CASES:
        model = build(name, classes)
        got = call_student(head_outputs, model, what=f"head_outputs on a {name}")
        count = plain_int(got)
        if count == find_head(model).in_features:
            fail(
                f"{classes} for this {name} (one score per class)",
                f"{got!r}: the size of the features that go into the head",
                "the number of scores comes out of the head, not into it.",
                M["in_features_not_out"],
            )
        if count != classes:
            fail(
                f"{classes} for this {name} (one score per class)",
                f"{got!r}",
                "read the number from the model's head; do not type it.",
                M["typed_class_count"],
            )
        checked.append(f"a {classes}-class {name}")
    correct(f"one score per class, on {' and '.join(checked)}.")
'''

TEST_CHECKS = '''"""The checkers of lesson @N@ (stubs from `course new-lesson @N@`: one test per checker and mistake)."""

import pytest

from course_utils import heads
from course_utils.checks import ExerciseError
from course_utils.checks import lesson@N@ as checks


def head_outputs(model):
    return heads.find_head(model).out_features


def test_head_outputs_confirms_a_right_answer(capsys):
    checks.check_head_outputs(head_outputs)
    assert capsys.readouterr().out.startswith("Correct: one score per class")


@pytest.mark.parametrize(
    ("answer", "misconception"),
    [
        (lambda model: heads.find_head(model).in_features, "in_features_not_out"),
        (lambda model: 5, "typed_class_count"),  # right for the first model only
    ],
)
def test_head_outputs_names_the_mistake(answer, misconception):
    with pytest.raises(ExerciseError) as info:
        checks.check_head_outputs(answer)
    assert checks.MISCONCEPTIONS[misconception].text in str(info.value)
'''

TEST_CORPUS = '''"""Lesson @N@: realistic answers and what the checks must say (tests/grader/job/test_misconception_corpus.py).

Stubs from `course new-lesson @N@`; they need the released notebook (`course release`).
"""

from misconception_cases import Case

L = "lesson@N@"

IN_FEATURES = """def head_outputs(model):
    return heads.find_head(model).in_features
"""

TYPED = """def head_outputs(model):
    return 5
"""

OTHER_STYLE = """def head_outputs(model):
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    return last.out_features
"""

CASES = [
    Case("outputs_in_features", L, "ex1_answer", IN_FEATURES, "lesson@N@.in_features_not_out"),
    Case("outputs_typed", L, "ex1_answer", TYPED, "lesson@N@.typed_class_count"),
    Case("outputs_other_style", L, "ex1_answer", OTHER_STYLE, "pass", "pass"),
]
'''


def _nbgrader(grade_id: str, *, solution: bool, grade: bool, points: int = 0) -> dict:
    meta: dict = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": not solution,
        "schema_version": 3,
        "solution": solution,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def notebook_text(number: int) -> str:
    """The solution notebook of lesson ``number``, as ``nbformat.write`` would write it."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    def fill(text: str) -> str:
        return text.replace(PLACEHOLDER, str(number))

    setup = new_code_cell(fill(SETUP))
    setup.metadata = {
        "nbgrader": _nbgrader("setup", solution=False, grade=False),
        "tags": ["nbval-ignore-output"],  # the device line differs from machine to machine
    }
    answer = new_code_cell(ANSWER)
    answer.metadata = {"nbgrader": _nbgrader("ex1_answer", solution=True, grade=False)}
    tests = new_code_cell(TESTS)
    tests.metadata = {"nbgrader": _nbgrader("ex1_tests", solution=False, grade=True, points=1)}
    nb = new_notebook(
        cells=[
            new_markdown_cell(fill(INTRO)),
            setup,
            new_markdown_cell(SECTION),
            new_code_cell(DEMO),
            new_markdown_cell(EXERCISE),
            answer,
            tests,
            new_markdown_cell(RECAP),
        ],
        metadata={
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
    )
    for cell in nb.cells:  # ids as nbformat would make them, but the same on every run
        cell.pop("id", None)
    nb.nbformat_minor = 4
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def planned_files(number: int) -> dict[Path, str]:
    """Each file ``new_lesson`` writes (relative to the course root) and its content."""
    name = f"lesson{number}"

    def fill(text: str) -> str:
        return text.replace(PLACEHOLDER, str(number))

    return {
        Path(SOURCE_DIR) / name / f"{name}.ipynb": notebook_text(number),
        Path("course_utils") / "checks" / f"{name}.py": fill(CHECKER),
        Path("tests") / f"test_checks_{name}.py": fill(TEST_CHECKS),
        Path("tests") / "misconception_cases" / f"{name}.py": fill(TEST_CORPUS),
    }


def new_lesson(root: Path, number: int) -> list[Path]:
    """Write lesson ``number``'s files under ``root``; the paths written, relative to ``root``.

    Refuses (``CourseError``, nothing written) when the number is not positive or any of the
    files, or the lesson's folder in ``solutions/``, already exists.
    """
    if number < 1:
        raise CourseError(f"lesson number {number} is not a positive whole number: use 1, 2, ...")
    root = Path(root)
    files = planned_files(number)
    name = f"lesson{number}"
    taken = [rel for rel in files if (root / rel).exists()]
    if (root / SOURCE_DIR / name).exists() and not taken:
        taken.append(Path(SOURCE_DIR) / name)
    if taken:
        existing = ", ".join(lessons(root)) or "none"
        raise CourseError(
            f"{', '.join(p.as_posix() for p in taken)} already exist(s): lesson {number} is "
            f"not new, and nothing was written (lessons now: {existing}); pick another number "
            "or edit the lesson's files"
        )
    written = []
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as handle:  # "x": never over a file made meanwhile
            handle.write(text)
        written.append(rel)
    return written
