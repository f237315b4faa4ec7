"""repool/ephemeral.py without Prefect: the private API's start, against a stand-in server."""
from __future__ import annotations

import sys

from repool import ephemeral

# answers every GET with 200 once it listens, 0.5 s after it starts
STAND_IN = (
    "import http.server, sys, time\n"
    "time.sleep(0.5)\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers()\n"
    "    def log_message(self, *a):\n"
    "        pass\n"
    "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()\n"
)


def test_while_starting_runs_before_the_api_answers_and_the_server_stops_after(monkeypatch):
    monkeypatch.setattr(ephemeral, "server_command", lambda port: [sys.executable, "-c", STAND_IN, str(port)])
    seen = []
    with ephemeral.private_api(timeout=60, while_starting=lambda url: seen.append((url, ephemeral._healthy(url)))) as url:
        assert seen == [(url, False)]  # called once, with the URL, before the server answered
        assert ephemeral._healthy(url)
    assert not ephemeral._healthy(url)  # stopped on the way out
