"""grader._deferred_iri: jsonschema's IRI parsers are built on first use, with the same verdicts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader import _deferred_iri

pytestmark = pytest.mark.long(11)

pytest.importorskip(_deferred_iri.NAME)

IRIS = ["http://例え.テスト/ü?q=1#f", "urn:isbn:0451450523", "//no-scheme", "http://a b", ""]
VERDICTS = f"""
import json, sys
from jsonschema import Draft7Validator
checks = {{
    fmt: Draft7Validator({{"format": fmt}}, format_checker=Draft7Validator.FORMAT_CHECKER)
    for fmt in ("iri", "iri-reference")
}}
verdicts = {{fmt: [v.is_valid(s) for s in {IRIS!r}] for fmt, v in checks.items()}}
print(json.dumps({{"verdicts": verdicts, "real": type(sys.modules["{_deferred_iri.NAME}"]).__name__}}))
"""


def _python(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_grader_imports_jsonschema_without_building_the_parsers_and_checks_the_same():
    before_use = """
import json, sys
import grader, nbformat, jsonschema
print(json.dumps({"built": "rfc3987_syntax.syntax_helpers" in sys.modules}))
"""
    assert _python(before_use) == {"built": False}
    deferred = _python("import grader\n" + VERDICTS)
    plain = _python(VERDICTS)
    assert deferred == plain, (deferred, plain)
    assert deferred["real"] == "module"  # the stand-in stepped aside for the real module
    assert plain["verdicts"]["iri"] == [True, True, False, False, False]


def test_the_stand_in_serves_submodules_and_any_name():
    code = f"""
import json, sys
from grader import _deferred_iri
import rfc3987_syntax
stood_in = type(rfc3987_syntax).__name__
from rfc3987_syntax.utils import load_grammar
terms = rfc3987_syntax.RFC3987_SYNTAX_TERMS  # a name the stand-in does not hold
print(json.dumps({{"stood_in": stood_in, "real": type(sys.modules["{_deferred_iri.NAME}"]).__name__,
                   "terms": "iri" in terms, "again": _deferred_iri.defer()}}))
"""
    assert _python(code) == {
        "stood_in": "_StandIn",
        "real": "module",
        "terms": True,
        "again": False,
    }


def test_defer_leaves_an_imported_jsonschema_alone():
    import jsonschema  # noqa: F401 - imported already in this process, by nbformat

    assert _deferred_iri.defer() is False
