"""``course grade``: autograde a folder or zip of submissions into grades.csv and feedback pages.

Each notebook is graded in a sandboxed subprocess (see ``grader/README.md``);
``OUT/grades.csv`` has each student's current grade for the run's lessons, from
the gradebook (missing work scores 0 only where nothing was ever graded),
``OUT/feedback/<student>/<lesson>.html`` is what to hand back, and
``OUT/logs/`` keeps the grader's log of each notebook. A previous
``grades.csv`` with other scores is kept as ``history/grades.<time>.csv``. Every
grade also goes into the course gradebook ``OUT/gradebook.csv`` (see
``grader/books/gradebook.py``), which ``course grades`` exports.

Every file under ``--submissions`` is graded or listed in the "not graded"
table printed last and saved as ``OUT/not_graded.csv``; the command exits 1
while any notebook is unmatched, unless ``--allow-unmatched``. A file holding
an older attempt than the one the gradebook has graded is not graded again.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path

from grader.commands import add_root_argument


def progress_bar(total: int, file=None):
    """A tqdm bar on stderr (``file``) with the time left; silent when that is not a terminal."""
    from tqdm import tqdm

    file = file if file is not None else sys.stderr
    return tqdm(
        total=total,
        file=file,
        unit="notebook",
        dynamic_ncols=True,
        smoothing=0.1,
        disable=not (hasattr(file, "isatty") and file.isatty()),
        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]",
    )


def _default_jobs(memory_mb: int) -> int:
    """One job per core, as many as memory allows at ``memory_mb`` per kernel."""
    cores = os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as fh:
            info = dict(line.split(":", 1) for line in fh)
        available_mb = int(info["MemAvailable"].split()[0]) // 1024
    except (OSError, KeyError, ValueError):
        return 1
    return max(1, min(cores, available_mb // max(memory_mb, 1)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from grader.sandbox.limits import Limits

    d = Limits()
    parser.add_argument(
        "--submissions",
        type=Path,
        required=True,
        metavar="DIR_OR_ZIP",
        help="<student>/<lesson>.ipynb, nbgrader's submitted/ tree, a Canvas, "
        "Moodle or Blackboard download, as a folder or zip",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="where grades.csv, the course gradebook.csv, feedback/ and logs/ go; "
        "grade every lesson into the same DIR",
    )
    parser.add_argument(
        "--roster",
        type=Path,
        default=None,
        metavar="CSV",
        help="class list: a Canvas gradebook or Moodle grades export, or "
        "student_id,name,email; everyone on it gets a grade (0 if missing). "
        "Kept as OUT/roster.csv, which later runs use by default",
    )
    parser.add_argument(
        "--allow-unmatched",
        action="store_true",
        help="exit 0 even when some files could not be given to a student and lesson",
    )
    parser.add_argument(
        "--lessons",
        nargs="+",
        metavar="LESSON",
        help="only these (names or numbers); default: every lesson submitted",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="notebooks graded at once (default: one per core, memory permitting)",
    )
    parser.add_argument(
        "--cell-timeout",
        type=int,
        default=None,
        metavar="S",
        help="seconds one cell may run (default: grader/nbgrader_config.py)",
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=d.notebook_timeout,
        metavar="S",
        help=f"seconds one notebook may take in all (default {d.notebook_timeout})",
    )
    parser.add_argument(
        "--memory",
        type=int,
        default=d.memory_mb,
        metavar="MiB",
        help=f"memory of one kernel: data segment (default {d.memory_mb}); its "
        "address space may be 8 GiB larger",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="start a fresh worker and kernel per notebook instead of forking them from "
        "one warm process that imported torch and nbgrader once (slower; for comparison)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        metavar="DIR",
        help="copy each job folder here (graded notebook, grader log): for debugging",
    )
    add_root_argument(parser)
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="grade on this Dask distributed cluster instead of --jobs local "
        "workers (needs the 'dask' extra; see grader/README.md)",
    )


def current_grades(run: list, rows: dict, students: set[str], lessons: list[str]) -> list:
    """What ``grades.csv`` lists: each of ``students``' current grade for ``lessons``.

    ``run``: the outcomes this run wrote into the gradebook (kept with their notes);
    every other grade comes from the gradebook ``rows``, so a student whose file was not
    in this run keeps the grade an earlier run gave instead of a 0 that an upload would
    spread. ``missing`` (0) only where the gradebook has nothing better.
    """
    from grader.books.results import Outcome

    mine = {(o.student, o.lesson): o for o in run}
    return [
        mine.get((r.student_id, r.assignment))
        or Outcome(r.student_id, r.assignment, r.score, r.max_score, r.status)
        for r in rows.values()
        if r.assignment in lessons and r.student_id in students
    ]


def _lesson_error(requested: list[str], found: list, where: Path) -> str | None:
    """Why ``--lessons`` is wrong (a lesson nobody submitted), naming what was found; or None."""
    by_lesson: dict[str, list[str]] = {}
    for f in found:
        by_lesson.setdefault(f.lesson, []).append(f.origin)
    empty = [lesson for lesson in requested if lesson not in by_lesson]
    if not empty:
        return None
    seen = "; ".join(
        f"{lesson}: {len(files)} file(s) ({', '.join(files[:3])}{', ...' if len(files) > 3 else ''})"
        for lesson, files in by_lesson.items()
    )
    return (
        f"--lessons {' '.join(empty)}: no submission for {', '.join(empty)} in {where}; "
        f"lessons found there: {seen or 'none'}"
    )


def run(args: argparse.Namespace) -> int:
    from grader._common import natural_key
    from grader._course import CourseError, find_root, load_config, select_lessons
    from grader.books import gradebook, results, roster
    from grader.books.results import write_records
    from grader.classwork import intake as layout
    from grader.classwork.engine import Grader
    from grader.sandbox import limits as sandbox

    try:
        root = find_root(args.root)
        available = select_lessons(root, None)
        requested = select_lessons(root, args.lessons) if args.lessons else None
        gradebook.load(args.out)  # a damaged gradebook stops the run now, not after grading
        # The roster a previous run left in OUT keeps the ids the same from week to week.
        kept = args.out / "roster.csv"
        roster_path = args.roster or (kept if kept.is_file() else None)
        class_list = roster.load(roster_path) if roster_path else None
        if class_list and not args.roster:
            print(f"roster: {kept} (copied there by an earlier run; --roster replaces it)")
        cell_timeout = args.cell_timeout or int(load_config(root).Execute.get("timeout", 120))
        limits = sandbox.Limits(
            cell_timeout=cell_timeout, notebook_timeout=args.timeout, memory_mb=args.memory
        )
        jobs = args.jobs if args.jobs is not None else _default_jobs(limits.memory_mb)
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {jobs}")
        if args.scheduler and importlib.util.find_spec("distributed") is None:
            raise ValueError(
                f"--scheduler {args.scheduler} needs Dask: pip install "
                "'swap-the-head[dask]' (or pip install 'dask[distributed]')"
            )
        with tempfile.TemporaryDirectory(prefix="course-submissions-") as unpacked:
            found = layout.discover(args.submissions, available, Path(unpacked), class_list)
            counts = {k: found.lessons_found[k] for k in available if k in found.lessons_found}
            for name, student in sorted(found.renamed.items()):
                print(
                    f"note: {name!r} is graded as student id {student!r} (pass --roster to map names)"
                )
            if requested:
                error = _lesson_error(requested, found.found, args.submissions)
                if error:
                    print(f"course grade: {error}")
                    if found.unmatched:
                        print(layout.not_graded_table(found))
                    return 2
            lessons = requested or list(counts)
            if not lessons:
                print(
                    f"course grade: no submissions for {', '.join(available) or 'any lesson'} "
                    f"in {args.submissions}"
                )
                if found.unmatched or found.ignored:
                    print(layout.not_graded_table(found))
                return 2 if found.unmatched else 1
            if found.unmatched:
                print(
                    f"warning: {len(found.unmatched)} file(s) will NOT be graded: the list is "
                    "printed at the end"
                )
            chosen = [f for f in found.found if f.lesson in lessons]
            others = len(found.found) - len(chosen)
            # An older attempt never replaces a newer one graded in an earlier run.
            book_rows = gradebook.load(args.out)
            kept = []
            for f in list(chosen):
                newer = gradebook.newer_recorded(book_rows, f.student, f.lesson, f.attempt)
                if newer is not None:
                    chosen.remove(f)
                    kept.append(gradebook.kept_message(newer, f.origin, f.attempt))
                    found.superseded.append(
                        (
                            f.origin,
                            "older attempt; the gradebook keeps "
                            + (newer.source or gradebook.describe_attempt(newer.attempt)),
                        )
                    )
            for message in kept:
                print(f"kept: {message}; not graded again")
            if not chosen:
                print(
                    f"course grade: nothing to grade for {', '.join(lessons)}: the gradebook "
                    "already holds newer attempts of every submission"
                )
                print(layout.not_graded_table(found))
                layout.write_not_graded(args.out, found)
                return 1 if found.unmatched and not args.allow_unmatched else 0
            if others:
                print(
                    f"note: {others} submission(s) for other lessons than {', '.join(lessons)} "
                    "are not graded in this run"
                )
            students = sorted(
                {f.student for f in chosen} | set(class_list.ids if class_list else ()),
                key=natural_key,
            )
            work = [(f.student, f.lesson, f.path) for f in chosen]
            sources = {(f.student, f.lesson): (f.origin, f.late, f.attempt) for f in chosen}
            isolation = sandbox.detect()
            where = (
                f"on the Dask cluster at {args.scheduler}"
                if args.scheduler
                else f"with {jobs} job(s); {isolation.describe()}"
            )
            print(
                f"grading {len(work)} notebook(s) of {len(students)} student(s) for "
                f"{', '.join(lessons)} {where}"
            )
            start = time.monotonic()

            bar = progress_bar(len(work))

            def progress(i: int, n: int, o: results.Outcome) -> None:
                bar.write(
                    f"[{i}/{n}] {o.student} {o.lesson}: {o.score:g}/{o.max_score:g} "
                    f"{o.status} ({o.seconds:.1f} s)",
                    file=sys.stdout,
                )
                bar.update(1)

            hide = (args.submissions.resolve(),) if args.submissions.is_dir() else ()
            with (
                Grader(
                    root,
                    lessons,
                    limits=limits,
                    jobs=jobs,
                    isolation=isolation,
                    hide=hide,
                    keep=args.keep,
                    warm=not args.cold,
                ) as grader,
                bar,
            ):
                outcomes = grader.grade(
                    work,
                    args.out,
                    progress,
                    scheduler=args.scheduler,
                    say=lambda text: bar.write(text, file=sys.stdout),
                )
                if not args.scheduler:
                    print(grader.engine.describe())
                graded = {(o.student, o.lesson) for o in outcomes}
                outcomes += [
                    results.Outcome(s, lesson, 0.0, grader.lessons[lesson].max_score, "missing")
                    for s in students
                    for lesson in lessons
                    if (s, lesson) not in graded
                ]
            for o in outcomes:
                if sources.get((o.student, o.lesson), ("", False))[1]:
                    o.notes.append("submitted late (the LMS says so)")
    except (CourseError, layout.LayoutError, ValueError) as exc:
        print(f"course grade: {exc}")
        return 2
    except OSError as exc:  # the Dask scheduler cannot be reached
        if not args.scheduler:
            raise
        print(f"course grade: the Dask scheduler at {args.scheduler} failed: {exc}")
        return 2
    recorded = gradebook.record(args.out, outcomes, sources)
    fresh = [o for o in outcomes if (o.student, o.lesson) in recorded.written]
    current = current_grades(
        fresh, gradebook.load(args.out), {o.student for o in outcomes}, lessons
    )
    path, backup = results.write_grades(args.out, current)
    if args.roster:
        roster_copy = args.out / "roster.csv"
        content = args.roster.read_text(encoding="utf-8-sig")
        gradebook.keep_aside(roster_copy, content)
        roster_copy.write_text(content, encoding="utf-8")
    records, records_backup = write_records(args.out, fresh)
    print(results.summary(current, lessons))
    print(f"wrote {path} ({len(current)} rows) in {time.monotonic() - start:.0f} s")
    if backup:
        print(f"the previous grades.csv had other scores: kept as {backup}")
    print(
        f"gradebook {recorded.path}: {recorded.replaced} row(s) replaced, {recorded.added} "
        f"added; `course grades --out {args.out}` exports it"
    )
    for message in recorded.kept:
        print(f"kept: {message}")
    if records_backup:
        print(f"the previous {records.name} differed: kept as {records_backup}")
    print(f"per-exercise records in {records}: `course report {args.out}` summarises them")
    review = [o for o in outcomes if o.needs_review]
    if review:
        print(f"{len(review)} notebook(s) need a look: see the notes above and {args.out / 'logs'}")
    table = layout.not_graded_table(found)
    saved = layout.write_not_graded(args.out, found)
    if table:
        print()
        print(table)
        print(f"(saved as {saved})")
    if found.unmatched and not args.allow_unmatched:
        print(
            f"course grade: {len(found.unmatched)} file(s) NOT GRADED (listed above): rename or "
            "remove them, add the student to --roster, or pass --allow-unmatched"
        )
        return 1
    return 0
