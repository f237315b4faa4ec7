"""Two `repool run` processes started at once on the same database: exactly one publishes, the other waits
and reports up to date or is refused naming the database lock; the database stays whole.

Each process starts its own ephemeral Prefect server (own PREFECT_HOME), as two users at two terminals
would; the pair takes ~30-40 s, so the pair runs once and the tests below read its outcome.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from repool import OFFLINE_ENV

from tests.paths import REPO_ROOT
from tests.prefect_home import seeded_home
from repool.tasks.analyse.ard import ARD_COLUMNS, assert_ard
from repool.schemas.ard import TABLE_IDS
from repool.tasks.db import connect
from repool.tasks.render.diff import compute_ard_diff

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 240


def repool_command() -> list[str]:
    exe = Path(sys.executable).with_name("repool")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "repool.cli"]


def subprocess_env(prefect_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPOOL_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(prefect_home), **OFFLINE_ENV, PREFECT_LOGGING_LEVEL="WARNING")
    return env


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    from tests.fixtures_deliveries import write_all

    base = tmp_path_factory.mktemp("concurrency")
    root = write_all(base / "data")
    db = base / "pool.duckdb"
    procs = []
    for i in range(2):
        home = base / f"prefect-home-{i}"
        seeded_home(home)  # its own database, migrated once per session (tests/prefect_home.py)
        procs.append(subprocess.Popen(
            repool_command() + ["run", "--data-dir", str(root), "--db", str(db)], cwd=REPO_ROOT,
            env=subprocess_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True))
    outcomes = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=RUN_TIMEOUT)
            outcomes.append({"rc": p.returncode, "out": out, "err": err})
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
    return {"root": root, "db": db, "outcomes": outcomes}


def _version_of(o: dict) -> str | None:
    m = re.search(r"^version: (v[0-9a-f]+)$", o["out"], re.M)
    return m.group(1) if m else None


def _split(pair) -> tuple[dict, dict]:
    published = [o for o in pair["outcomes"] if o["rc"] == 0 and "published result version" in o["err"]]
    assert len(published) == 1, [(o["rc"], o["err"][-2000:]) for o in pair["outcomes"]]
    other = next(o for o in pair["outcomes"] if o is not published[0])
    return published[0], other


def test_exactly_one_publishes_and_the_database_is_whole(pair):
    winner, other = _split(pair)
    version = _version_of(winner)
    assert version
    if other["rc"] == 0:  # it waited for the lock, then found the version published
        assert "up to date" in other["err"] and _version_of(other) == version
    else:  # refused: the message names the database lock
        assert "lock" in other["err"].lower() and "in use by another process" in other["err"], other["err"][-2000:]
        assert str(pair["db"]) in other["err"]

    with connect(pair["db"], read_only=True) as con:
        versions = con.execute("SELECT result_version, status FROM results.versions").fetchall()
        ard = con.execute("SELECT * EXCLUDE (result_version) FROM results.ard WHERE result_version = ? ORDER BY rowid",
                          [version]).df()
        n_all = con.execute("SELECT count(*) FROM results.ard").fetchall()[0][0]
        lineage = con.execute("SELECT count(*) FROM results.lineage WHERE result_version = ?", [version]).fetchall()[0][0]
        runs = con.execute("SELECT status, count(*) FROM audit.runs GROUP BY 1 ORDER BY 1").fetchall()
    assert versions == [(version, "published")]
    assert n_all == len(ard) > 100 and lineage == 15
    assert sorted(ard["table_id"].unique()) == sorted(TABLE_IDS)
    assert_ard(ard[ARD_COLUMNS])  # canonical columns, no duplicated key
    exported = pd.read_parquet(pair["root"] / "results" / version / "ard.parquet")
    assert compute_ard_diff(exported, ard).empty  # the folder and the database agree
    assert ("published", 1) in runs and "running" not in dict(runs)
    leftovers = [p.name for p in (pair["root"] / "results").iterdir() if p.name.startswith(".tmp-")]
    assert not leftovers


def test_the_refused_run_exits_3_with_a_clear_message(pair):
    _winner, other = _split(pair)
    if other["rc"] == 0:
        pytest.skip("the second run waited and found the version up to date (allowed); no refusal to check")
    assert other["rc"] == 3, other["err"][-2000:]
    assert "repool: refused:" in other["err"] and "lock" in other["err"].lower()
    assert "FAILED" not in other["err"]
