"""The sandboxed executor (``grader.job.execute``): what setup cells import, for the guard."""

from __future__ import annotations

from grader.job.execute import imported_modules


def test_imported_modules_finds_what_setup_cells_import():
    source = (
        "import torch\nfrom torch import nn\nfrom course_utils.checks import lesson1 as checks\n"
    )
    assert imported_modules(source) == [
        "torch",
        "torch",
        "torch.nn",
        "course_utils.checks",
        "course_utils.checks.lesson1",
    ]
    assert imported_modules("def broken(:") == []
