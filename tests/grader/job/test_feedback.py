"""The returned feedback page as a student opens it: no link that leads to nothing.

Issue 23: a partly done lesson's page carried one "Comment" link per unanswered
answer cell in its contents list, each to nbgrader's automatic "No response."
(already said in that answer's panel), labelled only "Comment".
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nbformat
import pytest
from _grade import grade_args
from submissions import corpus, fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._course import generate

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
