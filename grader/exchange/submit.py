"""nbgrader's submit with a submission folder that only its owner can change.

nbgrader's ``ExchangeSubmit`` leaves each submission folder mode 0777 ("so the
instructor can delete later"): any student who learns a classmate's folder name
can replace the notebook inside. The hub's student config
(``c.ExchangeFactory.submit = "grader.exchange.submit.PrivateSubmit"``) makes it 0755:
the instructor still reads it, nobody else writes into it. ``course collect``
checks every file's owner anyway (grader/exchange/instructor.py), for folders made by a
plain nbgrader.
"""

from __future__ import annotations

import os

from nbgrader.exchange.default import ExchangeSubmit


class PrivateSubmit(ExchangeSubmit):
    """``nbgrader submit``, then the submission folder made 0755 (owner writes, others read)."""

    def copy_files(self) -> None:
        """Submit as nbgrader does, then take the write bits of group and others away."""
        super().copy_files()
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), 0o755)
