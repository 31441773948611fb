"""The graded kernel's lock-down (``grader.sandbox.lockdown``): limits, an allow-list root,
nothing of the course but what the kernel needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import limits as sandbox

pytestmark = pytest.mark.long(4)

ROOT = Path(__file__).resolve().parents[3]


def test_kernel_limits_stop_a_memory_bomb():
    code = (
        "from grader.sandbox.lockdown import apply_limits\n"
        "apply_limits({'memory_mb': 256, 'file_mb': 1, 'processes': 4096})\n"
        "try:\n    bytearray(2 * 2**30)\nexcept MemoryError:\n    print('stopped')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "stopped", done.stderr


@pytest.mark.skipif(not sandbox.detect().filesystem, reason="no mount namespace on this machine")
def test_kernel_lockdown_leaves_only_its_folder_writable(tmp_path):
    secret, work, other = tmp_path / "secret", tmp_path / "work", tmp_path / "other.txt"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    work.mkdir()
    other.write_text("untouched")
    code = (
        "import os\nfrom grader.sandbox.lockdown import allowed_paths, lock_filesystem, drop_capabilities\n"
        f"lock_filesystem(allowed_paths([{str(other)!r}]), {str(work)!r})\ndrop_capabilities()\n"
        f"print(os.path.exists({str(secret)!r}))\n"
        f"open({str(work / 'ok.txt')!r}, 'w').write('fine')\n"
        f"try:\n    open({str(other)!r}, 'w')\nexcept OSError as e:\n    print('refused', e.errno)\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('CapEff')][0])\n"
    )
    done = subprocess.run(
        [*sandbox.detect().prefix, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split("\n")[:3] == ["False", "refused 30", "0000000000000000"], done.stderr
    assert (work / "ok.txt").read_text() == "fine" and other.read_text() == "untouched"


# What a fresh interpreter in the locked-down kernel finds (run with -c after lock_filesystem).
_LOOK_AROUND = """
import json, os, sys
root = sys.argv[1]
found = {"root": sorted(os.listdir(root)) if os.path.isdir(root) else None}
for name in ("solutions", "tests", "grader", ".git", "bench"):
    found[name] = os.path.exists(os.path.join(root, name))
try:
    open(os.path.join(root, "solutions", "lesson1", "lesson1.ipynb")).read()
    found["read_solution"] = True
except OSError:
    found["read_solution"] = False
import course_utils.checks, torch
found["course_utils"] = os.path.dirname(course_utils.__file__)
found["torch"] = torch.__version__
try:
    import grader.job.guard
    found["grader"] = True
except ImportError:
    found["grader"] = False
print(json.dumps(found))
"""


@pytest.mark.slow
@pytest.mark.skipif(not sandbox.detect().filesystem, reason="no mount namespace on this machine")
def test_kernel_sees_the_allow_list_and_nothing_else_of_the_course(tmp_path):
    """A kernel cannot list or read the repository, but imports course_utils and torch."""
    code = (
        "import subprocess, sys\n"
        "from grader.sandbox.lockdown import allowed_paths, lock_filesystem, drop_capabilities\n"
        f"lock_filesystem(allowed_paths(), {str(tmp_path)!r}, hide=[{str(ROOT / 'solutions')!r}])\n"
        "drop_capabilities()\n"
        f"sys.exit(subprocess.run([sys.executable, '-c', {_LOOK_AROUND!r}, {str(ROOT)!r}]).returncode)\n"
    )
    done = subprocess.run(
        [*sandbox.detect().prefix, sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    import course_utils

    package = Path(course_utils.__file__).resolve().parent
    visible = {package.name} if package.parent == ROOT else set()
    if Path(sys.prefix).resolve().parent == ROOT:
        visible.add(Path(sys.prefix).resolve().name)
    assert set(found["root"] or []) <= visible, found["root"]
    assert not any(found[k] for k in ("solutions", "tests", "grader", ".git", "bench"))
    assert not found["read_solution"] and not found["grader"]
    assert found["course_utils"] == str(package) and found["torch"]
