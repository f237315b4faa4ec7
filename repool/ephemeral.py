"""A private Prefect API for one `repool run` that never outlives it.

Prefect's own ephemeral server is a child process that survives a SIGKILL of its parent. `repool run`
(without PREFECT_API_URL) starts the same uvicorn app itself, with the kernel told to stop it when
the parent dies (PR_SET_PDEATHSIG), waits for it as long as a loaded machine needs, and stops it on
the way out. A start that still fails is said in one line.

`die_with_parent` is the one place that asks the kernel for this; `repool server` uses it too
(deployments/serve.py). The kernel sends the signal when the *thread* that started the child ends:
start such children from the main thread (both callers do). tests/e2e/test_processes.py SIGKILLs
`repool run` and `repool server` and checks that nothing they started is left.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

PR_SET_PDEATHSIG = 1
DEFAULT_START_TIMEOUT = 180.0


class ServerStartError(RuntimeError):
    """The private Prefect API did not answer in time."""


def die_with_parent(parent_pid: int | None = None) -> None:
    """preexec_fn: runs in the child between fork and exec; the child gets SIGTERM when its parent dies.

    With `parent_pid` (the parent's `os.getpid()`, bound before the fork: `with_parent_death()`), a
    parent that died before the request took effect is noticed too, and the child ends at once.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the caller's own stop on the way out still applies
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent is already gone
        os._exit(128 + signal.SIGTERM)


def with_parent_death() -> "functools.partial[None]":
    """`die_with_parent` bound to this process: pass it as `preexec_fn` to Popen."""
    return functools.partial(die_with_parent, os.getpid())


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:  # 127.0.0.1 only
            return r.status == 200
    except OSError:
        return False


def server_command(port: int) -> list[str]:
    # found without importing prefect: its settings are read once, at import, and must see our API URL
    app_dir = Path(importlib.util.find_spec("prefect").origin).parent.parent
    return [sys.executable, "-m", "uvicorn", "--app-dir", str(app_dir), "--factory",
            "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "error", "--lifespan", "on"]


@contextlib.contextmanager
def private_api(timeout: float | None = None, log: Path | None = None,
                while_starting: Callable[[str], None] | None = None) -> Iterator[str]:
    """Start a Prefect API on 127.0.0.1 for this process only; yields its URL (`.../api`).

    `while_starting(url)` runs once the server process is started and before it answers: the caller's
    own imports then overlap the server's start (it imports Prefect's whole server, seconds of CPU,
    in its own process)."""
    timeout = float(os.environ.get("REPOOL_SERVER_START_TIMEOUT", timeout or DEFAULT_START_TIMEOUT))
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    env.pop("PREFECT_API_URL", None)
    out = open(log, "ab") if log else subprocess.DEVNULL
    proc = subprocess.Popen(server_command(port), env=env, stdout=out, stderr=subprocess.STDOUT,
                            preexec_fn=with_parent_death(), start_new_session=False)
    try:
        deadline = time.monotonic() + timeout
        if while_starting is not None:
            while_starting(url)
        while not _healthy(url):
            if proc.poll() is not None:
                raise ServerStartError(f"the private Prefect API exited with code {proc.returncode} while starting")
            if time.monotonic() > deadline:
                raise ServerStartError(f"the private Prefect API did not answer within {timeout:.0f} s "
                                       "(a loaded machine? set REPOOL_SERVER_START_TIMEOUT, or PREFECT_API_URL)")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if out is not subprocess.DEVNULL:
            out.close()
