"""Marks without answers, and hidden tests out through one's own feedback (issue 23).

Each attack is built at test time from lesson1's released notebook with every
answer wrong, plus a few lines in one answer cell (``submissions/corpus.py``),
and graded by ``course grade``'s engine with a perfect and a wrong notebook
beside it: the attacks score 0 and are either undone before the tests
(``repaired``) or flagged; the honest notebooks get no note. The leaking
notebook looks for the hidden tests everywhere the kernel may keep them after
they ran and hands back what it found in four encodings: it reaches none, and
none is in its feedback page or its graded notebook.
"""

from __future__ import annotations

import base64
import builtins
import os
import re
import sys
import zlib
from pathlib import Path

import nbformat
import pytest
from submissions import corpus  # tests/ is on sys.path (rootdir imports)

from grader._course import lessons
from grader.books import results
from grader.job import feedback
from grader.sandbox import limits as sandbox

pytestmark = [pytest.mark.long(95), pytest.mark.warm]

ROOT = Path(__file__).resolve().parents[3]

LESSON = "lesson1"
graded_on_lesson1 = pytest.mark.skipif(LESSON not in lessons(ROOT), reason="no lesson1")
ATTACKS = {  # case -> how it ends: undone before the tests ("repaired"), or flagged
    "code_swap": ("repaired", ".__code__"),
    "callback_objects": ("repaired", "pre_run_cell callbacks post_run_cell callbacks"),
    "session_class": ("repaired", "Session class"),
    "session_wrap": ("repaired", "IPythonKernel.session ZMQShellDisplayHook.session"),
    # A thread puts the lie back after the guard: the canary run like a test sees it...
    "persistent_liar": ("flagged", "a failing cell run like a test reported no error"),
    # ... unless the lie spares it; then each test's own end tells.
    "selective_liar": ("flagged", "this test stopped before its end, yet the kernel reported"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from grader.classwork.engine import Grader

    tmp = tmp_path_factory.mktemp("guard")
    limits = sandbox.Limits(cell_timeout=60, notebook_timeout=300, memory_mb=3072)
    with Grader(ROOT, [LESSON], limits=limits, jobs=2, keep=tmp / "keep") as grader:
        released = nbformat.read(grader.lessons[LESSON].released, as_version=4)
        source = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
        secrets = grader.lessons[LESSON].secrets
        notebooks = {
            "perfect": corpus.answered(released, source),
            "wrong": corpus.wrong_answers(released, source),
            "leaking": corpus.leaking(released, source, secrets.hidden),
            "thread_copy": corpus.leaking(
                released, source, secrets.hidden, first=corpus.THREAD_COPY
            ),
        }
        notebooks["startup_profile"] = corpus._prefix_answer(
            corpus.wrong_answers(released, source), released, source, corpus.STARTUP_PROFILE
        )
        for case, code in corpus.VERDICT_ATTACKS.items():
            wrong = corpus.wrong_answers(released, source)
            notebooks[case] = corpus._prefix_answer(wrong, released, source, code)
        work = []
        for case, nb in notebooks.items():
            path = tmp / "subs" / case / f"{LESSON}.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
            work.append((case, LESSON, path))
        outcomes = {o.student: o for o in grader.grade(work, tmp / "out")}
        max_score = grader.lessons[LESSON].max_score
    return {"outcomes": outcomes, "max": max_score, "tmp": tmp, "secrets": secrets}


@pytest.mark.slow
@graded_on_lesson1
def test_honest_notebooks_get_no_note(graded):
    perfect, wrong = graded["outcomes"]["perfect"], graded["outcomes"]["wrong"]
    assert (perfect.score, perfect.status, perfect.notes) == (graded["max"], "graded", [])
    assert (wrong.score, wrong.status, wrong.notes) == (0, "graded", [])


@pytest.mark.slow
@graded_on_lesson1
@pytest.mark.parametrize("case", ATTACKS)
def test_a_forged_verdict_scores_nothing(case, graded):
    outcome = graded["outcomes"][case]
    how, note = ATTACKS[case]
    assert outcome.score == 0, outcome.notes
    assert outcome.status == ("flagged" if how == "flagged" else "graded"), outcome.notes
    assert any(how.replace("flagged", "integrity") in n and note in n for n in outcome.notes)


@pytest.mark.slow
@graded_on_lesson1
def test_a_profile_written_before_a_crash_never_runs_at_the_restart(graded):
    """IPython's startup files and config come from a new empty folder at every kernel start."""
    outcome = graded["outcomes"]["startup_profile"]
    assert any("restart at" in note for note in outcome.notes), outcome.notes  # it did crash
    assert outcome.score == 0, outcome.notes  # before the fix: the checks after it passed


def _decoded(page: str) -> str:
    """The page, plus every zlib + base64 block in it inflated, plus the page reversed."""
    text = feedback.visible_text(page)
    parts = [page, text, page[::-1], text[::-1]]
    for block in re.findall(r"[A-Za-z0-9+/=]{40,}", page):
        try:
            parts.append(zlib.decompress(base64.b64decode(block)).decode())
        except Exception:  # noqa: BLE001, S112 - not one of the submission's blocks
            continue
    return "\n".join(parts)


@pytest.mark.slow
@graded_on_lesson1
def test_hidden_tests_never_reach_a_later_cell(graded):
    outcome = graded["outcomes"]["leaking"]
    assert outcome.score == 0 and outcome.status == "graded", outcome.notes
    # The audit hook was refused; the gc callback, signal handler and timer sat out the tests.
    repaired = " ".join(outcome.notes)
    assert "gc.callbacks" in repaired and "signal handler SIGALRM" in repaired
    page = (graded["tmp"] / "out" / "feedback" / "leaking" / f"{LESSON}.html").read_text()
    text = feedback.visible_text(page)
    hidden = len(graded["secrets"].hidden)
    for label in ("the last answer cell", "the last cell"):
        found = re.search(
            rf"leak search in {label}: reached (\d+) of (\d+) hidden lines, "
            r"(\d+) code objects of cells not in In \(of (\d+)\), (\d+) of (\d+) set-up lines",
            text,
        )
        assert found, f"the leak search in {label} did not run"
        reached, total, tests, codes, control, setup = map(int, found.groups())
        assert (reached, total, tests) == (0, hidden, 0)
        assert codes > 0 and control == setup > 0  # the search itself works: it finds the set-up
    graded_nb = next((graded["tmp"] / "keep").rglob(f"autograded/*/{LESSON}/{LESSON}.ipynb"))
    outputs = "\n".join(
        str(o) for c in nbformat.read(graded_nb, as_version=4).cells for o in c.get("outputs", [])
    )
    for where in (_decoded(page), _decoded(outputs)):
        assert [s for s in graded["secrets"].hidden if s in where] == []
        assert "ZLIB-BEGIN" in page or "ZLIB-BEGIN" in where


@pytest.mark.slow
@graded_on_lesson1
def test_a_flag_reaches_the_grades_the_gradebook_the_summary_and_the_report(graded, tmp_path):
    from grader.books import gradebook, report
    from grader.books.results import write_records

    outcomes = list(graded["outcomes"].values())
    out = tmp_path / "out"
    results.write_grades(out, outcomes)
    gradebook.record(out, outcomes)
    write_records(out, outcomes)
    grades = (out / "grades.csv").read_text().splitlines()
    assert f"selective_liar,{LESSON},0,{graded['max']:g},flagged" in grades
    assert f"perfect,{LESSON},{graded['max']:g},{graded['max']:g},graded" in grades
    rows = gradebook.load(out)
    assert rows[("selective_liar", LESSON)].status == "flagged"
    assert rows[("perfect", LESSON)].status == "graded"
    summary = results.summary(outcomes, [LESSON])
    assert re.search(rf"selective_liar\s+0/{graded['max']:g} F", summary)
    assert f"selective_liar {LESSON}: integrity at" in summary
    built = report.build(out)
    attention = built.attention()
    assert any("flagged" in why for why in attention["selective_liar"])
    assert "perfect" not in attention
    assert "selective_liar" in report.render(built)


@pytest.mark.slow
@graded_on_lesson1
def test_a_thread_that_copies_the_tests_gets_the_notebook_flagged_and_its_feedback_withheld(
    graded,
):
    outcome = graded["outcomes"]["thread_copy"]
    assert (outcome.score, outcome.status) == (0, "flagged"), outcome.notes
    assert any("integrity" in n and "threads this notebook started" in n for n in outcome.notes)
    page = (graded["tmp"] / "out" / "feedback" / "thread_copy" / f"{LESSON}.html").read_text()
    assert "withheld until your instructor reviews it" in feedback.visible_text(page)
    assert [s for s in graded["secrets"].hidden if s in _decoded(page)] == []


# --- the guard in this process (no IPython shell): what it puts back and forgets ----------

PROBE = """
def make():
    helper = len
    def probe(x, scale=1, *, offset=0):
        return helper(x) * scale + offset
    return probe
probe = make()
class Probe:
    def value(self):
        return 1
"""


@pytest.fixture
def probe():
    """A course module (``course_utils._guard_probe``) with a closure and a class, for the guard."""
    import sys
    import types

    module = types.ModuleType("course_utils._guard_probe")
    exec(PROBE, module.__dict__)  # noqa: S102
    sys.modules[module.__name__] = module
    try:
        yield module
    finally:
        del sys.modules[module.__name__]


def test_guard_puts_back_code_defaults_closures_and_methods(probe):
    from grader.job import guard

    fn, cls = probe.probe, probe.Probe
    code, defaults, kwdefaults = fn.__code__, fn.__defaults__, fn.__kwdefaults__
    guard.install([])
    helper = len
    fn.__code__ = (lambda x, scale=1, *, offset=0: (helper, 99)[1]).__code__  # one free variable
    fn.__defaults__, fn.__kwdefaults__ = (5,), {"offset": 7}
    fn.__closure__[0].cell_contents = abs
    cls.value = lambda self: 2
    cls.extra = staticmethod(lambda: 3)
    repaired = guard.restore()
    assert (fn.__code__, fn.__defaults__, fn.__kwdefaults__) == (code, defaults, kwdefaults)
    assert fn.__closure__[0].cell_contents is len and fn("abc") == 3
    assert cls().value() == 1 and "extra" not in vars(cls)
    for what in ("probe.__code__", "probe.__defaults__", "probe closure", "Probe.value"):
        assert any(what in r for r in repaired), (what, repaired)
    assert guard.restore() == []  # nothing left to repair


def test_guard_puts_back_process_hooks_and_forgets_a_tests_source():
    import gc
    import linecache
    import signal
    import sys

    from grader.job import guard

    guard.install([])
    handler = signal.getsignal(signal.SIGUSR1)
    callbacks = list(gc.callbacks)
    gc.callbacks.append(lambda phase, info: None)
    signal.signal(signal.SIGUSR1, lambda *args: None)
    cache = linecache.cache
    linecache.cache = type("Spy", (dict,), {})(cache)
    try:
        repaired = guard.restore()
        assert gc.callbacks == callbacks and signal.getsignal(signal.SIGUSR1) is handler
        assert linecache.cache is cache
        assert {"gc.callbacks", "signal handler SIGUSR1", "linecache.cache"} <= set(repaired)
        # A test cell after restore: its source in linecache, its error in sys.last_*.
        linecache.cache["<test cell>"] = (9, None, ["hidden = 1\n"], "<test cell>")
        exec(compile("import sys\nsys.modules['grader.job.guard'].passed('n1')", "<t>", "exec"))  # noqa: S102
        guard.passed("n2")  # not from a cell's top level: does not count
        sys.last_value = ValueError("hidden")
        verdict = guard.after_test("n1")
        assert (verdict["passed"], verdict["scrubbed"], verdict["threads"]) == (True, 1, [])
        assert guard.after_test("n2")["passed"] is False
        assert "<test cell>" not in linecache.cache and not hasattr(sys, "last_value")
    finally:
        gc.callbacks[:] = callbacks
        signal.signal(signal.SIGUSR1, handler)
        linecache.cache = cache


def test_guard_keeps_a_librarys_own_wrappers_and_undoes_a_cells():
    import torch

    from grader.job import guard

    guard.install(["torch.optim"])
    model = torch.nn.Linear(2, 1)
    model(torch.ones(1, 2)).sum().backward()
    # First use wraps ``step`` (AdamW: the inherited Adam.step, put on AdamW): no note.
    torch.optim.AdamW(model.parameters()).step()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert guard.restore() == []
    step = vars(torch.optim.SGD)["step"]
    try:
        setattr(torch.optim.SGD, "step", lambda self, closure=None: None)  # noqa: B010 - mypy
        setattr(torch.Tensor, "allclose", lambda *args, **kwargs: True)  # noqa: B010
        assert set(guard.restore()) == {"torch.optim.sgd.SGD.step", "torch.Tensor.allclose"}
        assert vars(torch.optim.SGD)["step"] is step and "allclose" not in vars(torch.Tensor)
    finally:
        setattr(torch.optim.SGD, "step", step)  # noqa: B010
        if "allclose" in vars(torch.Tensor):
            del torch.Tensor.allclose


# --- guard (in this process: no IPython shell) --------------------------------------------


def test_guard_restores_builtins_and_checkers():
    from course_utils import checks
    from grader.job import guard

    real_len, real_check = builtins.len, checks.check_choice
    guard.install(["course_utils.checks"])
    try:
        builtins.len = lambda obj: 0
        checks.check_choice = lambda *a, **k: None
        repaired = guard.restore()
    finally:
        builtins.len, checks.check_choice = real_len, real_check
    assert "builtins.len" in repaired and "course_utils.checks.check_choice" in repaired
    assert guard.restore() == []


# --- the guard's challenge (in this process: no IPython shell) ------------------------------


def _armed_guard(key: bytes):
    from grader.job.execute import guard_loader

    namespace: dict = {}
    exec(guard_loader("_course_guard_test", key), namespace)  # noqa: S102
    return sys.modules.pop("_course_guard_test")


def test_guard_answers_its_challenge_and_reports_tampering():
    from grader.job.execute import check_answer

    key = os.urandom(32)
    guard = _armed_guard(key)
    text = guard.answer("n1", "install", ["course_utils.checks"])
    assert check_answer(key, "n1", "install", (["course_utils.checks"],), text) == ([], None)
    assert check_answer(key, "n2", "restore", (), guard.answer("n2", "restore")) == ([], [])
    with pytest.raises(ValueError, match="not signed"):  # an answer to another nonce
        check_answer(key, "n3", "restore", (), text)
    with pytest.raises(ValueError, match="not signed"):  # the right nonce, another key
        check_answer(os.urandom(32), "n4", "restore", (), guard.answer("n4", "restore"))
    with pytest.raises(RuntimeError, match="armed already"):
        guard.arm(os.urandom(32))
    guard.restore = lambda: []
    guard._state["builtins"] = {}
    tampered, _ = check_answer(key, "n5", "remember", (), guard.answer("n5", "remember"))
    assert tampered == ["_state", "restore"]
    forged = "0" * 64 + "\n[]\n[]"
    guard.answer = lambda nonce, call, *args: forged
    with pytest.raises(ValueError, match="not signed"):
        check_answer(key, "n6", "restore", (), guard.answer("n6", "restore"))


# --- how a test cell failed, as data the guard signs (no traceback text is read) -----------

_CELL = 0


def _test_cell(source: str, nonce: str, namespace: dict) -> None:
    """Run ``source`` as the grader runs a test cell: compiled under a cell file of its own
    (cached in ``linecache``, as IPython does) with the guard's last line; its error becomes
    ``sys.last_value``, as IPython's ``showtraceback`` leaves it."""
    import linecache
    import sys

    global _CELL
    _CELL += 1
    name = f"/tmp/ipykernel_0/{_CELL}.py"
    text = f"{source}\nsys.modules['grader.job.guard'].passed({nonce!r})\n"
    linecache.cache[name] = (len(text), None, text.splitlines(True), name)
    try:
        exec(compile(text, name, "exec"), namespace)  # noqa: S102
    except BaseException as exc:  # noqa: BLE001 - what the kernel would report
        sys.last_value = exc


def _student_cell(source: str, namespace: dict, filename: str | None = None) -> None:
    """A student's cell (or code compiled under a name of its choosing), run before the test."""
    global _CELL
    _CELL += 1
    exec(compile(source, filename or f"/tmp/ipykernel_0/{_CELL}.py", "exec"), namespace)  # noqa: S102


CHOICE = "check_choice(answer, 'B', {'A': ('tempting', WRONG)}, question='q', confirmation='ok')"


def test_the_guard_names_a_misconception_only_when_the_checker_itself_raised_it():
    """Attacks on the failure record (issue 27): a student's function that raises the
    checker's own error with a misconception of its choice, a look-alike compiled under the
    checker's file name, a subclass of the checker's error, a Review line in an error's text,
    an error left from an earlier cell. Each names no misconception; the checker's own error
    does, with the test cell's line from the interpreter."""
    import sys

    import course_utils.checks._feedback as checks
    from course_utils.checks import ExerciseError, Misconception, check_choice, fail
    from course_utils.checks._toolkit import to_numpy
    from grader.job import guard

    wrong = Misconception("powers.wrong_power", "the power is wrong", "2. Powers")
    other = Misconception("powers.head_sets_input", "the head sets the input", "3. Heads")
    guard.install(["course_utils.checks"])
    space = {"sys": sys, "check_choice": check_choice, "fail": fail, "WRONG": wrong}
    space["to_numpy"] = to_numpy
    space.update(OTHER=other, ExerciseError=ExerciseError)

    def failure(source: str, nonce: str) -> object:
        _test_cell(source, nonce, space)
        found = guard.failure(nonce)
        guard.after_test(nonce)  # forgets the cell and sys.last_value, as after every test
        return found

    space["answer"] = "A"
    honest = failure(f"# visible check\n{CHOICE}\n### BEGIN HIDDEN TESTS\nassert 0", "n1")
    assert honest == {"ename": "ExerciseError", "line": 2, "misconception": "powers.wrong_power"}
    space["answer"] = "B"
    hidden = failure(f"{CHOICE}\n### BEGIN HIDDEN TESTS\nassert answer == 'C'", "n2")
    assert hidden == {"ename": "AssertionError", "line": 3, "misconception": None}
    # The student's own function raises the checker's error (the hidden test calls it).
    _student_cell("def power_of(x):\n    fail('9', 'nine', 'trust me', OTHER)", space)
    assert failure("assert power_of(-3) == 9", "n3") == {
        "ename": "ExerciseError",
        "line": 1,
        "misconception": None,
    }
    # The checker converts the answer (np.asarray in to_numpy): the student's __array__ raises
    # the checker's error from inside the checker's call.
    _student_cell(
        "class Answer:\n    def __array__(self, *args, **kwargs):\n"
        "        fail('B', 'B', 'no', OTHER)\n"
        "answer = Answer()",
        space,
    )
    assert failure("to_numpy(answer)", "n4") == {
        "ename": "ExerciseError",
        "line": 1,
        "misconception": None,
    }
    # check_choice runs no method of an answer that is not a str (it shows its type, not its
    # repr): the refusal is the checker's own, and named.
    _student_cell(
        "class Loud:\n    def __repr__(self):\n        fail('B', 'B', 'no', OTHER)\n"
        "answer = Loud()",
        space,
    )
    assert failure(CHOICE, "n4b")["misconception"] == "course.invalid_option"  # type: ignore[index]
    # A look-alike compiled under the checker's own file name calls the real fail().
    _student_cell("def check_power(f):\n    fail('9', 'nine', 'x', OTHER)", space, checks.__file__)
    space["answer"] = "A"
    assert failure("check_power(None)", "n5")["misconception"] is None  # type: ignore[index]
    # A subclass of the checker's error, and an error whose text ends with a Review line.
    _student_cell("class Mine(ExerciseError):\n    pass", space)
    assert failure("raise Mine('B', 'B', 'no', OTHER)", "n6")["misconception"] is None  # type: ignore[index]
    # Raised by the genuine checker code, had a patch of the checker's module outlived
    # ``restore``: the error's type is checked too.
    checks.ExerciseError = space["Mine"]  # type: ignore[misc]
    try:
        space["answer"] = "A"
        assert failure(CHOICE, "n6b")["misconception"] is None  # type: ignore[index]
    finally:
        checks.ExerciseError = ExerciseError  # type: ignore[misc]
    review = "raise AssertionError('Review: 3. Heads [powers.head_sets_input]')"
    assert failure(review, "n7")["misconception"] is None  # type: ignore[index]
    # An error class that lies about its traceback: the interpreter's own is read.
    _student_cell(
        "import types\nclass Liar(AssertionError):\n    @property\n"
        "    def __traceback__(self):\n"
        "        return types.TracebackType(None, sys._getframe(), 0, 99)",
        space,
    )
    assert failure("raise Liar()\n### BEGIN HIDDEN TESTS", "n9") == {
        "ename": "Liar",
        "line": 1,
        "misconception": None,
    }
    # An error left by an earlier cell is not this test's: no record.
    sys.last_value = checks.ExerciseError("e", "o", "h", other)
    assert guard.failure("n8") is None
    del sys.last_value


def test_an_error_class_that_guards_its_traceback_is_scrubbed_all_the_same():
    """A notebook's error class whose ``__traceback__`` is a read-only property: before, the
    scrub after its test stopped at it (AttributeError), leaving ``sys.last_value`` and the
    test's frames for a later cell to read through the base class's slot; now it is cut."""
    import sys

    from grader.job import guard

    guard.install([])
    space: dict = {"sys": sys}
    _student_cell(
        "class Liar(AssertionError):\n    @property\n    def __traceback__(self):\n"
        "        return None\n"
        "def power_of(x):\n    raise Liar()",
        space,
    )
    _test_cell("assert power_of(-3) == 9", "n10", space)
    error = sys.last_value
    frames = BaseException.__traceback__.__get__(error)  # type: ignore[attr-defined]
    assert frames is not None
    verdict = guard.after_test("n10")
    assert verdict["failure"] == {"ename": "Liar", "line": 1, "misconception": None}
    assert not hasattr(sys, "last_value")
    assert BaseException.__traceback__.__get__(error) is None  # type: ignore[attr-defined]
    student_frame = frames.tb_next.tb_next.tb_frame  # power_of's, below the test cell's
    assert student_frame.f_code.co_name == "power_of" and student_frame.f_locals == {}
