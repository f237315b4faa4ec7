"""Fresh PREFECT_HOMEs for the tests' subprocesses, each holding a copy of one migrated Prefect database.

A Prefect API started on an empty PREFECT_HOME first runs Prefect's database migrations and registers
its block types: about 20 s of CPU (measured: healthy after 26–27 s on an empty home, 6.5 s on a
migrated one). The end-to-end tests start a dozen such APIs, each in its own home, as two users at two
terminals would. `seeded_home(path)` gives each the same isolation (its own database file) without
paying the migrations again: the database is migrated once per `make test` (the first worker to ask
builds it, under a lock; the others wait) by starting `repool.ephemeral.private_api` on a template
home, and copied.

What this leaves untested is Prefect's own migration of an empty database, which is Prefect's.
`tests/e2e/test_processes.py` still starts one `repool run` on an empty home.

`seed_test_harness` does the same for `prefect.testing.utilities.prefect_test_harness` (one per xdist
worker): the temporary folder it makes for its database receives a copy of the template.
"""
from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from repool import OFFLINE_ENV

TEMPLATE_ENV = "REPOOL_TEST_PREFECT_TEMPLATE"  # set by tests/conftest.py for every xdist worker
SEEDED_FILES = ("prefect.db", "memo_store.toml")

_BUILD = "from repool.ephemeral import private_api\nwith private_api():\n    pass\n"


def seeded_home(path: Path) -> Path:
    """`path` as a new PREFECT_HOME holding a copy of the migrated template database."""
    template = migrated_template()
    path.mkdir(parents=True, exist_ok=True)
    for name in SEEDED_FILES:
        shutil.copyfile(template / name, path / name)
    return path


@functools.cache
def migrated_template() -> Path:
    root = Path(os.environ.get(TEMPLATE_ENV) or tempfile.mkdtemp(prefix="repool-tests-prefect-"))
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not (home / SEEDED_FILES[0]).is_file():
            building = root / "building"
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            env |= {**OFFLINE_ENV, "PREFECT_HOME": str(building), "PREFECT_LOGGING_LEVEL": "WARNING"}
            subprocess.run([sys.executable, "-c", _BUILD], env=env, check=True, capture_output=True, timeout=300)
            with sqlite3.connect(building / "prefect.db") as con:  # the WAL folded into the one file we copy
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            for name in SEEDED_FILES:
                assert (building / name).is_file(), f"the template Prefect home lacks {name}"
            building.rename(home)
    return home


HARNESS_DB = "prefect-test.db"  # the name prefect_test_harness gives its database in its folder


@contextlib.contextmanager
def seed_test_harness(harness):
    """While entered, the harness module's `mkdtemp` (its database folder) returns a folder holding a
    copy of the migrated template database, and this process's PREFECT_HOME the block-registration
    memo that goes with it. A Prefect whose harness no longer works this way is left alone."""
    real = getattr(harness, "mkdtemp", None)
    if real is None:
        yield
        return
    template = migrated_template()

    def seeded_mkdtemp(*args, **kwargs):
        folder = real(*args, **kwargs)
        shutil.copyfile(template / SEEDED_FILES[0], Path(folder) / HARNESS_DB)
        return folder

    home = os.environ.get("PREFECT_HOME")
    if home and not (Path(home) / SEEDED_FILES[1]).exists():
        Path(home).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template / SEEDED_FILES[1], Path(home) / SEEDED_FILES[1])
    harness.mkdtemp = seeded_mkdtemp
    try:
        yield
    finally:
        harness.mkdtemp = real
