"""What the READMEs promise, checked against the repository: pyproject, the Makefile, the ``course``
command and the grader's package tree.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_make_lab_adds_allow_root_only_for_root():
    import os
    import subprocess

    dry = subprocess.run(
        ["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    line = next(x for x in dry.stdout.splitlines() if "--ServerApp.root_dir" in x)
    assert ("--allow-root" in line) == (os.getuid() == 0)


def test_readme_matches_pyproject_and_the_repository():
    import tomllib

    readme = (ROOT / "README.md").read_text()
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.startswith(">=") and f"Python {python[2:]} or newer" in readme
    assert "issue notes" not in readme
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    for dep in deps:  # the CPU-only install line keeps to the course's torch range
        if dep.startswith(("torch>", "torchvision>")):
            assert f'"{dep}"' in readme, dep
    for promise in (
        "--allow-root",
        "--ip=0.0.0.0 --no-browser",
        ".venv/bin/course",
        "pip install -e .",
        "--index-url https://download.pytorch.org/whl/cpu",
    ):
        assert promise in readme, promise
