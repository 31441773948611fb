"""The grader's layers: every import points down, and no two modules import each other.

The order below is the one ``grader/__init__.py`` and docs/design.md describe. A
module belongs to the longest entry that names it or its package; it may import
from its own entry and from the entries of lower layers, never from a higher one
nor from another entry of its own layer. The graph comes from ``ast`` (lazy
imports inside functions count): ``python tests/_imports.py`` prints its levels
and circles.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _imports import circles, graph, module_name, modules  # tests/ is on sys.path

ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, ...], ...] = (
    ("grader._deferred_iri", "grader._common", "grader._libc", "grader.nbgrader_config"),
    ("grader", "grader._course", "grader._lesson_html"),
    ("grader.sandbox",),
    ("grader.job",),
    ("grader.books",),
    ("grader.classwork",),
    ("grader.authoring", "grader.exchange", "grader.hub"),
    ("grader.commands", "grader.cli"),
)


def entry_of(module: str) -> tuple[int, str]:
    """(layer, entry) of ``module``: the longest entry equal to it or a package above it."""
    best: tuple[int, str] | None = None
    for level, entries in enumerate(LAYERS):
        for entry in entries:
            if module == entry or (entry != "grader" and module.startswith(entry + ".")):
                if best is None or len(entry) > len(best[1]):
                    best = (level, entry)
    if best is None:
        raise KeyError(f"{module} is in no layer: add it (or its package) to LAYERS")
    return best


def upward(arrows: dict[str, set[str]]) -> list[str]:
    """Every import that points up or sideways, as ``a -> b (layer x -> layer y)``."""
    wrong = []
    for source, targets in sorted(arrows.items()):
        if not source.startswith("grader"):
            continue
        here, own = entry_of(source)
        for target in sorted(t for t in targets if t.startswith("grader")):
            there, other = entry_of(target)
            if there > here or (there == here and other != own):
                wrong.append(f"{source} -> {target} (layer {here} -> layer {there})")
    return wrong


@pytest.fixture(scope="module")
def arrows() -> dict[str, set[str]]:
    return graph(ROOT)


def test_every_grader_module_has_a_layer(arrows):
    for name in arrows:
        if name.startswith("grader"):
            entry_of(name)


def test_imports_point_down(arrows):
    assert upward(arrows) == []


def test_no_import_circles(arrows):
    assert circles(arrows) == []


def test_course_utils_never_imports_the_grader(arrows):
    """A student's kernel imports course_utils; the grader is the instructor's."""
    assert [
        f"{m} -> {t}"
        for m, ts in sorted(arrows.items())
        if m.startswith("course_utils")
        for t in sorted(ts)
        if t.startswith("grader")
    ] == []


def test_the_check_sees_an_upward_import_and_a_circle(tmp_path):
    """The checks can fail: a tiny tree with one upward import and one circle."""
    (tmp_path / "grader" / "job").mkdir(parents=True)
    (tmp_path / "grader" / "classwork").mkdir()
    for folder in ("grader", "grader/job", "grader/classwork"):
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "grader" / "job" / "worker.py").write_text(
        "def f():\n    from grader.classwork import engine\n"
    )
    (tmp_path / "grader" / "classwork" / "engine.py").write_text(
        "from grader.job.worker import f\nfrom . import runners\n"
    )
    (tmp_path / "grader" / "classwork" / "runners.py").write_text(
        "from grader.classwork.engine import x\n"
    )
    found = graph(tmp_path, ("grader",))
    assert upward(found) == ["grader.job.worker -> grader.classwork.engine (layer 3 -> layer 5)"]
    assert circles(found) == [
        ["grader.classwork.engine", "grader.classwork.runners", "grader.job.worker"]
    ]
    assert module_name(tmp_path, tmp_path / "grader" / "job" / "__init__.py") == "grader.job"
    assert set(modules(tmp_path, ("grader",))) == set(found)
