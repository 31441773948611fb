"""``course grade``'s command: what it shows while it grades, whatever runs the jobs."""

from __future__ import annotations

import io

from grader.commands.grade import progress_bar


def test_progress_bar_shows_the_time_left():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with progress_bar(3, file=screen) as bar:
        bar.update(1)
        bar.update(1)
    assert "2/3" in screen.getvalue() and "<" in screen.getvalue()
    quiet = io.StringIO()  # not a terminal (a log file): no bar
    with progress_bar(3, file=quiet) as bar:
        bar.update(3)
    assert quiet.getvalue() == ""
