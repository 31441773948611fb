"""Sub-commands of the ``course`` CLI, one module each."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_root_argument(parser: argparse.ArgumentParser, purpose: str = "") -> None:
    """``--root``: the course root; by default the folder at or above cwd holding grader/."""
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"course root{purpose} (default: the folder above cwd holding grader/)",
    )
