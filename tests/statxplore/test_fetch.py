"""fetch posts a saved query with the APIKey header; tested against a local server only
(127.0.0.1, fixture responses): no test touches the internet."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from wpeval.cli import main
from wpeval.exceptions import DataContractError, ParameterError
from wpeval.statxplore import fetch, read

from .conftest import FIXTURES

QUERY = {
    "database": "str:database:UC_Households",
    "measures": ["str:count:UC_Households:V_F_UC_HOUSEHOLDS"],
    "dimensions": [["str:field:UC_Households:F_UC_DATE:DATE_NAME"]],
}


class _Handler(BaseHTTPRequestHandler):
    seen: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Handler.seen.append(
            {
                "path": self.path,
                "key": self.headers.get("APIKey"),
                "type": self.headers.get("Content-Type"),
                "body": json.loads(body),
            }
        )
        if self.headers.get("APIKey") != "test-key":
            self._send(403, b'{"message": "Invalid API key"}')
        elif self.path == "/webapi/rest/v1/table":
            self._send(200, (FIXTURES / "uc_households_two_measures.json").read_bytes())
        elif self.path == "/notjson":
            self._send(200, b"<html>maintenance</html>")
        else:
            self._send(200, b'{"error": "no cubes here"}')

    def _send(self, code, payload):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    _Handler.seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_fetch_posts_the_query_with_the_key(server, tmp_path):
    out = tmp_path / "resp.json"
    doc = fetch(QUERY, api_key="test-key", url=f"{server}/webapi/rest/v1/table", out=out)
    req = _Handler.seen[-1]
    assert req["key"] == "test-key" and req["type"] == "application/json"
    assert req["body"] == QUERY
    assert "cubes" in doc and read(out)["measure"].nunique() == 2


def test_cli_fetch_reads_the_key_from_the_environment(server, tmp_path, monkeypatch, capsys):
    query = tmp_path / "q.json"
    query.write_text(json.dumps(QUERY))
    out = tmp_path / "resp.json"
    monkeypatch.setenv("STATXPLORE_API_KEY", "test-key")
    code = main(
        [
            "statxplore",
            "fetch",
            "--query",
            str(query),
            "--out",
            str(out),
            "--url",
            f"{server}/webapi/rest/v1/table",
        ]
    )
    assert code == 0 and "UC_Households" in capsys.readouterr().out
    assert json.loads(out.read_text())["database"]["id"] == "UC_Households"
    monkeypatch.setenv("STATXPLORE_API_KEY", "wrong")
    code = main(
        [
            "statxplore",
            "fetch",
            "--query",
            str(query),
            "--out",
            str(out),
            "--url",
            f"{server}/webapi/rest/v1/table",
        ]
    )
    assert code == 1 and "HTTP 403" in capsys.readouterr().err
    monkeypatch.delenv("STATXPLORE_API_KEY")
    code = main(
        [
            "statxplore",
            "fetch",
            "--query",
            str(query),
            "--out",
            str(out),
            "--url",
            f"{server}/webapi/rest/v1/table",
        ]
    )
    assert code == 2 and "STATXPLORE_API_KEY" in capsys.readouterr().err


def test_bad_answers_are_clear_errors(server, tmp_path):
    with pytest.raises(DataContractError, match="did not return JSON"):
        fetch(QUERY, api_key="test-key", url=f"{server}/notjson")
    with pytest.raises(DataContractError, match="without 'cubes'"):
        fetch(QUERY, api_key="test-key", url=f"{server}/other")
    with pytest.raises(DataContractError, match="HTTP 403"):
        fetch(QUERY, api_key="nope", url=f"{server}/webapi/rest/v1/table")
    bad = tmp_path / "q.json"
    bad.write_text('{"measures": []}')
    with pytest.raises(ParameterError, match="no 'database' key"):
        fetch(bad, api_key="test-key", url=f"{server}/webapi/rest/v1/table")
