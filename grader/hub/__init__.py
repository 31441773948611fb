"""The class on one machine: JupyterHub with real Linux accounts (``make hub``, docs/hub.md).

``deploy`` (``python -m grader.hub.deploy up|stop|remove-users``) makes the
students' and instructors' accounts, the exchange, each home's disk and the
hub's config, and starts JupyterHub with ``hub/jupyterhub_config.py``. Of the
grader it imports only the C library's handle (``grader._libc``).
"""
