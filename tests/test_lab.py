"""`make lab` really starts JupyterLab with nbgrader (checked through the server's API)."""

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _lab import make_lab

pytestmark = pytest.mark.long(70)

ROOT = Path(__file__).resolve().parents[1]


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
        lessons = {p.parent.name for p in (ROOT / "solutions").glob("lesson*/lesson*.ipynb")}
        assert len(lessons) >= 8 and {item["name"] for item in listing["content"]} >= lessons
        # A student's Lab (the default): no instructor panels, no formgrader, no news.
        with pytest.raises(urllib.error.HTTPError) as missing:
            _get(port, token, "/formgrader")
        assert missing.value.code == 404
        config = _page_config(port, token)
        assert INSTRUCTOR_PANELS <= config["disabled"] and config["news"] == {"disabled": True}


INSTRUCTOR_PANELS = {
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:course-list",
}


def _page_config(port: int, token: str) -> dict:
    html = _get(port, token, "/lab").read().decode()
    data = json.loads(
        re.search(
            r'<script id="jupyter-config-data" type="application/json">'
            r"(.*?)</script>",
            html,
            re.S,
        ).group(1)
    )
    listed = data["disabledExtensions"]  # a list, or a dict of name -> disabled
    return {
        "disabled": set(listed)
        if isinstance(listed, list)
        else {k for k, v in listed.items() if v},
        "news": data.get("news"),
    }


@pytest.mark.slow
def test_make_lab_for_instructors_keeps_the_formgrader(tmp_path):
    with make_lab(tmp_path, make_args=("LAB_ROLE=instructor",)) as (port, token):
        assert _get(port, token, "/formgrader").status == 200
        config = _page_config(port, token)
        assert not INSTRUCTOR_PANELS & config["disabled"] and config["news"] == {"disabled": True}
