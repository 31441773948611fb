"""The ``course grade`` command line the grading tests run: one place for its shape."""

from __future__ import annotations

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
