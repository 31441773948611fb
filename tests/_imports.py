"""The import graph of the repository's own packages, read with ``ast`` (nothing is imported).

``python tests/_imports.py [ROOT]`` prints, for ``grader`` and ``course_utils``, every module's
level (0: imports none of the others; otherwise one more than the highest module it imports),
the import circles and the number of arrows. tests/test_layers.py uses the same graph to hold
the layer order. Every ``import`` counts, the ones inside functions too: a lazy import is
still a dependency, only a later one.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("grader", "course_utils")


def module_name(root: Path, path: Path) -> str:
    """``grader/job/worker.py`` -> ``grader.job.worker``; a package's ``__init__`` is the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Every module of ``packages`` under ``root``, by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def _imported(node: ast.AST, here: str, is_package: bool) -> list[str]:
    """The dotted names an import statement reaches, relative imports resolved."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = here.split(".")
        base = base[: len(base) - node.level + (1 if is_package else 0)]
        prefix = ".".join([*base, node.module] if node.module else base)
    else:
        prefix = node.module or ""
    # ``from grader import sandbox`` names a module, or a name in ``grader/__init__``: the
    # longest known module it starts with (see ``graph``) is the one or the other.
    return [f"{prefix}.{alias.name}" for alias in node.names]


def graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Module -> the modules of ``packages`` it imports (a package import counts as its
    ``__init__``); imports inside an ``if TYPE_CHECKING:`` block are not dependencies."""
    known = modules(root, packages)
    arrows: dict[str, set[str]] = {}
    for name, path in known.items():
        tree = ast.parse(path.read_text(), str(path))
        typing_only = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            for dotted in _imported(node, name, path.name == "__init__.py"):
                # the longest known module that the dotted name starts with
                parts = dotted.split(".")
                while parts and ".".join(parts) not in known:
                    parts.pop()
                if parts and (target := ".".join(parts)) != name:
                    targets.add(target)
        # a submodule's own package is imported by Python anyway: not an arrow worth drawing
        arrows[name] = {t for t in targets if not name.startswith(t + ".")}
    return arrows


def circles(arrows: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(arrows.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(1000, 10 * len(arrows)))
    for node in sorted(arrows):
        if node not in index:
            visit(node)
    return sorted(found)


def levels(arrows: dict[str, set[str]]) -> dict[str, int]:
    """0 for a module that imports none of the others, else 1 + the highest level it imports;
    the modules of a circle share one level."""
    component = {m: tuple(c) for c in circles(arrows) for m in c}
    memo: dict[str, int] = {}

    def level(node: str) -> int:
        if node not in memo:
            group = component.get(node, (node,))
            for member in group:
                memo[member] = 0  # a circle's arrows inside it do not raise it
            below = {t for m in group for t in arrows[m] if t not in group}
            value = 1 + max((level(t) for t in below), default=-1)
            for member in group:
                memo[member] = value
        return memo[node]

    return {name: level(name) for name in arrows}


def picture(root: Path, package: str) -> str:
    """Levels, circles and the number of arrows of one package, as text."""
    arrows = {
        m: {t for t in ts if t.split(".")[0] == package}
        for m, ts in graph(root).items()
        if m.split(".")[0] == package
    }
    by_level: dict[int, list[str]] = {}
    for name, value in levels(arrows).items():
        by_level.setdefault(value, []).append(name)
    lines = [f"{package}: {len(arrows)} modules, {sum(map(len, arrows.values()))} import arrows"]
    for value in sorted(by_level):
        lines.append(f"  level {value}: {', '.join(sorted(by_level[value]))}")
    found = circles(arrows)
    lines.append(f"  circles: {len(found)}")
    lines += [f"    {' <-> '.join(c)}" for c in found]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parents[1]
    for package in PACKAGES:
        print(picture(root, package))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
