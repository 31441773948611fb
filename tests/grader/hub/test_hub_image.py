"""The Kubernetes image students run (hub/Dockerfile) holds nothing of the instructor's.

Docker cannot build here, so this reads what a build would read: the build context is the
repository root filtered by .dockerignore (docker's rules: patterns in order, the last match
wins, ``!`` re-includes, a pattern matching a folder covers all below it), and every COPY or ADD
from the context, in every stage, must bring no file of solutions/, tests/ or .git, no
gradebook, no notebook with solution or hidden-test blocks, and no file carrying the text of
a hidden test block of any solution notebook.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[3]
HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)


def _pattern(text: str) -> re.Pattern:
    """A .dockerignore pattern as a regular expression over a relative path."""
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(text[i], re.escape(text[i]))
            i += 1
    return re.compile(out + r"\Z")


def _rules(dockerignore: str) -> list[tuple[bool, str, re.Pattern]]:
    rules = []
    for line in dockerignore.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        text = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negate, text, _pattern(text)))
    return rules


def _excluded(rel: str, rules) -> bool:
    parts = rel.split("/")
    prefixes = ["/".join(parts[:k]) for k in range(1, len(parts) + 1)]
    result = False
    for negate, _, regex in rules:
        if any(regex.match(p) for p in prefixes):
            result = not negate
    return result


def context_files(root: Path, dockerignore: str) -> list[str]:
    """The files docker would send as the build context, relative to ``root``."""
    rules = _rules(dockerignore)
    found = []
    for top, dirs, files in os.walk(root):
        base = os.path.relpath(top, root)
        base = "" if base == "." else base + "/"
        for name in list(dirs):
            rel = base + name
            reinclude = any(n and (t.startswith(rel + "/") or "**" in t) for n, t, _ in rules)
            if _excluded(rel, rules) and not reinclude:
                dirs.remove(name)
        found += [base + name for name in files if not _excluded(base + name, rules)]
    return sorted(found)


def copied_from_context(dockerfile: str) -> list[str]:
    """The context sources of every COPY and ADD (any stage) that does not copy ``--from``."""
    text = re.sub(r"\\\n", " ", dockerfile)
    sources = []
    for line in text.splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words or words[0].upper() not in ("COPY", "ADD"):
            continue
        flags = [w for w in words[1:] if w.startswith("--")]
        if any(f.startswith("--from") for f in flags):
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        sources += args[:-1]
    return sources


def leaks(dockerfile: str, dockerignore: str, root: Path = ROOT) -> list[str]:
    """Each file of the instructor's that the image would get, with the reason."""
    context = context_files(root, dockerignore)
    blocks = set()
    for path in sorted((root / "solutions").glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            blocks |= {b.strip() for b in HIDDEN.findall(cell.source) if len(b.strip()) > 20}
    found = []
    for source in copied_from_context(dockerfile):
        assert not set(source) & set("*?["), f"wildcards are not read by this test: {source}"
        src = os.path.normpath(source)
        chosen = (
            context if src == "." else [f for f in context if f == src or f.startswith(src + "/")]
        )
        for rel in chosen:
            top = rel.split("/")[0]
            if top in ("solutions", "tests", ".git") or rel.endswith(".db"):
                found.append(f"{rel}: instructor's material")
                continue
            try:
                text = (root / rel).read_text()
            except (UnicodeDecodeError, OSError):
                continue
            if rel.endswith(".ipynb") and (
                "BEGIN HIDDEN TESTS" in text or "BEGIN SOLUTION" in text
            ):
                found.append(f"{rel}: a notebook with solution or hidden-test blocks")
            elif any(block in text for block in blocks):
                found.append(f"{rel}: holds a hidden test block of solutions/")
    return found


def test_the_students_image_gets_nothing_of_the_instructors():
    dockerfile = (ROOT / "hub" / "Dockerfile").read_text()
    dockerignore = (ROOT / ".dockerignore").read_text()
    sources = copied_from_context(dockerfile)
    assert "notebooks" in sources and "grader" in sources, sources
    assert leaks(dockerfile, dockerignore) == []
    context = context_files(ROOT, dockerignore)
    assert "notebooks/lesson1/lesson1.ipynb" in context
    assert not [f for f in context if f.split("/")[0] in ("solutions", "tests", ".git", ".venv")]
    # Even `COPY . /src` would bring nothing of the instructor's through this .dockerignore.
    assert leaks("FROM x\nCOPY . /src\n", dockerignore) == []


def test_the_check_finds_what_a_careless_image_would_ship():
    """The same check fails on the mistakes it guards against (so it can fail)."""
    dockerignore = (ROOT / ".dockerignore").read_text()
    # Without a .dockerignore (only the bulky environments left out, to keep this quick).
    everything = leaks("FROM x\nCOPY . /src\n", ".venv\n**/node_modules\nartifacts\n")
    assert any(f.startswith("solutions/lesson1/lesson1.ipynb") for f in everything)
    assert any(f.startswith(".git") for f in everything) or not (ROOT / ".git").exists()
    # Re-including solutions after the whitelist is caught too.
    assert any(
        f.startswith("solutions/")
        for f in leaks("FROM x\nCOPY solutions /s\n", dockerignore + "!solutions\n")
    )
