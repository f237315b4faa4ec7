"""The read-only HTTP server of the results folder (what the Prefect UI's report links open) and the
artifact a run gets with and without it; `repool serve` / `repool server` start it."""
from __future__ import annotations

import argparse
import http.client
import os
import socket
from pathlib import Path

import pytest

from repool.tasks.render.results_http import (
    RESULTS_URL_ENV,
    artifact_for,
    results_link,
    serve_results,
)

REPORT = b"<!DOCTYPE html><html><body><h1>Table 1. Baseline characteristics</h1></body></html>\n"


@pytest.fixture
def tree(tmp_path):
    """results/ with a version, a version being written (hidden), and links pointing out of it."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside the results folder")
    results = tmp_path / "results"
    (results / "v1" / "tables").mkdir(parents=True)
    (results / "v1" / "report.html").write_bytes(REPORT)
    (results / "v1" / "km_os.svg").write_text("<svg/>")
    (results / "v1" / "tables" / "table1.rtf").write_text("{\\rtf1}")
    (results / ".tmp-v2-123").mkdir()
    (results / ".tmp-v2-123" / "report.html").write_text("half written")
    (results / "v1" / "escape.txt").symlink_to(outside / "secret.txt")
    (results / "v1" / "escape_dir").symlink_to(outside, target_is_directory=True)
    (results / "v1" / "inside.html").symlink_to(results / "v1" / "report.html")
    return results


@pytest.fixture
def server(tree):
    srv = serve_results(tree)
    yield srv
    srv.stop()


def _request(srv, method: str, path: str, body: bytes | None = None, host: str | None = None):
    con = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        headers = {"Host": host} if host else {}
        con.request(method, path, body=body, headers=headers)  # the path goes out as written (no normalising)
        r = con.getresponse()
        return r.status, r.read(), r.headers  # case-insensitive
    finally:
        con.close()


def test_serves_the_report_and_its_files(server):
    assert server.url == f"http://127.0.0.1:{server.port}/"
    status, body, headers = _request(server, "GET", "/v1/report.html")
    assert status == 200 and body == REPORT and headers["Content-Type"].startswith("text/html")
    status, body, headers = _request(server, "HEAD", "/v1/report.html")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(REPORT))
    assert _request(server, "GET", "/v1/km_os.svg")[2]["Content-Type"] == "image/svg+xml"
    assert _request(server, "GET", "/v1/inside.html")[1] == REPORT  # a link that stays inside is fine
    assert _request(server, "GET", "/v1/missing.html")[0] == 404


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_read_only(server, tree, method):
    status, _, headers = _request(server, method, "/v1/report.html", body=b"overwritten")
    assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert (tree / "v1" / "report.html").read_bytes() == REPORT
    assert _request(server, method, "/v1/new.html", body=b"x")[0] == 405
    assert not (tree / "v1" / "new.html").exists()


@pytest.mark.parametrize("path", [
    "/../outside/secret.txt", "/v1/../../outside/secret.txt", "/%2e%2e/outside/secret.txt",
    "/v1/%2E%2E/%2E%2E/outside/secret.txt", "/..%2foutside%2fsecret.txt",
    "/v1/escape.txt", "/v1/escape_dir/secret.txt", "/v1/escape_dir/",  # symlinks out of the folder
    "/.tmp-v2-123/report.html", "/.tmp-v2-123/",  # a version being written
])
def test_nothing_outside_the_folder_nor_hidden(server, path):
    status, body, _ = _request(server, "GET", path)
    assert status == 404, (path, status)
    assert b"outside the results folder" not in body and b"half written" not in body


def test_listing_shows_only_what_may_be_fetched(server):
    status, body, _ = _request(server, "GET", "/")
    assert status == 200 and b'href="v1/"' in body and b".tmp-v2-123" not in body
    status, body, _ = _request(server, "GET", "/v1/")
    text = body.decode()
    assert status == 200 and 'href="report.html"' in text and 'href="tables/"' in text
    assert "escape" not in text and 'href="inside.html"' in text


def test_other_hosts_are_refused(server):
    """A page whose name was rebound to 127.0.0.1 sends its own Host: no results for it."""
    assert _request(server, "GET", "/v1/report.html", host="attacker.example")[0] == 421
    assert _request(server, "GET", "/v1/report.html", host=f"localhost:{server.port}")[0] == 200


def test_a_taken_port_falls_back_only_when_asked(tree):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            serve_results(tree, port)
        srv = serve_results(tree, port, fallback=True)
        try:
            assert srv.port != port and _request(srv, "GET", "/v1/report.html")[0] == 200
        finally:
            srv.stop()


def test_artifact_links_the_report_when_a_server_serves_the_folder(tree):
    report = tree / "v1" / "report.html"
    assert artifact_for("http://127.0.0.1:4201/", tree, report, "Report") == \
        ("link", "http://127.0.0.1:4201/v1/report.html")
    assert results_link("http://127.0.0.1:4201", tree, tree / "v1" / "a b.html") == "http://127.0.0.1:4201/v1/a%20b.html"


def test_artifact_says_where_the_file_is_without_a_server(tree):
    kind, text = artifact_for(None, tree, tree / "v1" / "report.html", "Report of result version v1")
    assert kind == "markdown"
    assert "Report of result version v1" in text and f"`{(tree / 'v1' / 'report.html').resolve()}`" in text
    assert f"--directory {tree.resolve()}" in text and "http://127.0.0.1:8000/v1/report.html" in text
    assert "repool serve" in text and "file://" not in text.replace("`file://`", "")


# ---------------------------------------------------------------- `repool serve` and `repool server`

def _args(tree: Path, **kw) -> argparse.Namespace:
    return argparse.Namespace(data_dir=None, db=None, results_dir=tree, results_port=None, **kw)


def _fetch(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310  (127.0.0.1 only)
        return r.read()


def test_repool_serve_serves_the_results_and_hands_the_url_to_its_runs(tree, monkeypatch):
    from repool import commands
    from repool.deployments import serve as deployments_serve

    monkeypatch.delenv(RESULTS_URL_ENV, raising=False)
    seen = {}

    def fake_serve_repool(settings, cron, watch_interval):
        seen["url"] = settings.results_url
        seen["env"] = os.environ.get(RESULTS_URL_ENV)  # what the runner's flow-run processes inherit
        seen["report"] = _fetch(settings.results_url + "v1/report.html")
        return 0

    monkeypatch.setattr(deployments_serve, "serve_repool", fake_serve_repool)
    assert commands.serve(_args(tree, cron="0 6 * * *", watch_interval=60)) == 0
    assert seen["url"] == seen["env"] and seen["url"].startswith("http://127.0.0.1:")
    assert seen["report"] == REPORT
    with pytest.raises(OSError):  # stopped with the command
        _fetch(seen["url"] + "v1/report.html")
    assert RESULTS_URL_ENV not in os.environ  # nor does its URL outlive it in this process


def test_repool_server_serves_the_results_and_says_how_to_link_them(tree, monkeypatch, capsys):
    from repool import commands
    from repool.deployments import serve as deployments_serve

    seen = {}

    def fake_start_server(port):
        err = capsys.readouterr().err
        seen["url"] = err.split(f"export {RESULTS_URL_ENV}=")[1].split()[0]
        seen["report"] = _fetch(seen["url"] + "v1/report.html")
        return 0

    monkeypatch.setattr(deployments_serve, "start_server", fake_start_server)
    assert commands.server(_args(tree, port=4200)) == 0
    assert seen["report"] == REPORT


def test_the_url_reaches_the_runs_through_settings_and_is_no_parameter_of_the_numbers():
    from repool.settings import Settings

    served = Settings.from_env({RESULTS_URL_ENV: "http://127.0.0.1:4202/"})
    assert served.results_url == "http://127.0.0.1:4202/" and Settings.from_env({}).results_url is None
    assert served.analysis_parameters() == Settings.from_env({}).analysis_parameters()  # same version id
