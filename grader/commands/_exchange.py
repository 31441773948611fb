"""Options shared by the exchange commands (``publish``, ``collect``, ``return``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader.commands import add_root_argument


def configured_exchange() -> Path:
    """``Exchange.root`` from the nbgrader config files Jupyter would load, else nbgrader's default.

    On the course's hub, ``JUPYTER_CONFIG_PATH`` points at the deployment's config,
    so the instructor's terminal finds the class exchange without options.
    """
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    from grader.exchange.instructor import DEFAULT_EXCHANGE

    found = DEFAULT_EXCHANGE
    for folder in reversed(jupyter_config_path()):  # lowest priority first, as Jupyter does
        try:
            config = PyFileConfigLoader("nbgrader_config.py", path=folder).load_config()
        except ConfigFileNotFound:
            continue
        if "root" in config.Exchange:
            found = Path(config.Exchange.root)
    return found


def add_exchange_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lesson", metavar="LESSON", help="the lesson: a number or a name (lesson1)")
    parser.add_argument(
        "--exchange",
        type=Path,
        default=None,
        metavar="DIR",
        help="nbgrader's exchange folder (default: Exchange.root from the nbgrader "
        "config Jupyter loads, else /srv/nbgrader/exchange)",
    )
    parser.add_argument(
        "--course-id",
        default=None,
        help="nbgrader course id (default: the course's, from grader/nbgrader_config.py)",
    )
    add_root_argument(parser)


def resolve(args: argparse.Namespace) -> tuple[Path, str, str, Path]:
    """(course root, lesson name, course id, exchange) from the parsed options."""
    from grader._course import find_root, load_config, select_lessons

    root = find_root(args.root)
    (lesson,) = select_lessons(root, [args.lesson])
    course_id = args.course_id or load_config(root).CourseDirectory.get("course_id")
    if not course_id:
        raise ValueError(
            "no course id: pass --course-id or set CourseDirectory.course_id in "
            "grader/nbgrader_config.py"
        )
    return root, lesson, course_id, args.exchange or configured_exchange()
