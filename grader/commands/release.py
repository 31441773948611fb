"""``course release``: regenerate ``notebooks/lessonN/lessonN.ipynb`` from ``solutions/``.

Writes only files whose content changed, and only over notebooks that
``course release`` wrote and nobody edited since; ``--check`` writes nothing
and fails when ``notebooks/`` drifted from what it would generate. Both refuse
a solution whose headings promise other points than its test cells give;
``--verify`` also grades each solution in the sandbox against its own tests
and refuses unless it scores full marks; ``--refresh-outputs`` runs the
solutions again and stores their outputs (see ``grader.authoring.lesson_checks``).
"""

from __future__ import annotations

import argparse

from grader.commands import add_root_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lesson",
        action="append",
        metavar="N",
        help="only this lesson (a number or a name; repeat for more)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing notebooks that differ from solutions/",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="first grade each solution in the sandbox against its own visible and hidden "
        "tests, and write nothing unless every one scores full marks",
    )
    parser.add_argument(
        "--refresh-outputs",
        action="store_true",
        help="run each chosen solution notebook again and store its outputs in solutions/ "
        "(what nbval compares in make test); then release",
    )
    add_root_argument(parser)


def run(args: argparse.Namespace) -> int:
    from grader._course import CourseError, find_root, select_lessons
    from grader.authoring import lesson_checks as authoring
    from grader.authoring import release

    try:
        root = find_root(args.root)
        chosen = select_lessons(root, args.lesson)
        if args.check and (args.verify or args.refresh_outputs):
            raise CourseError("--check writes nothing: use it without --verify/--refresh-outputs")
        if args.refresh_outputs:
            for path in authoring.refresh_outputs(root, chosen):
                print(f"outputs refreshed: {path.relative_to(root)}")
        problems = authoring.points_problems(root, chosen)
        changes = release.plan(root, chosen, whole_course=not args.lesson)
    except CourseError as exc:
        print(f"course release: {exc}")
        return 2
    if problems:
        for problem in problems:
            print(f"refuse {problem}")
        print(f"wrote nothing: {len(problems)} heading(s) promise other points than their tests")
        return 1
    if not chosen:
        print("no lessons in solutions/ (expected solutions/NAME/NAME.ipynb)")
    drift = [c for c in changes if c.action != release.UNCHANGED]
    blocking = [c for c in changes if c.action in release.BLOCKING]
    if args.check:
        for c in drift:
            print(f"drift  {c.path}: {c.action}" + (f" ({c.reason})" if c.reason else ""))
        if drift and blocking:  # release would refuse: say what to do first, not "run release"
            print(
                f"{len(drift)} file(s) in notebooks/ differ from solutions/; {len(blocking)} of "
                "them need attention first (see the reasons above), then run `course release`"
            )
            return 1
        if drift:
            print(
                f"{len(drift)} file(s) in notebooks/ differ from solutions/: run `course release`"
            )
            return 1
        print(f"notebooks/ is up to date ({len(changes)} file(s) from {len(chosen)} lesson(s))")
        return 0
    if blocking:
        for c in blocking:
            print(f"refuse {c.path}: {c.reason}")
        print(f"wrote nothing: {len(blocking)} file(s) in notebooks/ need attention first")
        return 1
    if args.verify:
        failed = authoring.verify_solutions(root, chosen)
        for problem in failed:
            print(f"refuse {problem}")
        if failed:
            print(f"wrote nothing: {len(failed)} solution(s) fail their own tests")
            return 1
        print(f"verified: {len(chosen)} solution(s) score full marks in the sandbox")
    for c in release.apply(root, changes):
        print(f"{c.action:<7}{c.path}")
    print(f"{len(drift)} written, {len(changes) - len(drift)} unchanged")
    return 0
