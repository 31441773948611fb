"""``course grade`` and ``grader``: layouts, results, feedback, guard, sandbox, corpus.

Fast tests cover each module on its own. The slow ones grade real notebooks:
a fake two-lesson course end to end through the CLI, stock nbgrader against
the hardened grader on two cheats, the feedback of every lesson in
solutions/; the corpus in tests/submissions/ is graded in test_grading_corpus.py.
"""

from __future__ import annotations

import builtins
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from _grade import grade_args, running
from nbformat.v4 import new_code_cell, new_output
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._course import generate, lessons
from grader.books import results
from grader.classwork import intake as layout
from grader.job import feedback
from grader.job.execute import imported_modules
from grader.sandbox import limits as sandbox

pytestmark = [pytest.mark.long(76), pytest.mark.warm]

ROOT = Path(__file__).resolve().parents[3]


# --- layout ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, found",
    [
        (("ann", "intro.ipynb"), ("ann", "intro")),
        (("submitted", "ann", "intro", "intro.ipynb"), ("ann", "intro")),
        (("export", "ann.lee_intro.ipynb"), ("ann.lee", "intro")),
        (("ann_x_basics.ipynb",), ("ann_x", "basics")),
        (("intro.ipynb",), None),
        (("submitted", "intro.ipynb"), None),
        (("ann", "notes.ipynb"), None),
        (("ann", "intro.py"), None),
    ],
)
def test_classify(path, found):
    assert layout.classify(path, ["intro", "basics"]) == found


def _write(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_discover_folder_skips_litter_and_names_odd_files(tmp_path):
    subs = tmp_path / "subs"
    _write(subs / "ann" / "intro.ipynb")
    _write(subs / "submitted" / "ben" / "basics" / "basics.ipynb")
    _write(subs / "ann" / ".ipynb_checkpoints" / "intro-checkpoint.ipynb")
    _write(subs / "Fay Lee" / "intro.ipynb")
    _write(subs / "ann" / "notes.ipynb")
    found = layout.discover(subs, ["intro", "basics"], tmp_path / "unpacked")
    assert [(f.student, f.lesson) for f in found.found] == [
        ("Fay_Lee", "intro"),
        ("ann", "intro"),
        ("ben", "basics"),
    ]
    assert found.renamed == {"Fay Lee": "Fay_Lee"}
    assert found.unmatched == [(str(subs / "ann" / "notes.ipynb"), found.unmatched[0][1])]
    assert "no lesson in the name" in found.unmatched[0][1]


def test_discover_lists_two_unordered_submissions_for_one_student_and_lesson(tmp_path):
    _write(tmp_path / "s" / "ann" / "intro.ipynb")
    _write(tmp_path / "s" / "ann_intro.ipynb")
    _write(tmp_path / "s" / "ben" / "intro.ipynb")
    found = layout.discover(tmp_path / "s", ["intro"], tmp_path / "u")
    assert [(f.student, f.lesson) for f in found.found] == [("ben", "intro")]
    assert sorted(Path(o).name for o, _ in found.unmatched) == ["ann_intro.ipynb", "intro.ipynb"]
    assert all("ann intro twice" in why for _, why in found.unmatched)


def test_discover_zip_never_writes_outside_its_folder(tmp_path):
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/ann_intro.ipynb", "{}")
        zf.writestr("/etc/ben_intro.ipynb", "{}")
        zf.writestr("../../cat_intro.ipynb", "{}")
        zf.writestr("ann/basics.ipynb", "{}")
        zf.writestr("__MACOSX/ann/._basics.ipynb", "junk")
    unpacked = tmp_path / "deep" / "unpacked"
    found = layout.discover(archive, ["intro", "basics"], unpacked)
    assert [(f.student, f.lesson) for f in found.found] == [
        ("ann", "basics"),
        ("ann", "intro"),
        ("ben", "intro"),
    ]
    assert all(f.path.parent == unpacked for f in found.found)
    assert found.unmatched == [("lms.zip:../../cat_intro.ipynb", found.unmatched[0][1])]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "lms.zip"]


def test_discover_rejects_what_is_neither_folder_nor_zip(tmp_path):
    with pytest.raises(layout.LayoutError, match="neither a folder nor a zip"):
        layout.discover(_write(tmp_path / "x.txt"), ["intro"], tmp_path / "u")


# --- results ----------------------------------------------------------------------


def _outcomes(score: float = 2.0) -> list[results.Outcome]:
    return [
        results.Outcome("s10", "lesson2", score, 3.0),
        results.Outcome("s2", "lesson10", 0.0, 4.0, "missing"),
        results.Outcome("s2", "lesson2", 1.5, 3.0, "flagged", ["integrity at q1: hidden"]),
    ]


def test_grades_csv_sorts_naturally_and_keeps_exact_columns():
    assert results.grades_csv(_outcomes()).splitlines() == [
        "student_id,assignment,score,max_score,status",
        "s2,lesson2,1.5,3,flagged",
        "s2,lesson10,0,4,missing",
        "s10,lesson2,2,3,graded",
    ]


def test_write_grades_keeps_the_old_file_when_scores_change(tmp_path):
    path, backup = results.write_grades(tmp_path, _outcomes())
    assert backup is None
    assert results.write_grades(tmp_path, _outcomes()) == (path, None)  # same grades: untouched
    path, backup = results.write_grades(tmp_path, _outcomes(score=3.0))
    assert backup is not None and "s10,lesson2,2,3" in backup.read_text()
    assert "s10,lesson2,3,3" in path.read_text()


def test_summary_marks_missing_and_flagged_work():
    table = results.summary(_outcomes(), ["lesson2", "lesson10"])
    s2 = next(line for line in table.splitlines() if line.startswith("s2 "))
    assert s2.split() == ["s2", "1.5/3", "F", "0/4", "-", "1.5/7"]
    assert "s2 lesson2: integrity at q1: hidden" in table


# --- feedback ---------------------------------------------------------------------


def _graded_pair():
    source = fake_course.lesson("intro", 2)
    released = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in released.cells:
        cell.source = feedback.strip_hidden(cell.source)
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "# YOUR CODE HERE\nraise NotImplementedError()"
    return source, released


def test_secrets_are_grader_only_lines():
    source, released = _graded_pair()
    secrets = feedback.Secrets.from_notebooks(source, released)
    assert "assert power_of(-3) == 9, 'the hidden negative case'" in secrets.hidden
    assert "return x ** 2  # the secret step" in secrets.solution
    assert "answer_q1 = 'B'" in secrets.solution
    assert not any("power_of(2)" in line for line in secrets.hidden)  # visible part
    own = "def power_of(x):\n    return x ** 2  # the secret step"
    assert "return x ** 2  # the secret step" not in secrets.excluding(own)


def test_sanitize_restores_visible_tests_and_removes_quotes_of_secrets():
    source, released = _graded_pair()
    graded = nbformat.from_dict(json.loads(json.dumps(source)))  # as nbgrader grades: tests whole
    test_cell, q1_tests = graded.cells[3], graded.cells[5]
    test_cell.outputs = [
        new_output(
            "error",
            ename="AssertionError",
            evalue="the hidden negative case",
            traceback=[
                "----> 5 assert power_of(-3) == 9, 'the hidden negative case'",
                "AssertionError: the hidden negative case",
            ],
        )
    ]
    q1_tests.source = (
        "# This cell (id:q1_tests) was missing from the submission. It was added back "
        "by nbgrader.\n\n" + q1_tests.source
    )
    graded.cells.append(new_code_cell("print(In)"))
    graded.cells[-1].outputs = [
        new_output(
            "stream",
            name="stdout",
            text="assert str.__str__(answer_q1).strip().upper() == 'B', 'hidden check of q1'",
        )
    ]
    secrets = feedback.Secrets.from_notebooks(source, released)
    removed = feedback.sanitize(graded, released, secrets.excluding(""))
    assert removed == 1 and graded.cells[-1].outputs[0].text == feedback.REMOVED
    assert "HIDDEN" not in test_cell.source and "power_of(-3)" not in test_cell.source
    assert test_cell.outputs[0].traceback == ["AssertionError: the hidden negative case"]
    assert q1_tests.source.startswith(feedback.MISSING_NOTE) and "HIDDEN" not in q1_tests.source


def test_leaks_reads_the_text_a_browser_shows():
    page = (
        "<style>.x{}</style><pre><span>assert</span> <span>power_of</span>(-3) == 9</pre>"
        "<p>a &amp; b</p>"
    )
    assert feedback.visible_text(page).endswith("a & b")
    assert feedback.leaks(page, frozenset({"assert power_of(-3) == 9", "never shown here"})) == [
        "assert power_of(-3) == 9"
    ]


def test_imported_modules_finds_what_setup_cells_import():
    source = (
        "import torch\nfrom torch import nn\nfrom course_utils.checks import lesson1 as checks\n"
    )
    assert imported_modules(source) == [
        "torch",
        "torch",
        "torch.nn",
        "course_utils.checks",
        "course_utils.checks.lesson1",
    ]
    assert imported_modules("def broken(:") == []


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


# --- sandbox and kernel launcher ------------------------------------------------------


def test_detect_says_what_it_found():
    found = sandbox.detect()
    assert found.describe().startswith("isolation: ")
    assert bool(found.prefix) == (found.network or found.pids or found.filesystem)


def test_limits_must_be_positive():
    with pytest.raises(ValueError, match="memory_mb"):
        sandbox.Limits(memory_mb=0)


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")
def test_run_kills_everything_a_job_started(tmp_path):
    naptime = "61.4242"  # a sleep nobody else runs
    code = (
        "import subprocess, time\n"
        f"subprocess.Popen(['sleep', '{naptime}'])\n"
        f"subprocess.Popen(['sleep', '{naptime}'], start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    result = sandbox.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=dict(os.environ),
        log=tmp_path / "log",
        timeout=2,
        isolation=sandbox.Isolation(),
    )
    assert result.timed_out and result.returncode is None
    time.sleep(0.2)
    assert running(naptime) == []


def test_kernel_limits_stop_a_memory_bomb():
    code = (
        "from grader.sandbox.lockdown import apply_limits\n"
        "apply_limits({'memory_mb': 256, 'file_mb': 1, 'processes': 4096})\n"
        "try:\n    bytearray(2 * 2**30)\nexcept MemoryError:\n    print('stopped')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "stopped", done.stderr


@pytest.mark.skipif(not sandbox.detect().filesystem, reason="no mount namespace on this machine")
def test_kernel_lockdown_leaves_only_its_folder_writable(tmp_path):
    secret, work, other = tmp_path / "secret", tmp_path / "work", tmp_path / "other.txt"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    work.mkdir()
    other.write_text("untouched")
    code = (
        "import os\nfrom grader.sandbox.lockdown import allowed_paths, lock_filesystem, drop_capabilities\n"
        f"lock_filesystem(allowed_paths([{str(other)!r}]), {str(work)!r})\ndrop_capabilities()\n"
        f"print(os.path.exists({str(secret)!r}))\n"
        f"open({str(work / 'ok.txt')!r}, 'w').write('fine')\n"
        f"try:\n    open({str(other)!r}, 'w')\nexcept OSError as e:\n    print('refused', e.errno)\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])\n"
    )
    done = subprocess.run(
        [*sandbox.detect().prefix, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split("\n")[:3] == ["False", "refused 30", "0000000000000000"], done.stderr
    assert (work / "ok.txt").read_text() == "fine" and other.read_text() == "untouched"


# What a fresh interpreter in the locked-down kernel finds (run with -c after lock_filesystem).
_LOOK_AROUND = """
import json, os, sys
root = sys.argv[1]
found = {"root": sorted(os.listdir(root)) if os.path.isdir(root) else None}
for name in ("solutions", "tests", "grader", ".git", "bench"):
    found[name] = os.path.exists(os.path.join(root, name))
try:
    open(os.path.join(root, "solutions", "lesson1", "lesson1.ipynb")).read()
    found["read_solution"] = True
except OSError:
    found["read_solution"] = False
import course_utils.checks, torch
found["course_utils"] = os.path.dirname(course_utils.__file__)
found["torch"] = torch.__version__
try:
    import grader.job.guard
    found["grader"] = True
except ImportError:
    found["grader"] = False
print(json.dumps(found))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.detect().filesystem, reason="no mount namespace on this machine")
def test_kernel_sees_the_allow_list_and_nothing_else_of_the_course(tmp_path):
    """A kernel cannot list or read the repository, but imports course_utils and torch."""
    code = (
        "import subprocess, sys\n"
        "from grader.sandbox.lockdown import allowed_paths, lock_filesystem, drop_capabilities\n"
        f"lock_filesystem(allowed_paths(), {str(tmp_path)!r}, hide=[{str(ROOT / 'solutions')!r}])\n"
        "drop_capabilities()\n"
        f"sys.exit(subprocess.run([sys.executable, '-c', {_LOOK_AROUND!r}, {str(ROOT)!r}]).returncode)\n"
    )
    done = subprocess.run(
        [*sandbox.detect().prefix, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    import course_utils

    package = Path(course_utils.__file__).resolve().parent
    visible = {package.name} if package.parent == ROOT else set()
    if Path(sys.prefix).resolve().parent == ROOT:
        visible.add(Path(sys.prefix).resolve().name)
    assert set(found["root"] or []) <= visible, found["root"]
    assert not any(found[k] for k in ("solutions", "tests", "grader", ".git", "bench"))
    assert not found["read_solution"] and not found["grader"]
    assert found["course_utils"] == str(package) and found["torch"]


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


# --- end to end on the fake course ---------------------------------------------------


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return fake_course.make(tmp_path_factory.mktemp("fake") / "course")


@pytest.fixture(scope="module")
def notebooks(course, tmp_path_factory):
    """Student and solution notebooks of the fake lessons, as generated by nbgrader."""
    scratch = generate(course, list(fake_course.LESSONS), tmp_path_factory.mktemp("gen"))
    return {
        name: (
            nbformat.read(scratch.release(name) / f"{name}.ipynb", as_version=4),
            nbformat.read(course / "solutions" / name / f"{name}.ipynb", as_version=4),
        )
        for name in fake_course.LESSONS
    }


def _save(nb, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_grade_command_end_to_end(course, notebooks, tmp_path, capsys):
    subs, out = tmp_path / "subs", tmp_path / "out"
    intro, basics = notebooks["intro"], notebooks["basics"]
    _save(corpus.answered(*intro), subs / "ann" / "intro.ipynb")  # basics missing
    wrong = corpus.answered(*intro)
    wrong.cells[2].source = "def power_of(x):\n    return x ** 3"
    _save(wrong, subs / "ben" / "intro.ipynb")
    _save(corpus.answered(*basics), subs / "submitted" / "ben" / "basics" / "basics.ipynb")
    args = grade_args(course, out, submissions=subs, jobs=2, cell_timeout=30)
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    expected = (
        "student_id,assignment,score,max_score,status\nann,basics,0,3,missing\n"
        "ann,intro,3,3,graded\nben,basics,3,3,graded\nben,intro,1,3,graded\n"
    )
    assert (out / "grades.csv").read_text() == expected
    assert "[3/3]" in printed and "0/3 -" in printed and "4/6" in printed
    assert sorted(p.relative_to(out).as_posix() for p in (out / "feedback").rglob("*.html")) == [
        "feedback/ann/intro.html",
        "feedback/ben/basics.html",
        "feedback/ben/intro.html",
    ]
    ben = feedback.visible_text((out / "feedback" / "ben" / "intro.html").read_text())
    assert "Expected: 4 for power_of(2)" in ben and "[wrong power]: 8" in ben
    assert "the secret step" not in ben and "power_of(-3)" not in ben

    # Same submissions again: same grades, nothing kept aside.
    assert cli.main(args) == 0
    assert (out / "grades.csv").read_text() == expected and list(out.glob("grades.*.csv")) == []

    # The same class as an LMS zip, one lesson requested: other grades are kept aside, not lost.
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(subs / "ann" / "intro.ipynb", "export/ann_intro.ipynb")
        zf.write(subs / "ben" / "intro.ipynb", "export/ben_intro.ipynb")
    args[args.index(str(subs))] = str(archive)
    assert cli.main([*args, "--lessons", "intro", "--jobs", "1"]) == 0
    assert (out / "grades.csv").read_text() == (
        "student_id,assignment,score,max_score,status\nann,intro,3,3,graded\nben,intro,1,3,graded\n"
    )
    assert [p.read_text() for p in out.glob("grades.*.csv")] == [expected]
    assert "kept as" in capsys.readouterr().out


def _stock_nbgrader_score(course: Path, nb, workdir: Path) -> float:
    """What nbgrader itself (no sandbox, no guard) gives ``nb`` for the intro lesson."""
    from nbgrader.apps import NbGraderAPI

    scratch = generate(course, ["intro"], workdir)
    _save(nb, workdir / "submitted" / "eve" / "intro" / "intro.ipynb")
    scratch.config.Execute.timeout = 60
    api = NbGraderAPI(config=scratch.config)
    assert api.autograde("intro", "eve", force=True, create=True)["success"]
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{scratch.db_path}") as gb:
        return gb.find_submission("intro", "eve").score


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # inside nbgrader's gradebook
@pytest.mark.parametrize("case", ["monkeypatch", "error_hiding"])
def test_cheats_that_fool_stock_nbgrader_score_zero_here(case, course, notebooks, tmp_path):
    from grader.classwork.engine import Grader

    cheat = corpus.build(case, *notebooks["intro"])
    assert _stock_nbgrader_score(course, cheat, tmp_path / "stock") == 3  # the cheat works there
    path = _save(cheat, tmp_path / "subs" / "eve" / "intro.ipynb")
    with Grader(course, ["intro"], limits=sandbox.Limits(cell_timeout=60)) as grader:
        [outcome] = grader.grade([("eve", "intro", path)], tmp_path / "out")
    spec = corpus.expected()[case]
    assert outcome.score == 0 and outcome.status == spec.get("status", "graded")
    assert any(spec["notes"] in note for note in outcome.notes)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["guard_tamper", "guard_functions"])
def test_a_submission_that_replaces_the_guard_is_flagged(case, course, notebooks, tmp_path):
    from grader.classwork.engine import Grader

    path = _save(corpus.build(case, *notebooks["intro"]), tmp_path / "subs" / "eve" / "intro.ipynb")
    fair = _save(
        corpus.build("perfect", *notebooks["intro"]), tmp_path / "subs" / "ann" / "intro.ipynb"
    )
    with Grader(course, ["intro"], limits=sandbox.Limits(cell_timeout=60)) as grader:
        honest, outcome = grader.grade(
            [("ann", "intro", fair), ("eve", "intro", path)], tmp_path / "out"
        )
    assert (honest.score, honest.status, honest.notes) == (3, "graded", [])  # no false alarm
    assert (outcome.score, outcome.status) == (0, "flagged"), outcome.notes
    expected = "not signed" if case == "guard_tamper" else "restore replaced"
    assert any("integrity" in note and expected in note for note in outcome.notes), outcome.notes


# --- feedback of every real lesson ---------------------------------------------------------

REAL_LESSONS = lessons(ROOT)


@pytest.fixture(scope="module")
def real_scratch(tmp_path_factory):
    return generate(ROOT, REAL_LESSONS, tmp_path_factory.mktemp("real"))


@pytest.mark.slow
@pytest.mark.parametrize("lesson", REAL_LESSONS)
def test_feedback_never_shows_a_lessons_hidden_tests(lesson, real_scratch, tmp_path):
    """Feedback HTML of a worst case: every test failed quoting its code, and a cell printing them."""
    from nbconvert.exporters import HTMLExporter

    source = nbformat.read(ROOT / "solutions" / lesson / f"{lesson}.ipynb", as_version=4)
    released = nbformat.read(real_scratch.release(lesson) / f"{lesson}.ipynb", as_version=4)
    secrets = feedback.Secrets.from_notebooks(source, released)
    assert secrets.hidden, f"{lesson} has no hidden tests"
    graded = nbformat.from_dict(json.loads(json.dumps(released)))
    visible = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in graded.cells}
    everything = "\n".join(sorted(secrets.hidden))
    for cell in source.cells:  # what nbgrader's autograde puts back: tests with hidden parts
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and cell.cell_type == "code":
            target = visible[meta["grade_id"]]
            target.source = cell.source
            target.outputs = [
                new_output(
                    "error", ename="AssertionError", evalue="", traceback=cell.source.splitlines()
                )
            ]
    graded.cells.append(new_code_cell("print('\\n'.join(In))"))
    graded.cells[-1].outputs = [new_output("stream", name="stdout", text=everything)]
    feedback.sanitize(graded, released, secrets.excluding(""))
    page, _ = HTMLExporter(template_name="classic").from_notebook_node(graded)
    assert feedback.leaks(page, secrets.hidden) == []
    assert feedback.leaks(page, secrets.solution) == []
