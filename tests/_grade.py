"""What the grading tests share: ``course grade``'s command line, and the processes a job left."""

from __future__ import annotations

import os
from pathlib import Path


def grade_args(
    course: Path,
    out: Path,
    *extra: str,
    submissions: Path | None = None,
    jobs: int | None = None,
    cell_timeout: int = 60,
    timeout: int = 300,
) -> list[str]:
    """``grade --root COURSE [--submissions S] --out OUT [--jobs N] --cell-timeout --timeout EXTRA``."""
    args = ["grade", "--root", str(course)]
    args += ["--submissions", str(submissions)] if submissions is not None else []
    args += ["--out", str(out)]
    args += ["--jobs", str(jobs)] if jobs is not None else []
    return [*args, "--cell-timeout", str(cell_timeout), "--timeout", str(timeout), *extra]


def running(argument: str) -> list[int]:
    """Pids of the processes on this machine with ``argument`` as one of their arguments."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if argument.encode() in Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0"):
                found.append(int(entry))
        except OSError:
            continue
    return found
