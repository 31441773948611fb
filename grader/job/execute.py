"""nbgrader's ``Execute`` preprocessor, hardened for untrusted notebooks.

On top of nbgrader (per-cell timeout, interrupt on timeout) it:

- installs ``guard`` in the kernel before the first cell, calls
  ``guard.remember`` after each read-only cell and ``guard.restore`` before
  each graded cell, then runs two canaries (an assert that must fail: once
  silent, once exactly like a test cell). If one passes, the kernel no
  longer reports errors honestly: the graded cell and everything after it
  score 0 and the notebook is flagged; so is a notebook whose own threads
  run beside the tests;
- runs each test cell outside the input history with a last line that
  tells the guard it got there, judges it by its reply, its iopub errors and
  that line (a test that stopped early without an error fails, and the
  notebook is flagged), then has the guard forget the cell's source;
- caps the output kept per cell and per notebook: past a cap, output is
  dropped as it arrives, with a note in the cell, and the cell runs on to its
  end (no interrupt, so no later cell can be hit by a stale one); errors and a
  first piece of stderr are always kept, so a failing test still fails;
- stops at its own deadline (``deadline``) and names the cell that ran out of
  time; until it is done, ``progress_path`` says which cell is running (read
  if the job is killed at its hard limit);
- survives a kernel that dies (``os._exit``, a crash, the memory limit) or
  ignores the interrupt (a loop that catches ``KeyboardInterrupt``): that
  cell gets an error, the kernel is restarted, the cells before it are
  replayed silently, and grading goes on. Only that cell's points are lost.

Incidents go to a JSON report (``report_path``) for the grader's summary.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import queue
import secrets
import time
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import Execute
from traitlets import Float, Integer, List, Unicode


def guard_loader(name: str, key: bytes) -> str:
    """Code that builds the guard module from its source inside the kernel, as ``sys.modules[name]``.

    The kernel never imports the guard from disk: the grader package stays out
    of the kernel's sight, and a submission cannot edit or pre-import it. The
    guard is armed with ``key``, with which it signs its answers (see ``guard``).
    """
    from grader.job import guard

    source = Path(guard.__file__).read_text(encoding="utf-8")
    return (
        "import sys as _course_sys, types as _course_types\n"
        f"_course_sys.modules[{name!r}] = _course_types.ModuleType({name!r})\n"
        f"exec(compile({source!r}, '<course guard>', 'exec'), _course_sys.modules[{name!r}].__dict__)\n"
        f"_course_sys.modules[{name!r}].arm(bytes.fromhex({key.hex()!r}))\n"
        "del _course_sys, _course_types\n"
    )


def check_answer(key: bytes, nonce: str, call: str, args: tuple, text: str) -> tuple[list, object]:
    """Verify a guard's ``answer``: (what it found tampered with, what the call returned).

    Raises ``ValueError`` when the signature does not match: the answer did not
    come from the guard the grader armed.
    """
    mac, _, body = text.partition("\n")
    expected = hmac.new(key, f"{nonce}\n{call}{args!r}\n{body}".encode(), hashlib.sha256)
    if not hmac.compare_digest(mac, expected.hexdigest()):
        raise ValueError("the guard's answer is not signed with the grader's key")
    tampered, _, result = body.partition("\n")
    return ast.literal_eval(tampered), ast.literal_eval(result)


def error_output(ename: str, evalue: str):
    """An error output as nbgrader scores it (no traceback lines that could quote code)."""
    return new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def imported_modules(source: str) -> list[str]:
    """Modules a cell imports (``from a import b`` yields ``a`` and ``a.b``: ``b`` may be a module)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"]
    return found


class SandboxedExecute(Execute):
    """``Execute`` with the guard, a canary, an output cap and recovery from dead or stuck kernels."""

    guard_modules = List(Unicode(), help="modules to import and protect before the first cell").tag(
        config=True
    )
    output_limit = Integer(1_000_000, help="bytes of output one cell may keep").tag(config=True)
    notebook_output_limit = Integer(
        3_000_000, help="bytes of output the cells that are not tests may keep in all"
    ).tag(config=True)
    deadline = Float(
        0, help="seconds all cells may take together (0: none); then the rest is not run"
    ).tag(config=True)
    progress_path = Unicode("", help="where to write which cell is running").tag(config=True)
    report_path = Unicode("", help="where to write the JSON list of incidents").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._incidents: list[dict] = []
        self._executed: list[int] = []  # cells run in the current kernel, replayed after a restart
        self._stopped = ""  # why the remaining cells are not run
        self._guarded = False
        self._untrusted = False  # the guard failed its challenge: no test runs after that
        self._threads: set[str] = set()  # the notebook's threads already reported
        self._resources = resources
        self._kept_bytes = 0  # output kept so far by cells that are not tests
        self._ends = time.monotonic() + self.deadline if self.deadline > 0 else None
        self._running = -1
        try:
            return super().preprocess(nb, resources, km)
        finally:
            # No cell runs now: a job killed after this is not a cell's doing.
            if self.progress_path:
                Path(self.progress_path).write_text(json.dumps({"ok": False, "running": None}))
            if self.report_path:
                with open(self.report_path, "w") as fh:
                    json.dump(self._incidents, fh, indent=1)

    def _incident(self, kind: str, index: int, detail: str) -> None:
        cell = self.nb.cells[index] if index >= 0 else {}
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        self._incidents.append(
            {"kind": kind, "cell": index, "grade_id": grade_id, "detail": detail}
        )

    # --- quiet execution: the guard, the canary and replays leave no trace in the notebook ---

    def _quiet(self, code: str, expression: str | None = None) -> dict | None:
        msg_id = self.kc.execute(
            code,
            silent=True,
            store_history=False,
            allow_stdin=False,
            stop_on_error=False,
            user_expressions={"value": expression} if expression else None,
        )
        return self.wait_for_reply(msg_id)

    def _guard(self, call: str, index: int, *args) -> object:
        """Call the guard through its challenge; ``None`` if that failed, else what it returned.

        The call travels as a user expression, which IPython evaluates without
        the input transformers a submission may have installed. An answer that
        is not signed with this kernel's key, or that reports the guard's own
        functions or snapshot replaced, marks the kernel untrusted.
        """
        nonce = secrets.token_hex(16)
        expression = (
            f"__import__('sys').modules[{self._guard_name!r}].answer("
            f"{', '.join(repr(a) for a in (nonce, call, *args))})"
        )
        reply = self._quiet("", expression)
        value = (reply or {}).get("content", {}).get("user_expressions", {}).get("value", {})
        if value.get("status") != "ok":
            self._incident(
                "guard", index, f"guard.{call} failed: {value.get('evalue', 'no reply')}"
            )
            return None
        try:
            text = ast.literal_eval(value.get("data", {}).get("text/plain", ""))
            tampered, result = check_answer(self._guard_key, nonce, call, args, text)
        except (ValueError, SyntaxError, TypeError) as exc:
            self._untrusted = True
            self._incident(
                "integrity",
                index,
                f"the guard did not answer its challenge ({exc}): it was replaced or tampered with",
            )
            return None
        if tampered:
            self._untrusted = True
            self._incident(
                "integrity", index, f"the guard was tampered with: {', '.join(tampered)} replaced"
            )
            return None
        return result

    def _install_guard(self) -> None:
        self._guard_name = f"_course_guard_{secrets.token_hex(8)}"
        self._guard_key = secrets.token_bytes(32)
        self._untrusted = False
        self._quiet(guard_loader(self._guard_name, self._guard_key))
        self._guard("install", -1, list(self.guard_modules))
        self._guarded = True

    def _restore(self, index: int) -> bool:
        """Undo monkeypatching, then check that a failing assert still fails."""
        repaired = self._guard("restore", index)
        if self._untrusted:
            return False
        if not isinstance(repaired, list):  # None: the call failed (guard.restore returns a list)
            self._incident("integrity", index, "the guard could not restore the test environment")
            return False
        if repaired:
            self._incident("repaired", index, f"undone before this test: {' '.join(repaired)}")
        nonce = secrets.token_hex(8)
        canary = self._quiet(f"assert 0 == 1, 'grader canary {nonce}'")
        content = canary["content"] if canary else {}
        if content.get("status") != "error" or nonce not in str(content.get("evalue", "")):
            self._incident("integrity", index, "a failing assert did not fail: errors are hidden")
            return False
        if not self._loud_canary(index):
            self._incident(
                "integrity",
                index,
                "a failing cell run like a test reported no error: errors are hidden",
            )
            return False
        return True

    def _marker(self, nonce: str) -> str:
        """The line appended to a test cell: it tells the guard the cell ran to its end."""
        return f"__import__('sys').modules[{self._guard_name!r}].passed({nonce!r})"

    def _run_test(self, cell, index: int):
        """Run a test cell, judged by the reply, its outputs and whether it ran to its end.

        The cell runs like any other, plus a last line that records (in the
        guard) that it got there, and without a place in the input history:
        ``In``, ``_i*`` and the history database never hold a hidden test.
        The guard then forgets every other copy of its source (``after_test``).
        A cell that stopped early with no error on iopub and an ``ok`` reply
        had its error hidden: it fails, and the notebook is flagged.
        """
        nonce = secrets.token_hex(16)
        source = cell.source
        cell.source = source.rstrip("\n") + "\n" + self._marker(nonce) + "\n"
        self._reply: dict[str, Any] = {}
        try:
            cell = self.execute_cell(cell, index, store_history=False)
        finally:
            cell.source = source
        verdict = self._guard("after_test", index, nonce)
        running = verdict.get("threads", []) if isinstance(verdict, dict) else []
        fresh = sorted(set(running) - self._threads)
        if fresh:
            self._threads.update(fresh)
            self._incident(
                "integrity",
                index,
                f"threads this notebook started run beside the tests ({', '.join(fresh)}): "
                "they can change them or copy them while they run",
            )
        failed = self._reply.get("content", {}).get("status") != "ok" or any(
            o.get("output_type") == "error" for o in cell.outputs
        )
        if failed:
            return cell
        if not isinstance(verdict, dict):
            why = "the guard could not say whether this test ran to its end"
        elif not verdict.get("passed"):
            why = "this test stopped before its end, yet the kernel reported no error"
        else:
            return cell
        self._incident("integrity", index, f"{why}: errors are hidden")
        cell.outputs.append(
            error_output(
                "GradingIntegrityError",
                f"{why}; it scores 0 and your instructor will review the notebook",
            )
        )
        return cell

    def _loud_canary(self, index: int) -> bool:
        """A failing cell run exactly like a test cell (not silent, marker line and all).

        The silent canary cannot see a submission that hides errors only from
        requests that are not silent; this one must come back as an ``error``
        message on iopub and an ``error`` reply.
        """
        # No name left behind in the notebook's namespace.
        code = f"assert not [{secrets.randbelow(10**6)}]\n{self._marker(secrets.token_hex(16))}\n"
        return run_sync(self._async_loud)(code)

    async def _async_loud(self, code: str) -> bool:
        msg_id = await ensure_async(
            self.kc.execute(code, silent=False, store_history=False, stop_on_error=False)
        )
        deadline = time.monotonic() + (self.timeout or 30)
        errors = 0
        while True:
            try:
                msg = await ensure_async(
                    self.kc.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
                )
            except queue.Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            errors += msg["msg_type"] == "error"
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                break
        reply = await self.async_wait_for_reply(msg_id)
        return errors > 0 and (reply or {}).get("content", {}).get("status") == "error"

    # --- the cell loop ---

    def preprocess_cell(self, cell, resources, index):
        self._check_assign_resources(resources)
        if cell.cell_type != "code" or not cell.source.strip():
            return cell, self.resources
        if self._stopped:
            cell.outputs = [error_output("NotRun", self._stopped)]
            return cell, self.resources
        self._start_cell(index)
        if self._stopped:  # the notebook's time ran out
            cell.outputs = [error_output("NotRun", self._stopped)]
            return cell, self.resources
        try:
            if not self._guarded:
                self._install_guard()
            if utils.is_grade(cell) and not self._restore(index):
                self._stopped = (
                    "not run: this notebook changed how the kernel reports errors, so "
                    "the autograder cannot trust its tests; your instructor will review it"
                )
                cell.outputs = [error_output("GradingIntegrityError", self._stopped)]
                return cell, self.resources
            cell = (
                self._run_test(cell, index)
                if utils.is_grade(cell)
                else self.execute_cell(cell, index, store_history=True)
            )
            if utils.is_locked(cell):
                self._guard("remember", index)
        except CellExecutionError:
            raise
        except Exception as exc:  # noqa: BLE001 - the kernel died or cannot be interrupted
            why = (
                "the kernel died" if "died" in str(exc).lower() else "the cell could not be stopped"
            )
            cell.outputs.append(
                error_output(
                    "KernelRestarted",
                    f"{why} while running this cell ({type(exc).__name__}); "
                    "the grader restarted it and re-ran the cells above",
                )
            )
            first_line = (str(exc).splitlines() or [""])[0]
            self._incident("restart", index, f"{type(exc).__name__}: {first_line}")
            self._recover(index)
            return cell, self.resources
        self._executed.append(index)
        return cell, self.resources

    def _recover(self, failed: int) -> None:
        """Fresh kernel, replay the cells run so far (not ``failed``), or stop grading."""
        try:
            self.shutdown_kernel = "immediate"
            self._cleanup_kernel()
            self.km = self.create_kernel_manager()
            path = (self._resources or {}).get("metadata", {}).get("path") or None
            self.start_new_kernel(**({"cwd": path} if path else {}))
            self.start_new_kernel_client()
            self._install_guard()
            for index in self._executed:
                cell = self.nb.cells[index]
                if not self._quiet(cell.source):
                    raise RuntimeError(f"replaying cell {index} failed")
                if utils.is_locked(cell):
                    self._guard("remember", index)
            self._guard("scrub", failed)  # the replayed tests' sources go too
        except Exception as exc:  # noqa: BLE001 - give up on the rest, keep what was graded
            self._stopped = (
                f"not run: the kernel could not be restarted after cell {failed} ({exc})"
            )
            self._incident("stopped", failed, self._stopped)

    # --- time: the notebook's deadline, which cell is running, what a time-out says ---

    def _label(self, index: int) -> str:
        """How a student finds cell ``index`` (0-based) in their notebook."""
        grade_id = self.nb.cells[index].get("metadata", {}).get("nbgrader", {}).get("grade_id")
        return f"cell {index + 1}" + (f" ({grade_id})" if grade_id else "")

    def _start_cell(self, index: int) -> None:
        """Reset the cell's output count, note it as running, stop here if time ran out."""
        self._cell_bytes, self._dropped = 0, 0
        self._note: Any = None  # the cell's output-limit note, once it has one
        self._stderr_kept = self._error_kept = False
        self._running = index
        if self.progress_path:
            # Overwritten by the worker's result when it finishes: if the job is killed at its
            # hard limit, this is what the grader reads back.
            grade_id = self.nb.cells[index].get("metadata", {}).get("nbgrader", {}).get("grade_id")
            running = {"cell": index, "grade_id": grade_id, "label": self._label(index)}
            Path(self.progress_path).write_text(json.dumps({"ok": False, "running": running}))
        if self._ends is not None and time.monotonic() >= self._ends and not self._stopped:
            self._stopped = (
                f"not run: the grading time of this notebook ({self.deadline:g} s) ran out "
                f"before {self._label(index)}"
            )
            self._incident(
                "deadline",
                index,
                f"not run, nor the rest: the deadline ({self.deadline:g} s) had passed",
            )

    def _get_timeout(self, cell):
        """The cell's timeout, cut to what is left of the notebook's deadline.

        Not the quiet requests' (``cell`` None): the guard and the canary, cut short near the
        deadline, would flag an honest notebook; the cell timeout bounds them.
        """
        timeout = super()._get_timeout(cell)
        if self._ends is None or cell is None:
            return timeout
        left = max(1, int(self._ends - time.monotonic() + 0.999))  # 0 would mean no limit
        return left if timeout is None else min(timeout, left)

    async def _async_handle_timeout(self, timeout, cell=None):
        """Interrupt (nbgrader's), and say in the cell which limit stopped it."""
        reply = await super()._async_handle_timeout(timeout, cell)
        if cell is None:  # a quiet request (guard, canary, replay): its caller reports it
            return reply
        index = self._running
        if self._ends is not None and time.monotonic() >= self._ends - 1:
            why = (
                f"stopped after {timeout} s: the grading time of this notebook "
                f"({self.deadline:g} s) ran out while this cell ran"
            )
            self._stopped = (
                f"not run: the grading time of this notebook ({self.deadline:g} s) ran out "
                f"while {self._label(index)} ran"
            )
            self._incident(
                "deadline", index, f"ran past the notebook's deadline ({self.deadline:g} s)"
            )
        else:
            why = (
                f"this cell ran longer than {timeout} s, the limit for one cell, and was "
                "stopped: make it finish sooner (an endless loop?)"
            )
            self._incident("timeout", index, f"ran longer than {timeout} s, the limit for one cell")
        return {
            "content": {
                "status": "error",
                "ename": "CellTimeoutError",
                "evalue": why,
                "traceback": [f"CellTimeoutError: {why}"],
            }
        }

    # --- output caps: drop what is over, keep the cell running ---

    def _budget(self, cell_index: int) -> int:
        """Bytes this cell may still keep: its own limit, and the notebook's unless it is a test."""
        left = self.output_limit - self._cell_bytes
        if not utils.is_grade(self.nb.cells[cell_index]):
            # Tests keep their own messages whatever the student's cells printed before.
            left = min(left, self.notebook_output_limit - self._kept_bytes)
        return max(0, left)

    def _keep(self, cell_index: int, size: int) -> None:
        self._cell_bytes += size
        if not utils.is_grade(self.nb.cells[cell_index]):
            self._kept_bytes += size

    def _drop(self, outs, cell_index: int, size: int) -> None:
        """Count ``size`` bytes dropped; the cell's note (added once) says how many so far."""
        self._dropped += size
        test = utils.is_grade(self.nb.cells[cell_index])
        if self._note is None:
            cell_left = self.output_limit - self._cell_bytes
            nb_left = self.notebook_output_limit - self._kept_bytes
            self._note_which = (
                f"this cell's output passed {self.output_limit:,} bytes"
                if test or cell_left <= nb_left
                else f"this notebook's output passed {self.notebook_output_limit:,} bytes in all"
            )
            self._note = note = new_output("stream", name="stdout", text="")
            outs.append(note)
            self._incident(
                "output", cell_index, f"{self._note_which}; the rest is not in the feedback"
            )
        note = self._note
        note["text"] = (
            f"\n[output limit: {self._note_which}; the rest ({self._dropped:,} bytes) is not "
            "kept; the cell was not stopped for it"
            + ("; this test's result does not depend on its output" if test else "")
            + ".]\n"
        )

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's output hook: keep what fits the caps; drop the rest, never interrupt.

        Interrupting a flooding cell raced with its end: the signal could land in the
        kernel's next request (the guard, the canary, the next cell), whose reply was
        then lost and grading stalled until the notebook's limit.
        """
        content = msg.get("content", {})
        size = _size(content)
        budget = self._budget(cell_index)
        if size <= budget:
            self._keep(cell_index, size)
            return super().output(outs, msg, display_id, cell_index)
        kind = msg.get("msg_type")
        if kind == "error" and not self._error_kept:
            # Kept (cut short) whatever the budget, so that nbgrader still sees the failure.
            self._error_kept = True
            out = _short_error(content)
            outs.append(out)
            self._cell_bytes += _size(out)
            self._drop(outs, cell_index, max(0, size - _size(out)))
            return out
        if kind == "stream":
            name, text = content.get("name", "stdout"), str(content.get("text", ""))
            head = text[:budget]
            if name == "stderr" and not self._stderr_kept:
                # nbgrader fails a test that wrote to stderr: keep a piece of it whatever the budget.
                head = text[: max(budget, MAX_ERROR_BYTES)]
                self._stderr_kept = True
            if head:
                self._keep(cell_index, len(head))
                out = super().output(
                    outs, {**msg, "content": {**content, "text": head}}, display_id, cell_index
                )
                self._drop(outs, cell_index, size - len(head))
                return out
        self._drop(outs, cell_index, size)
        return None

    def on_cell_executed(self, **kwargs) -> None:
        """Keep the reply (``_run_test`` judges a test by it), its error cut short.

        nbgrader adds the reply's error to the cell when no output showed it: a long one is
        shortened like the outputs.
        """
        reply = kwargs.get("execute_reply") or {}
        content = reply.get("content", {})
        if content.get("status") == "error" and _size(content) > MAX_ERROR_BYTES:
            kwargs["execute_reply"] = reply = {
                **reply,
                "content": {**content, **_short_error(content)},
            }
        self._reply = reply
        super().on_cell_executed(**kwargs)

    def _update_display_id(self, display_id, msg):
        """An update of an earlier display counts as new output, and is dropped past the caps."""
        index = self._running
        if not 0 <= index < len(self.nb.cells):
            return super()._update_display_id(display_id, msg)
        size = _size(msg.get("content", {}))
        if size > self._budget(index):
            if msg.get("msg_type") == "update_display_data":  # output() notes the others
                self._drop(self.nb.cells[index].outputs, index, size)
            return None
        if msg.get("msg_type") == "update_display_data":
            self._keep(index, size)
        return super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs, msg, cell_index):
        """Widget messages count too (their state goes into the notebook's metadata)."""
        size = _size(msg.get("content", {}))
        if size > self._budget(cell_index):
            self._drop(outs, cell_index, size)
            return
        self._keep(cell_index, size)
        super().handle_comm_msg(outs, msg, cell_index)


MAX_ERROR_BYTES = 4000  # an error or a piece of stderr kept past the caps


def _size(content: dict) -> int:
    """Bytes an output message adds to a notebook (text, data, error), roughly as stored."""
    data = content.get("data", {})
    return (
        len(str(content.get("text", "")))
        + (sum(len(str(v)) for v in data.values()) if isinstance(data, dict) else len(str(data)))
        + len(str(content.get("evalue", "")))
        + len(str(content.get("traceback", "")))
    )


def _short_error(content: dict):
    """An error output of at most about ``MAX_ERROR_BYTES``: name and message, no traceback."""
    return error_output(
        str(content.get("ename", "Error"))[:200],
        str(content.get("evalue", ""))[: MAX_ERROR_BYTES // 2 - 300],
    )
