"""``course grade``: autograde a folder or zip of submissions into grades.csv and feedback pages.

Each notebook is graded in a sandboxed subprocess (see ``grader/README.md``);
``OUT/grades.csv`` has one row per student and lesson (missing work scores 0),
``OUT/feedback/<student>/<lesson>.html`` is what to hand back, and
``OUT/logs/`` keeps the grader's log of each notebook. A previous
``grades.csv`` with other scores is kept as ``grades.<time>.csv``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from pathlib import Path


def progress_bar(total: int, file=None):
    """A tqdm bar on stderr (``file``) with the time left; silent when that is not a terminal."""
    from tqdm import tqdm

    file = file if file is not None else sys.stderr
    return tqdm(total=total, file=file, unit="notebook", dynamic_ncols=True, smoothing=0.1,
                disable=not (hasattr(file, "isatty") and file.isatty()),
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]")


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
    from grader.sandbox import Limits

    d = Limits()
    parser.add_argument("--submissions", type=Path, required=True, metavar="DIR_OR_ZIP",
                        help="<student>/<lesson>.ipynb, nbgrader's submitted/ tree, or a zip "
                             "(<student>_<lesson>.ipynb or folders)")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR",
                        help="where grades.csv, feedback/ and logs/ go")
    parser.add_argument("--lessons", nargs="+", metavar="LESSON",
                        help="only these (names or numbers); default: every lesson submitted")
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks graded at once (default: one per core, memory permitting)")
    parser.add_argument("--cell-timeout", type=int, default=None, metavar="S",
                        help="seconds one cell may run (default: grader/nbgrader_config.py)")
    parser.add_argument("--timeout", type=int, default=d.notebook_timeout, metavar="S",
                        help=f"seconds one notebook may take in all (default {d.notebook_timeout})")
    parser.add_argument("--memory", type=int, default=d.memory_mb, metavar="MiB",
                        help=f"memory of one kernel: data segment (default {d.memory_mb}); its "
                             "address space may be 8 GiB larger")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="copy each job folder here (graded notebook, grader log): for debugging")
    parser.add_argument("--root", type=Path, default=None,
                        help="course root (default: the folder above cwd holding grader/)")
    parser.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                        help="grade on this Dask distributed cluster instead of --jobs local "
                             "workers (needs the 'dask' extra; see grader/README.md)")


def run(args: argparse.Namespace) -> int:
    from grader import layout, results, sandbox
    from grader.autograde import Grader
    from grader.course import CourseError, find_root, load_config, select_lessons

    try:
        root = find_root(args.root)
        available = select_lessons(root, None)
        requested = select_lessons(root, args.lessons) if args.lessons else None
        cell_timeout = args.cell_timeout or int(load_config(root).Execute.get("timeout", 120))
        limits = sandbox.Limits(cell_timeout=cell_timeout, notebook_timeout=args.timeout,
                                memory_mb=args.memory)
        jobs = args.jobs if args.jobs is not None else _default_jobs(limits.memory_mb)
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {jobs}")
        if args.scheduler and importlib.util.find_spec("distributed") is None:
            raise ValueError(f"--scheduler {args.scheduler} needs Dask: pip install "
                             "'swap-the-head[dask]' (or pip install 'dask[distributed]')")
        with tempfile.TemporaryDirectory(prefix="course-submissions-") as unpacked:
            found, warnings = layout.discover(args.submissions, available, Path(unpacked))
            for warning in warnings:
                print(f"warning: {warning}")
            lessons = requested or sorted({f.lesson for f in found}, key=available.index)
            if not lessons:
                print(f"no submissions for {', '.join(available) or 'any lesson'} in {args.submissions}")
                return 1
            students = sorted({f.student for f in found})
            work = [(f.student, f.lesson, f.path) for f in found if f.lesson in lessons]
            isolation = sandbox.detect()
            where = (f"on the Dask cluster at {args.scheduler}" if args.scheduler
                     else f"with {jobs} job(s); {isolation.describe()}")
            print(f"grading {len(work)} notebook(s) of {len(students)} student(s) for "
                  f"{', '.join(lessons)} {where}")
            start = time.monotonic()

            bar = progress_bar(len(work))

            def progress(i: int, n: int, o: results.Outcome) -> None:
                bar.write(f"[{i}/{n}] {o.student} {o.lesson}: {o.score:g}/{o.max_score:g} "
                          f"{o.status} ({o.seconds:.1f} s)", file=sys.stdout)
                bar.update(1)

            hide = (args.submissions.resolve(),) if args.submissions.is_dir() else ()
            with Grader(root, lessons, limits=limits, jobs=jobs, isolation=isolation,
                        hide=hide, keep=args.keep) as grader, bar:
                outcomes = grader.grade(work, args.out, progress, scheduler=args.scheduler,
                                        say=lambda text: bar.write(text, file=sys.stdout))
                graded = {(o.student, o.lesson) for o in outcomes}
                outcomes += [results.Outcome(s, lesson, 0.0, grader.lessons[lesson].max_score,
                                             "missing") for s in students for lesson in lessons
                             if (s, lesson) not in graded]
    except (CourseError, layout.LayoutError, ValueError) as exc:
        print(f"course grade: {exc}")
        return 2
    except OSError as exc:  # the Dask scheduler cannot be reached
        if not args.scheduler:
            raise
        print(f"course grade: the Dask scheduler at {args.scheduler} failed: {exc}")
        return 2
    path, backup = results.write_grades(args.out, outcomes)
    print(results.summary(outcomes, lessons))
    print(f"wrote {path} ({len(outcomes)} rows) in {time.monotonic() - start:.0f} s")
    if backup:
        print(f"the previous grades.csv had other scores: kept as {backup}")
    review = [o for o in outcomes if o.needs_review]
    if review:
        print(f"{len(review)} notebook(s) need a look: see the notes above and {args.out / 'logs'}")
    return 0
