"""Known submissions for the grader, built from a lesson's student and solution notebooks.

Every case starts from the released (student) notebook and the solution, so
the corpus follows the lessons as they change. ``expected.json`` (beside this
file) says what each case must score, in terms of the lesson's own points:

- ``"all"`` / ``0``: every point / none;
- ``"all_but_first"``: all but the points of the first exercise (the answer
  cell that the case breaks, and the test cells after it);
- ``"first_half"``: the points of the first half of the exercises;
- ``"all_but_choice"``: all but the points of the first multiple-choice item.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).parent
CHOICE = re.compile(r"^\s*(answer_\w+)\s*=\s*['\"]([A-Za-z])['\"]\s*$", re.M)


def expected() -> dict:
    return json.loads((HERE / "expected.json").read_text())


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def solution_code(source: str) -> str:
    """The answer as a student would type it: the solution without its markers."""
    return "\n".join(
        line
        for line in source.split("\n")
        if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line
    )


@dataclass(frozen=True)
class Exercise:
    answer_id: str
    solution: str  # what a correct student writes
    tests: tuple[tuple[str, float], ...]  # (grade_id, points) of the test cells after the answer

    @property
    def points(self) -> float:
        return sum(p for _, p in self.tests)


def exercises(released, source) -> list[Exercise]:
    """Answer cells of ``released`` in order, each with its solution and the tests that follow it."""
    solutions = {_meta(c).get("grade_id"): c.source for c in source.cells}
    found: list[Exercise] = []
    for cell in released.cells:
        meta = _meta(cell)
        if meta.get("solution"):
            found.append(Exercise(meta["grade_id"], solution_code(solutions[meta["grade_id"]]), ()))
        elif meta.get("grade") and found:
            last = found[-1]
            found[-1] = Exercise(
                last.answer_id,
                last.solution,
                (*last.tests, (meta["grade_id"], float(meta["points"]))),
            )
    return [e for e in found if e.tests]


def first_choice(items: list[Exercise]) -> tuple[Exercise, str, str] | None:
    """The first multiple-choice exercise, its variable and its right letter."""
    for item in items:
        match = CHOICE.search(item.solution)
        if match:
            return item, match.group(1), match.group(2).upper()
    return None


def answered(released, source, which: list[str] | None = None):
    """``released`` with the answers of ``which`` exercises (default: all) filled in."""
    nb = copy.deepcopy(released)
    chosen = {e.answer_id: e.solution for e in exercises(released, source)}
    for cell in nb.cells:
        grade_id = _meta(cell).get("grade_id")
        if grade_id in chosen and (which is None or grade_id in which):
            cell.source = chosen[grade_id]
    return nb


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if _meta(c).get("grade_id") == grade_id)


def _prefix_first(released, source, code: str):
    """All answers right, but the first exercise's answer cell starts with ``code``."""
    nb = answered(released, source)
    cell = _cell(nb, exercises(released, source)[0].answer_id)
    cell.source = code + "\n" + cell.source
    return nb


def _insert_after_setup(nb, code: str):
    from nbformat.v4 import new_code_cell

    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first_code + 1, new_code_cell(code))
    return nb


# Undoes everything a checker relies on. With the guard this changes nothing; without it,
# every test cell would pass for an untouched notebook.
MONKEYPATCH = """
import builtins, sys
def _ok(*args, **kwargs):
    return None
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("course_utils") and _mod is not None:
        for _attr in list(vars(_mod)):
            if _attr.startswith("check") or _attr in ("fail", "correct"):
                setattr(_mod, _attr, _ok)
for _attr in [a for a in globals() if a.startswith("check")]:
    globals()[_attr] = _ok
class _Anything:
    def __getattr__(self, name):
        return _ok
checks = _Anything()
class _Never(Exception):
    pass
builtins.AssertionError = _Never
print = _ok
get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
"""

# Lies about every error through the sessions behind the kernel's traits (past traitlets'
# type check): the guard checks those traits by identity and puts the sessions back.
ERROR_HIDING = """
_kernel = get_ipython().kernel
class _Liar:
    def __init__(self, real):
        self._real = real
    def __getattr__(self, name):
        return getattr(self._real, name)
    def send(self, stream, msg_or_type, content=None, *args, **kwargs):
        if msg_or_type == "error":
            return None
        if msg_or_type == "execute_reply" and content and content.get("status") == "error":
            content = {"status": "ok", "execution_count": content.get("execution_count"),
                       "user_expressions": {}, "payload": []}
        return self._real.send(stream, msg_or_type, content, *args, **kwargs)
_liar = _Liar(_kernel.session)
for _obj in (_kernel, get_ipython().displayhook, get_ipython().display_pub):
    _obj._trait_values["session"] = _liar  # past traitlets' type check
"""

# Replaces the guard the grader built in the kernel: its functions, and its challenge answer.
GUARD_TAMPER = """
import sys
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("_course_guard_"):
        _mod.restore = lambda *args, **kwargs: []
        _mod.remember = lambda *args, **kwargs: None
        _mod.answer = lambda nonce, call, *args: "0" * 64 + "\\n[]\\n[]"
"""

# Only the guard's functions, leaving its challenge answer in place: it reports them replaced.
GUARD_FUNCTIONS = """
import sys
for _name, _mod in list(sys.modules.items()):
    if _name.startswith("_course_guard_"):
        _mod.restore = lambda *args, **kwargs: []
"""

# Tries to write where a submission must not; prints WROTE for every success.
WRITES = """
import glob, os, course_utils
_targets = [
    os.path.join(os.path.dirname(course_utils.__file__), "checks", "_corpus_pwned.py"),
    os.path.join(os.path.dirname(os.path.dirname(course_utils.__file__)), "solutions", "_corpus_pwned"),
    os.path.join(os.path.dirname(os.path.dirname(course_utils.__file__)), "grader", "_corpus_pwned"),
    "../../gradebook.db", "../gradebook.db", "../../../gradebook.db",
]
_targets += glob.glob("/tmp/**/gradebook.db", recursive=True)
_targets += glob.glob("/tmp/**/grades.csv", recursive=True)
_targets += glob.glob("/tmp/**/submitted/*/*/*.ipynb", recursive=True)
_targets += glob.glob("/tmp/**/feedback/*/*.html", recursive=True)
for _path in _targets:
    try:
        if os.path.exists(_path):
            with open(_path, "r+b"):
                pass  # opened for writing: that is already too much
        else:
            with open(_path, "x") as _fh:
                _fh.write("pwned")
        print("WROTE", _path)
    except OSError:
        pass
print("tried", len(_targets), "paths")
"""

# Prints every cell the kernel ran, once the hidden tests have run: they are not among them
# (test cells never enter the history; see LEAK for every other place).
EXFILTRATE = """
print("\\n".join(In))
print(open(__file__).read() if "__file__" in dir() else "")
"""


def build(case: str, released, source, *, wrong_letter: str | None = None):
    """The notebook (or raw bytes) of one corpus case."""
    items = exercises(released, source)
    if case == "perfect":
        return answered(released, source)
    if case == "untouched":
        return copy.deepcopy(released)
    if case == "partial":
        half = [e.answer_id for e in items[: (len(items) + 1) // 2]]
        return answered(released, source, half)
    if case == "misconception":
        item, variable, _ = first_choice(items)
        nb = answered(released, source)
        _cell(nb, item.answer_id).source = f'{variable} = "{wrong_letter}"'
        return nb
    prefixes = {
        "syntax_error": "def broken(:",
        "exception": "raise RuntimeError('a bug in the answer')",
        "infinite_loop": "while True:\n    pass",
        "stubborn_loop": (
            "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
            "    except BaseException:\n        pass"
        ),
        "sys_exit": "import sys\nsys.exit(3)",
        "os_exit": "import os\nos._exit(0)",
        "memory_bomb": "blob = bytearray(64 * 2**30)",
        "output_flood": "while True:\n    print('flood ' * 2000)",
    }
    if case in prefixes:
        return _prefix_first(released, source, prefixes[case])
    if case == "deleted_test_cells":
        nb = answered(released, source)
        nb.cells = [c for c in nb.cells if not _meta(c).get("grade")]
        return nb
    if case == "edited_tests":
        nb = copy.deepcopy(released)
        for cell in nb.cells:
            if _meta(cell).get("locked") and cell.cell_type == "code" and _meta(cell).get("grade"):
                cell.source = "pass"
                _meta(cell)["points"] = 100
        return nb
    if case == "changed_cell_types":
        nb = answered(released, source)
        for cell in nb.cells:
            if _meta(cell).get("grade") or _meta(cell).get("solution"):
                cell.cell_type = "markdown"
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        return nb
    if case == "monkeypatch":
        return _insert_after_setup(copy.deepcopy(released), MONKEYPATCH)
    if case == "error_hiding":
        return _insert_after_setup(copy.deepcopy(released), ERROR_HIDING)
    if case == "guard_tamper":
        return _insert_after_setup(answered(released, source), GUARD_TAMPER)
    if (
        case == "guard_functions"
    ):  # not in expected.json: tests/grader/classwork/test_engine.py uses it directly
        return _insert_after_setup(answered(released, source), GUARD_FUNCTIONS)
    if case == "writes_outside":
        return _insert_after_setup(answered(released, source), WRITES)
    if case == "exfiltrate":
        nb = answered(released, source)
        from nbformat.v4 import new_code_cell

        nb.cells.append(new_code_cell(EXFILTRATE))
        return nb
    if case == "not_a_notebook":
        return b"{ this is not json"
    raise ValueError(f"unknown corpus case {case!r}: see tests/submissions/expected.json")


def expected_score(spec, items: list[Exercise], max_score: float) -> float:
    if spec == "all":
        return max_score
    if spec == "all_but_first":
        return max_score - items[0].points
    if spec == "first_half":
        return sum(e.points for e in items[: (len(items) + 1) // 2])
    if spec == "all_but_choice":
        return max_score - first_choice(items)[0].points
    return float(spec)


# --- attacks on the verdict (issue 23), on the released notebook with every answer wrong ----------


def wrong_answers(released, source):
    """``released`` with a wrong letter in every multiple-choice answer (other answers untouched)."""
    nb = copy.deepcopy(released)
    wrong = {}
    for item in exercises(released, source):
        match = CHOICE.search(item.solution)
        if match:
            right = match.group(2).upper()
            wrong[item.answer_id] = f'{match.group(1)} = "{"A" if right != "A" else "D"}"'
    for cell in nb.cells:
        if _meta(cell).get("grade_id") in wrong:
            cell.source = wrong[_meta(cell)["grade_id"]]
    return nb


def _prefix_answer(nb, released, source, code: str):
    """``nb`` whose first answer cell starts with ``code`` (a few lines in one answer cell)."""
    cell = _cell(nb, exercises(released, source)[0].answer_id)
    cell.source = code + "\n" + cell.source
    return nb


# Swaps the code of every checker for one that passes, and that sets the caller's
# ``answer_...`` variables to the single capital letter its hidden assert compares with.
CODE_SWAP = """
import sys as _sys, types as _types
def _passes(*args, **kwargs):
    import linecache, re, sys
    caller = sys._getframe(1)
    # IPython compiles a cell statement by statement: the whole cell is in linecache.
    source = "".join(linecache.getlines(caller.f_code.co_filename))
    # The letter a hidden test compares with, or passes to grade_choice as the right one.
    letters = re.findall(r'== "([A-Z])"|checks\\.Q\\d+, "([A-Z])"', source)
    letters = [a or b for a, b in letters]
    for name in re.findall(r"answer_\\w+", source):
        if letters:
            caller.f_globals[name] = letters[0]
for _name, _mod in list(_sys.modules.items()):
    if _name.startswith("course_utils") and _mod is not None:
        for _fn in list(vars(_mod).values()):
            if isinstance(_fn, _types.FunctionType) and not _fn.__code__.co_freevars:
                if _fn.__name__.startswith(("check", "grade", "record")) or _fn.__name__ in (
                    "fail",
                    "correct",
                ):
                    _fn.__code__ = _passes.__code__
"""

# Event callbacks that are objects, not functions defined in a cell: a callable instance
# hides the traceback of the cell about to run, a functools.partial clears its error.
CALLBACK_OBJECTS = """
import functools as _functools
class _Hide:
    def __call__(self, *args):
        shell = get_ipython()
        shell.showtraceback = lambda *a, **k: None
        shell._showtraceback = lambda *a, **k: None
        shell.showsyntaxerror = lambda *a, **k: None
def _clear(what, result):
    result.error_in_exec = None
    result.error_before_exec = None
get_ipython().events.register("pre_run_cell", _Hide())
get_ipython().events.register("post_run_cell", _functools.partial(_clear, "all"))
"""

# The kernel's Session gets a subclass (``__class__`` swapped, no attribute changed) that
# drops errors of requests that are not silent: the silent canary still sees them.
_SILENT_LIAR = """
    def send(self, stream, msg_or_type, content=None, parent=None, *args, **kwargs):
        silent = bool((parent or {}).get("content", {}).get("silent"))
        if not silent and msg_or_type == "error":
            return None
        if not silent and msg_or_type == "execute_reply" and (content or {}).get("status") == "error":
            content = {"status": "ok", "execution_count": content.get("execution_count"),
                       "user_expressions": {}, "payload": []}
        return super().send(stream, msg_or_type, content, parent, *args, **kwargs)
"""
SESSION_CLASS = (
    "_session = get_ipython().kernel.session\n"
    "class _Quiet(type(_session)):" + _SILENT_LIAR + "_session.__class__ = _Quiet\n"
)

# The same liar as a copy of the session put behind the kernel (it sends the reply), the
# displayhook and the display publisher (they send the ``error`` message), past traitlets;
# the original session object is left as it was.
SESSION_WRAP = (
    "import copy as _copy\n"
    "_shell = get_ipython()\n"
    "class _Quiet(type(_shell.kernel.session)):"
    + _SILENT_LIAR
    + "_liar = _copy.copy(_shell.kernel.session)\n"
    "_liar.__class__ = _Quiet\n"
    "for _obj in (_shell.kernel, _shell.displayhook, _shell.display_pub):\n"
    "    _obj._trait_values['session'] = _liar\n"
)

# A thread that puts a lying session class back every millisecond, so that it is in place
# again after the guard restored the session. ``{hide}``: which requests lose their errors.
_THREAD_LIAR = """
import threading as _threading, time as _time
_kernel = get_ipython().kernel
_session = _kernel.session
class _Quiet(type(_session)):
    def send(self, stream, msg_or_type, content=None, parent=None, *args, **kwargs):
        request = _kernel.get_parent() or {{}}
        hide = {hide}
        if hide and msg_or_type == "error":
            return None
        if hide and msg_or_type == "execute_reply" and (content or {{}}).get("status") == "error":
            content = {{"status": "ok", "execution_count": content.get("execution_count"),
                       "user_expressions": {{}}, "payload": []}}
        return super().send(stream, msg_or_type, content, parent, *args, **kwargs)
def _again():
    while True:
        if type(_session) is not _Quiet:
            _session.__class__ = _Quiet
        _time.sleep(0.001)
_threading.Thread(target=_again, daemon=True).start()
"""
_NOT_SILENT = '(request.get("content") or {}).get("silent") is False'
# Every request that is not silent: the canary run like a test cell sees it.
PERSISTENT_LIAR = _THREAD_LIAR.format(hide=_NOT_SILENT)
# Only cells that call a checker: no canary does, so only the tests' own end can tell.
SELECTIVE_LIAR = _THREAD_LIAR.format(
    hide=_NOT_SILENT + ' and "checks." in (request.get("content") or {}).get("code", "")'
)

# Writes an IPython startup file that makes every checker pass into each profile the
# kernel may read when it starts (the running one, ~/.ipython, $IPYTHONDIR), then crashes the
# kernel: the restarted kernel would run the file before the guard takes its snapshot.
STARTUP_PROFILE = """
import os as _os, pathlib as _pathlib
_code = '''
import importlib as _il, pkgutil as _pu, course_utils.checks as _cc
for _m in _pu.iter_modules(_cc.__path__):
    _mod = _il.import_module("course_utils.checks." + _m.name)
    for _n in dir(_mod):
        if _n.startswith("check_"):
            setattr(_mod, _n, lambda *a, **k: None)
'''
_dirs = {_pathlib.Path(get_ipython().profile_dir.startup_dir),
         _pathlib.Path.home() / ".ipython" / "profile_default" / "startup",
         _pathlib.Path(_os.environ.get("IPYTHONDIR", "~/.ipython")).expanduser()
         / "profile_default" / "startup"}
for _d in _dirs:
    _d.mkdir(parents=True, exist_ok=True)
    (_d / "00-pass.py").write_text(_code)
_os._exit(1)
"""


VERDICT_ATTACKS = {
    "code_swap": CODE_SWAP,
    "callback_objects": CALLBACK_OBJECTS,
    "session_class": SESSION_CLASS,
    "session_wrap": SESSION_WRAP,
    "persistent_liar": PERSISTENT_LIAR,
    "selective_liar": SELECTIVE_LIAR,
}

# Looks for the source of the test cells that ran before it everywhere the kernel may keep
# it, then hands it back as plain text, zlib + base64, reversed and drawn into a figure.
# ``HIDDEN_DIGESTS`` (sha256 of each hidden line, stripped) is filled in at build time: the
# cell says how many hidden lines it reached without quoting them itself.
LEAK = """
import base64, gc, hashlib, linecache, sys, types, zlib
HIDDEN_DIGESTS = {digests!r}
VISIBLE_DIGESTS = {visible!r}
_shell = get_ipython()
_texts = [str(x) for x in In] + [str(x) for x in _shell.user_ns.get("_ih", [])]
_texts += [str(v) for k, v in list(_shell.user_ns.items()) if k.startswith("_i")]
_texts += [repr(v) for v in Out.values()] + [repr(v) for v in _shell.user_ns.get("_oh", {{}}).values()]
_texts += ["".join(e[2]) for k, e in list(linecache.cache.items())
           if (k.startswith("<") or "ipykernel_" in k) and len(e) > 2 and e[2]]
_texts += ["".join(e[2]) for e in getattr(linecache, "_interactive_cache", {{}}).values() if len(e) > 2]
_history = _shell.history_manager
_texts += list(_history.input_hist_raw) + list(_history.input_hist_parsed)
try:
    _texts += [row[0] for row in _history.db.execute("SELECT source_raw FROM history")]
except Exception:
    pass
_last = _shell.last_execution_result
_texts.append(str(getattr(getattr(_last, "info", None), "raw_cell", "")))
_texts.append(str(getattr(getattr(_last, "info", None), "transformed_cell", "")))
_code_objects = []
def _cell_file(name):
    return name.startswith("<") or "ipykernel_" in name
def _code_text(code, seen):
    if id(code) in seen:
        return []
    seen.add(id(code))
    _code_objects.append(code)
    if not _cell_file(code.co_filename):  # a library's code: counted, not quoted
        return []
    out = [repr(code.co_names), repr(code.co_consts), "".join(linecache.getlines(code.co_filename))]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out += _code_text(const, seen)
    return out
_seen = set()
for _name in ("last_traceback", "last_value", "last_exc"):
    _tb = getattr(sys, _name, None)
    _tb = getattr(_tb, "__traceback__", _tb)
    while _tb is not None:
        _texts += _code_text(_tb.tb_frame.f_code, _seen)
        _tb = _tb.tb_next
_codes = [o for o in gc.get_objects() if isinstance(o, types.FunctionType)]
_codes = [f.__code__ for f in _codes if f.__code__.co_filename.startswith("<") or "ipykernel_" in f.__code__.co_filename]
for _code in _codes:
    _texts += _code_text(_code, _seen)
_swept, _found_codes = [], []
for _obj in gc.get_objects():
    try:
        if isinstance(_obj, dict):
            _items = list(_obj.keys()) + list(_obj.values())
        elif isinstance(_obj, (list, tuple, set)):
            _items = list(_obj)
        elif isinstance(_obj, types.FrameType):
            _items = [_obj.f_code]
        else:
            continue
        _items += [i for t in _items if isinstance(t, tuple) for i in t]
        _swept += [v for v in _items if isinstance(v, str) and "\\n" in v]
        _found_codes += [v for v in _items if isinstance(v, types.CodeType)]
    except Exception:
        pass
for _code in _found_codes:
    _texts += _code_text(_code, _seen)
_lines = {{line.strip() for t in _texts + _swept for line in t.splitlines()}}
_hashes = {{hashlib.sha256(l.encode()).hexdigest() for l in _lines}}
_reached = sorted(d for d in HIDDEN_DIGESTS if d in _hashes)
# A control: lines of the read-only set-up cell, which the kernel keeps in ``In`` as it should.
_control = sorted(d for d in VISIBLE_DIGESTS if d in _hashes)
# The code of a test cell: it calls the guard's ``passed`` with the guard's module name.
# Code of a cell that ``In`` does not hold (a test cell, a grader's canary), alive after it ran.
# (The history keeps a cell without its last newlines; the name is made from the whole cell.)
_own = {{_shell.compile.get_code_name(c + end, c, 0) for c in _history.input_hist_raw for end in ("", "\\n")}}
_tests = [c for c in _code_objects if "ipykernel_" in c.co_filename and c.co_filename not in _own]
from IPython.display import display as _show
# One output each: the grader removes a whole output that quotes a hidden line.
_show({{"text/plain": f"leak search in {label}: reached {{len(_reached)}} of {{len(HIDDEN_DIGESTS)}} hidden lines, "
        f"{{len(_tests)}} code objects of cells not in In (of {{len(_code_objects)}}), "
        f"{{len(_control)}} of {{len(VISIBLE_DIGESTS)}} set-up lines"}}, raw=True)
_blob = "\\n".join(dict.fromkeys(t for t in _texts if t))[:300_000]  # three copies < the output cap
_show({{"text/plain": "PLAIN-BEGIN\\n" + _blob + "\\nPLAIN-END"}}, raw=True)
_show({{"text/plain": "ZLIB-BEGIN " + base64.b64encode(zlib.compress(_blob.encode())).decode() + " ZLIB-END"}}, raw=True)
_show({{"text/plain": "REVERSED-BEGIN " + _blob[::-1] + " REVERSED-END"}}, raw=True)
import matplotlib.pyplot as _plt
_fig = _plt.figure(figsize=(8, 8))
_fig.text(0, 0, _blob[-3000:], fontsize=4, family="monospace")
_plt.show()
"""


def hidden_digests(hidden: frozenset[str]) -> list[str]:
    """sha256 of each hidden line (``feedback.Secrets.hidden``): what ``LEAK`` looks for."""
    import hashlib

    return sorted(hashlib.sha256(line.encode()).hexdigest() for line in hidden)


# Code that runs while a test cell runs and keeps what it sees: an audit hook (every ``exec``
# with its code object), a garbage collector callback and a timer signal's handler (the
# request being executed, with its code).
WHILE_TESTS_RUN = """
import gc as _gc, signal as _signal, sys as _sys
_seen_code, _seen_requests = [], []
def _keep(event, args):
    if event == "exec" and args and hasattr(args[0], "co_filename"):
        _seen_code.append(args[0])
_sys.addaudithook(_keep)
def _copy_request(*args):
    _seen_requests.append(str((get_ipython().kernel.get_parent() or {}).get("content")))
_gc.callbacks.append(_copy_request)
_signal.signal(_signal.SIGALRM, _copy_request)
_signal.setitimer(_signal.ITIMER_REAL, 0.002, 0.002)
"""

# A thread that copies the request being executed every millisecond: nothing in the kernel
# can stop it, so the grader flags the notebook and withholds its feedback.
THREAD_COPY = """
import threading as _threading, time as _time
_copies = []
def _copy():
    while True:
        _copies.append(str((get_ipython().kernel.get_parent() or {}).get("content")))
        del _copies[:-200]
        _time.sleep(0.001)
_threading.Thread(target=_copy, daemon=True).start()
"""


def leaking(released, source, hidden: frozenset[str], first: str = WHILE_TESTS_RUN):
    """Every answer wrong; ``first`` in the first answer cell; the last answer cell and a
    last cell of its own run ``LEAK``."""
    from nbformat.v4 import new_code_cell

    nb = _prefix_answer(wrong_answers(released, source), released, source, first)
    digests = hidden_digests(hidden)
    setup = next(c for c in nb.cells if c.cell_type == "code")
    visible = hidden_digests(frozenset(s.strip() for s in setup.source.splitlines() if len(s) > 10))
    last = _cell(nb, exercises(released, source)[-1].answer_id)
    args = {"digests": digests, "visible": visible}
    last.source += "\n" + LEAK.format(**args, label="the last answer cell")
    nb.cells.append(new_code_cell(LEAK.format(**args, label="the last cell")))
    return nb
