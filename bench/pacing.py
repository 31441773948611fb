"""How long each lesson takes a student, measured from the lesson itself (issue 25).

    python bench/pacing.py            # print the table
    python bench/pacing.py --write    # also write each lesson's time line and docs/pacing.md

The method (stated in docs/pacing.md, which this script writes):

* reading: the words of every markdown cell at ``READING_WPM`` words per minute;
* code: the lines of every code cell the student reads but does not write (set-up,
  demonstrations, visible checks; hidden tests and solutions are not shown) at
  ``CODE_LINES_PER_MINUTE``, plus the lesson's measured execution time (the median in
  bench/RESULTS.md's "Lesson execution" table; for a lesson that table lacks, its
  "under load" table, an upper bound);
* exercises: ``MINUTES_PER_CODE_POINT`` per point of an exercise whose answer is code
  the student writes, ``MINUTES_PER_QUESTION`` per answer of a question answered by a
  letter or a number (``answer_... = ...``).

The total is rounded to the nearest ``ROUND_TO`` minutes. Each lesson's first cell
states it in one line that starts with ``TIME_MARK``; tests/test_pacing.py checks that
the line and docs/pacing.md agree with this script for the current notebooks.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
PACING_DOC = ROOT / "docs" / "pacing.md"

READING_WPM = 150  # careful reading of technical prose, slower than the ~240 of light reading
CODE_LINES_PER_MINUTE = 10  # reading code one is shown, to follow what it does
MINUTES_PER_CODE_POINT = 5  # write, run, read the checker's message, fix
MINUTES_PER_QUESTION = 2  # read the options, decide, run the check
ROUND_TO = 5
TIME_MARK = "**Time:**"
OLD_STATED = {  # the durations the lessons stated before this measurement (issue 25)
    "lesson1": 40,
    "lesson2": 40,
    "lesson3": 35,
    "lesson4": 40,
    "lesson5": 50,
    "lesson6": 75,
    "lesson7": 50,
    "lesson8": 90,
}

_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
_QUESTION = re.compile(r"^\s*answer_\w+\s*=", re.M)
_WORD = re.compile(r"[A-Za-z0-9_][\w'.-]*")


@dataclass(frozen=True)
class Pacing:
    """One lesson's measured time, in minutes (unrounded parts, rounded total)."""

    lesson: str
    words: int
    code_lines: int
    execution_s: float
    code_points: float
    questions: int

    @property
    def reading(self) -> float:
        return self.words / READING_WPM

    @property
    def code(self) -> float:
        return self.code_lines / CODE_LINES_PER_MINUTE + self.execution_s / 60

    @property
    def exercises(self) -> float:
        return self.code_points * MINUTES_PER_CODE_POINT + self.questions * MINUTES_PER_QUESTION

    @property
    def minutes(self) -> int:
        total = self.reading + self.code + self.exercises
        return max(ROUND_TO, int(ROUND_TO * round(total / ROUND_TO)))

    def line(self) -> str:
        """The time line of the lesson's first cell."""
        return (
            f"{TIME_MARK} about {self.minutes} minutes, measured from this notebook: "
            f"reading {round(self.reading)}, code {round(self.code)}, exercises "
            f"{round(self.exercises)} (the method: [pacing](../../docs/pacing.md))."
        )


def _nbgrader(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def execution_seconds(results: Path = RESULTS) -> dict[str, float]:
    """Execution seconds per lesson: the quiet "Lesson execution" medians of RESULTS.md, and
    for a lesson that table lacks, the "under load" table of its pacing block (an upper bound)."""
    text = results.read_text(encoding="utf-8")
    section = text.split("## Lesson execution (", 1)
    if len(section) < 2:
        raise ValueError(
            f"{results} has no '## Lesson execution' section: run "
            "python bench/run.py --quick --only notebooks"
        )
    row = re.compile(r"^\| (lesson\d+) \| ([\d.]+) \|", re.M)
    seconds = {m[1]: float(m[2]) for m in row.finditer(section[1].split("\n## ", 1)[0])}
    block = re.search(r"<!-- begin: pacing -->(.*?)<!-- end: pacing -->", text, re.S)
    if block:
        for m in row.finditer(block[1]):
            seconds.setdefault(m[1], float(m[2]))
    return seconds


def measure(path: Path, seconds: dict[str, float]) -> Pacing:
    """Count one solution notebook's words, shown code lines, exercise points and questions."""
    lesson = path.stem
    if lesson not in seconds:
        raise ValueError(
            f"no execution time for {lesson} in {RESULTS.name} (has {sorted(seconds)}): run "
            "python bench/run.py --quick --only notebooks"
        )
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    words = code_lines = questions = 0
    code_points = 0.0
    answers: list[str] = []
    for cell in cells:
        source = "".join(cell["source"])
        meta = _nbgrader(cell)
        if cell["cell_type"] == "markdown":
            # The time line itself is not read as lesson text (it would change what it measures).
            prose = "\n".join(ln for ln in source.splitlines() if not ln.startswith(TIME_MARK))
            prose = re.sub(r"\]\([^)]*\)", "]", prose)  # link targets are not read
            words += len(_WORD.findall(prose))
            continue
        if cell["cell_type"] != "code":
            continue
        if meta.get("solution"):
            answers.append(source)
            continue
        shown = _HIDDEN.sub("", source)
        code_lines += sum(1 for ln in shown.splitlines() if ln.strip())
        if meta.get("grade") and meta.get("points"):
            asked = "\n".join(answers)
            n = len(_QUESTION.findall(asked))
            if n:
                questions += n
            else:
                code_points += float(meta["points"])
            answers = []
    return Pacing(lesson, words, code_lines, seconds[lesson], code_points, questions)


def lessons(root: Path = ROOT) -> list[Path]:
    paths = (root / "solutions").glob("lesson*/lesson*.ipynb")
    return sorted(paths, key=lambda p: int(p.stem.removeprefix("lesson")))


def measure_all(root: Path = ROOT) -> list[Pacing]:
    """Every lesson's pacing, in course order."""
    seconds = execution_seconds(root / "bench" / "RESULTS.md")
    return [measure(p, seconds) for p in lessons(root)]


def pacing_doc(rows: list[Pacing]) -> str:
    """docs/pacing.md: the method and the table."""
    total = sum(r.minutes for r in rows)
    old = sum(OLD_STATED.get(r.lesson, 0) for r in rows)
    lines = [
        "# Pacing: how long each lesson takes",
        "",
        "_Written by `python bench/pacing.py --write` from the solution notebooks; "
        "`tests/test_pacing.py` fails when a lesson changes and this page or a lesson's "
        "time line is not rewritten._",
        "",
        "## Method",
        "",
        f"- **Reading**: every word of the markdown cells at {READING_WPM} words per minute "
        "(careful reading of technical text; link targets and the time line not counted).",
        f"- **Code**: the non-blank lines of every code cell the student is shown but does not "
        f"write (set-up, demonstrations, visible checks) at {CODE_LINES_PER_MINUTE} lines per "
        'minute, plus the lesson\'s execution time: the median in the "Lesson execution" '
        "table of [bench/RESULTS.md](../bench/RESULTS.md) (a quiet 2-core CPU).",
        f"- **Exercises**: {MINUTES_PER_CODE_POINT} minutes per point of an exercise whose "
        "answer is code (write, run, read the check's message, fix), "
        f"{MINUTES_PER_QUESTION} minutes per question answered by a letter or a number.",
        f"- The total is rounded to the nearest {ROUND_TO} minutes. The rates are stated "
        "assumptions, not observations of students: change a constant in "
        "`bench/pacing.py` and every figure below, and each lesson's time line, follow.",
        "",
        "## Per lesson",
        "",
        "| lesson | words | code lines shown | execution s | code points | questions "
        "| reading min | code min | exercises min | **total min** | stated before |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.lesson} | {r.words} | {r.code_lines} | {r.execution_s:.1f} | "
            f"{r.code_points:g} | {r.questions} | {round(r.reading)} | {round(r.code)} | "
            f"{round(r.exercises)} | **{r.minutes}** | {OLD_STATED.get(r.lesson, '')} |"
        )
    lines += [
        f"| **all** | | | | | | | | | **{total}** | {old} |",
        "",
        f"In all about {total // 60} h {total % 60:02d} min, against the {old // 60} h "
        f"{old % 60:02d} min the lessons stated before.",
        "",
    ]
    return "\n".join(lines)


def write_time_lines(rows: list[Pacing], root: Path = ROOT) -> list[str]:
    """Put each lesson's time line in its first cell (replacing an older one); changed paths."""
    changed = []
    for row, path in zip(rows, lessons(root), strict=True):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        first = nb["cells"][0]
        source = "".join(first["source"])
        kept = [ln for ln in source.rstrip("\n").split("\n") if not ln.startswith(TIME_MARK)]
        while kept and not kept[-1].strip():
            kept.pop()
        first["source"] = ("\n".join(kept) + "\n\n" + row.line()).splitlines(True)
        new = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(str(path.relative_to(root)))
    return changed


def stated_minutes(path: Path) -> int | None:
    """The minutes a lesson's first cell states on its time line, or None without one."""
    first = json.loads(path.read_text(encoding="utf-8"))["cells"][0]
    found = re.search(
        rf"^{re.escape(TIME_MARK)} about (\d+) minutes", "".join(first["source"]), re.M
    )
    return int(found[1]) if found else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write time lines and docs/pacing.md")
    args = parser.parse_args(argv)
    rows = measure_all()
    doc = pacing_doc(rows)
    print(doc)
    if args.write:
        for path in write_time_lines(rows):
            print("wrote", path, file=sys.stderr)
        PACING_DOC.write_text(doc, encoding="utf-8")
        print("wrote", PACING_DOC.relative_to(ROOT), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
