"""``course export-lesson N``: a lesson as one HTML page that passes WCAG 2 AA.

Renders ``solutions/lessonN/lessonN.ipynb`` (the lesson with its stored outputs and figures;
``--notebook`` for another one) with nbconvert and the course's ``lesson`` template: code colours
of 4.5:1 or more, and a text alternative on every figure that says what it shows (see
``grader._lesson_html``). Reads no secret: the solution's answers are in the page, so hand out the
export of the released notebook (``--notebook notebooks/lessonN/lessonN.ipynb``) to students.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.commands import add_root_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lesson", help="lesson number or name (1 or lesson1)")
    parser.add_argument(
        "--notebook",
        type=Path,
        help="the notebook to export (default: solutions/lessonN/lessonN.ipynb of --root)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("."),
        help="an HTML file or an existing folder (default: the current folder)",
    )
    add_root_argument(parser)


def run(args: argparse.Namespace) -> int:
    from grader._course import CourseError, find_root
    from grader._lesson_html import export_lesson

    try:
        root = find_root(args.root)
    except CourseError as exc:
        print(f"course export-lesson: {exc}")
        return 2
    name = args.lesson if not args.lesson.isdigit() else f"lesson{args.lesson}"
    notebook = args.notebook or root / "solutions" / name / f"{name}.ipynb"
    if not notebook.is_file():
        print(
            f"course export-lesson: no notebook at {notebook}; give a lesson that exists in "
            f"{root / 'solutions'} or --notebook PATH"
        )
        return 2
    if not args.out.is_dir() and not args.out.parent.is_dir():
        print(f"course export-lesson: --out {args.out}: its folder does not exist; create it first")
        return 2
    print(f"wrote {export_lesson(notebook, args.out)}")
    return 0
