"""A real Prefect server for the slow tests (the serve loop, the UI in a browser), shared per session.

Load it with `pytest_plugins = ["tests.prefect_server"]` in a test module: the fixture
`prefect_server` is then one session fixture, whichever module asks first starts the server.

The server runs as a subprocess (`prefect server start --host 127.0.0.1 --port <free port>`) with
its own temporary PREFECT_HOME, analytics off. It is always stopped by its PID at teardown, after
every process started with `spawn()` (serve runners first: a runner stopped after its server hangs
while pausing its deployments). Prefect calls from the tests run in subprocesses with `env` set, so
the in-process Prefect settings (maybe the test harness of other tests) never get in the way.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from repool import OFFLINE_ENV
from repool.ephemeral import with_parent_death  # a killed pytest takes its servers along
from tests.prefect_home import seeded_home

PROJECT_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, sig=signal.SIGINT, timeout: float = 30) -> None:
    """Stop one process we started (and its process group), politely first, by PID."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)  # started with start_new_session: the group is ours alone
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@dataclass
class PrefectServer:
    port: int
    home: Path
    proc: subprocess.Popen | None = None
    log: Path | None = None
    children: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def env(self) -> dict[str, str]:
        """Environment for a subprocess that should talk to this server."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        pythonpath = [str(PROJECT_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        env.update({
            "PREFECT_API_URL": self.api_url, "PREFECT_HOME": str(self.home),
            **OFFLINE_ENV,
            "PREFECT_LOGGING_LEVEL": "INFO", "PYTHONPATH": os.pathsep.join(pythonpath),
        })
        return env

    def client(self):
        import httpx

        return httpx.Client(base_url=self.api_url, timeout=30)

    def spawn(self, args: list[str], log_name: str, **extra_env: str) -> subprocess.Popen:
        """Start a background process against this server (stopped before the server at teardown)."""
        log = open(self.home / log_name, "wb")
        proc = subprocess.Popen(args, cwd=PROJECT_ROOT, env={**self.env, **extra_env}, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=with_parent_death())
        self.children.append(proc)
        return proc

    def run(self, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(args, cwd=PROJECT_ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)

    def flow_runs(self, **filters) -> list[dict]:
        with self.client() as c:
            r = c.post("/flow_runs/filter", json={"sort": "EXPECTED_START_TIME_DESC", "limit": 200, **filters})
            r.raise_for_status()
            return r.json()

    def start(self) -> None:
        seeded_home(self.home)  # migrated once per session (tests/prefect_home.py)
        self.log = self.home / "server.log"
        env = self.env
        env.pop("PREFECT_API_URL")  # the server itself
        # the UI asks the API at PREFECT_UI_API_URL, which defaults to port 4200 whatever --port says
        env.update({"PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(self.port),
                    "PREFECT_UI_API_URL": self.api_url})
        cmd = [str(Path(sys.executable).with_name("prefect")), "server", "start",
               "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.home, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True, preexec_fn=with_parent_death())
        import httpx

        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prefect server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"prefect server not healthy after {STARTUP_TIMEOUT} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        for child in reversed(self.children):  # runners before the server
            stop_process(child)
        self.children.clear()
        if self.proc is not None:
            stop_process(self.proc, sig=signal.SIGTERM)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-server")
    server = PrefectServer(port=free_port(), home=home)
    try:
        server.start()
        yield server
    finally:
        server.stop()
