"""``course doctor``: is this machine ready for the course? Each line says OK or what to do."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# What the lessons and the grader need (a student's install: `pip install .`); nbval and the other
# test tools come with the `dev` extra, which `make test` installs.
PACKAGES = ("torch", "torchvision", "nbgrader", "jupyterlab", "scikit-learn", "matplotlib")


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
    parser.add_argument(
        "--hub",
        action="store_true",
        help="on the hub machine, as root: try to read the instructor's material (solutions, "
        "git history, gradebook, graded output) as a student account and report what worked",
    )
    parser.add_argument(
        "--hub-dir",
        type=Path,
        default=Path("/srv/swap-the-head"),
        metavar="DIR",
        help="the hub's --dir (default /srv/swap-the-head)",
    )
    parser.add_argument(
        "--as",
        dest="student",
        default=None,
        metavar="USER",
        help="the student account to try as (default: the hub's first student)",
    )


def run_hub(folder: Path, student: str | None) -> int:
    """``course doctor --hub``: every read of the instructor's material tried as a student."""
    from grader.hub import deploy as hub

    try:
        hub.require_root()
        dep = hub.Deployment.load(folder)
        student = student or dep.students[0]
        exposures = hub.exposed(dep)
        attempts = hub.probe(dep, student)
    except hub.HubError as exc:
        print(f"course doctor --hub: {exc}")
        return 2
    for e in exposures:
        print(f"FIX   {e.path} is reachable by {e.student}: {e.fix}")
    for a in attempts:
        print(f"{'READ ' if a.readable else 'ok   '} {a.what}: {a.target}  [{a.detail}]")
    read = [a for a in attempts if a.readable]
    print(
        f"as {student}: {len(read)} of {len(attempts)} reads of the instructor's material "
        f"succeeded; {len(exposures)} path(s) reachable"
    )
    return 1 if read or exposures else 0


def run(args: argparse.Namespace) -> int:
    if args.hub:
        return run_hub(args.hub_dir, args.student)
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
