"""``course return``: hand the feedback pages of ``course grade`` back through the exchange.

Each student then sees "Fetch Feedback" for the lesson in their Assignments tab.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.commands._exchange import add_exchange_arguments, resolve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_exchange_arguments(parser)
    parser.add_argument(
        "--graded",
        type=Path,
        required=True,
        metavar="DIR",
        help="the --out folder of `course grade` (holds feedback/)",
    )
    parser.add_argument(
        "--submitted",
        type=Path,
        required=True,
        metavar="DIR",
        help="the submitted/ folder `course collect` wrote",
    )


def run(args: argparse.Namespace) -> int:
    from grader._course import CourseError
    from grader.exchange.instructor import ExchangeError, return_feedback

    try:
        _, lesson, course_id, exchange = resolve(args)
        students = return_feedback(
            lesson, args.graded, args.submitted, course_id=course_id, exchange=exchange
        )
    except (CourseError, ExchangeError, ValueError) as exc:
        print(f"course return: {exc}")
        return 2
    print(f"returned {lesson} feedback to {len(students)} student(s): {', '.join(students)}")
    return 0
