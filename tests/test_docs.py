"""What the READMEs promise, checked against the repository: pyproject, the Makefile, the ``course``
command and the grader's package tree.
"""

from __future__ import annotations

import re
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


# --- the course command and the package tree, as the READMEs show them ----------------------

COMMAND_LINE = re.compile(r"^(?:sudo )?course ([a-z][a-z-]*)", re.MULTILINE)


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def _commands_in(path: Path) -> set[str]:
    return {
        name for block in _blocks(path.read_text(), "bash") for name in COMMAND_LINE.findall(block)
    }


def test_readme_lists_every_course_command_and_no_other():
    from grader import cli

    parser = cli.build_parser()
    shown = parser.format_help()
    assert all(name in shown for name in cli.COMMANDS)  # what ``course --help`` lists
    assert _commands_in(ROOT / "README.md") == set(cli.COMMANDS)


def test_grader_readme_shows_only_real_commands():
    from grader import cli

    named = _commands_in(ROOT / "grader" / "README.md")
    assert named and named <= set(cli.COMMANDS), named - set(cli.COMMANDS)


def _tree(text: str) -> set[str]:
    """The paths of grader/README's package tree (two spaces of indent per level)."""
    section = text.split("## The package", 1)[1]
    block = _blocks(section, "text")[0]
    paths, stack = set(), []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = (len(line) - len(line.lstrip(" "))) // 2
        name = line.split()[0]
        stack[indent:] = [name.rstrip("/")]
        paths.add("/".join(stack) + ("/" if name.endswith("/") else ""))
    return paths


def test_grader_readme_tree_is_the_package():
    shown = _tree((ROOT / "grader" / "README.md").read_text())
    package = ROOT / "grader"
    real = {"grader/"} | {
        f"grader/{p.relative_to(package).as_posix()}"
        for p in package.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    real |= {
        f"grader/{p.relative_to(package).as_posix()}/"
        for p in package.iterdir()
        if p.is_dir()
        and p.name != "__pycache__"
        and ((p / "__init__.py").exists() or p.name == "templates")
    }
    assert sorted(shown ^ real) == [], "grader/README.md's tree and grader/ differ"


def test_tests_mirror_the_grader_subpackages():
    subpackages = {p.name for p in (ROOT / "grader").iterdir() if (p / "__init__.py").exists()}
    folders = {
        p.name
        for p in (ROOT / "tests" / "grader").iterdir()
        if p.is_dir() and p.name != "__pycache__"
    }
    assert folders <= subpackages, folders - subpackages


# A path into the repository as the docs write it: `grader/job/records.py`, tests/test_x.py.
DOC_PATH = re.compile(
    r"\b((?:grader|course_utils|tests|bench|docs|hub)/[\w/.-]+\.(?:py|md|j2|json|cfg))"
)


def test_every_repository_path_the_docs_name_exists():
    """A module moved (issue 27 moved most of grader/) leaves no doc pointing at its old place."""
    docs = [
        ROOT / "README.md",
        ROOT / "grader" / "README.md",
        *sorted((ROOT / "docs").glob("*.md")),
    ]
    named = {
        (doc.relative_to(ROOT).as_posix(), path)
        for doc in docs
        for path in DOC_PATH.findall(doc.read_text())
        if "lessonN" not in path  # a pattern, not a file
    }
    assert len(named) > 20, "no paths found: the scan is broken"
    missing = sorted((doc, path) for doc, path in named if not (ROOT / path).exists())
    assert not missing, f"the docs name paths that do not exist: {missing}"
