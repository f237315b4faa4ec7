"""The whole loop against a real Prefect server: publish v1; serve `repool/daily` + `watch-deliveries/poll`;
drop a new delivery of one study; the watcher emits `repool.delivery.arrived`; the trigger runs a
re-pool; v2 is published with the new lineage; the diff shows what changed. Also: the served
deployments carry the daily schedule, the trigger and the concurrency limit, and
`deployments/prefect.yaml` deploys to a process work pool on that server.

Everything Prefect runs in subprocesses pointed at the test server (see tests/prefect_server.py).
The loop tests are `slow`; the checks of the deployment definitions and of the refusal on the
ephemeral API need no server.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

pytest_plugins = ["tests.prefect_server"]
from tests.paths import REPO_ROOT as PROJECT_ROOT  # noqa: E402

LOOP_TIMEOUT = 120  # seconds from dropping the delivery to v2 published
NEW_DELIVERY = ("MT103-206", "2013-09-30")
FOLLOWUP_V2 = ("PATNR;STATUS;STATUS_DATE",  # patient 2 died since the last cut: the results change
               ["1;DEAD;01.02.2013", "2;DEAD;15.09.2013", "3;DEAD;15.06.2012", "4;ALIVE;30.09.2013"])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "repool.cli", *args]


def _versions(db: Path) -> list[tuple[str, list[tuple[str, str]]]]:
    from repool.tasks.db import connect

    with connect(db, read_only=True) as con:
        versions = [r[0] for r in con.execute(
            "SELECT result_version FROM results.versions ORDER BY created_at, result_version").fetchall()]
        return [(v, con.execute("SELECT DISTINCT study, delivery_id FROM results.lineage WHERE result_version = ? "
                                "ORDER BY ALL", [v]).fetchall()) for v in versions]


def _wait_for(what: str, check, timeout: float, proc=None, log: Path | None = None, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(every)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n--- log tail ---\n{tail}")


@pytest.fixture(scope="module")
def loop(prefect_server, tmp_path_factory):
    from tests.fixtures_deliveries import write_all, write_csv_legacy
    from tests.prefect_server import stop_process

    root = write_all(tmp_path_factory.mktemp("serve-loop") / "data")
    db = root / "repool.duckdb"
    first = prefect_server.run(_cli("run", "--data-dir", str(root)))
    assert first.returncode == 0, first.stderr[-3000:]
    [(v1, lineage_v1)] = _versions(db)
    assert ("MT103-206", "2013-06-30") in lineage_v1

    serve = prefect_server.spawn(_cli("serve", "--data-dir", str(root), "--watch-interval", "5"), "serve.log",
                                  PREFECT_RUNNER_POLL_FREQUENCY="2")  # default 10 s between looks for work
    serve_log = prefect_server.home / "serve.log"
    state = root / ".repool-watch.json"
    # the watcher's first scan records the deliveries already there (no events): wait for it
    _wait_for("the watcher's first scan", state.is_file, 90, serve, serve_log)

    write_csv_legacy(root, delivery_id=NEW_DELIVERY[1], **{"followup.csv": FOLLOWUP_V2})
    dropped = time.monotonic()
    with prefect_server.client() as c:
        dep = c.get("/deployments/name/repool/daily").json()

    def finished_runs():  # ask Prefect, not DuckDB: a reader's lock would refuse the run's writer
        runs = prefect_server.flow_runs(deployments={"id": {"any_": [dep["id"]]}})
        return [r for r in runs if r["state_type"] in ("COMPLETED", "FAILED", "CRASHED")] and runs

    runs = _wait_for("the triggered re-pool to finish", finished_runs, LOOP_TIMEOUT, serve, serve_log, every=2)
    elapsed = time.monotonic() - dropped
    try:
        yield {"root": root, "db": db, "v1": v1, "versions": _versions(db), "runs": runs, "deployment": dep,
               "elapsed": elapsed, "serve": serve, "server": prefect_server}
    finally:  # the runner goes with this module, before the (session) server
        stop_process(serve)
        prefect_server.children.remove(serve)


@pytest.mark.slow
def test_arrival_triggers_a_repool_that_publishes_v2_with_the_new_lineage(loop):
    versions = loop["versions"]
    assert len(versions) == 2, versions
    (v1, lineage_v1), (v2, lineage_v2) = versions
    assert v1 == loop["v1"] and v2 != v1
    assert NEW_DELIVERY in lineage_v2 and NEW_DELIVERY not in lineage_v1
    assert ("MT103-206", "2013-06-30") not in lineage_v2  # the newest valid delivery replaced it
    assert {s for s, _ in lineage_v2} == {"MT103-206", "MT103-211", "00103311"}
    # the run that published v2 was created by the automation (the event trigger), not the schedule
    done = [r for r in loop["runs"] if r["state_type"] == "COMPLETED"]
    assert done, loop["runs"]
    assert all((r.get("created_by") or {}).get("type") == "AUTOMATION" for r in done), [r.get("created_by") for r in done]
    assert loop["elapsed"] < LOOP_TIMEOUT


@pytest.mark.slow
def test_the_watcher_emitted_the_arrival_event(loop):
    with loop["server"].client() as c:
        r = c.post("/events/filter", json={"filter": {"event": {"name": ["repool.delivery.arrived"]}}, "limit": 50})
        r.raise_for_status()
        events = r.json()["events"]
    ids = [e["resource"]["prefect.resource.id"] for e in events]
    assert ids == ["repool.delivery.MT103-206.2013-09-30"], ids  # once, and only the new delivery
    assert events[0]["resource"]["study"] == "MT103-206" and events[0]["resource"]["delivery_id"] == "2013-09-30"


@pytest.mark.slow
def test_served_deployments_have_schedule_trigger_and_limit(loop):
    dep = loop["deployment"]
    assert [s["schedule"].get("cron") for s in dep["schedules"]] == ["0 6 * * *"]
    assert dep["parameters"]["data_dir"] == str(loop["root"])
    assert dep["parameters"]["db"] == str(loop["db"])
    assert dep["concurrency_limit"] == 1 or (dep.get("global_concurrency_limit") or {}).get("limit") == 1
    assert dep["entrypoint"] == "repool.flows.repool_flow.repool"
    with loop["server"].client() as c:
        watch = c.get("/deployments/name/watch-deliveries/poll").json()
        automations = c.post("/automations/filter", json={}).json()
    assert [s["schedule"].get("interval") for s in watch["schedules"]] == [5.0]
    mine = [a for a in automations if a["name"] == "repool-on-delivery-arrived"]
    assert mine and mine[0]["trigger"]["expect"] == ["repool.delivery.arrived"]
    assert mine[0]["actions"][0]["type"] == "run-deployment" and mine[0]["actions"][0]["deployment_id"] == dep["id"]


@pytest.mark.slow
def test_diff_shows_the_changed_delivery(loop):
    try:
        from repool.tasks.render.diff import render_diff
    except ImportError as exc:
        pytest.skip(f"tasks/diff.py (render_diff) is not there yet: {exc}")
    from repool.tasks.db import connect

    (v1, _), (v2, _) = loop["versions"]
    with connect(loop["db"], read_only=True) as con:
        text = render_diff(con, v1, v2)
    assert "2013-09-30" in text and "MT103-206" in text, text[:2000]


@pytest.mark.slow
def test_prefect_yaml_deploys_to_a_process_work_pool(loop):
    server = loop["server"]
    pool = server.run([str(Path(sys.executable).with_name("prefect")), "work-pool", "create", "repool-process",
                       "--type", "process"], timeout=120)
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deployed = server.run([str(Path(sys.executable).with_name("prefect")), "--no-prompt", "deploy", "--all",
                           "--prefect-file", "deployments/prefect.yaml"], timeout=180)
    assert deployed.returncode == 0, (deployed.stdout + deployed.stderr)[-4000:]
    with server.client() as c:
        daily = c.get("/deployments/name/repool/daily").json()
        watch = c.get("/deployments/name/watch-deliveries/poll").json()
        automations = c.post("/automations/filter", json={}).json()
    assert daily["work_pool_name"] == "repool-process" and watch["work_pool_name"] == "repool-process"
    assert [s["schedule"].get("cron") for s in daily["schedules"]] == ["0 6 * * *"]
    assert daily["entrypoint"] == "flows/repool_flow.py:repool"
    assert any(s["schedule"].get("interval") for s in watch["schedules"])
    yaml_trigger = [a for a in automations if a["name"] == "repool-daily-on-delivery-arrived"]
    assert yaml_trigger and yaml_trigger[0]["trigger"]["expect"] == ["repool.delivery.arrived"]
    # a process worker would run these from the project root (the pull step `prefect deploy` wrote)
    assert PROJECT_ROOT.joinpath("flows", "repool_flow.py").is_file()
