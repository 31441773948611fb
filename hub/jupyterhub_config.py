"""JupyterHub for the Swap the Head course on one machine (see docs/hub.md).

Started by ``python -m grader.hub up`` (``make hub``) and tests/test_hub.py, which
write the deployment (accounts, ports, folders) to the JSON file named by
``SWAP_HUB_DEPLOYMENT``. Everything course-specific is here; a real course
changes only the authenticator block (LTI or OAuth, see docs/hub.md).
"""

import json
import os
from pathlib import Path

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
# The demo: one shared password, only the course's accounts. A real course swaps this block,
# for example LTI from Canvas or Moodle (pip install jupyterhub-ltiauthenticator):
#   c.JupyterHub.authenticator_class = "ltiauthenticator.lti13.authenticator.LTI13Authenticator"
# or OAuth (pip install oauthenticator): c.JupyterHub.authenticator_class = "github", ...
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = dep["password"]
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
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(venv / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# A 2-core machine under load starts Lab slowly.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


def per_role(spawner):
    """Students get the student config (no instructor panels); instructors theirs and ~/course."""
    role = "instructor" if spawner.user.name in instructors else "student"
    spawner.environment = {
        **spawner.environment,
        **{
            "PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(Path(dep["dir"]) / "config" / role),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONHASHSEED": "0",
        },
    }
    if role == "instructor":
        spawner.notebook_dir = "~/course"


c.Spawner.pre_spawn_hook = per_role
