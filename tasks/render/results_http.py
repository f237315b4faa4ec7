"""The results folder over HTTP, read-only, on 127.0.0.1: what the Prefect UI's artifact links open.

A browser does not follow a `file://` link from the UI's page, so `repool serve` and `repool server`
also serve `Settings.results_dir` here (a stdlib `ThreadingHTTPServer` in a daemon thread) and hand
its base URL to the flow runs as `REPOOL_RESULTS_URL` (read into `Settings.results_url`); the publish
task then links `<base>/<version>/report.html` (`artifact_for`). Without it (a plain `repool run` on
the ephemeral API) the artifact is a note with the file's path and how to open it.

What it serves: GET and HEAD of the files under the folder, nothing else. Every other method is
refused (405); a path that leaves the folder, through `..` or a symlink pointing out of it, is not
found (404); so are hidden names (`.tmp-<version>-<pid>` of a version being written, `.gx-<run>`),
and a directory listing shows only what may be fetched. Requests whose Host is not this address
are refused (a web page cannot rebind its own name to 127.0.0.1 and read the results).
"""
from __future__ import annotations

import errno
import html
import io
import os
import shlex
import threading
import urllib.parse
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOST = "127.0.0.1"
RESULTS_URL_ENV = "REPOOL_RESULTS_URL"  # read by Settings.from_env into Settings.results_url
SERVER_RESULTS_PORT = 4201  # `repool server` (beside the Prefect server's 4200)
SERVE_RESULTS_PORT = 4202  # `repool serve` (a runner may run beside `repool server`)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class ResultsHandler(SimpleHTTPRequestHandler):
    """GET/HEAD of files under `directory`; no write, no escape, no hidden name."""

    server_version = "repool-results"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def _refuse_method(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _refuse_method

    def _host_allowed(self) -> bool:
        port = self.server.server_address[1]
        host = (self.headers.get("Host") or "").strip().lower()
        return host in {f"{HOST}:{port}", f"localhost:{port}"} | ({HOST, "localhost"} if port == 80 else set())

    def _real_path(self) -> str | None:
        """The file system path of the request, or None when it is hidden or leaves the folder."""
        parts = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).split("/")
        if any(p.startswith(".") for p in parts if p):  # hidden names, and '..'
            return None
        path = self.translate_path(self.path)
        root = os.path.realpath(self.directory)
        return path if _inside(os.path.realpath(path), root) else None

    def send_head(self):
        if not self._host_allowed():
            self.send_error(HTTPStatus.MISDIRECTED_REQUEST, "unknown host")
            return None
        if self._real_path() is None:
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path):
        """A listing of the entries a GET would serve (no hidden name, nothing linking out)."""
        root = os.path.realpath(self.directory)
        try:
            names = sorted(os.listdir(path), key=str.lower)
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "No permission to list directory")
            return None
        shown = []
        for name in names:
            full = os.path.join(path, name)
            if name.startswith(".") or not _inside(os.path.realpath(full), root):
                continue
            label = name + ("/" if os.path.isdir(full) else "")
            shown.append(f'<li><a href="{urllib.parse.quote(label)}">{html.escape(label)}</a></li>')
        title = html.escape(urllib.parse.unquote(urllib.parse.urlsplit(self.path).path))
        body = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>\n'
                f"<body><h1>{title}</h1>\n<ul>\n" + "\n".join(shown) + "\n</ul></body></html>\n").encode("utf-8")
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return io.BytesIO(body)

    def end_headers(self):
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002  (quiet: `repool serve` prints its own lines)
        pass


@dataclass
class ResultsServer:
    """A running results server: `url` is the base of every link (ends with '/')."""

    folder: Path
    httpd: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def serve_results(folder: Path, port: int = 0, fallback: bool = False) -> ResultsServer:
    """Serve `folder` read-only on 127.0.0.1:`port` (0: any free port) from a daemon thread.

    `fallback`: when the port is taken, take any free one instead of raising OSError.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    handler = partial(ResultsHandler, directory=str(folder.resolve()))
    try:
        httpd = ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        if not (fallback and port and exc.errno == errno.EADDRINUSE):
            raise
        httpd = ThreadingHTTPServer((HOST, 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="repool-results-http", daemon=True)
    thread.start()
    return ResultsServer(folder=folder, httpd=httpd, thread=thread)


def results_link(base_url: str, results_dir: Path, path: Path) -> str:
    """The URL of `path` (a file under `results_dir`) on the results server at `base_url`."""
    rel = Path(path).resolve().relative_to(Path(results_dir).resolve()).as_posix()
    return base_url.rstrip("/") + "/" + urllib.parse.quote(rel)


def artifact_for(results_url: str | None, results_dir: Path, path: Path, title: str) -> tuple[str, str]:
    """What the run's artifact for `path` (a file under `results_dir`) says: ("link", its URL on the
    results server) when one serves the folder, else ("markdown", where the file is and how to open it)."""
    if results_url:
        return "link", results_link(results_url, results_dir, path)
    results_dir, path = Path(results_dir).resolve(), Path(path).resolve()
    rel = urllib.parse.quote(path.relative_to(results_dir).as_posix())
    return "markdown", (
        f"### {title}\n\n"
        f"The file: `{path}`\n\n"
        "No server published the results folder for this run (a plain `repool run` uses a private Prefect "
        "API), and a browser does not open a `file://` link from this page. To open it:\n\n"
        "- on the machine that ran it, open the file above in a browser;\n"
        "- or serve the results folder read-only and open the link: "
        f"`python -m http.server 8000 --bind {HOST} --directory {shlex.quote(str(results_dir))}`, "
        f"then http://{HOST}:8000/{rel};\n"
        "- or run the flow under `repool server` / `repool serve`: they serve the results folder and the "
        "artifacts of their runs link the report.\n")
