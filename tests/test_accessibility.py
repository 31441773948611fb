"""Every page we hand out passes WCAG 2 A and AA (axe-core's wcag2a and wcag2aa rules).

Built at test time: lesson 1 submitted with every other exercise answered and one cell added
that prints terminal colours and a long line (a student controls what their notebook prints),
graded with `course grade` (feedback page), then `course report` (report.html, "What to review"
in the feedback page), and lessons 1 and 6 exported with `course export-lesson`. Headless
Chromium runs axe-core (tests/browser/axe_page.mjs) on each page and walks the feedback page
with Tab. Any violation fails the test, naming page, rule and element.

Set-up: `.ci/install-browser.sh` (Debian's chromium, playwright-core and axe-core from
tests/browser/package-lock.json); without them the browser test skips and says so.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from _browser import DRIVER_DIR, run_driver
from _grade import grade_args
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from submissions import corpus  # tests/ is on sys.path (rootdir imports)

from grader import cli
from grader._lesson_html import (
    AA,
    BACKGROUNDS,
    ContrastStyle,
    FigureAltText,
    contrast,
    darken,
    from_code,
    sentence_after,
)
from grader.books.report import REVIEW_START
from grader.job import feedback

pytestmark = [pytest.mark.long(45), pytest.mark.warm]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts" / "accessibility"
TAGS = ["wcag2a", "wcag2aa"]
# What a student may print: 256-colour and 24-bit terminal colours (yellow on white, grey on
# yellow), a line far wider than the page, and an HTML table wider than the page.
PRINTS_COLOURS = (
    "print('\\x1b[38;5;226myellow text\\x1b[0m \\x1b[48;5;226;38;5;250mgrey on yellow\\x1b[0m "
    "\\x1b[38;2;200;200;200mlight grey\\x1b[0m')\nprint('x' * 400)\n"
    "from IPython.display import HTML, display\n"
    "display(HTML('<table><tr>' + '<td>a_wide_cell</td>' * 300 + '</tr></table>'))"
)
EXPORTED = ("lesson1", "lesson6")


def _skip_without_browser() -> None:
    fix = "run .ci/install-browser.sh"
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM}: {fix}")
    if shutil.which("node") is None:
        pytest.skip(f"needs node >= 20 on PATH: {fix}")
    for package in ("playwright-core", "axe-core"):
        if not (DRIVER_DIR / "node_modules" / package).is_dir():
            pytest.skip(f"needs {package} in {DRIVER_DIR / 'node_modules'}: {fix}")


def _lesson(name: str) -> tuple:
    released = ROOT / "notebooks" / name / f"{name}.ipynb"
    source = ROOT / "solutions" / name / f"{name}.ipynb"
    if not source.exists() or not released.exists():
        pytest.skip(f"{name} is not written or not released yet ({source}, {released})")
    return nbformat.read(released, as_version=4), nbformat.read(source, as_version=4)


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict:
    """A graded feedback page with its "What to review", a class report and exported lessons."""
    tmp = tmp_path_factory.mktemp("a11y")
    released, source = _lesson("lesson1")
    exercises = corpus.exercises(released, source)
    nb = corpus.answered(released, source, [e.answer_id for e in exercises[::2]])
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, new_code_cell(PRINTS_COLOURS))
    subs, out = tmp / "subs", tmp / "out"
    (subs / "ana").mkdir(parents=True)
    nbformat.write(nb, subs / "ana" / "lesson1.ipynb")
    assert cli.main(grade_args(ROOT, out, submissions=subs, jobs=1)) == 0
    assert cli.main(["report", str(out)]) == 0
    found = {"feedback": out / "feedback" / "ana" / "lesson1.html", "report": out / "report.html"}
    for name in EXPORTED:
        _lesson(name)
        assert cli.main(["export-lesson", name, "--root", str(ROOT), "--out", str(tmp)]) == 0
        found[name] = tmp / f"{name}.html"
    return {"paths": found, "exercises": exercises, "released": released}


def _axe(paths: dict[str, Path], tmp_path: Path) -> dict:
    _skip_without_browser()
    result_path = tmp_path / "axe.json"
    plan = {
        "chromium": str(CHROMIUM),
        "pages": [{"name": name, "path": str(path)} for name, path in paths.items()],
        "tags": TAGS,
        "maxTabs": 400,
        "resultPath": str(result_path),
        "timeoutMs": 90_000,
    }
    result = run_driver("axe_page.mjs", plan, tmp_path / "axe-plan.json", timeout=300)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(result_path, ARTIFACTS / "axe.json")
    return result


def violations(result: dict) -> list[str]:
    """One line per violating element: page, rule, element and what axe says is wrong."""
    return [
        f"{page}: {v['id']} ({v['help']}) at {node['target']}: {node['html'][:120]} -- "
        + node["summary"].replace("\n", " ")[:200]
        for page, seen in result["pages"].items()
        for v in seen["violations"]
        for node in v["nodes"]
    ]


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(900)
def test_every_page_passes_wcag2_aa_in_chromium(pages, tmp_path):
    result = _axe(pages["paths"], tmp_path)
    counts = {
        page: {v["id"]: len(v["nodes"]) for v in seen["violations"]}
        for page, seen in result["pages"].items()
    }
    print(f"axe-core {result['axe']}, {'+'.join(TAGS)}: violations per page and rule {counts}")
    found = violations(result)
    assert not found, f"{len(found)} WCAG 2 A/AA violation(s):\n" + "\n".join(found)
    # The pages load nothing from elsewhere but the lessons' MathJax (formulas need it online).
    for name, seen in result["pages"].items():
        assert all("mathjax" in url.lower() for url in seen["refused"]), (name, seen["refused"])

    page = pages["paths"]["feedback"].read_text()
    assert "a_wide_cell" in page and "grey on yellow" in page, "the hostile cell did not run"
    # Keyboard only: Tab reaches every exercise's result and every "What to review" link.
    stops = [stop["href"] for stop in result["pages"]["feedback"]["tabStops"]]
    graded = [t for e in pages["exercises"] for t, _ in e.tests]
    missing = [g for g in graded if f"#{g}" not in stops]
    assert not missing, f"Tab never reaches the results of {missing}; it stops at {stops}"
    # Tab lands on each result with words that say whether it passed, and its score.
    said = {
        stop["href"][1:]: stop["text"]
        for stop in result["pages"]["feedback"]["tabStops"]
        if re.search(r"(Passed|Failed).*Score: [\d.]+ / [\d.]+", stop["text"], re.S)
    }
    assert set(graded) <= set(said), (graded, said)
    review = page[page.index(REVIEW_START) :]
    review_links = re.findall(r'<a href="([^"]+)"', review)
    assert review_links, "the 'What to review' block links to no result or section"
    assert all(link in stops for link in review_links), (review_links, stops)
    for link in review_links:  # each leads somewhere on the page
        target = link[1:]
        assert f'id="{target}"' in page or f'name="{target}"' in page, link
    # In words, not only colour: each exercise says whether it passed.
    text = feedback.visible_text(page)
    contents = text[: text.index("Lesson 1")]
    verdicts = re.findall(r"(Passed|Failed)", contents)
    assert len(verdicts) == len(graded), contents
    assert "Passed" in verdicts and "Failed" in verdicts


@pytest.mark.slow
def test_exported_lessons_describe_every_figure(pages):
    for name in EXPORTED:
        html = pages["paths"][name].read_text()
        alts = re.findall(r'<img alt="([^"]*)"', html)
        nb = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
        figures = sum(
            "image/png" in o.get("data", {})
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.outputs
        )
        assert len(alts) == figures == html.count("<img"), (name, alts)
        assert "No description has been provided" not in html
        assert all(len(alt) > 15 for alt in alts), alts


# --- fast: the pieces, no browser ------------------------------------------------------------


def test_contrast_is_wcag_arithmetic():
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#408080", "#f5f5f5") < AA <= contrast(darken("#408080"), "#f5f5f5")
    with pytest.raises(ValueError, match="'blue'"):
        contrast("blue", "#ffffff")


def test_code_colours_reach_aa_on_every_background():
    colours = {
        token: m.group(0)
        for token, rule in ContrastStyle.styles.items()
        if not rule.startswith("border:")
        for m in [re.search(r"#[0-9a-fA-F]{6}", rule)]
        if m
    }
    assert len(colours) > 20
    low = {
        (str(t), c, bg): round(contrast(c, bg), 2)
        for t, c in colours.items()
        for bg in BACKGROUNDS
        if contrast(c, bg) < AA
    }
    assert not low


def test_contrast_css_reaches_aa():
    css = (ROOT / "grader" / "templates" / "feedback" / "contrast.css").read_text()
    css += (ROOT / "grader" / "templates" / "lesson" / "index.html.j2").read_text()
    colours = re.findall(r"(?:color|-color):\s*(#[0-9a-fA-F]{6})", css)
    assert len(colours) >= 25
    assert not [c for c in colours if min(contrast(c, bg) for bg in BACKGROUNDS) < AA]


def _png(title: str = "") -> str:
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    if title:
        info.add_text("Title", title)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG", pnginfo=info)
    return base64.b64encode(buffer.getvalue()).decode()


def _figure_notebook(
    code: str, after: str | None, png: str, alt: str = ""
) -> nbformat.NotebookNode:
    output = new_output("display_data", data={"image/png": png})
    if alt:
        output.metadata = {"image/png": {"alt": alt}}
    cell = new_code_cell(code, outputs=[output])
    cells = [new_markdown_cell("## A section"), cell]
    if after is not None:
        cells.append(new_markdown_cell(after))
    return new_notebook(cells=cells)


def _alt(nb) -> str:
    FigureAltText().preprocess(nb, {})
    return nb.cells[1].outputs[0].metadata["image/png"]["alt"]


def test_figure_alt_text_prefers_metadata_then_the_lesson_sentence_then_the_figure():
    code = "# the loss falls\nplt.plot(loss)\nplt.title('Training loss')\nplt.xlabel('epoch')"
    after = "The **loss** falls fast, then [flattens](#x). Later text."
    assert _alt(_figure_notebook(code, after, _png(), alt="Own words.")) == "Own words."
    assert (
        _alt(_figure_notebook(code, after, _png("PNG title")))
        == "The loss falls fast, then flattens."
    )
    # A heading after the figure is not a description: the PNG's title, then the code's labels.
    assert _alt(_figure_notebook(code, "## Next section", _png("PNG title"))) == "PNG title"
    assert (
        _alt(_figure_notebook(code, None, _png()))
        == "Figure titled “Training loss”; x axis: epoch."
    )
    assert _alt(_figure_notebook("# the loss falls\nshow(loss)", None, _png())) == (
        "Figure drawn by code that says: the loss falls"
    )
    honest = _alt(_figure_notebook("show(loss)", None, _png()))
    assert "does not describe it" in honest and "No description" not in honest


def test_figure_labels_from_helpers_and_f_strings():
    code = 'plots.curve(x, title=f"{n} of {m} found")\nax.set_ylabel("recall")'
    assert from_code(code) == "Figure titled “… of … found”; y axis: recall."
    joined = (
        'plt.title("ResNet: the backbone makes "\n    f"{k} features")\nplt.ylabel("val\\nloss")'
    )
    assert (
        from_code(joined)
        == "Figure titled “ResNet: the backbone makes … features”; y axis: val loss."
    )
    for not_a_description in ("| a | b |\n|---|---|", "Read the table and the figures:\n\n- a"):
        cells = [new_code_cell("x"), new_markdown_cell(not_a_description)]
        assert sentence_after(cells, 0) == ""
    # A submission's cell that does not parse, or nests too deep to, still gets its comment.
    for hostile in ("# draws it\n" + "(" * 19_000, "# draws it\n" + "-" * 19_000 + "1"):
        assert from_code(hostile) == "Figure drawn by code that says: draws it"


def test_export_lesson_says_what_is_missing(tmp_path, capsys):
    assert cli.main(["export-lesson", "99", "--root", str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "lesson99" in out and "--notebook" in out
