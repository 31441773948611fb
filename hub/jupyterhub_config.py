"""JupyterHub for the Swap the Head course on one machine (see docs/hub.md).

Started by ``python -m grader.hub.deploy up`` (``make hub``) and tests/grader/hub/test_hub.py, which
write the deployment (accounts, ports, folders) to the JSON file named by
``SWAP_HUB_DEPLOYMENT``. Everything course-specific is here; a real course
changes only the authenticator block (LTI or OAuth, see docs/hub.md).
"""

import json
import os
import pwd
from hmac import compare_digest
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.spawner import LocalProcessSpawner

from grader.hub import deploy as course_hub

c = get_config()  # noqa: F821 - injected by traitlets when it loads this file

dep = json.loads(Path(os.environ["SWAP_HUB_DEPLOYMENT"]).read_text())
state = Path(dep["dir"]) / "state"
venv = Path(dep["prefix"]) / "venv"
students, instructors = set(dep["students"]), set(dep["instructors"])

# --- the hub and its proxy (configurable-http-proxy from npm, hub/node_modules) -----------
c.JupyterHub.bind_url = f"http://{dep['ip']}:{dep['port']}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = dep["hub_port"]
c.ConfigurableHTTPProxy.command = [dep["proxy"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{dep['api_port']}"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
# Stopping the hub stops every user's server and the proxy.
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True

# --- who may log in --------------------------------------------------------------------
# The demo: students share one password; the instructor has their own (random unless given,
# kept root-only in <dir>/state/instructor-password), so no student can log in as the
# instructor and open the hidden tests. A real course swaps this block, for example LTI from
# Canvas or Moodle (pip install jupyterhub-ltiauthenticator):
#   c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.authenticator.LTI13Authenticator"
# or OAuth (pip install oauthenticator): c.JupyterHub.authenticator_class = "github", ...


class CoursePasswords(Authenticator):
    """Students: the shared demo password. Instructors: their own, never the students'."""

    async def authenticate(self, handler, data):
        name = self.normalize_username(data["username"])
        if name in instructors:
            wanted = dep["instructor_password"]
        elif name in students:
            wanted = dep["password"]
        else:
            return None
        given = data.get("password", "")
        if wanted and compare_digest(given.encode(), wanted.encode()):
            return name
        return None


c.JupyterHub.authenticator_class = CoursePasswords
c.Authenticator.allowed_users = students | instructors

# --- a token for scripts and tests (start servers, reach them); root-only, in the state file
if dep.get("api_token"):
    c.JupyterHub.services = [{"name": "course-admin", "api_token": dep["api_token"]}]
    c.JupyterHub.load_roles = [
        {
            "name": "course-admin",
            "services": ["course-admin"],
            "scopes": ["admin:users", "admin:servers", "access:servers", "read:users"],
        }
    ]

# --- each user's server: their own Linux account, the shared course install --------------


class CourseSpawner(LocalProcessSpawner):
    """Each student's server runs as that student inside their cgroups (memory, processes and
    threads for the server and every kernel, terminal and background job it starts) and their
    own mount namespace (private size-limited /tmp, /var/tmp, /dev/shm); their home is a file
    system of its own (grader.hub.deploy.ensure_disk). Stopping the server kills whatever is left in
    the cgroups. The instructor's server has no such limits (grading needs more)."""

    def make_preexec_fn(self, name):
        as_user = super().make_preexec_fn(name)
        limited = dep["limits"] and name in students
        folders = course_hub.limit_user(name, dep["memory"], dep["pids"]) if limited else []

        def preexec():
            # Still root here: the student can leave neither the cgroups nor the namespace.
            course_hub.join_cgroups(folders)
            if limited:
                course_hub.private_temporary(dep["tmp"])
            as_user()

        return preexec

    async def stop(self, now=False):
        await super().stop(now=now)
        course_hub.release_user(self.user.name)


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# A 2-core machine under load starts Lab slowly.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


def per_role(spawner):
    """Students get the student config (no instructor panels); instructors theirs and ~/course.

    Kernels use IPC sockets (config written by grader.hub.deploy) in a runtime folder inside the
    user's 0700 home: no other account can reach them."""
    role = "instructor" if spawner.user.name in instructors else "student"
    home = Path(pwd.getpwnam(spawner.user.name).pw_dir)
    spawner.environment = {
        **spawner.environment,
        **{
            "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(Path(dep["dir"]) / "config" / role),
            "JUPYTER_RUNTIME_DIR": str(home / ".jupyter-runtime"),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONHASHSEED": "0",
        },
    }
    if role == "instructor":
        spawner.notebook_dir = "~/course"
    else:  # back to the lesson they were working on
        spawner.default_url = course_hub.landing_url(home)


c.Spawner.pre_spawn_hook = per_role
