"""Every term is defined before its first use (issue 25; NOTEBOOK_STYLE.md "Numbers and text").

docs/glossary.md defines each term under a heading. Reading the lessons' markdown in order
(lesson 1 to 8, cell by cell), the first cell that mentions a term must define it: link to its
glossary entry (``glossary.md#<anchor>``) or set exactly that term in bold (``**logits**``),
the lessons' way of marking a definition in the sentence.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "docs" / "glossary.md"
LESSONS = sorted((ROOT / "solutions").glob("lesson*/lesson*.ipynb"), key=lambda p: int(p.stem[6:]))
LINK_PREFIX = "../../docs/glossary.md#"

# Glossary heading -> how the lessons write the term (regex). Case-insensitive unless the
# pattern starts with "(?-i)" (names such as SGD or F1 that are also ordinary letters).
TERMS: dict[str, str] = {
    "accuracy": r"\baccuracy\b",
    "accuracy paradox": r"\baccuracy paradox\b",
    "AdamW": r"(?-i:\bAdamW\b)",
    "argmax": r"\bargmax\b",
    "auxiliary head": r"\bauxiliary( heads?)?\b",
    "average precision": r"\baverage precision\b",
    "backbone": r"\bbackbones?\b",
    "batch": r"\bbatch(es)?\b",
    "BatchNorm": r"(?-i:\bBatchNorm)",
    "buffer": r"\bbuffers?\b",
    "checkpoint": r"\bcheckpoints?\b",
    "class balance": r"\bclass balance\b",
    "confusion matrix": r"\bconfusion matri(x|ces)\b",
    "cross-entropy loss": r"CrossEntropyLoss|\bcross-entropy\b",
    "data augmentation": r"\baugment",
    "data leakage": r"\b(data )?leak(age|y|s)?\b",
    "DataLoader": r"(?-i:\bDataLoaders?\b)",
    "Dataset": r"(?-i:\bDataset\b)",
    "decision tree": r"\bdecision trees?\b|DecisionTreeClassifier",
    "dropout": r"\bdropout\b",
    "early stopping": r"\bearly stopping\b|\bstops? early\b",
    "epoch": r"\bepochs?\b",
    "eval mode": r"\beval mode\b|model\.eval\(\)",
    "F1": r"(?-i:\bF1\b)",
    "feature extraction": r"\bfeature extraction\b",
    "feature vector": r"\bfeature vectors?\b",
    "fine-tuning": r"\bfine-tun(e|es|ed|ing)\b",
    "freezing": r"\bfreez(e|es|ing)\b|\bfrozen\b",
    "gradient": r"\bgradients?\b",
    "head": r"\bheads?\b",
    "ImageNet": r"(?-i:\bImageNet\b)",
    "in_features": r"\bin_features\b",
    "k-nearest neighbours": r"\bnearest[-\s]+neighbou?rs?\b|KNeighborsClassifier",
    "learning rate": r"\blearning[- ]rates?\b",
    "learning-rate schedule": r"\bschedul(e|es|er)\b",
    "logistic regression": r"\blogistic regression\b|LogisticRegression",
    "logits": r"\blogits?\b",
    "loss": r"\bloss\b",
    "macro average": r"\bmacro\b",
    "meta device": r"\bmeta device\b",
    "micro average": r"\bmicro\b",
    "optimizer": r"\boptimi[sz]ers?\b",
    "overfitting": r"\boverfit\w*",
    "parameter": r"\bparameters?\b",
    "precision": r"\bprecision\b",
    "pretrained": r"\bpre-?trained\b",
    "prevalence": r"\bprevalence\b",
    "probability": r"\bprobabilit(y|ies)\b",
    "recall": r"\brecall\b",
    "requires_grad": r"\brequires_grad\b",
    "ROC curve": r"(?-i:\bROC\b)",
    "SGD": r"(?-i:\bSGD\b)",
    "softmax": r"\bsoftmax\b",
    "standardisation": r"\bstandardi[sz]|StandardScaler",
    "tensor": r"\btensors?\b",
    "test set": r"\btest (set|split|data)\b",
    "threshold": r"\bthresholds?\b",
    "train mode and eval mode": r"\btrain mode\b|model\.train\(\)",
    "trainable parameters": r"\btrainable\b",
    "transform": r"\btransforms?\b",
    "validation set": r"\bvalidation\b",
}


def slug(heading: str) -> str:
    """GitHub's anchor for a markdown heading: lower case, punctuation dropped, '-' for spaces."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def glossary_headings() -> list[str]:
    return re.findall(r"^### (.+)$", GLOSSARY.read_text(encoding="utf-8"), flags=re.M)


def lesson_cells() -> list[tuple[str, int, str]]:
    """(lesson, cell index, markdown source) for every markdown cell, in course order."""
    cells = []
    for path in LESSONS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] == "markdown":
                cells.append((path.stem, i, "".join(cell["source"])))
    return cells


def _mentions(pattern: str, text: str) -> list[re.Match[str]]:
    prose = re.sub(r"\]\([^)]*\)", "]", text)  # link targets are not mentions
    return list(re.finditer(pattern, prose, flags=re.I))


def first_use(term: str, cells: list[tuple[str, int, str]]) -> tuple[str, int, str] | None:
    for lesson, index, text in cells:
        if _mentions(TERMS[term], text):
            return lesson, index, text
    return None


def defines(term: str, text: str) -> bool:
    """The cell links to the term's glossary entry, or sets exactly the term in bold."""
    if f"glossary.md#{slug(term)})" in text:
        return True
    for bold in re.findall(r"\*\*`?([^*`]+)`?\*\*", text):
        if re.fullmatch(TERMS[term], bold.strip(), flags=re.I):
            return True
    return False


def test_every_glossary_entry_has_a_pattern_and_back():
    headings = glossary_headings()
    assert len(headings) == len(set(headings)), "a glossary term appears twice"
    assert sorted(headings, key=str.lower) == headings, "keep the glossary alphabetical"
    assert set(headings) == set(TERMS), (
        f"in the glossary only: {sorted(set(headings) - set(TERMS))}; "
        f"in TERMS only: {sorted(set(TERMS) - set(headings))}"
    )


def test_the_issue_25_terms_are_in_the_glossary():
    needed = {
        "learning rate", "epoch", "optimizer", "AdamW", "SGD", "buffer", "BatchNorm",
        "logits", "softmax", "train mode and eval mode", "feature extraction",
        "fine-tuning", "validation set", "test set", "logistic regression",
        "decision tree", "k-nearest neighbours", "standardisation", "precision", "recall",
        "F1", "threshold", "prevalence",
    }  # fmt: skip
    assert needed <= set(glossary_headings())


@pytest.mark.parametrize("term", sorted(TERMS, key=str.lower))
def test_first_use_in_the_lessons_defines_the_term(term):
    found = first_use(term, lesson_cells())
    if found is None:
        pytest.skip(f"{term!r} is not used in any lesson's markdown")
    lesson, index, text = found
    assert defines(term, text), (
        f"{term!r} first appears in {lesson} cell {index} without a definition: link it "
        f"({LINK_PREFIX}{slug(term)}) or set it in bold where the sentence defines it"
    )


def test_every_glossary_link_in_the_lessons_resolves():
    anchors = {slug(h) for h in glossary_headings()}
    links = []
    for lesson, index, text in lesson_cells():
        for target in re.findall(r"\]\(([^)]*glossary\.md[^)]*)\)", text):
            links.append((lesson, index, target))
    assert links, "no glossary links found: the scan is broken"
    bad = [
        (lesson, index, target)
        for lesson, index, target in links
        if not target.startswith(LINK_PREFIX.split("#")[0])
        or ("#" in target and target.split("#", 1)[1] not in anchors)
    ]
    assert not bad, f"glossary links that do not resolve: {bad}"


def test_the_check_catches_an_undefined_first_use():
    cells = [("lesson1", 0, "Train for one epoch."), ("lesson2", 3, "An **epoch** is ...")]
    lesson, index, text = first_use("epoch", cells)
    assert (lesson, index) == ("lesson1", 0) and not defines("epoch", text)
    assert defines("epoch", f"one [epoch]({LINK_PREFIX}epoch)")
    assert not defines("validation set", "choose **on validation data**")  # emphasis only
