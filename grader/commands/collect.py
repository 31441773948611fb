"""``course collect``: copy each student's latest submission of a lesson out of the exchange.

Writes ``OUT/submitted/<student>/<lesson>/``, the layout ``course grade``
reads. A submission in another student's name (its folder is not owned by the
student it names) is left in the exchange and reported.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.commands._exchange import add_exchange_arguments, resolve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_exchange_arguments(parser)
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="where submitted/<student>/<lesson>/ goes",
    )
    parser.add_argument(
        "--trust-names",
        action="store_true",
        help="collect folders owned by someone other than the student they name "
        "(only where every user shares one uid, e.g. Kubernetes pods: any "
        "student can then submit in another's name; prefer ngshare there)",
    )


def run(args: argparse.Namespace) -> int:
    from grader._course import CourseError
    from grader.exchange.instructor import ExchangeError, collect

    try:
        _, lesson, course_id, exchange = resolve(args)
        found, warnings = collect(
            lesson,
            args.out,
            course_id=course_id,
            exchange=exchange,
            check_owner=not args.trust_names,
        )
    except (CourseError, ExchangeError, ValueError) as exc:
        print(f"course collect: {exc}")
        return 2
    for warning in warnings:
        print(f"warning: {warning}")
    for item in found:
        print(f"{item.student:<20} {item.timestamp}")
    print(
        f"{len(found)} submission(s) of {lesson} in {args.out / 'submitted'}; next: "
        f"course grade --submissions {args.out / 'submitted'} --out GRADED --lessons {lesson}"
    )
    return 0
