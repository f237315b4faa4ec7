"""Processes never outlive or block the user.

- `repool run` without PREFECT_API_URL starts a private Prefect API (repool/ephemeral.py): SIGKILL the
  run and its uvicorn child is gone within seconds (PR_SET_PDEATHSIG); a run that ends normally leaves
  nothing behind.
- `repool server` (deployments/serve.py): SIGTERM or SIGKILL of it stops the `prefect server start`
  child and frees the port; SIGINT, SIGTERM, a child that ignores SIGTERM and a grandchild left behind
  are checked on a stand-in child (no real server start).
- A reader (`repool versions`) while a writer holds the database waits for it, saying so once; past
  REPOOL_READ_WAIT_SECONDS it ends with one line and exit code 3; a missing database is one line and 1.

Every process is started in a session of its own and tagged with an environment variable inherited by
its descendants; teardown SIGKILLs whatever of ours is left, by PID. Processes are found through /proc
(Linux). A zombie (exited, not reaped: this container's PID 1 reaps nothing) counts as gone.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import pytest

from repool import OFFLINE_ENV
from repool.ephemeral import _healthy
from repool.tasks.db import DatabaseBusy, connect

from tests.paths import DATA_DIR, REPO_ROOT
from tests.prefect_home import seeded_home

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc")]

TAG = "REPOOL_PROCESS_TEST_TAG"  # not a setting: Settings reads only the REPOOL_* names it knows
UVICORN_APP = "prefect.server.api.server:create_app"
API_START_TIMEOUT = 180  # the private API / a server start: 6-20 s here, more on a loaded machine
RUN_TIMEOUT = 300
GONE_AFTER_RUN_KILL = 15
GONE_AFTER_SERVER_STOP = 30


# ---------------------------------------------------------------- processes through /proc

def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, pgrp) of a process, or None when it no longer exists."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return fields[0], int(fields[1]), int(fields[2])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    return [p for p in _pids() if (st := _stat(p)) and st[1] == pid and st[0] != "Z"]


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _tagged(tag: str) -> set[int]:
    """Live processes whose environment carries our tag: everything our processes started."""
    needle = f"{TAG}={tag}".encode()
    out = set()
    for pid in _pids():
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0") and _alive(pid):
            out.add(pid)
    return out


def _describe(pids) -> str:
    return "; ".join(f"{p} [{(_stat(p) or ('gone',))[0]}] {_cmdline(p)[:140]}" for p in sorted(pids)) or "none"


def _wait_until(predicate, timeout: float, step: float = 0.1) -> float | None:
    """Seconds until `predicate()` held, or None after `timeout`."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(step)


def _uvicorn_children(pid: int) -> list[int]:
    return [c for c in _children(pid) if "uvicorn" in (cl := _cmdline(c)) and UVICORN_APP in cl]


def _port_of(pid: int) -> int:
    args = _cmdline(pid).split()
    return int(args[args.index("--port") + 1])


def _port_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _port_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a new server would bind
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- starting our processes

def _repool_command() -> list[str]:
    exe = Path(sys.executable).with_name("repool")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "repool.cli"]


class Ours:
    """Processes this test starts (each in a session of its own, tagged); all SIGKILLed at teardown."""

    def __init__(self, tmp_path: Path):
        self.tag = uuid.uuid4().hex
        self.tmp = tmp_path
        self.home = seeded_home(tmp_path / "prefect-home")  # migrated once per session (tests/prefect_home.py)
        self.procs: list[subprocess.Popen] = []

    def empty_home(self) -> None:
        """Start from an empty PREFECT_HOME, as a user's first run does (Prefect migrates its database)."""
        shutil.rmtree(self.home)
        self.home.mkdir()

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REPOOL_", "PREFECT_"))}
        env.update(PREFECT_HOME=str(self.home), **OFFLINE_ENV, PREFECT_LOGGING_LEVEL="WARNING")
        env[TAG] = self.tag
        env.update(extra)
        return env

    def start(self, args: list[str], log_name: str, **extra_env: str) -> subprocess.Popen:
        with open(self.tmp / log_name, "wb") as log:
            proc = subprocess.Popen(args, cwd=REPO_ROOT, env=self.env(**extra_env), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def log(self, log_name: str) -> str:
        return (self.tmp / log_name).read_text(errors="replace")[-3000:]

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)
        for pid in _tagged(self.tag):  # descendants that left the groups: ours by the tag
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture
def ours(tmp_path):
    o = Ours(tmp_path)
    try:
        yield o
    finally:
        o.cleanup()


def _data_copy(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DATA_DIR / "deliveries", root / "deliveries")
    return root


# ---------------------------------------------------------------- 1. the private API of `repool run`

def test_sigkill_of_repool_run_takes_its_private_api_along(ours, tmp_path):
    run = ours.start(_repool_command() + ["run", "--data-dir", str(_data_copy(tmp_path))], "run.log")
    uvicorn: list[int] = []

    def api_child() -> bool:
        uvicorn[:] = _uvicorn_children(run.pid)
        return bool(uvicorn) or run.poll() is not None

    assert _wait_until(api_child, 60, 0.05) is not None and uvicorn, \
        f"no private API child of the run (rc {run.poll()}):\n{ours.log('run.log')}"
    (api,) = uvicorn
    port = _port_of(api)
    started = _wait_until(lambda: _healthy(f"http://127.0.0.1:{port}/api") or not _alive(api), API_START_TIMEOUT, 0.25)
    assert started is not None and _alive(api), f"the private API did not answer:\n{ours.log('run.log')}"
    assert run.poll() is None, f"the run ended before the kill:\n{ours.log('run.log')}"
    left_before = _tagged(ours.tag)

    os.kill(run.pid, signal.SIGKILL)  # the run alone, not its group: the kernel must do the rest
    run.wait(timeout=30)
    gone = _wait_until(lambda: not _alive(api), GONE_AFTER_RUN_KILL)
    assert gone is not None, f"the private API outlived the killed run by {GONE_AFTER_RUN_KILL} s: {_describe([api])}"
    assert _wait_until(lambda: not _tagged(ours.tag), 5) is not None, \
        f"left after the kill: {_describe(_tagged(ours.tag))} (before it: {_describe(left_before)})"
    assert not _port_listening(port)
    print(f"\nprivate API (pid {api}, port {port}) answered {started:.1f} s after it appeared; "
          f"gone {gone:.2f} s after the SIGKILL of repool run")


def test_a_finished_repool_run_leaves_no_private_api(ours, tmp_path):
    ours.empty_home()  # the one run on an empty home in the suite: the private API migrates its database
    run = ours.start(_repool_command() + ["run", "--data-dir", str(_data_copy(tmp_path))], "run.log")
    seen: set[int] = set()
    deadline = time.monotonic() + RUN_TIMEOUT
    while run.poll() is None:
        seen.update(_uvicorn_children(run.pid))
        if time.monotonic() > deadline:
            pytest.fail(f"repool run did not end within {RUN_TIMEOUT} s:\n{ours.log('run.log')}")
        time.sleep(0.1)
    assert run.returncode == 0, ours.log("run.log")
    assert "version: v" in ours.log("run.log")
    assert len(seen) == 1, f"expected one private API child during the run, saw {sorted(seen)}"
    left = _tagged(ours.tag)
    assert not left, f"left after a normal run: {_describe(left)}"
    assert not any(_alive(p) for p in seen)


# ---------------------------------------------------------------- 2. `repool server`

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_repool_server_stops_its_prefect_server(ours, sig):
    port = _free_port()
    server = ours.start(_repool_command() + ["server", "--port", str(port)], "server.log")
    t0 = time.monotonic()
    up = _wait_until(lambda: _healthy(f"http://127.0.0.1:{port}/api") or server.poll() is not None,
                     API_START_TIMEOUT, 0.25)
    assert up is not None and server.poll() is None, f"repool server did not come up:\n{ours.log('server.log')}"
    family = _descendants(server.pid) | _tagged(ours.tag)
    assert any("server start" in _cmdline(p) for p in family), _describe(family)

    os.kill(server.pid, sig)  # the `repool server` process alone, not its group
    t1 = time.monotonic()
    try:
        rc = server.wait(timeout=GONE_AFTER_SERVER_STOP)
    except subprocess.TimeoutExpired:
        pytest.fail(f"repool server still running {GONE_AFTER_SERVER_STOP} s after {sig.name}: "
                    f"{_describe(family)}\n{ours.log('server.log')}")
    left = lambda: {p for p in family | _tagged(ours.tag) if _alive(p)}  # noqa: E731
    gone = _wait_until(lambda: not left(), max(1.0, GONE_AFTER_SERVER_STOP - (time.monotonic() - t1)))
    assert gone is not None, f"left {GONE_AFTER_SERVER_STOP} s after {sig.name}: {_describe(left())}"
    elapsed = time.monotonic() - t1
    assert not _port_listening(port) and _port_bindable(port), f"127.0.0.1:{port} still taken after {sig.name}"
    if sig == signal.SIGTERM:
        assert rc == 0, ours.log("server.log")
        assert "stopping the Prefect server (SIGTERM)" in ours.log("server.log")
    print(f"\nrepool server: healthy after {up:.1f} s; {sig.name}: the server and "
          f"{len(family) - 1} descendant(s) gone and the port free {elapsed:.2f} s later (rc {rc})")


SUPERVISED_CHILD = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    ready, stubborn = sys.argv[1], sys.argv[2] == "stubborn"
    if stubborn:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = ("import signal, time\\n"
                  + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n" if stubborn else "")
                  + "time.sleep(300)")
    subprocess.Popen([sys.executable, "-c", grandchild])
    open(ready, "w").close()
    if sys.argv[2] == "leaves":   # ends on its own, leaving its child behind in the group
        sys.exit(7)
    time.sleep(300)
""")
SUPERVISOR = textwrap.dedent("""
    import sys
    from repool.deployments import serve
    serve.STOP_GRACE_SECONDS = 1.0
    sys.exit(serve._supervise([sys.executable, "-c", sys.argv[1], sys.argv[2], sys.argv[3]], None))
""")


@pytest.mark.parametrize("sig, kind, expected_rc", [
    (signal.SIGINT, "polite", 0), (signal.SIGTERM, "polite", 0), (signal.SIGHUP, "polite", 0),
    (signal.SIGINT, "stubborn", 0), (None, "leaves", 7),
], ids=["SIGINT", "SIGTERM", "SIGHUP", "SIGINT-child-ignores-SIGTERM", "child-exits-leaving-its-child"])
def test_the_server_supervisor_stops_the_whole_group(ours, tmp_path, sig, kind, expected_rc):
    """`start_server`'s supervisor on a stand-in child that starts a child of its own (no real server)."""
    ready = tmp_path / "ready"
    sup = ours.start([sys.executable, "-c", SUPERVISOR, SUPERVISED_CHILD, str(ready), kind], "supervisor.log")
    assert _wait_until(lambda: ready.exists() or sup.poll() is not None, 60, 0.05) is not None \
        and ready.exists(), ours.log("supervisor.log")
    family = _descendants(sup.pid)
    assert len(family) == 2 or kind == "leaves", _describe(family)
    t0 = time.monotonic()
    if sig is not None:
        os.kill(sup.pid, sig)
    rc = sup.wait(timeout=30)
    elapsed = time.monotonic() - t0
    left = {p for p in family | _tagged(ours.tag) if _alive(p)}
    assert not left, f"left after {sig and sig.name or 'the child ended'}: {_describe(left)}"
    assert rc == expected_rc, ours.log("supervisor.log")
    assert elapsed < (10 if kind == "stubborn" else 6), elapsed
    if kind == "stubborn":
        assert "did not stop within 1 s; killing it" in ours.log("supervisor.log")


# ---------------------------------------------------------------- 3. readers wait for the writer

WRITER = textwrap.dedent("""
    import pathlib, sys, time
    import duckdb
    from repool.tasks.db import DDL
    db, ready, release, hold = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), float(sys.argv[4])
    con = duckdb.connect(db)  # read-write: DuckDB locks the file for this process
    con.execute(DDL)
    con.execute("INSERT INTO results.versions (result_version, created_at, status) "
                "VALUES ('vfeedc0ffee00', now()::TIMESTAMP, 'published')")
    ready.touch()
    deadline = time.monotonic() + hold
    while not release.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    con.close()
""")
WAITING = "repool: waiting for the running repool run to release"


class Reader:
    """`repool versions --db` as a subprocess, its stderr read line by line."""

    def __init__(self, ours: Ours, db: Path, **extra_env: str):
        self.proc = subprocess.Popen(_repool_command() + ["versions", "--db", str(db)], cwd=REPO_ROOT,
                                     env=ours.env(**extra_env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
        ours.procs.append(self.proc)
        self.err: list[str] = []
        self.out = ""
        self.threads = [threading.Thread(target=self._read_err, daemon=True),
                        threading.Thread(target=self._read_out, daemon=True)]
        for t in self.threads:
            t.start()

    def _read_err(self) -> None:
        for line in self.proc.stderr:
            self.err.append(line)

    def _read_out(self) -> None:
        self.out = self.proc.stdout.read()

    def finish(self, timeout: float = 60) -> int:
        rc = self.proc.wait(timeout=timeout)
        for t in self.threads:
            t.join(timeout=10)
        return rc


def _hold(ours: Ours, tmp_path: Path, name: str, hold: float) -> tuple[subprocess.Popen, Path, Path]:
    db, ready, release = tmp_path / f"{name}.duckdb", tmp_path / f"{name}.ready", tmp_path / f"{name}.release"
    writer = ours.start([sys.executable, "-c", WRITER, str(db), str(ready), str(release), str(hold)], f"{name}.log")
    assert _wait_until(lambda: ready.exists() or writer.poll() is not None, 60, 0.05) is not None and ready.exists(), \
        ours.log(f"{name}.log")
    return writer, db, release


def test_a_reader_waits_for_the_writer_then_reads(ours, tmp_path):
    # the writer holds the file until told (at most 60 s): the reader must be seen waiting, however
    # long its own start takes on a loaded machine
    writer, db, release = _hold(ours, tmp_path, "held", hold=60)
    reader = Reader(ours, db)
    t0 = time.monotonic()
    assert _wait_until(lambda: any(WAITING in ln for ln in reader.err) or reader.proc.poll() is not None, 60) \
        is not None and reader.proc.poll() is None, f"no waiting line: {reader.err}"
    time.sleep(1.0)  # a few retries while the writer still holds the file: still one line
    release.touch()
    writer.wait(timeout=30)
    rc = reader.finish()
    waited = time.monotonic() - t0
    assert rc == 0, "".join(reader.err)
    assert "vfeedc0ffee00" in reader.out
    assert [ln for ln in reader.err if ln.strip()] == [f"{WAITING} {db} …\n"], reader.err
    print(f"\nrepool versions waited for the writer and read {waited:.1f} s after it started")


def test_a_reader_gives_up_after_the_wait_in_one_line(ours, tmp_path):
    writer, db, release = _hold(ours, tmp_path, "busy", hold=60)
    reader = Reader(ours, db, REPOOL_READ_WAIT_SECONDS="1")
    t0 = time.monotonic()
    rc = reader.finish(timeout=60)
    elapsed = time.monotonic() - t0
    t1 = time.monotonic()  # a writer never waits (a second `repool run` is refused at once); nor a reader told not to
    with pytest.raises(DatabaseBusy, match="in use by another process"):
        connect(db)
    with pytest.raises(DatabaseBusy, match="is held by another process"):
        connect(db, read_only=True, wait=0)
    refused_in = time.monotonic() - t1
    still_held = writer.poll() is None
    release.touch()
    writer.wait(timeout=30)
    err = [ln for ln in reader.err if ln.strip()]
    assert still_held
    assert rc == 3, err
    assert "Traceback" not in "".join(reader.err)
    assert len(err) == 2 and err[0].startswith(WAITING), err
    assert err[1].startswith(f"repool: {db} is still held by another process") and "after 1 s" in err[1], err
    assert reader.out == ""
    assert refused_in < 2, refused_in
    print(f"\nrepool versions gave up after {elapsed:.1f} s: {err[1].strip()}")


def test_a_missing_database_is_one_line(ours, tmp_path):
    reader = Reader(ours, tmp_path / "nowhere.duckdb")
    rc = reader.finish()
    err = [ln for ln in reader.err if ln.strip()]
    assert rc == 1 and len(err) == 1 and err[0].startswith("repool: no repool database at "), err
