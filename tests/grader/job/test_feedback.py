"""The returned feedback page as a student opens it: no link that leads to nothing.

Issue 23: a partly done lesson's page carried one "Comment" link per unanswered
answer cell in its contents list, each to nbgrader's automatic "No response."
(already said in that answer's panel), labelled only "Comment".
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from _grade import grade_args
from nbformat.v4 import new_code_cell, new_output
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)
from submissions.powers import EX1, EX2, HIDDEN_MESSAGE, error, graded_powers, powers_lesson

from grader import cli
from grader._course import generate
from grader.job import feedback

pytestmark = [pytest.mark.long(29), pytest.mark.warm]


class _Links(HTMLParser):
    """Every ``<a href>`` with the text it shows, and every anchor name and id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[list[str]] = []
        self.targets: set[str] = set()
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        for key in ("name", "id"):
            if found.get(key):
                self.targets.add(str(found[key]))
        if tag == "a" and found.get("href") is not None:
            self._open = [str(found["href"]), ""]
            self.links.append(self._open)

    def handle_data(self, data):
        if self._open is not None:
            self._open[1] += data

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None


@pytest.mark.slow  # grades a lesson
def test_a_returned_page_of_a_partly_done_lesson_has_no_empty_link(tmp_path):
    course = fake_course.make(tmp_path / "course")
    scratch = generate(course, ["intro"], tmp_path / "gen")
    released = nbformat.read(scratch.release("intro") / "intro.ipynb", as_version=4)
    subs, out = tmp_path / "subs", tmp_path / "out"
    (subs / "ann").mkdir(parents=True)
    nbformat.write(released, subs / "ann" / "intro.ipynb")  # fetched, nothing answered
    assert corpus.exercises(released, released)  # the lesson has answer cells left as stubs
    assert cli.main(grade_args(course, out, submissions=subs, jobs=1, cell_timeout=30)) == 0
    page = (out / "feedback" / "ann" / "intro.html").read_text()
    assert "No response." in page  # nbgrader's comment on the untouched answer stays in its panel
    links = _Links()
    links.feed(page)
    for href, text in links.links:
        assert text.strip(), f"a link with no text: {href!r}"
        if href.startswith("#"):
            assert href[1:] in links.targets, f"{text.strip()!r} leads to nothing: {href!r}"
    contents = page[page.index('id="toc"') : page.index("</ol>", page.index('id="toc"'))]
    assert not re.search(r">\s*Comment\s*<", contents), contents


# --- exercise names and pass/fail on the page -------------------------------------------


def test_present_names_exercises_and_never_says_correct_in_a_failed_cell():
    graded = graded_powers(
        {
            "power_tests": [
                new_output("stream", name="stdout", text="Correct: power_of(2) is 4\n"),
                error(HIDDEN_MESSAGE),
            ],
            "q1_tests": [new_output("stream", name="stdout", text="Correct: the head maps\n")],
        }
    )
    feedback.present(graded, powers_lesson())
    cells = {
        c.metadata["nbgrader"]["grade_id"]: c
        for c in graded.cells
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert cells["power_tests"].metadata["course"]["label"] == EX1
    failed = cells["power_tests"].outputs[0].text
    assert "Correct" not in failed and failed.startswith(
        "Passed the visible check (power_of(2) is 4)"
    )
    assert "a later test in this cell failed" in failed
    assert cells["q1_tests"].outputs[0].text == "Correct: the head maps\n"  # it passed


def test_feedback_template_names_exercises_and_marks_pass_and_fail():
    import nbgrader
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    nb = graded_powers({"power_tests": [error("wrong")]})
    feedback.present(nb, powers_lesson())
    for c in nb.cells:
        meta = c.metadata.get("nbgrader", {})
        if meta.get("grade"):
            meta["score"] = 0 if meta["grade_id"] == "power_tests" else meta["points"]
    config = Config()
    feedback.template_config(config)
    config.HTMLExporter.extra_template_paths = [
        str(  # what nbgrader's GenerateFeedback adds
            Path(nbgrader.__file__).parent
            / "server_extensions"
            / "formgrader"
            / "static"
            / "node_modules"
            / "bootstrap"
            / "dist"
            / "css"
        )
    ]
    page, _ = HTMLExporter(config=config).from_notebook_node(
        nb,
        resources={
            "nbgrader": {"notebook": "powers", "score": 1, "max_score": 3, "late_penalty": 0}
        },
    )
    text = feedback.visible_text(page)
    contents = text[text.index("powers (Score") : text.index("Powers: a test-only lesson")]
    assert "Test cell" not in contents
    assert f"✗ Failed{EX1} (Score: 0.0 / 2.0)" in contents
    assert f"✓ Passed{EX2} (Score: 1.0 / 1.0)" in contents
    assert page.count("course-cell-fail") >= 1 and page.count("course-cell-pass") >= 1
    # Offline by design: nothing loaded from elsewhere (nbconvert's mathjax() loads a CDN).
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.IGNORECASE)
    assert "mathjax" not in page.lower()


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
