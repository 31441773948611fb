"""The hostile corpus (``tests/submissions/``) graded as one class by ``course grade``'s engine.

Every case of ``corpus.expected()`` is built on lesson1 (or the fake intro lesson
when the course has no lesson1) and all are graded together, two jobs at a time:
each gets the score, status, notes and feedback it should, the feedback leaks no
hidden test or solution, nothing outside its job was written, and the class
finishes in bounded time. Split from ``test_engine.py`` so that pytest-xdist
can run it beside that file's other slow tests.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
import shutil
import time
from pathlib import Path

import nbformat
import pytest
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from grader._course import lessons
from grader.job import feedback
from grader.sandbox import limits as sandbox

pytestmark = [pytest.mark.long(110), pytest.mark.warm]

ROOT = Path(__file__).resolve().parents[3]
REAL_LESSONS = lessons(ROOT)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fake_course.make(tmp_path_factory.mktemp("fake") / "course")


# --- the corpus ------------------------------------------------------------------------------

CASES = [name for name in corpus.expected() if not name.startswith("_")]
CORPUS_LESSON = "lesson1" if "lesson1" in REAL_LESSONS else None


def _misconception_letter(lesson: str, source, item, variable: str, right: str):
    """A wrong letter whose checker feedback names a misconception, and that feedback.

    The whole test cell of the solution runs, hidden tests included: a graded
    multiple-choice item is scored (and its misconception named) only there.
    """
    from course_utils import checks

    namespace = {k: getattr(checks, k) for k in checks.__all__}
    if importlib.util.find_spec(f"course_utils.checks.{lesson}"):
        module = importlib.import_module(f"course_utils.checks.{lesson}")
        namespace.update(vars(module), checks=module)
    test = next(
        c
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") == item.tests[0][0]
    )
    for letter in "ABCDE":
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(test.source, {**namespace, variable: letter})  # noqa: S102
        except checks.ExerciseError as exc:
            # A registered misconception (lessons name theirs), or the generic label of a plain why.
            named = exc.misconception_id is not None and not exc.misconception_id.startswith(
                "course."
            )
            if letter != right and (named or exc.misconception == "misconception"):
                return letter, exc.observed
        except Exception:  # noqa: BLE001 - not an option of this question
            continue
    pytest.fail(f"no wrong letter of {variable} in {lesson} names a misconception")


def _cell_timeout() -> int:
    """Long enough for lesson1's slowest cell many times over, short for the endless loops.

    A cold kernel imports torch in its first cell (seconds on a loaded machine); a
    warm one has it already. The two loop cases wait out this limit (the stubborn
    one twice), so it sets how long the corpus takes.
    """
    from grader.job.zygote import Zygote

    return 5 if Zygote.available(sandbox.detect()) else 60


@pytest.fixture(scope="module")
def graded_corpus(course, tmp_path_factory):
    """Every corpus case graded as one class (two jobs), on lesson1 or the fake intro lesson."""
    from grader.classwork.engine import Grader

    root, lesson = (ROOT, CORPUS_LESSON) if CORPUS_LESSON else (course, "intro")
    tmp = tmp_path_factory.mktemp("corpus")
    limits = sandbox.Limits(cell_timeout=_cell_timeout(), notebook_timeout=300, memory_mb=3072)
    start = time.monotonic()
    with Grader(root, [lesson], limits=limits, jobs=2) as grader:
        released = nbformat.read(grader.lessons[lesson].released, as_version=4)
        source = nbformat.read(root / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
        items = corpus.exercises(released, source)
        item, variable, right = corpus.first_choice(items)
        wrong, named = _misconception_letter(lesson, source, item, variable, right)
        work = []
        for case in CASES:
            nb = corpus.build(case, released, source, wrong_letter=wrong)
            path = tmp / "subs" / case / f"{lesson}.ipynb"
            path.parent.mkdir(parents=True)
            path.write_bytes(nb) if isinstance(nb, bytes) else nbformat.write(nb, path)
            work.append((case, lesson, path))
        outcomes = {o.student: o for o in grader.grade(work, tmp / "out")}
        max_score = grader.lessons[lesson].max_score
        secrets = grader.lessons[lesson].secrets
    # Where the writes_outside case tries to create files (see corpus.WRITES).
    pwned = [
        p
        for p in (
            ROOT / "course_utils" / "checks" / "_corpus_pwned.py",
            ROOT / "solutions" / "_corpus_pwned",
            ROOT / "grader" / "_corpus_pwned",
        )
        if p.exists()
    ]
    for path in pwned:
        path.unlink()
    return {
        "outcomes": outcomes,
        "items": items,
        "max": max_score,
        "out": tmp / "out",
        "subs": tmp / "subs",
        "lesson": lesson,
        "named": named,
        "secrets": secrets,
        "seconds": time.monotonic() - start,
        "pwned": pwned,
        "limits": limits,
    }


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_corpus_case_is_graded_as_expected(case, graded_corpus):
    spec = corpus.expected()[case]
    if spec.get("needs") and not getattr(sandbox.detect(), spec["needs"]):
        pytest.skip(f"needs {spec['needs']} isolation, unavailable here")
    g = graded_corpus
    outcome = g["outcomes"][case]
    assert outcome.score == corpus.expected_score(spec["score"], g["items"], g["max"]), (
        outcome.notes
    )
    assert outcome.status == spec.get("status", "graded"), outcome.notes
    assert outcome.max_score == g["max"]
    assert outcome.seconds < g["limits"].notebook_timeout
    if "notes" in spec:
        assert any(spec["notes"] in note for note in outcome.notes), outcome.notes
    page_path = g["out"] / "feedback" / case / f"{g['lesson']}.html"
    page = page_path.read_text()
    own = (
        ""
        if case == "not_a_notebook"
        else feedback.student_text(
            nbformat.read(g["subs"] / case / f"{g['lesson']}.ipynb", as_version=4)
        )
    )
    assert feedback.leaks(page, g["secrets"].excluding(own)) == []
    if case == "untouched":
        assert feedback.leaks(page, g["secrets"].solution) == []
    if case == "misconception":
        assert g["named"] in feedback.visible_text(page)
    if "feedback" in spec:
        assert spec["feedback"] in feedback.visible_text(page)
    if case == "writes_outside":
        # The cell ran (it says how many places it tried), and could write to none of them.
        text = feedback.visible_text(page)
        assert g["pwned"] == [] and "WROTE /" not in text and "WROTE ." not in text
        assert re.search(r"tried [1-9]\d* paths", text)


@pytest.mark.slow
def test_corpus_class_is_graded_in_bounded_time(graded_corpus):
    limit = graded_corpus["limits"].notebook_timeout
    assert graded_corpus["seconds"] < limit * len(CASES) / 2
    shutil.rmtree(graded_corpus["subs"], ignore_errors=True)
