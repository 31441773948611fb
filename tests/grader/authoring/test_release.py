"""``course release``: notebooks/ is what solutions/ generates, and shows no grader-only text."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from submissions import fake_course  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._course import find_root, lessons
from grader.authoring import release

pytestmark = pytest.mark.long(43)

ROOT = Path(__file__).resolve().parents[3]
LESSONS = lessons(ROOT)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def _text(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def grader_only_lines(source_nb) -> set[str]:
    """Lines inside solution or hidden-test regions that appear nowhere else in the source."""
    inside, outside = set(), []
    for cell in source_nb["cells"]:
        region = False
        solution_cell = cell.get("metadata", {}).get("nbgrader", {}).get("solution", False)
        has_markers = "BEGIN SOLUTION" in _text(cell)
        for line in _text(cell).splitlines():
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                region = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                region = False
            elif region or (solution_cell and not has_markers):
                inside.add(line.strip())
            else:
                outside.append(line)
    visible = "\n".join(outside)
    return {line for line in inside if len(line) >= 10 and line not in visible}


# --- the repository's notebooks/ ---


@pytest.mark.slow
def test_notebooks_match_what_release_generates():
    changes = release.plan(ROOT, LESSONS, whole_course=True)
    drift = [f"{c.path}: {c.action} {c.reason}" for c in changes if c.action != release.UNCHANGED]
    assert not drift, "notebooks/ drifted from solutions/; run `course release`:\n" + "\n".join(
        drift
    )


@pytest.mark.parametrize("lesson", LESSONS)
def test_student_notebook_shows_no_solution_or_hidden_test(lesson):
    student = ROOT / "notebooks" / lesson / f"{lesson}.ipynb"
    if not student.exists():
        pytest.fail(f"{student.relative_to(ROOT)} is missing: run `course release`")
    text = "\n".join(_text(c) for c in json.loads(student.read_text())["cells"])
    source = json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text())
    leaked = sorted(line for line in grader_only_lines(source) if line in text)
    assert not leaked, f"{lesson}: grader-only lines in the student notebook: {leaked[:5]}"
    assert not [m for m in MARKERS if m in text]


def test_nbgrader_finds_the_course_from_the_repository_root():
    """The formgrader (JupyterLab started at the root) reads the root config, which loads grader/."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    cd = config.CourseDirectory
    assert (cd.root, cd.source_directory, cd.release_directory) == (
        str(ROOT),
        "solutions",
        "notebooks",
    )
    assert cd.db_url == f"sqlite:///{ROOT / 'grader' / 'gradebook.db'}"
    assert config.OverwriteCells.add_missing_cells is True
    assert config.Execute.kernel_name == "python3" and config.Execute.timeout >= 120


def test_gradebooks_get_the_revision_nbgraders_own_alembic_call_gives(tmp_path):
    """``alembic_head`` reads in-process what nbgrader runs ``alembic heads`` for."""
    import subprocess
    import sys

    from nbgrader import dbutil

    from grader._course import alembic_head

    dbutil.write_alembic_ini(str(tmp_path / "alembic.ini"), f"sqlite:///{tmp_path / 'g.db'}")
    alembic = Path(sys.executable).parent / "alembic"
    heads = subprocess.run(
        [str(alembic), "-c", str(tmp_path / "alembic.ini"), "heads"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert heads.stdout.split()[0] == alembic_head()


# --- normalisation (no nbgrader needed) ---


def _messy_notebook():
    nb = fake_course.lesson("intro", 2)
    code = nb.cells[1]
    code.execution_count = 7
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="set up\n")]
    code.metadata["ExecuteTime"] = {"start": "2024-01-01"}
    code.metadata["tags"] = ["keep-me"]
    nb.cells[0].pop("id", None)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    return nb


def test_normalize_drops_volatile_state_and_is_idempotent():
    text = release.normalize(_messy_notebook(), "solutions/intro/intro.ipynb")
    nb = json.loads(text)
    assert set(nb["metadata"]) == {"kernelspec", "language_info", release.MARKER}
    assert nb["metadata"]["language_info"] == {"name": "python"}
    code = nb["cells"][1]
    assert code["outputs"] == [] and code["execution_count"] is None
    assert set(code["metadata"]) == {"nbgrader", "tags"}
    assert nb["cells"][0]["id"] == "cell-0"
    assert (
        text.endswith("\n")
        and text == json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    )
    again = release.normalize(nbformat.reads(text, as_version=4), "solutions/intro/intro.ipynb")
    assert again == text


def test_safe_to_replace_only_untouched_generated_notebooks():
    text = release.normalize(fake_course.lesson("intro", 2), "solutions/intro/intro.ipynb")
    newer = release.normalize(fake_course.lesson("intro", 3), "solutions/intro/intro.ipynb")
    assert release.safe_to_replace(text.encode(), newer)[0]
    edited = json.loads(text)
    edited["cells"][2]["source"] = "def power_of(x):\n    return x * x  # my work"
    ok, why = release.safe_to_replace(json.dumps(edited).encode(), newer)
    assert not ok and "edited" in why
    hand_made = json.loads(text)
    del hand_made["metadata"][release.MARKER]
    hand_made["cells"].pop()
    ok, why = release.safe_to_replace(json.dumps(hand_made).encode(), newer)
    assert not ok and "not written by" in why
    assert not release.safe_to_replace(b"{not json", newer)[0]


# --- the command, on a fake course ---


@pytest.fixture
def course(tmp_path):
    return fake_course.make(tmp_path / "course")


def _release(course, *extra):
    return cli.main(["release", "--root", str(course), *extra])


@pytest.mark.slow
def test_release_writes_checks_and_never_overwrites_work(course, capsys):
    assert find_root(course / "solutions") == course
    assert _release(course, "--check") == 1  # nothing released yet
    assert _release(course) == 0
    student = course / "notebooks" / "intro" / "intro.ipynb"
    first = student.read_bytes()
    assert b"the secret step" not in first and b"HIDDEN" not in first
    assert _release(course, "--check") == 0
    assert _release(course) == 0 and student.read_bytes() == first  # byte-stable
    capsys.readouterr()

    # A changed solution is drift; releasing it replaces the untouched notebook.
    nbformat.write(fake_course.lesson("intro", 5), course / "solutions" / "intro" / "intro.ipynb")
    assert _release(course, "--check") == 1
    assert "notebooks/intro/intro.ipynb: update" in capsys.readouterr().out
    assert _release(course) == 0 and student.read_bytes() != first

    # Someone's edits, or a file release did not make: nothing is written.
    mine = json.loads(student.read_text())
    mine["cells"][2]["source"] = "def power_of(x):\n    return 42  # my attempt"
    student.write_text(json.dumps(mine))
    stray = course / "notebooks" / "intro" / "scratch.ipynb"
    stray.write_text("{}")
    nbformat.write(fake_course.lesson("intro", 2), course / "solutions" / "intro" / "intro.ipynb")
    capsys.readouterr()
    assert _release(course) == 1
    out = capsys.readouterr().out
    assert (
        "refuse notebooks/intro/intro.ipynb" in out
        and "refuse notebooks/intro/scratch.ipynb" in out
    )
    assert "my attempt" in student.read_text() and stray.read_text() == "{}"

    # --lesson limits the release to that lesson's folder.
    assert _release(course, "--lesson", "basics") == 0
    assert (course / "notebooks" / "basics" / "basics.ipynb").exists()
    assert _release(course, "--lesson", "nope") == 2


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """The fake two-lesson course (tests/submissions/fake_course.py)."""
    return fake_course.make(tmp_path_factory.mktemp("fake") / "course")


@pytest.mark.slow
def test_release_check_does_not_advise_a_release_that_would_refuse(fake, tmp_path, capsys):
    import shutil

    root = tmp_path / "course"
    shutil.copytree(fake, root)
    assert cli.main(["release", "--root", str(root)]) == 0
    student = root / "notebooks" / "intro" / "intro.ipynb"
    nb = nbformat.read(student, as_version=4)
    nb.cells[0].source += "\nmy notes"  # a person edited the generated notebook
    nbformat.write(nb, student)
    capsys.readouterr()
    assert cli.main(["release", "--root", str(root), "--check"]) == 1
    printed = capsys.readouterr().out
    assert "need attention first" in printed and "then run `course release`" in printed
    assert cli.main(["release", "--root", str(root)]) == 1  # release refuses, as --check said
