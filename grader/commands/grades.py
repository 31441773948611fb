"""``course grades``: export the course gradebook that ``course grade --out OUT`` accumulates.

Reads ``OUT/gradebook.csv``, the roster (``--roster``, else the copy
``course grade --roster`` left in ``OUT/roster.csv``) and the overrides
(``OUT/overrides.csv`` if present; ``--formgrader`` adds the manual grades
of nbgrader's formgrader), and writes into ``OUT/exports/``:

- ``grades_long.csv``: one row per student and lesson, with a status;
- ``grades_wide.csv``: one row per student, a column per lesson, total and percentages;
- ``canvas_import.csv`` and ``moodle_import.csv``: for the LMS gradebook's CSV import
  (missing work blank unless ``--missing-zero``; Canvas columns from
  ``--canvas-columns`` or ``OUT/canvas_columns.csv``, a warning for each lesson
  without one);

and ``OUT/return/``: the feedback pages zipped per student, plus one zip per
lesson laid out for Moodle's feedback-file upload where work came from Moodle.
Each override is first shown on the feedback page it changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.commands import add_root_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="the folder `course grade --out` writes (holds gradebook.csv)",
    )
    parser.add_argument(
        "--roster",
        type=Path,
        default=None,
        metavar="CSV",
        help="class list (Canvas or Moodle export, or student_id,name,email); "
        "default: OUT/roster.csv when present",
    )
    parser.add_argument(
        "--overrides",
        type=Path,
        default=None,
        metavar="CSV",
        help="corrections: student_id,assignment,score,adjust,policy,comment; a score is "
        "a minimum (policy min, the default) or fixed (policy fixed); see grader/README.md "
        "(default: OUT/overrides.csv when present)",
    )
    parser.add_argument(
        "--canvas-columns",
        type=Path,
        default=None,
        metavar="CSV",
        help="lesson,column rows: the Canvas gradebook column of each lesson, as Canvas's "
        "export heads it, id included ('Week 1: Swap the head (4401)'); default: "
        "OUT/canvas_columns.csv when present, else columns named 'Lesson N (id)'",
    )
    parser.add_argument(
        "--missing-zero",
        action="store_true",
        help="write 0 for work never graded in the Canvas and Moodle import files "
        "(default: blank, so the LMS keeps what it holds: excused, graded by hand)",
    )
    parser.add_argument(
        "--formgrader",
        action="store_true",
        help="also apply manual grades given in the formgrader (grader/gradebook.db)",
    )
    add_root_argument(parser, ", for --formgrader")


def _review(out: Path) -> list[Path] | None:
    """Bring every feedback page's "What to review" up to date (``course report`` writes the
    same), so the zips never miss it whichever command ran last; None without records."""
    from grader.books import report
    from grader.books.results import RECORDS

    if not (out / RECORDS).is_file():
        return None
    try:
        return report.update_feedback(report.build(out))
    except ValueError as exc:  # damaged records: the exports are still right
        print(f"warning: 'What to review' not updated: {exc}; `course report {out}` says more")
        return None


def run(args: argparse.Namespace) -> int:
    from grader._course import CourseError, find_root
    from grader.books import exports, gradebook, roster

    out = args.out
    try:
        rows = gradebook.load(out)
        if not rows:
            print(
                f"course grades: no {out / gradebook.GRADEBOOK}: run `course grade --out {out}` first"
            )
            return 2
        roster_path = args.roster or (out / "roster.csv" if (out / "roster.csv").exists() else None)
        class_list = roster.load(roster_path) if roster_path else None
        overrides_path = args.overrides or out / gradebook.OVERRIDES
        if args.overrides and not args.overrides.is_file():
            raise ValueError(f"--overrides {args.overrides}: no such file")
        overrides = gradebook.load_overrides(overrides_path) if overrides_path.is_file() else []
        if args.formgrader:
            db = find_root(args.root) / "grader" / "gradebook.db"
            if not db.is_file():
                raise ValueError(f"--formgrader: no {db}; grade manually in the formgrader first")
            lessons = sorted({lesson for _, lesson in rows})
            overrides += gradebook.formgrader_overrides(db, lessons)
        table = exports.build(rows, class_list, overrides)
        columns_path = args.canvas_columns or out / exports.CANVAS_COLUMNS
        columns = (
            exports.load_canvas_columns(columns_path, class_list)
            if args.canvas_columns or columns_path.is_file()
            else {}
        )
    except (CourseError, ValueError, OSError) as exc:
        print(f"course grades: {exc}")
        return 2
    folder = out / "exports"
    folder.mkdir(exist_ok=True)
    files = {
        "grades_long.csv": exports.long_csv(table),
        "grades_wide.csv": exports.wide_csv(table, class_list),
        "canvas_import.csv": exports.canvas_csv(table, class_list, columns, args.missing_zero),
        "moodle_import.csv": exports.moodle_csv(table, class_list, args.missing_zero),
    }
    for name, content in files.items():
        (folder / name).write_text(content, encoding="utf-8")
    try:
        marked = exports.mark_grades(out, table, rows)
        reviewed = _review(out)
    except ValueError as exc:
        print(f"course grades: {exc}")
        return 2
    zips = exports.package_feedback(out, rows)
    missing = sum(e.status == "missing" for e in table.entries.values())
    print(
        f"{len(table.students)} student(s) x {len(table.lessons)} lesson(s) "
        f"({', '.join(table.lessons)}); {missing} missing, {len(overrides)} override(s) applied"
    )
    if not class_list:
        print("no roster: only students who submitted something are listed (pass --roster)")
    for name in files:
        print(f"wrote {folder / name}")
    if marked:
        print(f"final grade (overrides, late work) shown on {len(marked)} feedback page(s)")
    if reviewed is not None:
        print(f"'What to review' up to date on the feedback pages ({len(reviewed)} changed)")
    print(f"wrote {len(zips)} feedback zip(s) in {out / 'return'}")
    for capped in table.capped:
        print(f"warning: {capped}")
    for problem in exports.canvas_column_warnings(table, class_list, columns):
        print(f"warning: {problem}")
    for problem in exports.canvas_points_mismatch(table, class_list, columns):
        print(f"warning: {problem}")
    if missing and not args.missing_zero:
        print(
            f"the import files leave the {missing} missing grade(s) blank (the LMS keeps "
            "what it has); --missing-zero writes 0"
        )
    if table.unlisted:
        print(f"not on the roster but graded: {', '.join(table.unlisted)}")
    return 0
