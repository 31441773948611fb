"""The ``course`` command: instructor and maintenance tasks.

Each sub-command lives in its own module and is imported only when run, so
``course --help`` stays fast (no torch import).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help). Each module defines add_arguments(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": (
        "grader.commands.doctor",
        "check versions, device, extensions, data and weights",
    ),
    "pretrain": ("grader.commands.pretrain", "rebuild the course backbone weights (seeded)"),
    "new-lesson": (
        "grader.commands.new_lesson",
        "scaffold lesson N: solution notebook, checker module, test stubs (never overwrites)",
    ),
    "release": ("grader.commands.release", "generate student notebooks from solutions/"),
    "grade": ("grader.commands.grade", "autograde a folder or zip of submissions"),
    "grades": (
        "grader.commands.grades",
        "export the course gradebook: wide table, Canvas/Moodle imports, feedback zips",
    ),
    "report": ("grader.commands.report", "what the class did not understand (report.html)"),
    "export-lesson": (
        "grader.commands.export_lesson",
        "a lesson as one accessible HTML page (WCAG 2 AA)",
    ),
    "publish": ("grader.commands.publish", "put a released lesson in nbgrader's exchange"),
    "collect": ("grader.commands.collect", "copy the latest submissions out of the exchange"),
    "return": ("grader.commands.return_feedback", "hand feedback back through the exchange"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description="Swap the Head: course tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(importlib.import_module(args._module).run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
