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

What it protects is checked by what it is, not only by name: the code,
defaults and closures of functions and the methods of classes (of the
course, the libraries tests compare with and the kernel machinery); the
shell, kernel, sessions, displayhook, display publisher and iopub objects by
type, identity, instance dict and trait values; event callbacks of any type,
garbage collector callbacks, signal handlers and timers. After each test
cell ``after_test`` says whether the cell reached the last line the grader
appended to it (``passed``) and ``scrub`` forgets every copy of its source
the kernel keeps for tracebacks; it also names the notebook's threads that
ran beside the test (``threads``).

The grader calls these through ``answer(nonce, call)``, a per-call
challenge: ``arm`` (run once by the loader, before any student code) keeps a
key the grader chose, the guard's own functions and references to the
hashing it uses, and adds an audit hook that refuses later audit hooks and
changes to the guard's functions; ``answer`` checks that the guard's
functions and its snapshot are still the ones it made, runs the call, and
signs (HMAC-SHA256 with the key) the nonce, the call, what it found and what
the call returned. A guard whose module, functions or snapshot were replaced
cannot sign, or says it was tampered with; the grader then flags the
notebook.

This is best effort against students, not a security boundary against an
attacker who reads this file: code in the same process can always undo it.
The grader therefore also judges each test by its reply, its iopub errors
and its last line, runs two canaries (``execute``), and flags the notebook
where they disagree.
"""

from __future__ import annotations

import builtins
import gc
import hashlib
import importlib
import linecache
import signal
import sys
import threading
import types
import warnings

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
    "torch.nn",
    "torch.nn.functional",
    "torch.optim",
    "sklearn.metrics",
    "linecache",
)
# Packages whose functions and classes are checked by code, not only by name: the course's,
# the libraries above, and the kernel machinery that runs cells and sends their errors.
CODE_PACKAGES = (
    "course_utils",
    "math",
    "operator",
    "numpy",
    "torch",
    "sklearn",
    "IPython.core",
    "ipykernel",
    "jupyter_client.session",
    "zmq",
    "linecache",
)
# ``sys`` hooks a cell may set to run code of its own while a test cell runs.
SYS_HOOKS = ("stdout", "stderr", "displayhook", "excepthook", "unraisablehook", "breakpointhook")
# Signals whose handlers could run a cell's code in the middle of a test (with a timer).
SIGNALS = ("SIGALRM", "SIGVTALRM", "SIGPROF", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGCHLD", "SIGIO")
TIMERS = ("ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF")
# The kernel machinery among ``CODE_PACKAGES``: its classes' dicts are put back too.
MACHINERY = ("IPython.core", "ipykernel", "jupyter_client.session", "zmq")
# Kernel attributes that carry messages out: checked by type, identity and instance dict.
KERNEL_OBJECTS = ("session", "iopub_socket", "iopub_thread", "shell_stream", "shell_socket")
# Names a class gains at run time for itself (``copy`` caches slot names there).
CLASS_CACHES = ("__slotnames__",)
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


# --- code, classes and the kernel's machinery: checked by what they are, not only by name ---

_EMPTY = object()  # an empty closure cell, or a name a class or instance did not have


def _code_module(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in CODE_PACKAGES)


def _method_like(value) -> bool:
    """What a patch puts in a class or instance dict: anything callable or a descriptor, not data."""
    if isinstance(value, type):
        return False
    return callable(value) or isinstance(value, (classmethod, staticmethod, property))


def _cell_value(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return _EMPTY


def _functions_in(namespace) -> list:
    """The Python functions ``namespace`` holds, directly or as a class's method or property."""
    found = []
    for value in list(namespace.values()):
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
        if isinstance(value, property):
            found += [f for f in (value.fget, value.fset, value.fdel) if f is not None]
        elif isinstance(value, types.FunctionType):
            found.append(value)
    return [f for f in found if isinstance(f, types.FunctionType)]


def _function_state(fn) -> tuple:
    closure = fn.__closure__
    contents = tuple(_cell_value(c) for c in closure) if closure else ()
    return (fn.__code__, fn.__defaults__, fn.__kwdefaults__, contents)


def _heap_type(cls) -> bool:
    """Classes whose dict can be changed at run time (not static C types like ``int``)."""
    return cls is not object and bool(cls.__flags__ & (1 << 9))


def _code_snapshot(machinery: list) -> tuple[list, list]:
    """(function, its state) and (class, a copy of its dict) of everything checked by code."""
    with warnings.catch_warnings():  # deprecated module attributes warn when looked at
        warnings.simplefilter("ignore")
        return _code_snapshot_of(machinery)


def _code_snapshot_of(machinery: list) -> tuple[list, list]:
    code_classes: dict[int, type] = {}  # their methods' code is checked
    dict_classes: dict[int, type] = {}  # and their dicts too
    namespaces = []
    for name, mod in list(sys.modules.items()):
        if mod is None or not _code_module(name):
            continue
        namespace = getattr(mod, "__dict__", {})
        namespaces.append(namespace)
        for value in list(namespace.values()):
            if isinstance(value, type) and _code_module(getattr(value, "__module__", "") or ""):
                found = {id(c): c for c in value.__mro__ if _heap_type(c)}
                code_classes.update(found)
                if _dict_module(name):
                    dict_classes.update(found)
    for obj in machinery:
        found = {id(c): c for c in type(obj).__mro__ if _heap_type(c)}
        code_classes.update(found)
        dict_classes.update(found)
    functions: dict[int, types.FunctionType] = {}
    for namespace in namespaces + [vars(c) for c in code_classes.values()]:
        functions.update((id(f), f) for f in _functions_in(namespace))
    return (
        [(f, _function_state(f)) for f in functions.values()],
        [(c, dict(vars(c))) for c in dict_classes.values()],
    )


def _dict_module(name: str) -> bool:
    """Modules whose classes' dicts are put back: the course's, the libraries tests compare
    with (not all of torch: its compiler adds and swaps methods of its own classes as it
    loads) and the kernel machinery."""
    return _guarded(name) or any(name == p or name.startswith(p + ".") for p in MACHINERY)


def _machinery(shell) -> list:
    """The objects that run a cell and send its outputs and errors: shell, kernel, session..."""
    kernel = getattr(shell, "kernel", None)
    found = [shell, kernel, shell.events, shell.displayhook, shell.display_pub, shell.compile]
    found += [getattr(shell, name, None) for name in ("InteractiveTB", "SyntaxTB")]
    found += [
        getattr(shell.displayhook, "session", None),
        getattr(shell.display_pub, "session", None),
    ]
    found += [getattr(shell.displayhook, "pub_socket", None), sys.stdout, sys.stderr]
    found += [getattr(kernel, name, None) for name in KERNEL_OBJECTS]
    found.append(getattr(getattr(kernel, "iopub_thread", None), "socket", None))
    unique = {id(o): o for o in found if o is not None}
    return list(unique.values())


def _object_snapshot(obj) -> tuple:
    traits = getattr(obj, "_trait_values", None)
    return (
        obj,
        type(obj),
        dict(vars(obj)) if hasattr(obj, "__dict__") else {},
        dict(traits) if isinstance(traits, dict) else None,
    )


def _restore_code() -> list[str]:
    repaired = []
    for fn, (code, defaults, kwdefaults, contents) in _state["functions"]:
        name = f"{getattr(fn, '__module__', '')}.{fn.__qualname__}"
        if fn.__code__ is not code:
            fn.__code__ = code
            repaired.append(f"{name}.__code__")
        if fn.__defaults__ is not defaults:
            fn.__defaults__ = defaults
            repaired.append(f"{name}.__defaults__")
        if fn.__kwdefaults__ is not kwdefaults:
            fn.__kwdefaults__ = kwdefaults
            repaired.append(f"{name}.__kwdefaults__")
        for cell, value in zip(fn.__closure__ or (), contents, strict=False):
            now = _cell_value(cell)
            # Only what a patch swaps in a closure (functions, classes); counters and caches may move.
            if now is not value and (
                _method_like(value) or _method_like(now) or _restorable(value)
            ):
                if value is _EMPTY:
                    del cell.cell_contents
                else:
                    cell.cell_contents = value
                repaired.append(f"{name} closure")
    for cls, saved in _state["class_dicts"]:
        repaired += _restore_dict(cls, vars(cls), saved, f"{cls.__module__}.{cls.__qualname__}")
    return repaired


def _restore_dict(owner, now, saved: dict, label: str) -> list[str]:
    """Put back the methods of a class or instance dict: changed ones, and new ones removed."""
    repaired = []
    protected = _state["machinery_ids"]
    for name, value in list(now.items()):
        old = saved.get(name, _EMPTY)
        if value is old:
            continue
        if old is _EMPTY:
            if not _method_like(value) or name in CLASS_CACHES:
                continue
            if isinstance(owner, type) and _library_wrapper(value, _inherited(owner, name)):
                saved[name] = value  # ``AdamW.step``: the wrapped ``Adam.step``, put on AdamW
                continue
            delattr(owner, name)
        elif _library_wrapper(value, old):
            saved[name] = value  # torch.optim wraps ``step`` on first use: a library's own doing
            continue
        elif _method_like(old) or _method_like(value) or id(old) in protected:
            setattr(owner, name, old)
        else:
            continue
        repaired.append(f"{label}.{name}")
    for name, old in saved.items():
        if name not in now and (_method_like(old) or id(old) in protected):
            setattr(owner, name, old)
            repaired.append(f"{label}.{name}")
    return repaired


def _restore_machinery() -> list[str]:
    repaired = []
    protected = _state["machinery_ids"]
    for obj, cls, saved, traits in _state["machinery"]:
        label = cls.__name__
        if type(obj) is not cls:
            obj.__class__ = cls
            repaired.append(f"{label} class")
        if saved:
            repaired += _restore_dict(_Raw(obj), vars(obj), saved, label)
        now = getattr(obj, "_trait_values", None)
        if traits is not None and isinstance(now, dict):
            for name, old in traits.items():
                value = now.get(name, _EMPTY)
                if value is not old and (id(old) in protected or _method_like(old)):
                    now[name] = old
                    repaired.append(f"{label}.{name}")
    return repaired


class _Raw:
    """Sets and deletes names in an instance dict directly (past traitlets and properties)."""

    _raw: dict

    def __init__(self, obj) -> None:
        object.__setattr__(self, "_raw", vars(obj))

    def __setattr__(self, name: str, value) -> None:
        self._raw[name] = value

    def __delattr__(self, name: str) -> None:
        del self._raw[name]


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
        sys={k: getattr(sys, k) for k in SYS_HOOKS if hasattr(sys, k)},
        gc_callbacks=list(gc.callbacks),
        linecache=(linecache.cache, type(linecache.cache)),
        signals={
            name: signal.getsignal(getattr(signal, name))
            for name in SIGNALS
            if hasattr(signal, name)
        },
        threads={id(t) for t in threading.enumerate()},
        meta_path=list(sys.meta_path),
        protected={},
        shell=shell,
        user_ns=dict(shell.user_ns) if shell is not None else {},
        passed=set(),
        lines=set(linecache.cache),
        functions=[],
        class_dicts=[],
        machinery=[],
        machinery_ids=frozenset(),
    )
    if shell is None:
        functions, class_dicts = _code_snapshot([])
        _state.update(functions=functions, class_dicts=class_dicts)
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
        callbacks_dict=shell.events.callbacks,
        stashed={},
    )
    machinery = _machinery(shell)
    functions, class_dicts = _code_snapshot(machinery)
    _state.update(
        machinery=[_object_snapshot(o) for o in machinery],
        machinery_ids=frozenset(id(o) for o in machinery),
        functions=functions,
        class_dicts=class_dicts,
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
    repaired += _restore_process()
    if sys.meta_path != _state["meta_path"]:
        sys.meta_path[:] = _state["meta_path"]
        repaired.append("sys.meta_path")
    for name, module in _state["modules"].items():
        if sys.modules.get(name) is not module:
            sys.modules[name] = module
            repaired.append(f"sys.modules[{name!r}]")
        saved = _state["module_dicts"][name]
        for attr, original in saved.items():
            now = vars(module).get(attr)
            if now is original:
                continue
            if _library_wrapper(now, original):
                saved[attr] = now  # torch's compiler wraps ``torch.manual_seed`` as it loads
                continue
            setattr(module, attr, original)
            repaired.append(f"{name}.{attr}")
    shell = _state["shell"]
    if shell is not None:
        repaired += _restore_machinery()
        repaired += _restore_shell(shell)
    repaired += _restore_code()
    _state["lines"] = set(linecache.cache)
    # What exists now is left out of collections until ``after_test``, whose full
    # collection then only has to look at what the canaries and the test made.
    gc.freeze()
    return repaired


def _restore_process() -> list[str]:
    """Hooks through which a cell's own code would run, or read the source, during a test."""
    repaired = []
    if gc.callbacks != _state["gc_callbacks"]:
        gc.callbacks[:] = _state["gc_callbacks"]
        repaired.append("gc.callbacks")
    cache, cache_type = _state["linecache"]
    if linecache.cache is not cache or type(cache) is not cache_type:
        cache.update(dict(linecache.cache))
        linecache.cache = cache
        repaired.append("linecache.cache")
    for name, handler in _state["signals"].items():
        number = getattr(signal, name)
        if signal.getsignal(number) is not handler:
            signal.signal(number, handler)
            repaired.append(f"signal handler {name}")
    for name in TIMERS:
        which = getattr(signal, name, None)
        if which is not None and signal.getitimer(which) != (0.0, 0.0):
            signal.setitimer(which, 0)
            repaired.append(f"timer {name}")
    return repaired


def threads() -> list[str]:
    """Threads started since ``install`` that run a cell's code: they run beside the tests.

    A thread's target, its ``run`` or a frame on its stack from a cell counts
    (a library's own threads, say tqdm's monitor, do not). Nothing in the
    process can stop them; the grader flags the notebook.
    """
    frames = sys._current_frames()
    found = []
    for thread in threading.enumerate():
        if id(thread) in _state["threads"] or thread is threading.current_thread():
            continue
        code = [
            getattr(getattr(thread, "_target", None), "__code__", None),
            getattr(getattr(thread, "function", None), "__code__", None),
            getattr(getattr(type(thread), "run", None), "__code__", None),
        ]
        frame = frames.get(thread.ident) if thread.ident is not None else None
        while frame is not None:
            code.append(frame.f_code)
            frame = frame.f_back
        if any(c is not None and _cell_file(c.co_filename) for c in code):
            found.append(thread.name)
    return found


def _cell_file(filename: str) -> bool:
    return filename.startswith("<") or "ipykernel_" in filename


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
    if shell.events.callbacks is not _state["callbacks_dict"]:
        shell.events.callbacks = _state["callbacks_dict"]
        repaired.append("event callbacks")
    # Whatever was registered after the snapshot, of any type (a function, a callable object,
    # a partial, a bound method), sits out the test cell; ``after_test`` puts it back, so a
    # plotting library's callback still works in the student's own cells.
    stashed = _state["stashed"]
    for event, fns in shell.events.callbacks.items():
        original = _state["callbacks"].get(event, [])
        extra = [fn for fn in fns if not any(fn is o for o in original)]
        if (
            extra
            or len(fns) != len(original)
            or any(a is not b for a, b in zip(fns, original, strict=False))
        ):
            stashed.setdefault(event, []).extend(extra)
            fns[:] = list(original)
            if any(not _library_function(fn) for fn in extra):
                repaired.append(f"{event} callbacks")
    return repaired


def _inherited(cls: type, name: str):
    for base in cls.__mro__[1:]:
        if name in vars(base):
            return vars(base)[name]
    return _EMPTY


def _library_wrapper(value, old) -> bool:
    """A function from a library file that wraps ``old`` (``functools.wraps``), not a cell's."""
    return getattr(value, "__wrapped__", None) is old and _library_function(value)


def _library_function(fn) -> bool:
    """A plain function from a file on disk (matplotlib's ``flush_figures``), not from a cell:
    set aside during tests like any other callback, but not worth a note."""
    code = getattr(fn, "__code__", None) if isinstance(fn, types.FunctionType) else None
    return code is not None and not _cell_file(code.co_filename)


# --- after a test cell: its verdict, and no copy of its source left behind ----------------


def passed(nonce: str, _getframe=sys._getframe) -> None:
    """The last line the grader appends to a test cell: the cell ran to its end.

    Only a cell's top level counts (not a callback or a checker that calls this).
    """
    if _getframe(1).f_code.co_name == "<module>":
        _state["passed"].add(nonce)


def after_test(nonce: str) -> dict:
    """Whether the test cell that carried ``nonce`` ran to its end, and the notebook's threads
    that ran beside it (``threads``); then forget its source."""
    ran = nonce in _state["passed"]
    _state["passed"].discard(nonce)
    scrubbed = scrub(collect=True)
    gc.unfreeze()
    shell = _state["shell"]
    if shell is not None:
        for event, fns in _state["stashed"].items():
            callbacks = shell.events.callbacks.setdefault(event, [])
            callbacks.extend(fn for fn in fns if not any(fn is c for c in callbacks))
    _state["stashed"] = {}
    return {"passed": ran, "scrubbed": scrubbed, "threads": threads()}


def scrub(collect: bool = False) -> int:
    """Remove every copy of the cells run since ``restore`` that the kernel keeps for tracebacks.

    IPython puts each cell's source in ``linecache``; a failed cell's traceback
    (``sys.last_*``, the last result, the traceback formatters, ``executing``'s
    caches) holds its frames and code objects, whose constants quote the test.
    Test cells run with ``store_history=False``, so ``In``, ``_i*`` and the
    history database never get them. Returns how many cached sources went.
    """
    fresh = [name for name in list(linecache.cache) if name not in _state["lines"]]
    for name in fresh:
        linecache.cache.pop(name, None)
    for cache in (getattr(linecache, "_interactive_cache", None),):
        if isinstance(cache, dict):
            for name in fresh:
                cache.pop(name, None)
    shell = _state["shell"]
    last = getattr(shell, "last_execution_result", None)
    _drop_frames(
        [getattr(sys, "last_value", None), getattr(sys, "last_exc", None)]
        + [getattr(last, "error_in_exec", None), getattr(last, "error_before_exec", None)]
    )
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            delattr(sys, name)
    if shell is not None:
        shell.last_execution_result = None
        for formatter in (getattr(shell, "InteractiveTB", None), getattr(shell, "SyntaxTB", None)):
            for obj in (formatter, *vars(formatter).values()) if formatter is not None else ():
                if "tb" in getattr(obj, "__dict__", {}):
                    obj.__dict__["tb"] = None
    _clear_source_caches()
    if collect:
        # Frames of the test that only reference cycles keep alive (a checker that caught an
        # error); after ``restore``'s freeze this looks at the test's own objects only.
        gc.collect()
    return len(fresh)


def _drop_frames(errors: list) -> None:
    """Cut the frames of these exceptions (and those they were raised from) from their tracebacks.

    A checker that raises from a student's error leaves reference cycles
    (exception, traceback, frame) that keep the test cell's frame and code
    alive until a full collection (half a second with torch loaded);
    cleared frames and dropped tracebacks free them at once.
    """
    seen: set[int] = set()
    while errors:
        error = errors.pop()
        if not isinstance(error, BaseException) or id(error) in seen:
            continue
        seen.add(id(error))
        tb = error.__traceback__
        while tb is not None:
            try:
                tb.tb_frame.clear()
            except RuntimeError:  # a frame still running (the guard's own caller): keep it
                pass
            tb = tb.tb_next
        error.__traceback__ = None
        errors += [error.__cause__, error.__context__]


def _clear_source_caches() -> None:
    """``executing`` and ``stack_data`` (IPython's tracebacks) cache sources and code objects."""
    base = getattr(sys.modules.get("executing"), "Source", None)
    todo, classes = [base] if base is not None else [], []
    while todo:
        cls = todo.pop()
        classes.append(cls)
        todo += cls.__subclasses__()
    for cls in classes:
        for name, value in list(vars(cls).items()):
            if name.endswith("cache") and isinstance(value, dict):
                value.clear()
    for name, mod in list(sys.modules.items()):
        if mod is None or name.split(".")[0] not in ("executing", "stack_data", "pure_eval"):
            continue
        for value in list(vars(mod).values()):
            for item in [value, *(vars(value).values() if isinstance(value, type) else ())]:
                clear = getattr(item, "cache_clear", None)
                if callable(clear):
                    clear()


# --- the challenge ---------------------------------------------------------------

CALLS = ("install", "remember", "restore", "after_test", "scrub")


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
    guarded = frozenset(id(fn) for fn, *_ in functions.values()) | {id(answer), id(sign)}

    def audit(event: str, args: tuple) -> None:
        # A hook added later sees every ``exec`` of a cell, test cells included, with its code;
        # refusing it here is the only way: audit hooks cannot be removed.
        if event == "sys.addaudithook":
            raise RuntimeError("the grader does not allow audit hooks in a graded notebook")
        if event == "object.__setattr__" and (id(args[0]) in guarded or args[0] is audit):
            raise RuntimeError("the grader's guard cannot be changed")

    sys.addaudithook(audit)


def _unarmed(nonce: str, call: str) -> str:
    raise RuntimeError("the guard was never armed")


answer = _unarmed
