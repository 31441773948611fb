"""``course publish``: put a released lesson in nbgrader's exchange, for students to fetch.

Refuses when ``notebooks/`` differs from what ``course release`` would write,
so students never fetch a stale notebook.
"""

from __future__ import annotations

import argparse

from grader.commands._exchange import add_exchange_arguments, resolve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_exchange_arguments(parser)
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace a lesson already published (students keep what they fetched)",
    )


def run(args: argparse.Namespace) -> int:
    from grader._course import RELEASE_DIR, CourseError
    from grader.authoring import release
    from grader.exchange.instructor import ExchangeError, publish

    try:
        root, lesson, course_id, exchange = resolve(args)
        drift = [
            c
            for c in release.plan(root, [lesson], whole_course=False)
            if c.action != release.UNCHANGED
        ]
        if drift:
            print(
                f"course publish: {', '.join(str(c.path) for c in drift)} differ from "
                f"solutions/: run `course release --lesson {lesson}` first"
            )
            return 1
        outbound = publish(
            root / RELEASE_DIR / lesson,
            lesson,
            course_id=course_id,
            exchange=exchange,
            force=args.force,
        )
    except (CourseError, ExchangeError, ValueError) as exc:
        print(f"course publish: {exc}")
        return 2
    print(f"published {lesson} for course {course_id!r}: {outbound}")
    return 0
