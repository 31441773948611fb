"""``course new-lesson N``: scaffold lesson N (solution notebook, checker, test stubs).

Writes nothing when any of the lesson's files exists (see ``grader.authoring.scaffold``).
"""

from __future__ import annotations

import argparse

from grader.commands import add_root_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("number", type=int, help="the new lesson's number: N makes lessonN")
    add_root_argument(parser)


def run(args: argparse.Namespace) -> int:
    from grader._course import CourseError, find_root
    from grader.authoring import scaffold

    try:
        root = find_root(args.root)
        written = scaffold.new_lesson(root, args.number)
    except CourseError as exc:
        print(f"course new-lesson: {exc}")
        return 2
    for rel in written:
        print(f"created {rel.as_posix()}")
    name = f"lesson{args.number}"
    print(
        f"next: write the lesson in {written[0].as_posix()} and its checks, then "
        f"`course release --lesson {args.number} --verify` and "
        f"`course release --lesson {args.number} --refresh-outputs` "
        f"(grader/README.md, 'Adding or changing a lesson'); {name} is new: nothing was replaced"
    )
    return 0
