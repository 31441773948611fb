"""Runs inside the grading kernel: undo a submission's monkeypatching before each graded cell.

The grader calls ``install`` once, before the notebook's first cell, which
imports the trusted modules and snapshots them, the builtins and the
IPython machinery that reports errors. After each read-only cell it calls
``remember`` (the names those cells bound to course objects), and before each
graded cell ``restore``, which puts all of that back. A submission that
redefines ``check_...``, patches ``course_utils``, rebinds ``print`` or
``AssertionError``, swallows exceptions (``set_custom_exc``, input or AST
transformers, ``sys.excepthook``, event callbacks) or replaces the methods
that run cells and report errors is undone before the tests run.

The grader calls all three through ``answer(nonce, call)``, a per-call
challenge: ``arm`` (run once by the loader, before any student code) keeps a
key the grader chose, the guard's own functions and references to the
hashing it uses; ``answer`` checks that the guard's functions and its
snapshot are still the ones it made, runs the call, and signs
(HMAC-SHA256 with the key) the nonce, the call, what it found and what the
call returned. A guard whose module, functions or snapshot were replaced
cannot sign, or says it was tampered with; the grader then flags the
notebook.

This is best effort against students, not a security boundary against an
attacker who reads this file: code in the same process can always undo it.
The grader therefore also checks, after ``restore``, that a failing assert
still fails (the canary in ``execute``) and flags the notebook if not.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import sys
import types

# Methods that run cells and report their errors: instance overrides are
# deleted, and class attributes put back.
SHELL_METHODS = (
    "run_cell",
    "run_cell_async",
    "_run_cell",
    "run_code",
    "run_ast_nodes",
    "transform_cell",
    "transform_ast",
    "showtraceback",
    "_showtraceback",
    "showsyntaxerror",
    "showindentationerror",
    "get_exception_only",
    "_get_exc_info",
    "should_run_async",
)
# Shell instance attributes that format and publish tracebacks and results.
SHELL_ATTRS = ("InteractiveTB", "SyntaxTB", "displayhook", "display_pub")
KERNEL_METHODS = (
    "do_execute",
    "execute_request",
    "dispatch_shell",
    "send_response",
    "_publish_execute_input",
    "_publish_status",
)
SESSION_METHODS = ("send", "serialize", "sign")
TRANSFORM_LISTS = ("cleanup_transforms", "line_transforms", "token_transformers")
# Libraries hidden tests compare with; their functions are put back too (when imported).
LIBRARIES = (
    "math",
    "operator",
    "numpy",
    "numpy.testing",
    "torch",
    "torch.testing",
    "torch.nn.functional",
    "sklearn.metrics",
)
# Builtins the kernel itself rebinds (after every result; ``input`` per request).
VOLATILE_BUILTINS = ("_", "__", "___", "input", "raw_input")

_state: dict = {}


def _shell():
    from IPython import get_ipython

    return get_ipython()


def _is_ours(name: str) -> bool:
    return name == "course_utils" or name.startswith("course_utils.")


def _guarded(name: str) -> bool:
    return _is_ours(name) or name in LIBRARIES


def _class_snapshot(obj, names) -> list[tuple[type, str, object]]:
    saved = []
    for cls in type(obj).__mro__:
        for name in names:
            if name in vars(cls):
                saved.append((cls, name, vars(cls)[name]))
    return saved


def install(modules: list[str]) -> None:
    """Import ``modules`` (names that fail to import are skipped) and snapshot what tests rely on."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the notebook will report a broken import itself
            continue
    mods = {name: mod for name, mod in sys.modules.items() if _guarded(name) and mod is not None}
    shell = _shell()
    _state.clear()
    _state.update(
        modules=mods,
        all_modules=dict(sys.modules),
        module_dicts={
            name: {k: v for k, v in vars(mod).items() if _restorable(v)}
            for name, mod in mods.items()
        },
        builtins={k: v for k, v in vars(builtins).items() if k not in VOLATILE_BUILTINS},
        sys={k: getattr(sys, k) for k in ("stdout", "stderr", "displayhook")},
        meta_path=list(sys.meta_path),
        protected={},
        shell=shell,
        user_ns=dict(shell.user_ns) if shell is not None else {},
    )
    if shell is None:
        return
    kernel = getattr(shell, "kernel", None)
    manager = shell.input_transformer_manager
    _state.update(
        shell_attrs={k: getattr(shell, k) for k in SHELL_ATTRS if hasattr(shell, k)},
        manager=manager,
        transforms={k: list(getattr(manager, k)) for k in TRANSFORM_LISTS},
        post=list(shell.input_transformers_post),
        ast=list(shell.ast_transformers),
        instance=[
            (obj, {n: vars(obj)[n] for n in names if n in vars(obj)}, names)
            for obj, names in (
                (shell, SHELL_METHODS),
                (kernel, KERNEL_METHODS),
                (getattr(kernel, "session", None), SESSION_METHODS),
            )
            if obj is not None
        ],
        classes=_class_snapshot(shell, SHELL_METHODS)
        + (_class_snapshot(kernel, KERNEL_METHODS) if kernel else [])
        + (_class_snapshot(kernel.session, SESSION_METHODS) if kernel else []),
        kernel=kernel,
        handlers=dict(kernel.shell_handlers) if kernel else {},
        callbacks={event: list(fns) for event, fns in shell.events.callbacks.items()},
    )


def _restorable(value) -> bool:
    """Functions, classes and modules: what a monkeypatch replaces (data is left alone)."""
    return isinstance(
        value, (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)
    )


def _pristine(value) -> bool:
    """Is ``value`` the very object a trusted module defined (not a look-alike)?"""
    if isinstance(value, types.ModuleType):
        return _state["all_modules"].get(value.__name__) is value
    module = getattr(value, "__module__", None) or ""
    name = getattr(value, "__name__", None)
    return _state["module_dicts"].get(module, {}).get(name) is value


def remember() -> None:
    """Record the names read-only cells bound to course objects; ``restore`` rebinds them."""
    shell = _state.get("shell")
    if shell is None:
        return
    for name, value in list(shell.user_ns.items()):
        if not name.startswith("_") and _restorable(value) and _pristine(value):
            _state["protected"][name] = value


def _user_code(fn) -> bool:
    code = getattr(fn, "__code__", None) or getattr(getattr(fn, "__func__", None), "__code__", None)
    filename = getattr(code, "co_filename", "") if code else ""
    return filename.startswith("<") or "ipykernel_" in filename


def restore() -> list[str]:
    """Undo monkeypatching (see the module docstring); returns what was repaired."""
    repaired: list[str] = []
    sys.settrace(None)
    sys.setprofile(None)
    for name, original in _state["builtins"].items():
        if vars(builtins).get(name) is not original:
            setattr(builtins, name, original)
            repaired.append(f"builtins.{name}")
    for key, original in _state["sys"].items():
        if getattr(sys, key) is not original:
            setattr(sys, key, original)
            repaired.append(f"sys.{key}")
    if sys.meta_path != _state["meta_path"]:
        sys.meta_path[:] = _state["meta_path"]
        repaired.append("sys.meta_path")
    for name, module in _state["modules"].items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            repaired.append(f"sys.modules[{name!r}]")
        for attr, original in _state["module_dicts"][name].items():
            if vars(module).get(attr) is not original:
                setattr(module, attr, original)
                repaired.append(f"{name}.{attr}")
    shell = _state["shell"]
    if shell is not None:
        repaired += _restore_shell(shell)
    return repaired


def _restore_shell(shell) -> list[str]:
    repaired = []
    ns = shell.user_ns
    for name, original in _state["protected"].items():
        if ns.get(name) is not original:
            ns[name] = original
            repaired.append(name)
    at_start = _state["user_ns"]
    for name, original in _state["builtins"].items():
        # A callable that shadows a builtin in the notebook namespace (``print = ...``);
        # IPython's own names (``open``, ``get_ipython``) were there before any cell ran.
        value = ns.get(name, original)
        if (
            value is not original
            and value is not at_start.get(name)
            and callable(value)
            and not name.startswith("_")
            and name not in _state["protected"]
        ):
            del ns[name]
            repaired.append(name)
    if shell.custom_exceptions:
        shell.custom_exceptions = ()
        repaired.append("custom exception handler")
    if shell.input_transformer_manager is not _state["manager"]:
        shell.input_transformer_manager = _state["manager"]
    for key, original in _state["transforms"].items():
        if list(getattr(_state["manager"], key)) != original:
            setattr(_state["manager"], key, list(original))
            repaired.append(f"input transformers ({key})")
    if list(shell.input_transformers_post) != _state["post"]:
        shell.input_transformers_post = list(_state["post"])
        repaired.append("input transformers (post)")
    if list(shell.ast_transformers) != _state["ast"]:
        shell.ast_transformers = list(_state["ast"])
        repaired.append("AST transformers")
    kernel = _state["kernel"]
    for obj, saved, names in _state["instance"]:
        for name in names:
            if name in saved and vars(obj).get(name) is not saved[name]:
                setattr(obj, name, saved[name])
            elif name not in saved and name in vars(obj):
                delattr(obj, name)
            else:
                continue
            repaired.append(f"{type(obj).__name__}.{name}")
    for name, original in _state["shell_attrs"].items():
        if getattr(shell, name, None) is not original:
            setattr(shell, name, original)
            repaired.append(f"shell.{name}")
    for cls, name, original in _state["classes"]:
        if vars(cls).get(name) is not original:
            setattr(cls, name, original)
            repaired.append(f"{cls.__name__}.{name}")
    if kernel is not None and kernel.shell_handlers != _state["handlers"]:
        kernel.shell_handlers.clear()
        kernel.shell_handlers.update(_state["handlers"])
        repaired.append("kernel handlers")
    for event, fns in shell.events.callbacks.items():
        kept = [fn for fn in fns if fn in _state["callbacks"].get(event, []) or not _user_code(fn)]
        if len(kept) != len(fns):
            fns[:] = kept
            repaired.append(f"{event} callbacks")
    return repaired


# --- the challenge ---------------------------------------------------------------

CALLS = ("install", "remember", "restore")


# Snapshot entries whose containers hold containers of the guard's own (copies it made).
_NESTED = ("module_dicts", "instance", "transforms", "callbacks", "classes")


def _ids(value, depth: int):
    """Identities of what ``value`` holds, ``depth`` levels down: changes when anything is swapped."""
    if depth == 0:
        return id(value)
    if isinstance(value, dict):
        return (id(value), tuple(sorted((str(k), _ids(v, depth - 1)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (id(value), tuple(_ids(v, depth - 1) for v in value))
    return id(value)


def _fingerprint(state: dict):
    """The snapshot's identities: its containers and what they hold, not the live objects'
    contents (the notebook namespace's ``In`` grows with every cell)."""
    return tuple(
        sorted((key, _ids(value, 3 if key in _NESTED else 1)) for key, value in state.items())
    )


def arm(key: bytes) -> None:
    """Once, before any student code: keep ``key`` and what the guard is made of, in a closure."""
    module = globals()
    if module.get("answer") is not _unarmed:
        raise RuntimeError("the guard is armed already")
    sha256, repr_, isinstance_, sorted_ = hashlib.sha256, repr, isinstance, sorted
    settrace, setprofile = sys.settrace, sys.setprofile
    block = key.ljust(64, b"\0")
    inner_key, outer_key = bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)
    functions = {
        name: (fn, fn.__code__, fn.__defaults__, fn.__kwdefaults__, fn.__closure__)
        for name, fn in module.items()
        if isinstance_(fn, types.FunctionType)
    }
    calls = {name: module[name] for name in CALLS}
    fingerprint, seal = module["_fingerprint"], [None]
    state = module["_state"]

    def sign(text: str) -> str:
        return sha256(outer_key + sha256(inner_key + text.encode()).digest()).hexdigest()

    def answer(nonce: str, call: str, *args) -> str:
        """The signature, what was tampered with, and ``call(*args)``'s result, one line each."""
        settrace(None)
        setprofile(None)
        tampered = []
        for name, (fn, code, defaults, kwdefaults, closure) in functions.items():
            now = module.get(name)
            # ``now is not fn`` last: mypy would narrow ``fn`` to the type of ``now`` after it.
            if name != "answer" and (
                fn.__code__ is not code
                or fn.__defaults__ is not defaults
                or fn.__kwdefaults__ is not kwdefaults
                or fn.__closure__ is not closure
                or now is not fn
            ):
                tampered.append(name)
        if module.get("_state") is not state or (
            seal[0] is not None and fingerprint(state) != seal[0]
        ):
            tampered.append("_state")
        result = calls[call](*args)
        seal[0] = fingerprint(state)
        body = repr_(sorted_(tampered)) + "\n" + repr_(result)
        return sign(nonce + "\n" + call + repr_(args) + "\n" + body) + "\n" + body

    module["answer"] = answer


def _unarmed(nonce: str, call: str) -> str:
    raise RuntimeError("the guard was never armed")


answer = _unarmed
