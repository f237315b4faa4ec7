"""`repool serve` and `repool server`: when the flows run. Points at flows; holds no pooling rule.

`serve_repool` serves two deployments from this process (a Prefect *runner*; no work pool needed):

- `repool/daily`: the `repool` flow on a daily cron schedule, parameters (data_dir, db, results_dir)
  from the settings, at most one run at a time (concurrency limit 1; a second run waits, ENQUEUE),
  and a `DeploymentEventTrigger` on `repool.delivery.arrived`: every arrival starts a re-pool.
- `watch-deliveries/poll`: the `watch-deliveries` flow every `watch_interval` seconds; it emits
  `repool.delivery.arrived` for each new or changed delivery under the data root.

Serving needs a running Prefect server (the ephemeral API has no scheduler and no automations):
`repool server` starts one on 127.0.0.1, then `export PREFECT_API_URL=http://127.0.0.1:4200/api`.
`deployments/prefect.yaml` declares the same two deployments for a process work pool.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from repool import OFFLINE_ENV
from repool.settings import Settings

from repool.tasks.watch import EVENT  # noqa: E402  (one home: the watcher)
REPOOL_DEPLOYMENT = "daily"
WATCH_DEPLOYMENT = "poll"
QUIET_ENV = OFFLINE_ENV


def _say(msg: str) -> None:
    print(f"repool: {msg}", file=sys.stderr, flush=True)


def api_url() -> str | None:
    """The Prefect API this process would talk to (environment or active profile), or None (ephemeral)."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def api_healthy(url: str, timeout: float = 5.0) -> bool:
    import httpx

    try:
        r = httpx.get(url.rstrip("/") + "/health", timeout=timeout)
        return r.status_code == 200
    except httpx.HTTPError:
        return False


def build_deployments(settings: Settings, cron: str = "0 6 * * *", watch_interval: int = 60):
    """The two runner deployments (not yet registered): `repool/daily` and `watch-deliveries/poll`."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.events import DeploymentEventTrigger
    from prefect.types.entrypoint import EntrypointType

    from repool.flows.repool_flow import repool
    from repool.flows.watch_flow import watch_deliveries

    paths = {"data_dir": str(settings.data_dir), "db": str(settings.db_path),
             "results_dir": str(settings.results_dir)}
    repool_dep = repool.to_deployment(
        name=REPOOL_DEPLOYMENT,
        cron=cron,
        parameters=paths,
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="ENQUEUE"),
        triggers=[DeploymentEventTrigger(
            name="repool-on-delivery-arrived",
            description="A new or changed delivery landed under the data root: re-pool.",
            expect={EVENT},
            match={"prefect.resource.id": "repool.delivery.*"},
        )],
        description="Pool the newest valid delivery of every study and publish a result version "
                    "(daily, and whenever a delivery arrives).",
        tags=["repool"],
        # import by module (the editable install maps `flows`), so the working directory does not matter
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    watch_dep = watch_deliveries.to_deployment(
        name=WATCH_DEPLOYMENT,
        interval=timedelta(seconds=watch_interval),
        parameters={"data_dir": str(settings.data_dir)},
        concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy="CANCEL_NEW"),
        description=f"Scan the data root every {watch_interval} s and emit {EVENT} per new delivery.",
        tags=["repool"],
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    return repool_dep, watch_dep


def serve_repool(settings: Settings, cron: str = "0 6 * * *", watch_interval: int = 60) -> int:
    """Serve `repool/daily` and `watch-deliveries/poll` until interrupted. Needs a Prefect server."""
    url = api_url()
    if not url:
        _say("refused: `repool serve` needs a running Prefect server; Prefect's ephemeral API has no "
             "scheduler and no automations, so neither the daily schedule nor the delivery trigger would fire.")
        _say("start one with `repool server` (in another terminal), then "
             "`export PREFECT_API_URL=http://127.0.0.1:4200/api` and run `repool serve` again.")
        return 2
    if not api_healthy(url):
        _say(f"refused: no Prefect server answers at PREFECT_API_URL={url}; "
             "start it with `repool server` or fix PREFECT_API_URL.")
        return 2
    if watch_interval < 1:
        _say(f"refused: --watch-interval must be at least 1 second, got {watch_interval}")
        return 2
    if not settings.deliveries_dir.is_dir():
        _say(f"note: {settings.deliveries_dir} does not exist yet; the watcher will wait for it")

    from prefect import serve

    deployments = build_deployments(settings, cron=cron, watch_interval=watch_interval)
    _say(f"serving against {url}: repool/{REPOOL_DEPLOYMENT} (cron {cron!r} UTC, and on {EVENT}) and "
         f"watch-deliveries/{WATCH_DEPLOYMENT} (every {watch_interval} s) for {settings.data_dir}")
    _say("stop with Ctrl-C (schedules are paused when the runner stops; stop it before the server)")
    serve(*deployments, limit=4)
    return 0


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # as uvicorn binds: a port whose last connections linger in TIME_WAIT is free to listen on again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def prefect_executable() -> list[str]:
    """The `prefect` command of this interpreter's environment."""
    exe = Path(sys.executable).with_name("prefect")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("prefect")
    return [found] if found else [sys.executable, "-m", "prefect"]


def server_command(port: int) -> list[str]:
    return prefect_executable() + ["server", "start", "--host", "127.0.0.1", "--port", str(port)]


def start_server(port: int = 4200) -> int:
    """Run `prefect server start` bound to 127.0.0.1 in the foreground (analytics off) until Ctrl-C.

    The server never outlives this process: it runs in its own process group, which SIGTERM, SIGINT
    (Ctrl-C) and SIGHUP of `repool server` stop as a whole (SIGTERM, then SIGKILL after
    STOP_GRACE_SECONDS; a second signal does not wait), and the kernel sends it SIGTERM should
    `repool server` itself be killed (PR_SET_PDEATHSIG, `repool.ephemeral.die_with_parent`).
    """
    if not _port_free(port):
        _say(f"refused: 127.0.0.1:{port} is already in use (a Prefect server already running? "
             f"try http://127.0.0.1:{port}/ in a browser, or pick another --port)")
        return 2
    env = {**os.environ, **QUIET_ENV}
    env.pop("PREFECT_API_URL", None)  # the server itself must not point at another API
    # The UI finds the API through PREFECT_UI_API_URL, which defaults to port 4200 whatever --port says.
    env.update({"PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
                "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api"})
    _say(f"starting a Prefect server on 127.0.0.1:{port} (Ctrl-C stops it)")
    _say(f"UI:  http://127.0.0.1:{port}/")
    _say(f"in the shells that run repool:  export PREFECT_API_URL=http://127.0.0.1:{port}/api")
    return _supervise(server_command(port), env)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
STOP_GRACE_SECONDS = 20.0


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):  # the group is empty already
        pass


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (zombies, which nobody may reap, do not count)."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
            return True
    return False


def _supervise(command: list[str], env: dict[str, str]) -> int:
    """Run `command` in its own process group until it ends or this process is asked to stop."""
    from repool.ephemeral import with_parent_death

    proc: subprocess.Popen | None = None
    asked: list[float] = []  # when a stop was first asked

    def on_stop(signum, _frame) -> None:
        if proc is None:  # before the child exists: it is not started (see below)
            asked.append(time.monotonic())
            return
        if asked:  # asked twice: no more patience
            _say("stopping the Prefect server now")
            _signal_group(proc.pid, signal.SIGKILL)
            return
        asked.append(time.monotonic())
        _say(f"stopping the Prefect server ({signal.Signals(signum).name})")
        _signal_group(proc.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, on_stop) for sig in STOP_SIGNALS}
    try:
        if asked:
            return 0
        # start_new_session: a group of its own (the terminal's Ctrl-C reaches us, we stop the group);
        # preexec_fn: the kernel stops it should this process be killed outright
        proc = subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=with_parent_death())
        if asked:  # a signal came while starting it
            _signal_group(proc.pid, signal.SIGTERM)
        while True:
            try:
                rc = proc.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                if asked and time.monotonic() - asked[0] > STOP_GRACE_SECONDS:
                    _say(f"the Prefect server did not stop within {STOP_GRACE_SECONDS:.0f} s; killing it")
                    _signal_group(proc.pid, signal.SIGKILL)
                    asked[0] = float("inf")  # once
        return 0 if asked else rc
    finally:
        if proc is not None:
            _reap_group(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _reap_group(proc: subprocess.Popen) -> None:
    """No process of the server's group is left when `repool server` returns (or raises)."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
    if not _group_alive(proc.pid):
        return
    _signal_group(proc.pid, signal.SIGTERM)  # children the server left behind
    deadline = time.monotonic() + 5
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal_group(proc.pid, signal.SIGKILL)
