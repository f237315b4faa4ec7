"""An unchanged re-run (`repool run` that ends "up to date") pays for Prefect, DuckDB and the cache check,
never for the libraries of the work it skips: the frames (pandas, numpy, pyarrow), the contracts
(pandera), statistics (scipy, lifelines, statsmodels), validation (GX and its SQL engine), the source
readers (pyreadstat), the renderers (matplotlib, great_tables, rtflite, python-docx) or Dask. Each of them costs a fresh process import time and interpreter-exit
time (issue 10: the bundled data unchanged in <= 3 s), so each is imported only by the functions
that use it. The re-run is a process of its own (as `repool` runs it: repool.cli.main, its private
Prefect API), which then lists the modules it holds; no time is measured here (bench/bench_server.py).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from repool import OFFLINE_ENV
from tests.paths import DATA_DIR, REPO_ROOT
from tests.prefect_home import seeded_home

# The top-level packages an unchanged run must not import (the cold run before it, in the same kind of
# process, imports every one of them but dask, which only the Dask task runner needs: checked below,
# so a name in this list cannot go stale unnoticed).
NOT_ON_THE_UNCHANGED_PATH = ("pandas", "numpy", "pyarrow", "pandera", "scipy", "lifelines", "statsmodels",
                             "great_expectations", "sqlalchemy", "duckdb_engine", "pyreadstat", "matplotlib",
                             "great_tables", "rtflite", "docx", "dask")
RUN_TIMEOUT = 600

# repool.cli.main as the console script calls it, then the heavy packages this process holds, as JSON
RUN_AND_LIST = ("import json, sys; import repool.cli; rc = repool.cli.main(['run', '--data-dir', sys.argv[1]]); "
                "print('MODULES ' + json.dumps(sorted(m for m in sys.argv[2].split(',') if m in sys.modules))); "
                "sys.exit(rc)")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPOOL_", "PREFECT_"))}
    home = tmp_path / "prefect-home"
    if not home.is_dir():
        seeded_home(home)  # migrated once per session (tests/prefect_home.py)
    return env | OFFLINE_ENV | {"PREFECT_HOME": str(home), "PREFECT_LOGGING_LEVEL": "WARNING",
                                "REPOOL_DRILL_DOWN_MAX_SUBJECTS": "0"}


def _run_and_list(root: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    done = subprocess.run([sys.executable, "-c", RUN_AND_LIST, str(root), ",".join(NOT_ON_THE_UNCHANGED_PATH)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("MODULES ")]
    assert done.returncode == 0 and len(lines) == 1, done.stdout + done.stderr
    return done, json.loads(lines[0].removeprefix("MODULES "))


def test_an_unchanged_run_imports_none_of_the_skipped_work(tmp_path):
    root = tmp_path / "data"
    shutil.copytree(DATA_DIR / "deliveries", root / "deliveries")
    env = _env(tmp_path)

    cold, cold_modules = _run_and_list(root, env)
    assert "published result version" in cold.stderr, cold.stderr
    # the cold run does the work: it needs them (the bundled data has an SAS transport delivery)
    assert set(NOT_ON_THE_UNCHANGED_PATH) - {"dask"} <= set(cold_modules)

    again, again_modules = _run_and_list(root, env)
    version = next(ln for ln in cold.stdout.splitlines() if ln.startswith("version: "))
    assert f"up to date: result version {version.removeprefix('version: ')} already published" in again.stderr, \
        again.stderr
    assert again_modules == []
