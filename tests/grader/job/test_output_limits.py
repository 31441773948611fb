"""Notebooks that print a lot: graded on their answers, in about the time of their answers.

Each case is lesson 1's released notebook with every answer right (the solution's
code, built at test time) and extra cells that print: many cells each a little over
the per-cell limit, one cell far over it, one just under it, many just under it (a
40 MB page before the per-notebook cap), many large images, and text that HTML
escaping makes four times larger on the page. All are graded one at a time by
``course grade``'s engine (``--jobs 1``), between two gradings of the same notebook
without the extra cells, whose mean time is the baseline: each case keeps full
marks, takes at most twice the baseline (where one timing is over, the case and a
baseline are graded again back to back and the faster of each counts: a spike of a
shared machine is no verdict), is never stopped by a limit of time, and
leaves a feedback page under ``feedback.PAGE_LIMIT``. A wrong answer that floods
inside its test still fails that test. (Issue 30; issue 23's feedback size.)
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from submissions import corpus  # tests/ is on sys.path (rootdir imports)

from grader._course import lessons
from grader.job import feedback
from grader.job.execute import MAX_ERROR_BYTES, SandboxedExecute
from grader.sandbox import limits as sandbox

ROOT = Path(__file__).resolve().parents[3]

LIMIT = sandbox.Limits().output_bytes
# A valid PNG of random pixels (incompressible: its base64 is about 4/3 of w*h*3 bytes), drawn
# with the standard library so that making it costs next to nothing beside the output.
PNG = """
import os, struct, zlib
from IPython.display import Image, display

def _png(w, h):
    raw = b"".join(b"\\x00" + os.urandom(w * 3) for _ in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b"")

for _ in range(20):
    display(Image(_png(300, 300)))
"""
CASES = {
    "many_over": [f"print('x' * {LIMIT + 100_000})"] * 40,
    "one_far_over": [f"print('y' * {40 * LIMIT})"],
    "just_under": [f"print('z' * {LIMIT - 10_000})"],
    "many_under": [f"print('u' * {LIMIT - 10_000})"] * 40,
    "images": [PNG] * 5,
    "escaped": [f"print('<' * {LIMIT - 10_000})"] * 40,
}
# The first answer is wrong, and prints three times the cell limit when its test calls it.
FLOOD_IN_TEST = f"""
def split_model(model):
    print("w" * {3 * LIMIT})
    return model, model
"""

pytestmark = [
    pytest.mark.skipif("lesson1" not in lessons(ROOT), reason="needs lesson1"),
    pytest.mark.long(61),
    pytest.mark.warm,
]


def _build(released, source, extra: list[str]):
    """Every answer right, and ``extra`` cells right after the set-up cell: before every answer
    and test, so that anything the output leaves behind (a stall, a stray interrupt) hits them."""
    nb = corpus.answered(released, source)
    setup = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[setup + 1 : setup + 1] = [new_code_cell(code) for code in extra]
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    from grader.classwork.engine import Grader

    tmp = tmp_path_factory.mktemp("output")
    limits = sandbox.Limits(cell_timeout=30, notebook_timeout=120, memory_mb=3072)
    with Grader(ROOT, ["lesson1"], limits=limits, jobs=1) as grader:
        released = nbformat.read(grader.lessons["lesson1"].released, as_version=4)
        source = nbformat.read(ROOT / "solutions" / "lesson1" / "lesson1.ipynb", as_version=4)
        items = corpus.exercises(released, source)
        notebooks = {"baseline_first": _build(released, source, [])}
        notebooks |= {case: _build(released, source, extra) for case, extra in CASES.items()}
        flood = corpus.answered(released, source)
        answer = next(
            c for c in flood.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex1_answer"
        )
        answer.source = FLOOD_IN_TEST
        notebooks["flood_in_test"] = flood
        # A notebook whose markdown carries a 6 MB attachment: nothing the kernel printed.
        attached = _build(released, source, [])
        attached.cells.append(new_markdown_cell("![big](attachment:big.png)"))
        attached.cells[-1]["attachments"] = {"big.png": {"image/png": "A" * 6_000_000}}
        notebooks["attachment"] = attached
        notebooks["baseline_last"] = copy.deepcopy(notebooks["baseline_first"])
        work = []
        for name, nb in notebooks.items():
            path = tmp / "subs" / name / "lesson1.ipynb"
            path.parent.mkdir(parents=True)
            nbformat.write(nb, path)
            work.append((name, "lesson1", path))
        outcomes = {o.student: o for o in grader.grade(work, tmp / "out")}
        max_score = grader.lessons["lesson1"].max_score
    pages = {
        name: (tmp / "out" / "feedback" / name / "lesson1.html").read_text() for name in outcomes
    }
    baseline = (outcomes["baseline_first"].seconds + outcomes["baseline_last"].seconds) / 2
    for name, outcome in outcomes.items():  # shown with -s: the numbers of the report
        size = len(pages[name].encode())
        print(
            f"{name:15} {outcome.score:g}/{outcome.max_score:g} {outcome.seconds:5.1f} s {size:>10,} B"
        )
    return {
        "outcomes": outcomes,
        "pages": pages,
        "max": max_score,
        "baseline": baseline,
        "first_points": items[0].points,
        "work": {name: (name, lesson, path) for name, lesson, path in work},
        "limits": limits,
        "tmp": tmp,
    }


def _seconds_again(graded, case: str) -> tuple[float, float]:
    """``case`` and the baseline graded once more, back to back: (case, baseline) seconds.

    One wall-clock time on a shared machine can be a spike (another job took the
    cores); a slowdown the output causes shows in every repetition.
    """
    from grader.classwork.engine import Grader

    out = graded["tmp"] / f"again-{case}"
    with Grader(ROOT, ["lesson1"], limits=graded["limits"], jobs=1) as grader:
        work = [graded["work"][case], graded["work"]["baseline_first"]]
        again = {o.student: o.seconds for o in grader.grade(work, out)}
    return again[case], again["baseline_first"]


@pytest.mark.slow
@pytest.mark.parametrize("case", [*CASES, "attachment"])
def test_output_is_capped_and_answers_keep_their_marks(case, graded):
    outcome, page = graded["outcomes"][case], graded["pages"][case]
    assert graded["outcomes"]["baseline_first"].score == graded["max"]
    assert outcome.status == "graded", outcome.notes
    assert outcome.score == graded["max"], outcome.notes
    assert not any("timeout" in note or "stopped after" in note for note in outcome.notes)
    seconds, baseline = outcome.seconds, graded["baseline"]
    if seconds > 2 * baseline:  # the fastest of two gradings each, so a spike is not a verdict
        again, baseline_again = _seconds_again(graded, case)
        seconds, baseline = min(seconds, again), min(baseline, baseline_again)
    assert seconds <= 2 * baseline, (seconds, baseline)
    assert len(page.encode()) <= feedback.PAGE_LIMIT, len(page.encode())
    text = feedback.visible_text(page)
    if case in ("many_over", "one_far_over", "images"):
        assert f"output limit: this cell's output passed {LIMIT:,} bytes" in text
    if case in ("many_over", "many_under", "escaped"):
        total = SandboxedExecute.class_traits()["notebook_output_limit"].default()
        assert f"output limit: this notebook's output passed {total:,} bytes in all" in text
    if case == "just_under":
        assert "output limit" not in text and "z" * (LIMIT - 10_000) in text
    if case in ("escaped", "attachment"):
        assert "left out of your feedback" in text


@pytest.mark.slow
def test_a_test_that_floods_still_fails(graded):
    """The failing check's error is kept past the cap, so nbgrader still scores it 0."""
    outcome, page = graded["outcomes"]["flood_in_test"], graded["pages"]["flood_in_test"]
    assert outcome.score == graded["max"] - graded["first_points"], outcome.notes
    assert outcome.status == "graded", outcome.notes
    assert not any("timeout" in note or "stopped after" in note for note in outcome.notes)
    assert "this test's result does not depend on its output" in feedback.visible_text(page)
    assert len(page.encode()) <= feedback.PAGE_LIMIT


def test_shrink_leaves_out_the_largest_parts_first():
    big, small = "a" * 500_000, "b" * 1_000
    nb = nbformat.v4.new_notebook(
        cells=[
            new_code_cell(
                "print()",
                outputs=[
                    nbformat.v4.new_output("stream", name="stdout", text=big),
                    nbformat.v4.new_output("stream", name="stdout", text=small),
                ],
            ),
            new_code_cell("x" * (feedback.SOURCE_LIMIT + 10)),
        ]
    )
    assert feedback.shrink(nb, 400_000) == 1
    outputs = nb.cells[0].outputs
    assert "left out of your feedback" in outputs[0].text and outputs[1].text == small
    assert len(nb.cells[1].source) == feedback.SOURCE_LIMIT + 10
    assert feedback.shrink(nb, 10**9) == 3
    assert "is not shown in your feedback" in nb.cells[1].source
    assert len(nb.cells[1].source) < feedback.SOURCE_LIMIT + 200


def test_a_kept_error_is_short():
    from grader.job.execute import _short_error

    out = _short_error({"ename": "E" * 1000, "evalue": "v" * 10**7, "traceback": ["t" * 10**7]})
    assert len(str(out)) <= MAX_ERROR_BYTES and out.ename.startswith("E")


# --- time-outs: only for cells that ran out of time, and naming them ---------------------------


@pytest.mark.slow
def test_a_time_out_names_the_cell_and_what_ran_keeps_its_points(tmp_path):
    """An endless loop is stopped at the cell limit; slow cells past the notebook's deadline are
    stopped or not run, and the answers above them keep their points (no hard kill, no 0)."""
    from grader.classwork.engine import Grader

    limits = sandbox.Limits(cell_timeout=8, notebook_timeout=40, memory_mb=3072)  # deadline 30 s
    with Grader(ROOT, ["lesson1"], limits=limits, jobs=1) as grader:
        released = nbformat.read(grader.lessons["lesson1"].released, as_version=4)
        source = nbformat.read(ROOT / "solutions" / "lesson1" / "lesson1.ipynb", as_version=4)
        # After the answers: they ran before the time was used up, and keep their points.
        nb = corpus.answered(released, source)
        nb.cells += [new_code_cell("while True:\n    pass")]
        nb.cells += [new_code_cell("import time; time.sleep(6)") for _ in range(6)]
        path = tmp_path / "subs" / "slow" / "lesson1.ipynb"
        path.parent.mkdir(parents=True)
        nbformat.write(nb, path)
        (outcome,) = grader.grade([("slow", "lesson1", path)], tmp_path / "out")
        max_score = grader.lessons["lesson1"].max_score
    loop = next(i for i, c in enumerate(nb.cells) if c.source.startswith("while True"))
    assert outcome.score == max_score and outcome.status == "graded", outcome.notes
    assert outcome.seconds < limits.notebook_timeout
    # The notes number cells from 0 (as the grader's other notes do); the page from 1.
    assert f"timeout at cell {loop}: ran longer than 8 s, the limit for one cell" in outcome.notes
    assert any("ran past the notebook's deadline (30 s)" in n for n in outcome.notes)
    text = feedback.visible_text(
        (tmp_path / "out" / "feedback" / "slow" / "lesson1.html").read_text()
    )
    assert "this cell ran longer than 8 s, the limit for one cell" in text
    assert "the grading time of this notebook (30 s) ran out while this cell ran" in text
    # The cells after it name the one that used the time up (a sleep, numbered from 1).
    named = re.search(r"ran out while cell (\d+) ran", text)
    assert named is not None
    last = int(named.group(1)) - 1
    assert nb.cells[last].source.startswith("import time; time.sleep(6)")


def test_a_killed_job_names_the_cell_that_was_running():
    from grader.books.results import Outcome
    from grader.classwork.engine import Grader, JobResult, Loaded
    from grader.classwork.intake import Found

    grader = Grader(ROOT, ["lesson1"], limits=sandbox.Limits(notebook_timeout=60))
    running = {"cell": 12, "grade_id": "ex1_answer", "label": "cell 13 (ex1_answer)"}

    def loaded() -> Loaded:
        found = Found("ann", "lesson1", Path("lesson1.ipynb"), "lesson1.ipynb")
        return Loaded(found, Outcome("ann", "lesson1", 0.0, 8.0), None, "")

    for progress, expected in (
        ({"ok": False, "running": running}, "while cell 13 (ex1_answer) was running"),
        ({"ok": False, "running": None}, "while no cell of yours was running"),
        (None, "while no cell of yours was running"),
    ):
        item = loaded()
        page = grader.conclude(item, JobResult(None, True, 60.0, progress, None, ""))
        assert item.outcome.status == "timeout" and expected in feedback.visible_text(page)
        assert "after 60 s" in feedback.visible_text(page)
    # A job that died (not killed) mid-cell, its progress still in result.json: an error, not a
    # grade read from the progress record.
    item = loaded()
    grader.conclude(item, JobResult(-9, False, 5.0, {"ok": False, "running": running}, None, ""))
    assert item.outcome.status == "error" and "no result" in item.outcome.notes[0]


def test_a_lost_job_is_concluded_in_the_same_place_as_any_other():
    """A job that left nothing (its worker died on each attempt, the runner failed) scores 0
    with a note and a plain page, like a job that failed in its sandbox."""
    from grader.books.results import Outcome
    from grader.classwork.engine import Grader, JobLost, Loaded
    from grader.classwork.intake import Found

    grader = Grader(ROOT, ["lesson1"])
    found = Found("ann", "lesson1", Path("lesson1.ipynb"), "lesson1.ipynb", late=True)
    for lost, note in (
        (JobLost(True, "its Dask worker died", 2), "its Dask worker died on each of 2 attempts"),
        (JobLost(False, "the cluster failed (OSError: gone)"), "the cluster failed (OSError"),
    ):
        item = Loaded(found, Outcome("ann", "lesson1", 0.0, 8.0), None, "")
        page = grader.conclude(item, lost)
        assert item.outcome.status == "error" and note in item.outcome.notes[0]
        assert item.outcome.notes[-1] == "submitted late (the LMS says so)"
        assert "Your instructor will look at it" in feedback.visible_text(page)
