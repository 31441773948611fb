"""What the test suite costs: CPU seconds per test file, every process it starts included.

    sudo python bench/suite_cost.py [--top 25] [--out bench/RESULTS.md] [PYTEST_ARGS...]

Runs the whole of `make test`'s pytest command serially (one process, so that each file's
cost is its own) inside a fresh cgroup, and reads the cgroup's CPU counter before and after
each test file. A cgroup counts every process the tests start: grading jobs, kernels forked
from a zygote, JupyterHub and its servers, browsers; `getrusage` misses the ones that are
not waited for. Needs root (it makes the cgroup) and cgroup v1 `cpuacct` or cgroup v2.

CPU seconds, unlike wall seconds, barely depend on how busy the machine is, so they say what
the suite needs: on N cores `make test` cannot finish in fewer than (CPU seconds) / N seconds
of wall time, however its files are scheduled. The table goes to the ``suite-cost`` section
of bench/RESULTS.md, with the command that measured it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- begin: suite-cost -->", "<!-- end: suite-cost -->"
# The files of `make test` (Makefile: pytest tests --doctest-modules course_utils $(NBVAL)).
TARGETS = ["tests", "--doctest-modules", "course_utils", "solutions", "--nbval"]
TARGETS += ["--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]

# What each kind of file is for, in the order the table lists them.
KINDS = [
    ("misconception corpus (every case graded by the sandboxed grader)", r"misconception_corpus"),
    ("solution notebooks (nbval)", r"^solutions/"),
    ("student notebooks run top to bottom", r"test_student_notebooks"),
    ("JupyterHub (accounts, servers, exchange)", r"^tests/grader/hub/"),
    ("grader: sandbox, jobs, a class graded, attacks", r"^tests/grader/"),
    ("browser and JupyterLab", r"test_browser|test_lab|test_accessibility"),
    ("everything else (course_utils, checkers, docs, doctests)", r""),
]


class Counter:
    """The CPU time, in seconds, of every process in one cgroup made for this run."""

    def __init__(self) -> None:
        name = f"suite-cost-{os.getpid()}"
        v1 = Path("/sys/fs/cgroup/cpuacct")
        if v1.is_dir():
            self.root, self.file = v1, "cpuacct.usage"
        elif Path("/sys/fs/cgroup/cgroup.controllers").is_file():
            self.root, self.file = Path("/sys/fs/cgroup"), "cpu.stat"
        else:
            raise SystemExit("no cgroup v1 cpuacct or cgroup v2 here: cannot count CPU time")
        self.path = self.root / name
        try:
            self.path.mkdir()
        except PermissionError:
            raise SystemExit(f"cannot create {self.path}: run as root") from None
        self.home: Path | None = None  # where this process was before enter()

    def seconds(self) -> float:
        text = (self.path / self.file).read_text()
        if self.file == "cpuacct.usage":
            return int(text) / 1e9
        return int(re.search(r"usage_usec (\d+)", text)[1]) / 1e6  # type: ignore[index]

    def add(self, pid: int) -> None:
        """Count process ``pid`` (and what it starts from now on)."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def enter(self) -> None:
        """Count this process, and so everything it starts from now on."""
        lines = Path("/proc/self/cgroup").read_text().splitlines()
        want = "cpuacct" if self.file == "cpuacct.usage" else ""
        line = next(x for x in lines if want in x.split(":")[1].split(",") or not want)
        self.home = self.root / line.split(":", 2)[2].lstrip("/")
        self.add(os.getpid())

    def remove(self) -> None:
        """Put this process back where it was and delete the cgroup (its processes have ended)."""
        if self.home is not None:
            (self.home / "cgroup.procs").write_text(str(os.getpid()))
        self.path.rmdir()


class Plugin:
    """Writes one JSON line per test file: its CPU and wall seconds and its number of tests."""

    def __init__(self, counter: Counter, out: Path) -> None:
        self.counter, self.out = counter, out
        self.current: list | None = None  # [path, wall start, CPU start, tests] of the open file
        self.closing = False  # the test running now is its file's last

    def pytest_runtest_protocol(self, item, nextitem):  # noqa: ANN001, ANN201 - pytest hook
        if self.current is None or self.current[0] != item.path:
            self.current = [item.path, time.monotonic(), self.counter.seconds(), 0]
        self.current[3] += 1
        self.closing = nextitem is None or nextitem.path != item.path
        return None

    def pytest_runtest_logfinish(self, nodeid, location):  # noqa: ANN001, ANN201 - pytest hook
        if self.closing and self.current is not None:
            self.closing = False
            path, start, cpu, n = self.current
            row = {
                "file": str(Path(path).relative_to(ROOT)),
                "cpu": round(self.counter.seconds() - cpu, 2),
                "wall": round(time.monotonic() - start, 2),
                "tests": n,
            }
            with self.out.open("a") as f:
                f.write(json.dumps(row) + "\n")
            self.current = None


def kind(path: str) -> str:
    return next(title for title, pattern in KINDS if re.search(pattern, path))


def table(rows: list[dict], top: int, total: float, wall: float, command: str) -> list[str]:
    cores = os.cpu_count() or 1
    files = sum(r["cpu"] for r in rows)
    by_kind = {title: 0.0 for title, _ in KINDS}
    for r in rows:
        by_kind[kind(r["file"])] += r["cpu"]
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}"
    lines = [
        BEGIN,
        "## What the test suite costs (bench/suite_cost.py)",
        "",
        f"_measured {stamp} by `{command}`, serially, on {cores} cores_",
        "",
        f"- CPU seconds of the whole run, every process it started: **{total:.0f}** "
        f"({files:.0f} inside test files, {len(rows)} files); wall {wall:.0f} s serially",
        f"- so on {cores} cores `make test`'s pytest needs at least **{total / cores:.0f} s** "
        "of wall time, however its files are scheduled",
        "",
        "| kind of test file | CPU s | share |",
        "|---|---:|---:|",
    ]
    for title, cpu in sorted(by_kind.items(), key=lambda kv: -kv[1]):
        lines.append(f"| {title} | {cpu:.0f} | {cpu / total:.0%} |")
    lines += ["", f"The {top} costliest files:", "", "| file | tests | CPU s | wall s |"]
    lines.append("|---|---:|---:|---:|")
    for r in sorted(rows, key=lambda r: -r["cpu"])[:top]:
        lines.append(f"| {r['file']} | {r['tests']} | {r['cpu']:.1f} | {r['wall']:.1f} |")
    return [*lines, END, ""]


def write(out: Path, section: list[str]) -> None:
    old = out.read_text() if out.exists() else ""
    old = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n?", "", old, flags=re.S)
    out.write_text(old.rstrip("\n") + "\n\n" + "\n".join(section))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--top", type=int, default=25, help="how many files the table lists")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("pytest_args", nargs="*", help="more pytest arguments (e.g. -k lesson1)")
    args = parser.parse_args()
    counter = Counter()
    rows_path = Path(tempfile.mkdtemp()) / "files.jsonl"
    runner = f"""
import sys, pytest
sys.path.insert(0, {str(ROOT / "bench")!r})
from suite_cost import Counter, Plugin
counter = Counter.__new__(Counter)
counter.path, counter.file = __import__("pathlib").Path({str(counter.path)!r}), {counter.file!r}
plugin = Plugin(counter, __import__("pathlib").Path({str(rows_path)!r}))
sys.exit(pytest.main(sys.argv[1:], plugins=[plugin]))
"""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    # `make test` gives each of its (one per core) workers one thread for torch; so do we.
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    counter.enter()
    start, before = time.monotonic(), counter.seconds()
    try:
        rc = subprocess.call(
            [sys.executable, "-c", runner, *TARGETS, "-p", "no:cacheprovider", *args.pytest_args],
            cwd=ROOT,
            env=env,
        )
        total, wall = counter.seconds() - before, time.monotonic() - start
    finally:
        counter.remove()
    rows = [json.loads(line) for line in rows_path.read_text().splitlines()]
    command = shlex.join(["python", "bench/suite_cost.py", *sys.argv[1:]])
    section = table(rows, args.top, total, wall, command)
    print("\n".join(section))
    if rc != 0:
        print(f"pytest exited {rc}: not written to {args.out}", file=sys.stderr)
        return rc
    write(args.out, section)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
