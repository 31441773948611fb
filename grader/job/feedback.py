"""Feedback a student may see: no hidden tests, no solutions.

nbgrader's feedback shows the autograded notebook as graded, hidden tests
included, by design (jupyter/nbgrader#917, #1363). Before the HTML is made,
``sanitize`` puts back the student-visible source of every read-only and
test cell (from the released notebook), strips hidden-test blocks anywhere
else, cuts the traceback of failed tests to their message (a traceback
quotes the failing line of a hidden test) and removes any output that quotes
grader-only text (a submission can print its own kernel's input history).
``leaks`` is the last check on the HTML itself. ``shrink`` keeps the page
small (``PAGE_LIMIT``) whatever the notebook printed or pasted.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from nbformat.v4 import new_output

from grader.job.cells import HIDDEN, SOLUTION
from grader.job.cells import source as _source

# Shorter lines (``)``, ``pass``, ``x = 1``) are too common to be secrets.
MIN_SECRET = 10
REMOVED = (
    "[this output was removed from your feedback: it quoted the grader's hidden tests "
    "or the solution]\n"
)
MISSING_NOTE = "# This cell was missing from your notebook; the grader put it back.\n"


def _between(text: str, markers: tuple[str, str]) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if markers[0] in line:
            inside = True
        elif markers[1] in line:
            inside = False
        elif inside:
            lines.append(line)
    return lines


def strip_hidden(text: str) -> str:
    """``text`` without its ``BEGIN HIDDEN TESTS`` ... ``END HIDDEN TESTS`` blocks."""
    kept, inside = [], False
    for line in text.split("\n"):
        if HIDDEN[0] in line:
            inside = True
        elif HIDDEN[1] in line:
            inside = False
        elif not inside:
            kept.append(line)
    return "\n".join(kept)


@dataclass(frozen=True)
class Secrets:
    """Lines of a source notebook that students never see, by kind."""

    hidden: frozenset[str]
    solution: frozenset[str]

    @classmethod
    def from_notebooks(cls, source, released) -> Secrets:
        """Secret lines of ``source`` (nbgrader source notebook) that ``released`` does not show.

        A line is secret only if it is not part of any student-visible text: the
        hidden half of a call split over lines may repeat the visible half.
        """
        visible = "\n".join(_source(cell) for cell in released["cells"])
        hidden, solution = set(), set()
        for cell in source["cells"]:
            text = _source(cell)
            hidden.update(_between(text, HIDDEN))
            if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
                solution.update(
                    _between(text, SOLUTION) if SOLUTION[0] in text else text.splitlines()
                )

        def keep(lines):
            return frozenset(
                s
                for s in (line.strip() for line in lines)
                if len(s) >= MIN_SECRET and s not in visible
            )

        return cls(keep(hidden), keep(solution))

    def excluding(self, own_text: str) -> frozenset[str]:
        """All secret lines except those in the student's own text (they wrote or pasted them)."""
        return frozenset(s for s in self.hidden | self.solution if s not in own_text)

    def to_json(self) -> dict:
        return {"hidden": sorted(self.hidden), "solution": sorted(self.solution)}

    @classmethod
    def from_json(cls, data: dict) -> Secrets:
        return cls(frozenset(data["hidden"]), frozenset(data["solution"]))


def student_text(nb) -> str:
    """All cell sources of a submission: what the student may see again."""
    return "\n".join(_source(cell) for cell in nb["cells"])


def _output_text(output) -> str:
    parts = [
        str(output.get("text", "")),
        str(output.get("evalue", "")),
        "\n".join(map(str, output.get("traceback", []))),
    ]
    parts += [str(v) for k, v in output.get("data", {}).items() if not k.startswith("image/")]
    return "\n".join(parts)


def _quotes(text: str, secret: frozenset[str]) -> bool:
    return any(line in text for line in secret)


def sanitize(nb, released, secret: frozenset[str]) -> int:
    """Make an autograded notebook safe to show (in place); returns how many outputs were removed."""
    visible = {
        c["metadata"]["nbgrader"]["grade_id"]: c
        for c in released["cells"]
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    }
    removed = 0
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        original = visible.get(meta.get("grade_id"))
        if (
            original is not None
            and (meta.get("locked") or meta.get("grade"))
            and not meta.get("solution")
        ):
            note = MISSING_NOTE if "was missing from the submission" in _source(cell) else ""
            cell.source = note + _source(original)
        else:
            cell.source = strip_hidden(_source(cell))
        if cell.cell_type != "code":
            continue
        outputs = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and meta.get("grade"):
                output["traceback"] = [
                    f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
                ]
            if _quotes(_output_text(output), secret):
                output = new_output("stream", name="stdout", text=REMOVED)
                removed += 1
            outputs.append(output)
        cell.outputs = outputs
    return removed


TEMPLATES = Path(__file__).parents[1] / "templates"
# The course's own "feedback" template (nbgrader's API insists on that name): nbgrader's page with
# exercise names in its contents and pass/fail marks.
TEMPLATE = "feedback"
CORRECT = re.compile(r"^Correct: (.*)$", re.MULTILINE)
NOT_COUNTED = (
    "Passed the visible check ({}), but a later test in this cell failed\n(see below; "
    "hidden tests use other models and data): no points for this cell."
)


def template_config(config) -> None:
    """Make nbgrader's ``generate_feedback`` render with the course's feedback template.

    Setting the base folder is enough: nbgrader adds its own only when none is configured.
    Code colours reach 4.5:1 and figures say what they show (``grader._lesson_html``).
    """
    from grader._lesson_html import exporter_config

    config.HTMLExporter.template_name = TEMPLATE
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
    exporter_config(config)


def _failed(cell) -> bool:
    return any(
        o.get("output_type") == "error"
        or (o.get("output_type") == "stream" and o.get("name") == "stderr")
        for o in cell.get("outputs", [])
    )


def present(nb, released) -> None:
    """Name each graded cell after its exercise and keep "Correct" only where the cell passed.

    Sets ``metadata.course.label`` (read by the course's feedback template) and,
    in a graded cell that failed, turns the visible check's "Correct: ..." line
    into "Passed the visible check (...), but a later test in this cell failed".
    """
    from grader.job.records import exercise_names

    names = exercise_names(released)
    graded = [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade")]
    per_exercise: dict[str, int] = {}
    for cell in graded:
        name = names.get(cell.metadata["nbgrader"].get("grade_id"), ("", ""))[0]
        per_exercise[name] = per_exercise.get(name, 0) + 1
    seen: dict[str, int] = {}
    for cell in graded:
        grade_id = cell.metadata["nbgrader"].get("grade_id", "")
        name = names.get(grade_id, (grade_id, ""))[0] or grade_id
        seen[name] = seen.get(name, 0) + 1
        label = (
            name
            if per_exercise.get(name, 1) == 1
            else (f"{name} (check {seen[name]} of {per_exercise[name]})")
        )
        cell.metadata["course"] = {"label": label}
        if cell.cell_type != "code" or not _failed(cell):
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                text = output.get("text", "")
                text = "".join(text) if isinstance(text, list) else text
                output["text"] = CORRECT.sub(
                    lambda m: NOT_COUNTED.format(m.group(1).rstrip(".")), text
                )


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    """The text a browser shows for ``page`` (code keeps its line breaks)."""
    parser = _Text()
    parser.feed(page)
    return "".join(parser.parts)


def leaks(page: str, secret: frozenset[str]) -> list[str]:
    """Secret lines that appear in the text of an HTML page."""
    text = visible_text(page)
    flat = re.sub(r"\s+", " ", text)
    return sorted(line for line in secret if line in text or re.sub(r"\s+", " ", line) in flat)


PAGE_LIMIT = 5_000_000  # bytes of one feedback page (the execution keeps at most 3 MB of output)
# What outputs and long sources may take on the page; the rest of a page (styles, the lesson's
# own text) is about 0.4 MB for lesson 1.
PAGE_BUDGET = PAGE_LIMIT - 1_000_000
SOURCE_LIMIT = 100_000
BLANK_PNG = (  # 1x1, transparent
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)  # characters of one cell's source shown when the page is too large
LEFT_OUT = (
    "[this output ({:,} bytes) was left out of your feedback to keep the page under "
    f"{PAGE_LIMIT // 1_000_000} MB]\n"
)


def _rendered_size(value) -> int:
    """About how many bytes ``value`` (an output field or a source) takes in the HTML page."""
    if isinstance(value, dict):
        return sum(_rendered_size(v) for v in value.values())
    if isinstance(value, list):
        return sum(_rendered_size(v) for v in value)
    return len(html.escape(str(value)))


def shrink(nb, excess: int | None = None) -> int:
    """Leave out of ``nb`` (in place) about ``excess`` bytes of page, largest parts first.

    Outputs and attachments of cells that are not tests go first, then those of
    tests; a source longer than ``SOURCE_LIMIT`` is cut. Each left-out part
    becomes a short note, so the student sees that something was there. Without
    ``excess``, what its outputs, attachments and long sources would take on the
    page past ``PAGE_BUDGET`` (checked before rendering: a page of many megabytes
    takes seconds to render). Returns how many parts were left out.
    """
    parts: list[tuple[bool, int, Any, int | str]] = []  # (is a test, size, cell, what)
    for cell in nb.cells:
        test = bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))
        for i, output in enumerate(cell.get("outputs", [])):
            if not str(output.get("text", "")).startswith(LEFT_OUT[:15]):  # not left out already
                parts.append((test, _rendered_size(output), cell, i))
        blank = {name: {"image/png": BLANK_PNG} for name in cell.get("attachments") or {}}
        if cell.get("attachments") and cell["attachments"] != blank:
            parts.append((test, _rendered_size(cell["attachments"]), cell, "attachments"))
        if len(_source(cell)) > SOURCE_LIMIT:
            parts.append((test, 4 * len(_source(cell)), cell, "source"))
    parts.sort(key=lambda part: (part[0], -part[1]))
    if excess is None:
        excess = sum(part[1] for part in parts) - PAGE_BUDGET
    saved = left_out = 0
    for _, size, cell, what in parts:
        if saved >= excess:
            break
        if what == "attachments":
            # Emptied, not removed: the markdown still refers to them, and nbconvert needs them.
            cell["attachments"] = {name: {"image/png": BLANK_PNG} for name in cell["attachments"]}
            cell.source = _source(cell) + "\n\n" + LEFT_OUT.format(size).replace("output", "image")
        elif what == "source":
            text = _source(cell)
            cell.source = (
                text[:SOURCE_LIMIT]
                + f"\n# [the rest of this cell ({len(text) - SOURCE_LIMIT:,} characters) "
                "is not shown in your feedback]\n"
            )
        else:
            cell.outputs[what] = new_output("stream", name="stdout", text=LEFT_OUT.format(size))
        saved += size
        left_out += 1
    return left_out


def fallback_page(student: str, lesson: str, score: float, max_score: float, reason: str) -> str:
    """A plain feedback page when the notebook could not be graded normally."""
    e = html.escape
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{e(lesson)}: feedback for {e(student)}</title></head><body>\n"
        f"<h1>{e(lesson)}: feedback for {e(student)}</h1>\n"
        f"<p>Score: {score:g} / {max_score:g}</p>\n<p>{e(reason)}</p>\n</body></html>\n"
    )
