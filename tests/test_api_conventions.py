"""Every public function of course_utils follows one API convention.

For each name in a module's ``__all__`` that is a function: every parameter and
the return value carry a type hint, there is a docstring, and a wrong-typed
first argument raises ``TypeError`` whose message quotes the bad value (so the
student sees what they passed), before any other argument is looked at.
"""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "course_utils.backbones",
    "course_utils.data",
    "course_utils.devices",
    "course_utils.diagnose",
    "course_utils.freezing",
    "course_utils.heads",
    "course_utils.judging",
    "course_utils.metrics",
    "course_utils.plots",
    "course_utils.shapes",
    "course_utils.training",
]


class WrongType:
    """A value no course_utils function accepts; its repr is easy to find in a message."""

    def __repr__(self) -> str:
        return "<WrongType sentinel>"


def _public_functions() -> list[tuple[str, str]]:
    found = []
    for name in MODULES:
        module = importlib.import_module(name)
        assert hasattr(module, "__all__"), f"{name} has no __all__"
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                found.append((name, attr))
    return found


FUNCTIONS = _public_functions()


def _get(module: str, attr: str):
    return getattr(importlib.import_module(module), attr)


def test_every_module_lists_what_it_exports():
    for name in MODULES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which does not exist"
    # Not vacuous: the walk below covers the library's functions.
    assert len(FUNCTIONS) >= 40, FUNCTIONS


@pytest.mark.parametrize(("module", "attr"), FUNCTIONS, ids=[f"{m}.{a}" for m, a in FUNCTIONS])
def test_type_hints_and_docstring(module, attr):
    func = _get(module, attr)
    sig = inspect.signature(func)
    missing = [p for p, v in sig.parameters.items() if v.annotation is inspect.Parameter.empty]
    assert not missing, f"{module}.{attr}: parameters without a type hint: {missing}"
    assert sig.return_annotation is not inspect.Signature.empty, f"{module}.{attr}: no return hint"
    assert inspect.getdoc(func), f"{module}.{attr} has no docstring"


@pytest.mark.parametrize(("module", "attr"), FUNCTIONS, ids=[f"{m}.{a}" for m, a in FUNCTIONS])
def test_wrong_typed_first_argument_raises_type_error_quoting_it(module, attr):
    func = _get(module, attr)
    params = list(inspect.signature(func).parameters.values())
    assert params, f"{module}.{attr} takes no arguments"
    first, rest = params[0], params[1:]
    # Other required arguments get a placeholder: the first argument is checked first.
    kwargs = {
        p.name: None
        for p in rest
        if p.default is inspect.Parameter.empty and p.kind is p.KEYWORD_ONLY
    }
    args = [
        None
        for p in rest
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    bad = WrongType()
    with pytest.raises(TypeError) as caught:
        if first.kind is first.KEYWORD_ONLY:
            func(*args, **{first.name: bad}, **kwargs)
        else:
            func(bad, *args, **kwargs)
    message = str(caught.value)
    assert repr(bad) in message, (
        f"{module}.{attr}: the TypeError does not quote the value: {message}"
    )
    assert first.name in message or "expected" in message, (
        f"{module}.{attr}: the TypeError does not name the argument {first.name!r}: {message}"
    )
