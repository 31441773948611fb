"""nbgrader's cell vocabulary, shared by the job's feedback page and its cell records.

The markers that fence hidden tests and solutions, a cell's source as one
string, and its ``nbgrader`` metadata: one definition each, so that what the
feedback page strips and what the records call a hidden test cannot drift apart.
"""

from __future__ import annotations

HIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
SOLUTION = ("BEGIN SOLUTION", "END SOLUTION")


def source(cell) -> str:
    """The cell's source as one string (nbformat allows a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def nbgrader_meta(cell) -> dict:
    """The cell's ``metadata.nbgrader`` (empty for a cell nbgrader does not know)."""
    return cell.get("metadata", {}).get("nbgrader", {})
