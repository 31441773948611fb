"""`make lab` really starts JupyterLab with nbgrader (checked through the server's API)."""

import json
import urllib.request

import pytest
from _lab import make_lab


def _get(port: int, token: str, path: str):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"token {token}"}
    )
    return urllib.request.urlopen(req, timeout=30)


@pytest.mark.slow
def test_make_lab_serves_the_course(tmp_path):
    with make_lab(tmp_path) as (port, token):
        status = json.load(_get(port, token, "/api/status"))
        assert "started" in status
        listing = json.load(_get(port, token, "/api/contents/notebooks"))
        assert {item["name"] for item in listing["content"]} >= {f"lesson{k}" for k in range(1, 8)}
        assert _get(port, token, "/formgrader").status == 200
