"""HTML pages of the course that pass WCAG 2 AA: code colours, figure descriptions, lesson export.

- ``ContrastStyle``: Pygments' default colours, each darkened just enough to reach a contrast of
  4.5:1 (WCAG 2 AA, normal text) on every background the course's pages put code on. Used by the
  feedback page and by exported lessons (``CSSHTMLHeaderPreprocessor.style``).
- ``FigureAltText``: gives every figure a text alternative that says what it shows: its own
  ``alt`` metadata, else the first sentence the lesson writes after it, else the title and axis
  labels its code sets, else the code cell's first comment. nbconvert's fallback ("No description
  has been provided for this image") is never used.
- ``export_lesson``: a lesson notebook as one accessible HTML page (``course export-lesson``).
"""

from __future__ import annotations

import ast
import base64
import io
import re
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor
from pygments.style import Style
from pygments.styles.default import DefaultStyle

TEMPLATES = Path(__file__).parent / "templates"
LESSON_TEMPLATE = "lesson"
AA = 4.5  # WCAG 2 AA, text under 18.66 px bold / 24 px
# Where code is shown: white, nbconvert's #f5f5f5/#f7f7f7 code areas, and the feedback page's
# tinted panels (failed, passed, "What to review").
BACKGROUNDS = ("#ffffff", "#f5f5f5", "#f7f7f7", "#eeeeee", "#ffebee", "#e8f5e9", "#e3f2fd")
# nbconvert's templates give an <img> only to these; an SVG is inlined as it is.
IMAGE_TYPES = ("image/png", "image/jpeg")


def _rgb(color: str) -> tuple[int, int, int]:
    hexa = color.lstrip("#")
    if len(hexa) == 3:
        hexa = "".join(c * 2 for c in hexa)
    if not re.fullmatch(r"[0-9a-fA-F]{6}", hexa):
        raise ValueError(f"not a #rgb or #rrggbb colour: {color!r}")
    return int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16)


def _luminance(color: str) -> float:
    def channel(v: int) -> float:
        s = v / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = _rgb(color)
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def darken(color: str, backgrounds: tuple[str, ...] = BACKGROUNDS, ratio: float = AA) -> str:
    """``color`` scaled towards black until it reaches ``ratio`` on every one of ``backgrounds``."""
    r, g, b = _rgb(color)
    for step in range(101):
        k = 1 - step / 100
        candidate = f"#{round(r * k):02x}{round(g * k):02x}{round(b * k):02x}"
        # A margin over the ratio: browsers round blended colours.
        if all(contrast(candidate, bg) >= ratio + 0.05 for bg in backgrounds):
            return candidate
    return "#000000"


def _accessible(rule: str) -> str:
    return re.sub(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", lambda m: darken(m.group(0)), rule)


class ContrastStyle(Style):
    """Pygments' default style with every colour reaching 4.5:1 on the course's code backgrounds."""

    name = "course-contrast"
    background_color = "#f7f7f7"
    styles = {
        token: rule if rule.startswith("border:") else _accessible(rule)
        for token, rule in DefaultStyle.styles.items()
    }


# --- figure descriptions --------------------------------------------------------------------

_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)", re.DOTALL)
# plt.title("..."), ax.set_xlabel("..."), and keyword arguments such as title="..." of a helper.
_LABEL_CALLS = {
    "title": "title",
    "suptitle": "title",
    "set_title": "title",
    "xlabel": "xlabel",
    "set_xlabel": "xlabel",
    "ylabel": "ylabel",
    "set_ylabel": "ylabel",
}
# A submission's figure cell can be long: only its start is parsed, so that a huge cell cannot
# make the feedback page slow to render.
CODE_CHARS = 20_000
PNG_HEAD = 65_536  # base64 characters: the text chunks a plotting library writes precede the pixels


def _plain(markdown: str) -> str:
    """Markdown as the words a reader sees (links, code and emphasis marks dropped)."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", markdown)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"[`*_]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def sentence_after(cells: list, index: int) -> str:
    """The first sentence of the markdown cell right after cell ``index`` ('' if none).

    A heading is not a description: a cell that starts with one gives nothing.
    """
    if index + 1 >= len(cells) or cells[index + 1].get("cell_type") != "markdown":
        return ""
    source = cells[index + 1].get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    paragraph = source.strip().split("\n\n")[0]
    if not paragraph or paragraph.lstrip().startswith(("#", "|", "```", "<", "!")):
        return ""
    text = _plain(paragraph)
    match = _SENTENCE.match(text)
    sentence = (match.group(1) if match else text).strip()
    # "Read the table and the figures:" introduces what follows; it describes nothing.
    return "" if sentence.endswith(":") else sentence


def png_text(data: str) -> str:
    """The ``Title`` and ``Description`` a PNG carries in its text chunks ('' if none)."""
    try:
        from PIL import Image

        head = "".join(data[: 2 * PNG_HEAD].split())[:PNG_HEAD]
        head = head[: len(head) - len(head) % 4]
        with Image.open(io.BytesIO(base64.b64decode(head))) as image:
            chunks = getattr(image, "text", {}) or {}
    except Exception:  # not a PNG we can read: no metadata, the next fallback applies
        return ""
    return ". ".join(str(chunks[k]).strip() for k in ("Title", "Description") if chunks.get(k))


def _literal(node: ast.expr) -> str | None:
    """The text of a string literal; an f-string's values (not in the code) become '…'."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "…"
            for v in node.values
        )
    return None


def labels(source: str) -> dict[str, list[str]]:
    """Titles and axis labels (``title``, ``xlabel``, ``ylabel``) that ``source`` sets literally."""
    try:
        tree = ast.parse(source[:CODE_CHARS])
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # a cut, broken or hostile cell
        return {}
    found: dict[str, list[str]] = {}

    def add(kind: str, node: ast.expr) -> None:
        text = _literal(node)
        if text is not None and text.strip():
            text = " ".join(text.split())
            if text not in found.setdefault(kind, []):
                found[kind].append(text)

    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in _LABEL_CALLS and call.args:
            add(_LABEL_CALLS[name], call.args[0])
        for keyword in call.keywords:
            if keyword.arg in ("title", "xlabel", "ylabel"):
                add(keyword.arg, keyword.value)
    return found


def from_code(source: str) -> str:
    """What a figure's code says it draws: its titles and axis labels, else its first comment."""
    found = labels(source)
    parts = [
        f"{axis} axis: {', '.join(found[f'{axis}label'])}"
        for axis in ("x", "y")
        if f"{axis}label" in found
    ]
    if "title" in found:
        titles = " and ".join(f"“{t}”" for t in found["title"])
        return "; ".join([f"Figure titled {titles}", *parts]) + "."
    if parts:
        return "Figure with " + "; ".join(parts) + "."
    for line in source[:CODE_CHARS].splitlines():
        comment = line.strip()
        if comment.startswith("#") and comment.lstrip("#").strip():
            return f"Figure drawn by code that says: {comment.lstrip('#').strip()}"
    return ""


def describe(cells: list, index: int, output: dict, mime: str) -> str:
    """The text alternative of one figure output of code cell ``index`` (see the module doc)."""
    own = (output.get("metadata", {}).get(mime) or {}).get("alt") or cells[index].get(
        "metadata", {}
    ).get("alt")
    if own:
        return str(own)
    source = cells[index].get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    return (
        sentence_after(cells, index)
        or (png_text(output["data"][mime]) if mime == "image/png" else "")
        or from_code(source)
        or "A figure drawn by the code cell before it; the lesson does not describe it in words."
    )


class FigureAltText(Preprocessor):
    """Set ``metadata[<image type>].alt`` of every figure output that has none (see ``describe``)."""

    def preprocess(self, nb: Any, resources: dict) -> tuple[Any, dict]:
        """Describe every figure of ``nb`` in place."""
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") != "code":
                continue
            figures = [
                (output, mime)
                for output in cell.get("outputs", [])
                for mime in IMAGE_TYPES
                if mime in output.get("data", {})
            ]
            for k, (output, mime) in enumerate(figures, start=1):
                meta = output.setdefault("metadata", {})
                if (meta.get(mime) or {}).get("alt"):
                    continue
                alt = describe(nb.cells, index, output, mime)
                if len(figures) > 1:
                    alt = f"{alt} (figure {k} of {len(figures)} of this cell)"
                meta.setdefault(mime, {})
                meta[mime]["alt"] = alt
        return nb, resources


# --- the lesson export ----------------------------------------------------------------------


def exporter_config(config: Any) -> None:
    """Contrast-safe code colours and described figures for any ``HTMLExporter`` of ``config``."""
    config.CSSHTMLHeaderPreprocessor.style = ContrastStyle
    config.HTMLExporter.preprocessors = [FigureAltText]


def export_lesson(notebook: Path, out: Path) -> Path:
    """Write ``notebook`` as one accessible HTML page at ``out`` (a file or a folder)."""
    import nbformat
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    config = Config()
    exporter_config(config)
    config.HTMLExporter.template_name = LESSON_TEMPLATE
    config.HTMLExporter.extra_template_basedirs = [str(TEMPLATES)]
    # contrast.css (terminal colours) is the feedback page's; the lesson includes it too.
    config.HTMLExporter.extra_template_paths = [str(TEMPLATES / "feedback")]
    nb = nbformat.read(notebook, as_version=4)
    page, _ = HTMLExporter(config=config).from_notebook_node(
        nb, resources={"metadata": {"name": notebook.stem}}
    )
    target = out / f"{notebook.stem}.html" if out.is_dir() else out
    target.write_text(page, encoding="utf-8")
    return target
