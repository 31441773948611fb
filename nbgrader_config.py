"""Lets nbgrader (and JupyterLab's formgrader, started at the repository root) find the course.

The configuration itself lives in ``grader/nbgrader_config.py``.
"""

from pathlib import Path

load_subconfig(  # noqa: F821 - injected by traitlets when it loads this file
    "nbgrader_config.py", path=str(Path(__file__).resolve().parent / "grader")
)
