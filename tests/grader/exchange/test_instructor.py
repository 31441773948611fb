"""grader.exchange.instructor on a private exchange folder, as the current user: fast, no accounts.

The class round trip with real accounts and a hub is tests/grader/hub/test_hub.py.
"""

from __future__ import annotations

import getpass
import secrets

import nbformat
import pytest

from grader.exchange import instructor as exchange

# nbgrader's exchange classes take seconds to import and run on a loaded 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.long(2)]

COURSE = "swap-the-head"
LESSON = "lesson1"


@pytest.fixture
def released(tmp_path):
    folder = tmp_path / "notebooks" / LESSON
    folder.mkdir(parents=True)
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]),
        folder / f"{LESSON}.ipynb",
    )
    return folder


def _submit(root, student: str, stamp: str, text: str):
    """A submission folder as nbgrader's submit writes it."""
    folder = root / COURSE / "inbound" / f"{student}+{LESSON}+{stamp}+{secrets.token_hex(6)}"
    folder.mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    nbformat.write(nb, folder / f"{LESSON}.ipynb")
    (folder / "timestamp.txt").write_text(stamp)
    (folder / "submission_secret.txt").write_text(secrets.token_hex(16))
    return folder


def test_publish_refuses_to_replace_without_force(released, tmp_path):
    root = tmp_path / "exchange"
    outbound = exchange.publish(released, LESSON, course_id=COURSE, exchange=root)
    assert (outbound / f"{LESSON}.ipynb").is_file()
    with pytest.raises(exchange.ExchangeError, match="already exists"):
        exchange.publish(released, LESSON, course_id=COURSE, exchange=root)
    exchange.publish(released, LESSON, course_id=COURSE, exchange=root, force=True)
    with pytest.raises(exchange.ExchangeError, match="course release"):
        exchange.publish(tmp_path, LESSON, course_id=COURSE, exchange=root)
    with pytest.raises(ValueError, match="'../x'"):
        exchange.publish(released, "../x", course_id=COURSE, exchange=root)
    with pytest.raises(TypeError, match="lesson must be a str"):
        exchange.publish(released, 1, course_id=COURSE, exchange=root)


def test_collect_takes_the_latest_own_submission_and_refuses_forged_names(released, tmp_path):
    root, me = tmp_path / "exchange", getpass.getuser()
    exchange.publish(released, LESSON, course_id=COURSE, exchange=root)
    _submit(root, me, "2026-01-01 10:00:00.000000 UTC", "first")
    _submit(root, me, "2026-01-02 10:00:00.000000 UTC", "second")
    # Owned by the current user, but naming someone else: never collected as theirs.
    forged = _submit(root, "someone-else", "2026-01-03 10:00:00.000000 UTC", "forged")
    found, warnings = exchange.collect(LESSON, tmp_path / "out", course_id=COURSE, exchange=root)
    assert [(c.student, c.timestamp) for c in found] == [(me, "2026-01-02 10:00:00.000000 UTC")]
    assert "second" in (found[0].path / f"{LESSON}.ipynb").read_text()
    assert (
        len(warnings) == 1 and forged.name in warnings[0] and "someone else's name" in warnings[0]
    )
    found, _ = exchange.collect(
        LESSON, tmp_path / "out", course_id=COURSE, exchange=root, check_owner=False
    )
    assert sorted(c.student for c in found) == sorted([me, "someone-else"])


def test_return_files_feedback_under_the_submission_secret(released, tmp_path):
    from nbgrader.utils import notebook_hash

    root, me = tmp_path / "exchange", getpass.getuser()
    exchange.publish(released, LESSON, course_id=COURSE, exchange=root)
    _submit(root, me, "2026-01-01 10:00:00.000000 UTC", "mine")
    out = tmp_path / "out"
    (found,), _ = exchange.collect(LESSON, out, course_id=COURSE, exchange=root)
    graded = tmp_path / "graded"
    with pytest.raises(exchange.ExchangeError, match="course grade"):
        exchange.return_feedback(LESSON, graded, out / "submitted", course_id=COURSE, exchange=root)
    (graded / "feedback" / me).mkdir(parents=True)
    (graded / "feedback" / me / f"{LESSON}.html").write_text("<p>well done</p>")
    assert exchange.return_feedback(
        LESSON, graded, out / "submitted", course_id=COURSE, exchange=root
    ) == [me]
    secret = (found.path / "submission_secret.txt").read_text()
    page = root / COURSE / "feedback" / f"{notebook_hash(secret=secret, notebook_id=LESSON)}.html"
    assert page.read_text() == "<p>well done</p>"


def test_collect_refuses_links_and_publish_makes_inbound_sticky(released, tmp_path):
    """A submission whose notebook is a link (to the instructor's solutions, say) is never
    collected: collect runs as the instructor and would copy what the link points at."""
    root, me = tmp_path / "exchange", getpass.getuser()
    exchange.publish(released, LESSON, course_id=COURSE, exchange=root)
    assert (root / COURSE / "inbound").stat().st_mode & 0o1000  # sticky: no renaming others'
    folder = _submit(root, me, "2026-01-01 10:00:00.000000 UTC", "mine")
    secret = tmp_path / "solution.ipynb"
    secret.write_text("the instructor's solution")
    (folder / f"{LESSON}.ipynb").unlink()
    (folder / f"{LESSON}.ipynb").symlink_to(secret)
    for check_owner in (True, False):
        found, warnings = exchange.collect(
            LESSON, tmp_path / "out", course_id=COURSE, exchange=root, check_owner=check_owner
        )
        assert found == [] and "symbolic link" in warnings[0], warnings


def test_a_student_lands_on_the_latest_lesson_fetched(tmp_path):
    from grader.hub.deploy import landing_url

    assert landing_url(tmp_path) == "/lab"
    for n in (2, 10):
        (tmp_path / f"lesson{n}").mkdir()
        (tmp_path / f"lesson{n}" / f"lesson{n}.ipynb").write_text("{}")
    (tmp_path / "lesson99x").mkdir()
    (tmp_path / "lesson99x" / "lesson99x.ipynb").write_text("{}")
    assert landing_url(tmp_path) == "/lab/tree/lesson10/lesson10.ipynb"
