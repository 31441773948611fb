"""bench/suite_cost.py: what each test file costs in CPU seconds, every process it starts counted."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("suite_cost", ROOT / "bench" / "suite_cost.py")
assert _spec and _spec.loader
suite_cost = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(suite_cost)


def test_each_kind_of_test_file_is_told_apart():
    assert suite_cost.kind("tests/grader/job/test_misconception_corpus.py").startswith(
        "misconception corpus"
    )
    assert suite_cost.kind("solutions/lesson8/lesson8.ipynb").startswith("solution notebooks")
    assert suite_cost.kind("tests/test_student_notebooks.py").startswith("student notebooks")
    assert suite_cost.kind("tests/grader/hub/test_hub.py").startswith("JupyterHub")
    assert suite_cost.kind("tests/grader/job/test_guard.py").startswith("grader")
    assert suite_cost.kind("tests/test_browser.py").startswith("browser")
    assert suite_cost.kind("tests/test_metrics.py").startswith("everything else")


class FakeCounter:
    """CPU seconds that advance by 2.5 each time they are read."""

    def __init__(self) -> None:
        self.now = 0.0

    def seconds(self) -> float:
        self.now += 2.5
        return self.now


def test_the_plugin_writes_one_row_per_file_with_its_own_cpu_time(tmp_path):
    out = tmp_path / "files.jsonl"
    plugin = suite_cost.Plugin(FakeCounter(), out)
    a, b = (SimpleNamespace(path=ROOT / "tests" / name) for name in ("test_a.py", "test_b.py"))
    for item, nextitem in [(a, a), (a, b), (b, None)]:
        plugin.pytest_runtest_protocol(item, nextitem)
        plugin.pytest_runtest_logfinish("id", None)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["file"], r["tests"], r["cpu"]) for r in rows] == [
        ("tests/test_a.py", 2, 2.5),
        ("tests/test_b.py", 1, 2.5),
    ]


def test_the_table_gives_the_least_wall_time_the_cores_allow(tmp_path):
    rows = [
        {
            "file": "tests/grader/job/test_misconception_corpus.py",
            "cpu": 300.0,
            "wall": 200.0,
            "tests": 9,
        },
        {"file": "tests/test_metrics.py", "cpu": 100.0, "wall": 90.0, "tests": 80},
    ]
    text = "\n".join(suite_cost.table(rows, 1, total=500.0, wall=450.0, command="c"))
    cores = os.cpu_count() or 1
    assert f"at least **{500 / cores:.0f} s**" in text
    assert (
        "| misconception corpus (every case graded by the sandboxed grader) | 300 | 60% |" in text
    )
    assert "test_misconception_corpus.py | 9 | 300.0" in text
    assert "test_metrics.py | 80" not in text  # --top 1


def test_writing_replaces_only_its_own_section(tmp_path):
    out = tmp_path / "RESULTS.md"
    other = (
        "# Benchmarks\n\n## Lessons\n\n| a | 1 |\n\n<!-- begin: hub -->\nhub\n<!-- end: hub -->\n"
    )
    out.write_text(other)
    first = [suite_cost.BEGIN, "first", suite_cost.END, ""]
    second = [suite_cost.BEGIN, "second", suite_cost.END, ""]
    suite_cost.write(out, first)
    suite_cost.write(out, second)
    text = out.read_text()
    assert text.startswith(other.rstrip("\n"))
    assert "second" in text and "first" not in text and text.count(suite_cost.BEGIN) == 1


def test_the_counter_counts_the_cpu_time_of_a_process_put_in_its_cgroup():
    if os.geteuid() != 0:
        pytest.skip("making a cgroup needs root")
    try:
        counter = suite_cost.Counter()
    except SystemExit as exc:
        pytest.skip(str(exc))
    try:
        burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.4: pass"
        child = subprocess.Popen(
            [sys.executable, "-c", burn], preexec_fn=lambda: counter.add(os.getpid())
        )
        child.wait()
        assert 0.4 <= counter.seconds() < 5
    finally:
        counter.remove()
    assert not counter.path.exists()
