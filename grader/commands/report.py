"""``course report OUT``: what the class did not understand, from a ``course grade`` output folder.

Reads ``OUT/grades.csv`` and ``OUT/records.jsonl`` (no re-grading) and writes
``OUT/report.html`` (pass rates, most frequent misconceptions, score
histograms, students who need attention), ``OUT/misconceptions.csv``, and a
"What to review" block at the end of each ``OUT/feedback/<student>/<lesson>.html``
(replaced, never repeated, when the report is run again).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "out",
        type=Path,
        metavar="OUT",
        help="the --out folder of `course grade` (holds grades.csv)",
    )
    parser.add_argument(
        "--several",
        type=int,
        default=2,
        metavar="N",
        help="list a student under 'needs attention' from N different "
        "misconceptions on (default 2)",
    )


def run(args: argparse.Namespace) -> int:
    from grader.books import report
    from grader.books.results import RECORDS

    try:
        built = report.build(args.out, several=args.several)
        done = report.write(built)
    except (ValueError, OSError) as exc:
        print(f"course report: {exc}")
        return 2
    if not built.has_records:
        print(
            f"{args.out} has no {RECORDS}: it was graded before `course grade` kept "
            "per-exercise records. report.html shows scores only (no exercises, no "
            "misconceptions, feedback pages unchanged); grade again with the same --out to "
            "get them."
        )
    for warning in built.warnings:
        print(f"warning: {warning}")
    print(f"wrote {done['html']}")
    print(f"wrote {done['csv']} ({done['rows']} misconception(s) named)")
    if built.has_records:
        print(
            f"'What to review' written into {len(done['pages'])} feedback page(s) under "
            f"{args.out / 'feedback'}" + ("" if done["pages"] else " (all were up to date)")
        )
    return 0
