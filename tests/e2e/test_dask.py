"""Issue 10, part 2: the per-delivery units on a 2-worker local Dask cluster, and in Prefect's process
pool (`--task-runner process`, one worker per core), give the same version id and byte-identical ARD
as the thread runner, on the bundled deliveries together with a 20-study scale
set (one data root of 23 studies: both in one pair of runs, which keeps `make test` short).

One child process holds a private Prefect API (as `repool run` does) and runs the flow three times,
thread, dask and process, each with its own database and cache (a shared cache would let the second run reuse the
first's units). The GX checkpoint is off: it changes no number.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import DATA_DIR as REPO_DATA
from tests.prefect_home import seeded_home

DRIVER = r"""
import json, os, sys
from repool.ephemeral import private_api

roots = json.loads(sys.argv[1])
out = {}
with private_api() as url:
    os.environ["PREFECT_API_URL"] = url  # the Dask workers inherit it to report their task runs
    from repool.flows.repool_flow import repool
    for name, root in roots.items():
        for runner in ("thread", "dask", "process"):
            work = os.path.join(root, "work-" + runner)
            state = repool(data_dir=root, db=os.path.join(work, "repool.duckdb"),
                           results_dir=os.path.join(work, "results"), gx_checkpoint=False,
                           task_runner=runner, dask_workers=2, return_state=True)
            data = state.result(raise_on_failure=False)
            out[name + ":" + runner] = {"completed": state.is_completed(), "version": data.get("version"),
                                        "message": data.get("message")}
print("RESULT " + json.dumps(out))
"""


def _unit_builders(cache: Path) -> set[int]:
    return {json.loads((e / "unit.json").read_text())["built_by"]["pid"] for e in cache.iterdir()
            if (e / "unit.json").is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dask") / "data"
    subprocess.run([sys.executable, "-m", "repool.cli", "generate", "--out", str(root), "--studies", "20",
                    "--patients-per-study", "60"], check=True, capture_output=True)
    shutil.copytree(REPO_DATA / "deliveries", root / "deliveries", dirs_exist_ok=True)
    registry = (root / "studies.toml").read_text() + "\n" + (REPO_DATA / "studies.toml").read_text()
    (root / "studies.toml").write_text(registry)
    roots = {"pool": str(root)}
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "PREFECT_HOME": str(seeded_home(root.parent / "prefect-home")),  # migrated once per session
           # no drill-down: these tests compare the ARD and KM files, which it does not change, and each
           # of the three runs would spend about 5 s on its listings (this module-scoped fixture runs
           # before the function-scoped one of tests/e2e/conftest.py that turns it off)
           "REPOOL_DRILL_DOWN_MAX_SUBJECTS": "0"}
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(roots)], capture_output=True, text=True,
                          timeout=900, env=env)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    assert line, f"driver failed: {proc.stderr[-3000:]}"
    return {k: Path(v) for k, v in roots.items()}, json.loads(line.removeprefix("RESULT "))


def test_the_pool_holds_the_bundled_studies_and_the_scale_set(runs):
    roots, _out = runs
    studies = {p.name for p in (roots["pool"] / "deliveries").iterdir()}
    assert {"MT103-206", "MT103-211", "00103311"} <= studies and len(studies) == 23


@pytest.mark.parametrize("runner", ["dask", "process"])
def test_the_runner_gives_the_thread_runner_s_version_and_ard(runs, runner):
    roots, out = runs
    thread, other = out["pool:thread"], out[f"pool:{runner}"]
    assert thread["completed"] and other["completed"], (thread, other)
    assert thread["version"] and other["version"] == thread["version"]
    folders = {r: roots["pool"] / f"work-{r}" / "results" / thread["version"] for r in ("thread", runner)}
    for file in ("ard.parquet", "ard.csv", "km.parquet"):
        assert (folders[runner] / file).read_bytes() == (folders["thread"] / file).read_bytes(), file


@pytest.mark.parametrize("runner", ["dask", "process"])
def test_the_units_ran_in_worker_processes(runs, runner):
    roots, _out = runs
    thread_pids = _unit_builders(roots["pool"] / "work-thread" / "cache")
    other_pids = _unit_builders(roots["pool"] / f"work-{runner}" / "cache")
    assert len(thread_pids) == 1, "the thread runner builds every unit in the flow's process"
    assert other_pids and other_pids.isdisjoint(thread_pids), f"the {runner} units were built elsewhere"
    if runner == "dask":  # with 23 studies both workers take some
        assert len(other_pids) == 2
    elif len(os.sched_getaffinity(0)) > 1:  # a worker per core, at least two of them busy
        assert 2 <= len(other_pids) <= len(os.sched_getaffinity(0))
