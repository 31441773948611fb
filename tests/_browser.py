"""The Chromium drivers in ``tests/browser``: one way for a test to run them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

DRIVER_DIR = Path(__file__).resolve().parent / "browser"


def run_driver(
    script: str,
    plan: dict,
    plan_path: Path,
    *,
    timeout: int,
    secrets: dict[str, str] | None = None,
    what: str = "the browser driver",
) -> dict:
    """Run ``node tests/browser/SCRIPT PLAN`` and return the JSON it wrote at ``plan["resultPath"]``.

    ``secrets`` (a token, a password) travel in the environment, so they show up in no plan
    file, and are masked in the failure message. Exit 2 means Chromium could not start: the
    test skips with the driver's reason.
    """
    plan_path.write_text(json.dumps(plan))
    done = subprocess.run(
        ["node", str(DRIVER_DIR / script), str(plan_path)],
        cwd=DRIVER_DIR,
        env={**os.environ, **(secrets or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    message = done.stdout + done.stderr
    for name, value in (secrets or {}).items():
        message = message.replace(value, f"<{name}>")
    if done.returncode == 2:
        pytest.skip(f"Chromium cannot be launched: {message.strip()}")
    assert done.returncode == 0, f"{what} failed:\n{message.strip()}"
    return json.loads(Path(plan["resultPath"]).read_text())
