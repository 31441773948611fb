"""The class report: what the class did not understand, from a grading output folder.

``build(out)`` reads ``OUT/grades.csv`` and ``OUT/records.jsonl`` (written by
``course grade``; see ``grader.job.records``) and never re-grades. From it:

- ``render(report)``: ``report.html``, one self-contained page (no scripts,
  no external files, no absolute paths; figures are embedded PNG): pass rates
  per lesson and exercise, the most frequent misconceptions (count, share of
  the class, the lesson section that teaches the idea), score histograms,
  students who need attention (named from ``OUT/roster.csv``), the overrides
  ``course grades`` applies;
- ``misconceptions_csv(report)``: one row per student, exercise and
  misconception named;
- ``add_review(page, block)``: the student's feedback page with a "What to
  review" block at its end, replacing the one a previous run added.

A folder graded before records existed still gets scores and histograms;
``report.has_records`` is ``False`` and the page says so.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote

from course_utils.checks._feedback import Misconception
from grader._common import natural_key
from grader.books.results import RECORDS, read_records

REVIEW_START = "<!-- course report: what to review -->"
REVIEW_END = "<!-- end of what to review -->"
CSV_COLUMNS = ("student_id", "lesson", "exercise", "misconception_id", "text")
ATTENTION_STATUS = {
    "missing": "missing work",
    "flagged": "flagged (the notebook changed its tests, or its feedback was withheld)",
    "timeout": "timed out",
    "error": "could not be graded",
    "unreadable": "not a readable notebook",
}
UNREGISTERED = "(not in this version of the course's misconception registry)"


@dataclass
class Submission:
    """One student's work on one lesson, as graded."""

    student: str
    lesson: str
    score: float
    max_score: float
    status: str = "graded"  # "unknown" when the folder has no records
    cells: list[dict] = field(default_factory=list)

    def exercises(self) -> dict[str, list[dict]]:
        """The graded cells grouped by exercise, in notebook order."""
        grouped: dict[str, list[dict]] = {}
        for cell in self.cells:
            grouped.setdefault(cell["exercise"], []).append(cell)
        return grouped


@dataclass(frozen=True)
class Occurrence:
    """A misconception a checker named in one student's exercise."""

    student: str
    lesson: str
    exercise: str
    id: str


@dataclass
class ClassReport:
    out: Path
    students: list[str]
    lessons: list[str]
    submissions: dict[tuple[str, str], Submission]
    has_records: bool
    registry: Mapping[str, Misconception]
    warnings: list[str] = field(default_factory=list)
    several: int = 2
    names: dict[str, str] = field(default_factory=dict)  # student id -> name, from the roster
    overrides: list = field(default_factory=list)  # exports.Applied, from OUT/overrides.csv

    def label(self, student: str) -> str:
        """``Fay Lee (s001)`` when the roster names the student, else the id."""
        name = self.names.get(student)
        return f"{name} ({student})" if name else student

    def of_lesson(self, lesson: str) -> list[Submission]:
        return [
            self.submissions[(s, lesson)] for s in self.students if (s, lesson) in self.submissions
        ]

    def occurrences(self) -> list[Occurrence]:
        """Every (student, lesson, exercise, misconception) once, in a stable order."""
        found: dict[Occurrence, None] = {}
        for (student, lesson), sub in sorted(self.submissions.items(), key=_by_student_lesson):
            for cell in sub.cells:
                if not cell["passed"] and cell["misconception"]:
                    found[Occurrence(student, lesson, cell["exercise"], cell["misconception"])] = (
                        None
                    )
        return list(found)

    def describe(self, misconception_id: str) -> Misconception:
        known = self.registry.get(misconception_id)
        return known if known is not None else Misconception(misconception_id, UNREGISTERED, "")

    def attention(self) -> dict[str, list[str]]:
        """Student -> why they need a look: missing, flagged, timed-out work, several misconceptions."""
        reasons: dict[str, list[str]] = defaultdict(list)
        for (student, lesson), sub in sorted(self.submissions.items(), key=_by_student_lesson):
            if sub.status in ATTENTION_STATUS:
                reasons[student].append(f"{lesson}: {ATTENTION_STATUS[sub.status]}")
            elif sub.status == "graded" and sub.score <= 0 < sub.max_score:
                # A blank notebook is graded like any other: 0 points, and nobody is told.
                reasons[student].append(
                    f"{lesson}: 0 of {sub.max_score:g} points (a blank notebook, or nothing right)"
                )
        named: dict[str, set[str]] = defaultdict(set)
        for item in self.occurrences():
            named[item.student].add(item.id)
        for student, ids in named.items():
            if len(ids) >= self.several:
                reasons[student].append(
                    f"{len(ids)} different misconceptions: {', '.join(sorted(ids))}"
                )
        return {s: reasons[s] for s in sorted(reasons, key=natural_key)}


def _by_student_lesson(item):
    (student, lesson), _ = item
    return natural_key(student), natural_key(lesson)


def _float(value: str, where: str) -> float:
    try:
        return float(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {value!r} is not a number; grade again to rewrite it") from exc


def read_grades(out: Path) -> list[tuple[str, str, float, float]]:
    """(student, lesson, score, max score) of every graded notebook in ``out``.

    The course gradebook (``gradebook.csv``, accumulated week after week, like
    ``records.jsonl``) when there is one; else the last run's ``grades.csv``.
    """
    from grader.books import gradebook

    if (out / gradebook.GRADEBOOK).exists():
        return [
            (r.student_id, r.assignment, r.score, r.max_score) for r in gradebook.load(out).values()
        ]
    path = out / "grades.csv"
    if not path.exists():
        raise ValueError(f"{out} has no grades.csv: is it the --out folder of `course grade`?")
    rows = []
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"student_id", "assignment", "score", "max_score"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
        for number, row in enumerate(reader, start=2):
            rows.append(
                (
                    row["student_id"],
                    row["assignment"],
                    _float(row["score"], f"{path}, line {number}"),
                    _float(row["max_score"], f"{path}, line {number}"),
                )
            )
    return rows


def build(
    out: Path, registry: Mapping[str, Misconception] | None = None, several: int = 2
) -> ClassReport:
    """The report of the grading output folder ``out`` (``registry``: default, the course's)."""
    if not isinstance(several, int) or several < 1:
        raise ValueError(f"several must be a positive integer, got {several!r}")
    out = Path(out)
    grades = read_grades(out)
    records = read_records(out)
    if registry is None and records is not None:  # imports every checker (torch): only when needed
        from course_utils.checks import all_misconceptions

        registry = all_misconceptions()
    submissions: dict[tuple[str, str], Submission] = {}
    for student, lesson, score, max_score in grades:
        submissions[(student, lesson)] = Submission(
            student, lesson, score, max_score, "unknown" if records is None else "missing"
        )
    warnings = []
    if records is not None:
        for item in records:
            key = (str(item["student"]), str(item["lesson"]))
            sub = submissions.get(key)
            if sub is None:
                warnings.append(
                    f"{RECORDS} has {key[0]} {key[1]}, which the grades do not: "
                    "ignored (were the two written by different runs?)"
                )
                continue
            if abs(float(item.get("score", sub.score)) - sub.score) > 1e-9:
                warnings.append(
                    f"{key[0]} {key[1]}: the grades say {sub.score:g}, {RECORDS} "
                    f"{float(item['score']):g}; the report uses the grades"
                )
            sub.status = str(item["status"])
            sub.cells = item["cells"]
        listed = {(str(i["student"]), str(i["lesson"])) for i in records}
        for key in submissions:
            if key not in listed:
                submissions[key].status = "unknown"
                warnings.append(f"{key[0]} {key[1]} is in the grades but not in {RECORDS}")
    students = sorted({s for s, _ in submissions}, key=natural_key)
    lessons = sorted({lesson for _, lesson in submissions}, key=natural_key)
    names, overrides = _roster_and_overrides(out, warnings)
    return ClassReport(
        out,
        students,
        lessons,
        submissions,
        records is not None,
        registry or {},
        warnings,
        several,
        names,
        overrides,
    )


def _roster_and_overrides(out: Path, warnings: list[str]) -> tuple[dict[str, str], list]:
    """Names from ``OUT/roster.csv`` and the overrides ``course grades`` applies, when present."""
    from grader.books import exports, gradebook, roster

    class_list = None
    if (out / "roster.csv").is_file():
        try:
            class_list = roster.load(out / "roster.csv")
        except ValueError as exc:
            warnings.append(f"names not shown: {exc}")
    names = {s.student_id: s.name for s in class_list.students if s.name} if class_list else {}
    applied: list = []
    path = out / gradebook.OVERRIDES
    if path.is_file() and (out / gradebook.GRADEBOOK).is_file():
        try:
            table = exports.build(gradebook.load(out), class_list, gradebook.load_overrides(path))
        except ValueError as exc:
            warnings.append(f"overrides not shown: {exc}")
        else:
            applied = table.applied
            warnings.extend(table.capped)
    return names, applied


# --- misconceptions.csv ----------------------------------------------------------------


def misconceptions_csv(report: ClassReport) -> str:
    """One row per student, lesson, exercise and misconception named (header only without any)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in report.occurrences():
        writer.writerow(
            [item.student, item.lesson, item.exercise, item.id, report.describe(item.id).text]
        )
    return buffer.getvalue()


# --- the student's "What to review" -------------------------------------------------------


def _anchor(page: str, target: str) -> str:
    """``#target`` if ``page`` has an element of that id or name, else '' (no dangling links)."""
    found = f'id="{target}"' in page or f'name="{target}"' in page
    return f"#{html.escape(target)}" if target and found else ""


def _heading_id(section: str) -> str:
    # The id nbconvert gives a markdown heading (nbconvert.filters.strings.add_anchor).
    return quote(section.replace(" ", "-"), safe="?/:@!$&'()*+,;=")


def review_block(report: ClassReport, sub: Submission, page: str = "") -> str:
    """The "What to review" block of one submission: failed exercises -> lesson sections.

    Where ``page`` (the feedback page) holds them, each exercise links to its result and each
    section to its heading, so that a keyboard user reaches both with Tab.
    """
    e = html.escape

    def link(text: str, href: str) -> str:
        return f'<a href="{href}">{text}</a>' if href else text

    items = []
    for exercise, cells in sub.exercises().items():
        if all(c["passed"] for c in cells):
            continue
        got, best = sum(c["score"] for c in cells), sum(c["max_score"] for c in cells)
        ids = list(dict.fromkeys(c["misconception"] for c in cells if c["misconception"]))
        sections = [report.describe(i).section for i in ids if report.describe(i).section]
        own = next((c["section"] for c in cells if c["section"]), "")
        reread = list(dict.fromkeys(sections or ([own] if own else [])))
        failed = next((c.get("grade_id", "") for c in cells if not c["passed"]), "")
        line = f"<b>{link(e(exercise), _anchor(page, failed))}</b> ({got:g} / {best:g} points)"
        if ids:
            line += ": " + "; ".join(e(report.describe(i).text) for i in ids)
        line += (
            ". Reread: "
            + "; ".join(
                link(f"&ldquo;{e(s)}&rdquo;", _anchor(page, _heading_id(s))) for s in reread
            )
            + "."
            if reread
            else ". Reread the text just before this exercise."
        )
        items.append(f"<li>{line}</li>")
    body = (
        "<ul>\n" + "\n".join(items) + "\n</ul>"
        if items
        else "<p>Nothing to review: every exercise of this lesson passed.</p>"
    )
    return (
        f'{REVIEW_START}\n<section id="course-review" aria-labelledby="course-review-title" '
        'style="margin:2em auto;max-width:60em;'
        "padding:1em 1.5em;border:2px solid #1565c0;border-radius:6px;background:#e3f2fd;"
        'font-family:sans-serif">\n<h2 id="course-review-title" style="margin-top:0">'
        "What to review</h2>\n"
        f"{body}\n</section>\n{REVIEW_END}"
    )


def add_review(page: str, block: str) -> str:
    """``page`` with ``block`` at the end of its body; a block added earlier is replaced, not repeated."""
    start = page.find(REVIEW_START)
    if start != -1:
        end = page.find(REVIEW_END, start)
        if end == -1:
            raise ValueError(
                "the feedback page has the start of a 'What to review' block but not "
                "its end: remove the block by hand, then run course report again"
            )
        page = page[:start].rstrip("\n") + "\n" + page[end + len(REVIEW_END) :].lstrip("\n")
    at = page.lower().rfind("</body>")
    if at == -1:
        return page.rstrip("\n") + "\n" + block + "\n"
    return page[:at] + block + "\n" + page[at:]


def update_feedback(report: ClassReport) -> list[Path]:
    """Add "What to review" to every feedback page that has records; returns the pages changed."""
    changed: list[Path] = []
    if not report.has_records:
        return changed
    for (student, lesson), sub in sorted(report.submissions.items(), key=_by_student_lesson):
        path = report.out / "feedback" / student / f"{lesson}.html"
        if not sub.cells or not path.is_file():
            continue
        page = path.read_text(encoding="utf-8")
        new = add_review(page, review_block(report, sub, page))
        if new != page:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


# --- report.html ---------------------------------------------------------------------------


def histogram(scores: list[float], max_score: float, title: str) -> str:
    """A PNG histogram of ``scores`` (0 .. ``max_score``), as a base64 data URI."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(4.2, 2.4), dpi=100)
    ax = fig.add_subplot()
    top = max(max_score, max(scores, default=0.0), 1.0)
    if float(top).is_integer() and top <= 30 and all(float(v).is_integer() for v in scores):
        # Whole points: one bar per possible score, centred on it.
        edges = [k - 0.5 for k in range(int(top) + 2)]
        ax.set_xticks(range(int(top) + 1))
        ax.set_xlim(-0.5, top + 0.5)
    else:
        edges = [top * i / 10 for i in range(11)]
        edges[-1] += 1e-9  # a full score falls in the last bin
        ax.set_xlim(0, top)
    ax.hist(scores, bins=edges, color="#1565c0", edgecolor="white")
    ax.set_xlabel(f"score (of {max_score:g})")
    ax.set_ylabel("students")
    # MaxNLocator (the default) takes integer=; the stubs only know Locator.set_params().
    ax.yaxis.get_major_locator().set_params(integer=True)  # type: ignore[call-arg]
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #1565c0; padding-bottom: 0.2em;
       margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #eef3fb; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 0.8em; background: #1565c0; vertical-align: middle; }
.low { color: #b71c1c; font-weight: bold; }
.note { background: #fff8e1; border: 1px solid #f9a825; padding: 0.6em 1em; border-radius: 4px; }
.figures img { margin: 0 1em 1em 0; border: 1px solid #ddd; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def render(report: ClassReport) -> str:
    """``report.html``: one page, readable in any browser, nothing loaded from elsewhere."""
    e = html.escape
    n = len(report.students)
    parts = [
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        "<title>Class report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>Class report</h1>",
        # The folder's name only: the page is shared, the instructor's paths are not.
        f"<p>{n} student(s), lesson(s) {e(', '.join(report.lessons))}; from "
        f"<code>{e(report.out.resolve().name)}</code> (no re-grading).</p>",
    ]
    if not report.has_records:
        parts.append(
            f'<p class="note" id="no-records"><b>No per-exercise records:</b> this folder has no '
            f"<code>{RECORDS}</code>, so it was graded before <code>course grade</code> kept them. "
            "Only scores are reported (no pass rates per exercise, no misconceptions, no missing "
            "or flagged work). Grade the submissions again into this folder to see them.</p>"
        )
    for warning in report.warnings:
        parts.append(f'<p class="note">{e(warning)}</p>')

    parts.append('<h2 id="lessons">Pass rate per lesson and exercise</h2>')
    for lesson in report.lessons:
        subs = report.of_lesson(lesson)
        submitted = [s for s in subs if s.status != "missing"]
        best = max((s.max_score for s in subs), default=0.0)
        scores = [s.score for s in submitted]
        full = sum(1 for s in submitted if s.max_score and s.score >= s.max_score)
        mean = f"{statistics.mean(scores):.2f}" if scores else "–"
        median = f"{statistics.median(scores):g}" if scores else "–"
        counted = (
            f"{len(submitted)} of {n} submitted"
            if report.has_records
            else f"{len(submitted)} score(s), missing work counted as 0"
        )
        parts.append(
            f"<h3>{e(lesson)}</h3><p>{counted}; mean score "
            f"{mean} of {best:g} (median {median}); full marks: {full} "
            f"({_pct(full, len(submitted))}).</p>"
        )
        if not report.has_records:
            continue
        per: dict[str, list[bool]] = {}
        points: dict[str, float] = {}
        hidden_only: Counter[str] = Counter()
        for sub in submitted:
            for exercise, cells in sub.exercises().items():
                per.setdefault(exercise, []).append(all(c["passed"] for c in cells))
                points[exercise] = sum(c["max_score"] for c in cells)
                # Failed, and only in hidden tests: the visible check had told them it was right.
                failed = [c for c in cells if not c["passed"]]
                if failed and all(c.get("hidden_only") for c in failed):
                    hidden_only[exercise] += 1
        if not per:
            parts.append("<p>No notebook of this lesson was graded cell by cell.</p>")
            continue
        rows = []
        for exercise, results in per.items():
            ok = sum(results)
            share = ok / len(results)
            rows.append(
                f'<tr><td>{e(exercise)}</td><td class="num">{points[exercise]:g}</td>'
                f'<td class="num{" low" if share < 0.5 else ""}">{ok} / {len(results)} '
                f'({_pct(ok, len(results))})</td><td><span class="bar" '
                f'style="width:{share * 10:.2f}em"></span></td>'
                f'<td class="num">{hidden_only[exercise]}</td></tr>'
            )
        parts.append(
            "<table><tr><th>exercise</th><th>points</th><th>passed</th><th></th>"
            '<th title="failed in hidden tests after the visible check passed: the feedback '
            'before submitting said it was right">passed the visible check only</th></tr>'
            + "".join(rows)
            + "</table>"
        )

    parts.append('<h2 id="misconceptions">Most frequent misconceptions</h2>')
    if not report.has_records:
        parts.append("<p>Not available for this folder (no records).</p>")
    else:
        occurrences = report.occurrences()
        by_id: dict[str, list[Occurrence]] = defaultdict(list)
        for item in occurrences:
            by_id[item.id].append(item)
        if not by_id:
            parts.append("<p>No checker named a misconception in this class.</p>")
        else:
            ranked = sorted(
                by_id.items(), key=lambda kv: (-len({o.student for o in kv[1]}), -len(kv[1]), kv[0])
            )
            rows = []
            for misconception_id, items in ranked:
                known = report.describe(misconception_id)
                students = sorted({o.student for o in items}, key=natural_key)
                where = sorted({f"{o.lesson}: {o.exercise}" for o in items}, key=natural_key)
                rows.append(
                    f"<tr><td>{e(known.text)}<br><code>{e(misconception_id)}</code></td>"
                    f'<td class="num">{len(items)}</td><td class="num">{len(students)} / {n} '
                    f"({_pct(len(students), n)})</td><td>{e(known.section) or '–'}</td>"
                    f"<td>{'<br>'.join(e(w) for w in where)}</td>"
                    f"<td>{e(', '.join(report.label(s) for s in students))}</td></tr>"
                )
            parts.append(
                "<table><tr><th>misconception</th><th>times named</th><th>students (share of "
                "the class)</th><th>lesson section that teaches it</th><th>where</th>"
                "<th>students</th></tr>" + "".join(rows) + "</table>"
            )
        unnamed: Counter[tuple[str, str]] = Counter()
        for sub in report.submissions.values():
            for exercise, cells in sub.exercises().items():
                if not all(c["passed"] for c in cells) and not any(
                    c["misconception"] for c in cells
                ):
                    unnamed[(sub.lesson, exercise)] += 1
        if unnamed:
            parts.append(
                "<p>Failed without a named misconception (an unanswered exercise, or a "
                "hidden test on other data):</p><table><tr><th>lesson</th><th>exercise"
                "</th><th>students</th></tr>"
                + "".join(
                    f'<tr><td>{e(lesson)}</td><td>{e(ex)}</td><td class="num">{k}</td></tr>'
                    for (lesson, ex), k in sorted(
                        unnamed.items(), key=lambda kv: natural_key(kv[0][0])
                    )
                )
                + "</table>"
            )

    parts.append('<h2 id="scores">Score distribution</h2><div class="figures">')
    for lesson in report.lessons:
        subs = [s for s in report.of_lesson(lesson) if s.status != "missing"]
        best = max((s.max_score for s in report.of_lesson(lesson)), default=0.0)
        uri = histogram(
            [s.score for s in subs],
            best,
            f"{lesson} ({len(subs)} notebook{'s' if len(subs) != 1 else ''})",
        )
        parts.append(
            f'<img src="{uri}" alt="histogram of {e(lesson)} scores" width="420" height="240">'
        )
    parts.append("</div>")

    parts.append('<h2 id="attention">Students who need attention</h2>')
    attention = report.attention()
    if not report.has_records:
        parts.append(
            "<p>Missing, flagged or timed-out work is only known with records; scores "
            "of 0 are listed instead.</p>"
        )
        zeros = sorted(
            {s.student for s in report.submissions.values() if s.score == 0}, key=natural_key
        )
        attention = {
            s: [
                f"{lesson}: score 0"
                for lesson in report.lessons
                if report.submissions.get((s, lesson))
                and report.submissions[(s, lesson)].score == 0
            ]
            for s in zeros
        }
    if attention:
        parts.append(
            "<table><tr><th>student</th><th>why</th></tr>"
            + "".join(
                f"<tr><td>{e(report.label(s))}</td><td>{'<br>'.join(e(r) for r in why)}</td></tr>"
                for s, why in attention.items()
            )
            + "</table>"
        )
    else:
        parts.append(
            "<p>Nobody: no missing, flagged or timed-out work, and nobody with "
            f"{report.several} or more misconceptions.</p>"
        )
    if report.overrides:
        parts.append(
            '<h2 id="overrides">Grades set by hand</h2><p>From <code>overrides.csv</code>, as '
            "<code>course grades</code> applies them (and shows them on the feedback pages); "
            "the scores above are the automatic ones.</p><table><tr><th>student</th>"
            "<th>lesson</th><th>automatic</th><th>final</th><th>rule</th><th>comment</th></tr>"
            + "".join(
                f"<tr><td>{e(report.label(a.student))}</td><td>{e(a.lesson)}</td>"
                f'<td class="num">{a.before:g}</td><td class="num">{a.after:g}</td>'
                f"<td>{e(a.rule)}</td><td>{e(a.comment)}</td></tr>"
                for a in report.overrides
            )
            + "</table>"
        )
    parts.append("</body></html>\n")
    return "\n".join(parts)


class Written(TypedDict):
    """What ``write`` wrote: the two files, the misconceptions named, the pages changed."""

    html: Path
    csv: Path
    rows: int
    pages: list[Path]


def write(report: ClassReport) -> Written:
    """Write ``report.html`` and ``misconceptions.csv`` into the folder, update feedback pages."""
    (report.out / "report.html").write_text(render(report), encoding="utf-8")
    (report.out / "misconceptions.csv").write_text(misconceptions_csv(report), encoding="utf-8")
    pages = update_feedback(report)
    return {
        "html": report.out / "report.html",
        "csv": report.out / "misconceptions.csv",
        "rows": len(report.occurrences()),
        "pages": pages,
    }
