"""``course pretrain``: rebuild the shipped backbone weights, deterministically."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=20, help="passes over fresh source images")
    parser.add_argument("--per-class", type=int, default=1500, help="images per class per epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write (default: the shipped weights file, which needs --force)",
    )
    parser.add_argument("--force", action="store_true", help="allow replacing the shipped weights")


def run(args: argparse.Namespace) -> int:
    from course_utils.backbones import course_weights_path  # imports torch: only when run
    from grader.authoring.pretrain import PretrainConfig, pretrain

    shipped = course_weights_path()
    out = args.out or shipped
    if out.resolve() == shipped.resolve() and shipped.exists() and not args.force:
        print(
            f"{shipped} exists and ships with the course. Pass --force to rebuild it in place, "
            "or --out PATH to write elsewhere."
        )
        return 2
    if out.exists() and out.resolve() != shipped.resolve() and not args.force:
        print(f"{out} exists: pass --force to replace it, or choose another --out.")
        return 2
    manifest = pretrain(
        out, PretrainConfig(epochs=args.epochs, per_class=args.per_class, seed=args.seed)
    )
    print(f"took {manifest['seconds'] / 60:.1f} min; sha256 {manifest['sha256']}")
    return 0
