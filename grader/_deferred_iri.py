"""Defer jsonschema's IRI parsers until something checks an IRI.

``import jsonschema`` (which nbformat, and so every ``course`` command, zygote
and Dask worker, imports) imports ``rfc3987_syntax``, which builds its Earley
parsers for the ``iri`` and ``iri-reference`` formats as it is imported: about
0.8 s of CPU per process here (python-jsonschema/jsonschema#1428), for formats
that no notebook or nbgrader schema uses. ``defer()`` puts a stand-in for
``rfc3987_syntax`` in ``sys.modules``; the first use of any of its names
imports the real module in its place, so a check gives the same answer as
before, only later.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

NAME = "rfc3987_syntax"


class _StandIn(types.ModuleType):
    """``rfc3987_syntax`` until one of its names is used; then the real module answers."""

    def __getattr__(self, attr: str) -> object:
        return getattr(_real(), attr)


def _real() -> types.ModuleType:
    if isinstance(sys.modules.get(NAME), _StandIn):
        del sys.modules[NAME]
    return importlib.import_module(NAME)


def is_valid_syntax(term: str, value: str) -> bool:
    """``rfc3987_syntax.is_valid_syntax``, the name jsonschema imports, from the real module."""
    return _real().is_valid_syntax(term, value)


def defer() -> bool:
    """Stand in for ``rfc3987_syntax`` if it is installed and nothing has imported it or
    jsonschema yet; says whether it did."""
    if NAME in sys.modules or "jsonschema" in sys.modules:
        return False
    spec = importlib.util.find_spec(NAME)
    if spec is None:
        return False
    stand_in = _StandIn(NAME, __doc__)
    # What the import system reads (``from rfc3987_syntax import ...`` asks for ``__path__``)
    # is the real package's, so that reading it does not import it.
    stand_in.__spec__, stand_in.__file__ = spec, spec.origin
    stand_in.__path__ = list(spec.submodule_search_locations or [])
    stand_in.is_valid_syntax = is_valid_syntax  # type: ignore[attr-defined]
    sys.modules[NAME] = stand_in
    return True
