"""``course doctor``: is this machine ready for the course? Each line says OK or what to do."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PACKAGES = ("torch", "torchvision", "nbgrader", "jupyterlab", "nbval", "scikit-learn", "matplotlib")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def _jupyter(*args: str) -> str:
    exe = shutil.which("jupyter")
    if exe is None:
        return ""
    proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)
    return ANSI.sub("", proc.stdout + proc.stderr)


def check_versions() -> list[Check]:
    checks = []
    for pkg in PACKAGES:
        try:
            checks.append(Check(pkg, True, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            checks.append(
                Check(pkg, False, "not installed: run `make lab` or `make test` to install")
            )
    return checks


def check_device() -> Check:
    from course_utils.training import select_device

    dev = select_device("auto")
    detail = str(dev)
    if dev.type == "cuda":
        import torch

        detail += f" ({torch.cuda.get_device_name(0)})"
    return Check("compute device", True, detail)


def check_extensions() -> list[Check]:
    server = _jupyter("server", "extension", "list")
    lab = _jupyter("labextension", "list")
    wanted = ("formgrader", "validate_assignment", "assignment_list")
    server_ok = all(
        re.search(rf"nbgrader\.server_extensions\.{w}\s+enabled", server) for w in wanted
    )
    lab_ok = bool(re.search(r"@jupyter/nbgrader\s+v\S+\s+enabled\s+OK", lab))
    fix = "reinstall nbgrader in the course environment (make lab)"
    return [
        Check(
            "nbgrader server extensions",
            server_ok,
            "enabled" if server_ok else f"not enabled: {fix}",
        ),
        Check("nbgrader lab extension", lab_ok, "enabled" if lab_ok else f"not enabled: {fix}"),
        Check(
            "alembic on PATH",
            shutil.which("alembic") is not None,
            shutil.which("alembic")
            or "missing: nbgrader needs it; use `make lab` or put .venv/bin on PATH",
        ),
    ]


def check_assets() -> list[Check]:
    from course_utils import backbones, shapes

    checks = []
    try:
        path = backbones.verify_course_weights()
        checks.append(Check("course weights", True, f"{path.name} intact (SHA-256 matches)"))
    except (backbones.WeightsError, ValueError) as exc:
        checks.append(Check("course weights", False, str(exc)))
    try:
        x, y = shapes.generate(shapes.TARGET_CLASSES, 2, seed=0)
        from sklearn.datasets import load_breast_cancer, load_digits

        n_real = len(load_breast_cancer().target) + len(load_digits().target)
        checks.append(
            Check(
                "course data",
                True,
                f"shapes generator ok ({len(y)} test images), bundled real data {n_real} samples",
            )
        )
    except Exception as exc:  # any failure here is what the doctor must report
        checks.append(Check("course data", False, f"{type(exc).__name__}: {exc}"))
    return checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--skip-extensions", action="store_true", help="skip the (slow) jupyter extension listing"
    )


def run(args: argparse.Namespace) -> int:
    checks = [Check("python", True, sys.version.split()[0]), *check_versions(), check_device()]
    if not args.skip_extensions:
        checks += check_extensions()
    checks += check_assets()
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'OK ' if c.ok else 'FIX'}  {c.name:<{width}}  {c.detail}")
    bad = [c for c in checks if not c.ok]
    print("all good" if not bad else f"{len(bad)} problem(s) above")
    return 0 if not bad else 1
