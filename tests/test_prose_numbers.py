"""Numbers in prose come from measurements.

* The README's "Measured" table is generated from bench/RESULTS.md
  (bench/readme_table.py); every other decimal in README.md comes from
  RESULTS.md or the course weights' manifest (written by ``course pretrain``).
* grader/README.md quotes no timing that RESULTS.md does not have.
* Each measurement-shaped number in a lesson's markdown (a decimal, a
  percentage, a number with thousands separators) appears in the committed
  output, or the code, of the cells above it; a number may be quoted rounded
  (0.98 for 0.9758) or as a percentage (97.6% for 0.976). Numbers that are no
  measurement (curriculum cut-offs, section numbers) are listed in ALLOWED.
"""

from __future__ import annotations

import importlib.util
import json
import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "solutions").glob("lesson*/lesson*.ipynb"))

# A measurement-shaped number: a percentage, a decimal, or an integer with thousands separators.
QUOTED = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+\.\d+|\d+)(%?)(?![\w.]\d)")
ANY_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*\.?\d*(?:e-?\d+)?")

# Quoted numbers that are no measurement, per lesson, with the reason.
ALLOWED: dict[str, dict[str, str]] = {
    "lesson1": {"99%": "an answer option of a multiple-choice question, scored by its hidden test"},
    "lesson7": {
        "90%": "the project's requirement (recall >= 0.90), stated before any code",
        "0.90": "the project's requirement, stated before any code",
        "0.50": "the project's requirement (precision >= 0.50), stated before any code",
        "0.01": "a suggested learning rate for the student's own code",
    },
    "lesson6": {
        # The curriculum's rule of thumb, stated as text before any code computes with it.
        "80%": "rubric cut-off (curriculum)",
        "75%": "rubric cut-off (curriculum)",
        "60%": "rubric cut-off (curriculum)",
        "30%": "rubric cut-off (curriculum)",
        "20%": "rubric cut-off (curriculum)",
        "0.0": "the zero_division policy (a definition)",
        "1.0": "a metric's range (a definition)",
        "0.5": "the default decision threshold (a definition)",
    },
}


# --------------------------------------------------------------------------- README


def _readme_table():
    spec = importlib.util.spec_from_file_location(
        "readme_table", ROOT / "bench" / "readme_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_measured_table_is_generated_from_results():
    gen = _readme_table()
    readme, results = (ROOT / "README.md").read_text(), (ROOT / "bench" / "RESULTS.md").read_text()
    assert gen.START in readme and gen.END in readme
    assert gen.render(readme, results) == readme, (
        "README.md's measured table disagrees with bench/RESULTS.md: run python bench/readme_table.py"
    )


def test_readme_table_follows_results_md():
    """Not vacuous: change a figure in RESULTS.md and the README's table changes with it."""
    gen = _readme_table()
    results = (ROOT / "bench" / "RESULTS.md").read_text()
    table = gen.table(results)
    assert "| lesson4 |" in results
    changed = re.sub(r"(\| \*\*total\*\* \| \*\*)[\d.]+", r"\g<1>999.9", results)
    assert changed != results and "999.9 s in all" in gen.table(changed) and "999.9" not in table
    with pytest.raises(KeyError, match="Plain execution vs grading"):
        gen.table(results.replace("## Plain execution vs grading", "## Something else"))


def _numbers(text: str) -> set[str]:
    return {m.group(0).replace(",", "") for m in ANY_NUMBER.finditer(text)}


def test_readme_decimals_are_measured():
    readme = (ROOT / "README.md").read_text()
    manifest = json.loads(
        (ROOT / "course_utils" / "weights" / "resnet18_shapes24.json").read_text()
    )
    last = manifest["history"][-1]
    sources = _numbers((ROOT / "bench" / "RESULTS.md").read_text()) | {
        f"{manifest['seconds'] / 60:.1f}",  # pretraining minutes
        f"{last['source_val_acc']:.3f}",
        f"{last['target_probe_acc']:.3f}",
    }
    # Version requirements ("torch>=2.4,<2.15", "Python 3.11") are not measurements.
    prose = re.sub(r"(?:[<>=!~]=?|,<|Python )\s*\d+(?:\.\d+)+", "", readme)
    decimals = re.findall(r"(?<![\w.])\d+\.\d+(?![\w.]\d)", prose)
    assert decimals, "no decimals found in README.md: the scan is broken"
    unmeasured = sorted(set(decimals) - sources)
    assert not unmeasured, (
        f"README.md quotes {unmeasured}, found neither in RESULTS.md nor the manifest"
    )


def test_grader_readme_quotes_no_timing_absent_from_results():
    text = (ROOT / "grader" / "README.md").read_text()
    results = _numbers((ROOT / "bench" / "RESULTS.md").read_text())
    timings = re.findall(r"(\d+(?:\.\d+)?) ?(?:s|seconds|min|minutes)\b", text)
    # Configured limits are settings, not measurements.
    settings = {"120", "900"}
    stray = sorted({t for t in timings if t not in results and t not in settings})
    assert not stray, f"grader/README.md quotes timings {stray} that bench/RESULTS.md does not have"
    assert "bench/RESULTS.md" in text


def test_hub_doc_quotes_the_hub_measurements():
    """docs/hub.md's "Measured" section: every figure is in RESULTS.md's hub block."""
    doc = (ROOT / "docs" / "hub.md").read_text()
    measured = doc[doc.index("## Measured") :].split("\n## ", 1)[0]
    results = (ROOT / "bench" / "RESULTS.md").read_text()
    block = results[results.index("<!-- begin: hub -->") : results.index("<!-- end: hub -->")]
    quoted = re.findall(r"(\d+(?:\.\d+)?) ?(?:s|MiB|GiB)\b", measured)
    assert len(quoted) >= 8, f"the scan of docs/hub.md found only {quoted}"
    settings = {"24"}  # the machine's memory, the size the estimate is for
    stray = sorted({q for q in quoted if q not in _numbers(block) and q not in settings})
    assert not stray, f"docs/hub.md quotes {stray}: not in bench/RESULTS.md's hub block"


# --------------------------------------------------------------------------- lessons


def _strip_non_prose(markdown: str) -> str:
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    markdown = re.sub(r"`[^`]*`", " ", markdown)  # code spans are code, not claims
    markdown = re.sub(r"\$[^$]*\$", " ", markdown)  # formulas
    markdown = re.sub(r"^#+\s*[\d.]+", " ", markdown, flags=re.M)  # section numbers
    markdown = re.sub(r"\]\([^)]*\)", "]", markdown)  # link targets
    return markdown


def _cell_text(cell: dict) -> str:
    parts = ["".join(cell.get("source", ""))]
    for out in cell.get("outputs", []):
        if "text" in out:
            parts.append("".join(out["text"]))
        for kind in ("text/plain", "text/markdown", "text/html"):
            if kind in out.get("data", {}):
                parts.append("".join(out["data"][kind]))
    return "\n".join(parts)


def _matches(quoted: str, percent: bool, seen: set[str]) -> bool:
    """``quoted`` equals a number seen above, as written, rounded, or as a percentage."""
    value = Decimal(quoted.replace(",", ""))
    places = len(quoted.partition(".")[2])
    # (what to compare with, how many decimals to round the seen number to)
    targets = [(value, places)]
    if percent:
        targets.append((value / 100, places + 2))  # 97.6% quotes 0.976
    for text in seen:
        try:
            number = Decimal(text)
        except InvalidOperation:
            continue
        for target, digits in targets:
            exp = Decimal(1).scaleb(-digits)
            if any(
                number.quantize(exp, rounding=r) == target for r in (ROUND_HALF_UP, ROUND_HALF_EVEN)
            ):
                return True
    return False


def _ignored(cell: dict) -> bool:
    """nbval does not compare this cell's outputs (a rerun may print other numbers there)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return "nbval-ignore-output" in tags or "nbval-skip" in tags


def unsupported_numbers(
    notebook: dict, allowed: dict[str, str] | None = None, *, compared_only: bool = False
) -> list[str]:
    """Measurement-shaped numbers in markdown that no code cell above shows or uses.

    With ``compared_only``, the outputs of cells nbval ignores do not count (their code
    still does): a number quoted from them could disagree with a rerun unnoticed.
    """
    allowed = allowed or {}
    seen: set[str] = set()
    stray = []
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            shown = cell if not (compared_only and _ignored(cell)) else {"source": cell["source"]}
            seen |= {n.rstrip(".") for n in _numbers(_cell_text(shown))}
            continue
        if cell["cell_type"] != "markdown":
            continue
        prose = _strip_non_prose("".join(cell["source"]))
        for match in QUOTED.finditer(prose):
            number, percent = match.group(1), match.group(2)
            quoted = number + percent
            if not (percent or "." in number or "," in number) or quoted in allowed:
                continue  # plain integers are counts, sizes and lesson numbers
            if not _matches(number, bool(percent), seen):
                stray.append(quoted)
    return stray


def test_the_checker_flags_what_it_should():
    def nb(*cells):
        return {"cells": list(cells)}

    code = {
        "cell_type": "code",
        "source": "print(acc)",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "accuracy 0.9758\n"}],
    }
    claim = {"cell_type": "markdown", "source": "It reached 0.976, i.e. 97.6%, or 98%."}
    assert unsupported_numbers(nb(code, claim)) == []
    assert unsupported_numbers(nb(claim, code)) == ["0.976", "97.6%", "98%"]  # above only
    wrong = {"cell_type": "markdown", "source": "It reached 0.981 with 12,345 weights."}
    assert unsupported_numbers(nb(code, wrong)) == ["0.981", "12,345"]
    assert unsupported_numbers(nb(code, wrong), {"0.981": "x", "12,345": "y"}) == []
    plain = {"cell_type": "markdown", "source": "## 5.1 Lesson 3 uses 32 px images in `lr=0.05`."}
    assert unsupported_numbers(nb(plain)) == []


# Lessons whose markdown quotes numbers that the outputs above them do not show (found by this
# test when it was written). The lessons' owners fix the notebooks; the xfail then turns strict.
KNOWN_UNSUPPORTED: dict[str, list[str]] = {}


@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_markdown_numbers_appear_in_outputs_above(path, request):
    assert LESSONS, "no solution notebooks found"
    stray = unsupported_numbers(json.loads(path.read_text()), ALLOWED.get(path.stem))
    if path.stem in KNOWN_UNSUPPORTED:
        request.applymarker(
            pytest.mark.xfail(
                reason=f"quotes {KNOWN_UNSUPPORTED[path.stem]} not shown above", strict=False
            )
        )
    assert not stray, f"{path.stem} quotes {stray} in markdown, not shown by the code above"


def test_lesson_scan_is_not_vacuous():
    """The lessons do quote measured numbers, and the checker recognises them in the outputs."""
    quoted = 0
    for path in LESSONS:
        notebook = json.loads(path.read_text())
        for cell in notebook["cells"]:
            if cell["cell_type"] == "markdown":
                prose = _strip_non_prose("".join(cell["source"]))
                quoted += sum(1 for m in QUOTED.finditer(prose) if "." in m.group(1))
    assert quoted >= 10, f"only {quoted} decimals quoted in lesson markdown: the scan is broken"


# Lessons whose prose may quote only numbers that nbval compares (issue 25): their comparisons
# state numbers through outputs a rerun must reproduce.
COMPARED_ONLY = ("lesson5", "lesson7")


@pytest.mark.parametrize("lesson", COMPARED_ONLY)
def test_lesson_prose_quotes_no_number_from_an_ignored_output(lesson):
    path = ROOT / "solutions" / lesson / f"{lesson}.ipynb"
    stray = unsupported_numbers(
        json.loads(path.read_text()), ALLOWED.get(lesson), compared_only=True
    )
    assert not stray, (
        f"{lesson} quotes {stray}, shown only by cells whose outputs nbval ignores: print the "
        "claim in a compared cell, or do not quote the number"
    )


def test_compared_only_ignores_ignored_outputs():
    code = {
        "cell_type": "code",
        "metadata": {"tags": ["nbval-ignore-output"]},
        "source": "print(acc)",
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "accuracy 0.9758\n"}],
    }
    claim = {"cell_type": "markdown", "source": "It reached 0.976."}
    notebook = {"cells": [code, claim]}
    assert unsupported_numbers(notebook) == []
    assert unsupported_numbers(notebook, compared_only=True) == ["0.976"]


# The claims each comparison's prose makes, as the lines a compared cell prints (issue 25):
# the prose states the claim, the line checks it on every rerun (nbval), and this test ties the
# committed output to the prose. A line that flips means the prose must change with it.
CLAIMS: dict[str, dict[str, str]] = {
    "lesson5": {
        # section 4: the same budget and rule, 3 seeds
        "every run kept the weights of its epoch with the lowest validation loss": "True",
        "feature extraction's and full fine-tuning's ranges over the seeds overlap": "True",
        "full fine-tuning kept its last epoch in every seed (still improving at the budget)": (
            "True"
        ),
        "feature extraction took less time than full fine-tuning in every seed": "True",
        "random backbone, every seed: val acc within 0.05 of chance": "True",
        "random backbone given 30 epochs, every seed: train acc >= 0.95": "True",
        "random backbone given 30 epochs, every seed: val acc within 0.05 of chance": "True",
        # section 5: learning rates, the same budget and rule
        "backbone at 1e-2, every seed: train and val acc within 0.1 of chance": "True",
        "head first, then all vs full fine-tuning from the start: ranges over the seeds overlap": (
            "True"
        ),
        # section 6: augmentation
        "with augmentation, every seed ends above every seed without it": "True",
    },
    "lesson7": {
        "every run kept the weights of its epoch with the lowest validation loss": "True",
        "full fine-tuning's worst seed beats the head's best seed on validation": "True",
        "full fine-tuning took longer than the head in every seed": "True",
    },
}


def _compared_lines(notebook: dict) -> dict[str, str]:
    lines = {}
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code" or _ignored(cell):
            continue
        for out in cell.get("outputs", []):
            for line in "".join(out.get("text", "")).splitlines():
                claim, sep, value = line.rpartition(": ")
                if sep:
                    lines[claim.strip()] = value.strip()
    return lines


@pytest.mark.parametrize("lesson", sorted(CLAIMS))
def test_each_comparison_claim_is_printed_by_a_compared_cell(lesson):
    notebook = json.loads((ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text())
    printed = _compared_lines(notebook)
    for claim, value in CLAIMS[lesson].items():
        assert claim in printed, f"{lesson}: no compared cell prints {claim!r}"
        assert printed[claim] == value, (
            f"{lesson}: {claim!r} prints {printed[claim]}, the prose says {value}: "
            "change the prose with the measurement"
        )


def test_lesson_comparisons_show_their_spread():
    """Each comparison of set-ups is drawn with its spread over seeds, not as bare means."""
    for lesson, calls in (("lesson5", 2), ("lesson7", 1)):
        text = (ROOT / "solutions" / lesson / f"{lesson}.ipynb").read_text()
        assert text.count("plots.bar_with_spread(") >= calls, lesson
        assert "plots.bar_comparison(" not in text, f"{lesson} draws a comparison without spread"
