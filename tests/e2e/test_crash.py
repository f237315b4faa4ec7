"""A `repool run` killed with SIGKILL at any point leaves the last published version intact and readable,
and the next run succeeds.

v1 is published by a subprocess `repool run`; then a new delivery of one study arrives and runs on it are
killed (the whole process group) at several points: a fixed delay after start, during ingest, during
harmonise, during the pooled checks, while the version folder is written under its temporary name, and
once the report is rendered (the database transaction follows). After each kill the database opens,
v1's rows and folder are byte-identical, and no version is listed without its rows being whole. A
final run publishes v2. The subprocesses talk to the session's Prefect test server (PREFECT_API_URL),
which saves each of them the ~12 s start of an ephemeral server.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from repool import OFFLINE_ENV
from repool.resources import default_policy_file

from tests.paths import REPO_ROOT
from repool.tasks.db import connect
from tests.fixtures_deliveries import write_all, write_csv_legacy

pytestmark = pytest.mark.slow

RUN_TIMEOUT = 180
PATIENTS_HEADER = "PATNR;SEX;AGE;ECOG;PRIOR_SCT;BM_BLASTS;SALVAGE_NR;FIRST_DOSE;LAST_DOSE"
RESULT_TABLES = ("versions", "lineage", "ard", "km_curves", "exclusions")

# (name, what to wait for, extra delay in seconds). "log:<text>" waits for a log line containing the
# text; "path:<glob>" for a path under the results folder ({pid} is the run's process id); "time:" only
# waits the delay from the start of the process.
KILL_POINTS = [
    ("early, fixed delay", "time:", 1.5),
    ("during ingest", "log:Task run 'discover", 0.05),
    ("during harmonise", "log:Task run 'identify-version", 0.0),
    ("during the pooled checks", "log:Task run 'harmonise", 0.5),  # they follow the pooling
    ("while the version folder is written", "path:.tmp-v*-{pid}", 0.0),
    ("after the report, around the transaction", "path:.tmp-v*-{pid}/report.html", 0.0),
]


def _repool_command() -> list[str]:
    exe = Path(sys.executable).with_name("repool")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "repool.cli"]


def _env(prefect_home: Path, api_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPOOL_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(prefect_home), **OFFLINE_ENV, PREFECT_LOGGING_LEVEL="INFO")
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


class Run:
    """A `repool run` subprocess in its own session, its merged output read line by line."""

    def __init__(self, root: Path, env: dict):
        self.root, self.lines, self.started = root, [], time.monotonic()
        self.proc = subprocess.Popen(_repool_command() + ["run", "--data-dir", str(root)], cwd=REPO_ROOT,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def last_task(self) -> str:
        done = [m.group(1) for ln in list(self.lines) for m in [re.search(r"Task run '([^']+)' - Finished", ln)] if m]
        return done[-1] if done else "-"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def reached(self, what: str) -> bool:
        kind, _, arg = what.partition(":")
        if kind == "time":
            return True
        if kind == "log":
            return any(arg in ln for ln in list(self.lines))
        pattern = arg.format(pid=self.proc.pid)
        return any((self.root / "results").glob(pattern)) if (self.root / "results").is_dir() else False

    def kill_at(self, what: str, delay: float) -> float:
        """SIGKILL the process group once `what` is reached (+ delay); returns the seconds since start."""
        deadline = time.monotonic() + RUN_TIMEOUT
        while not self.reached(what):
            if self.proc.poll() is not None:
                raise AssertionError(f"the run ended (rc {self.proc.returncode}) before {what!r}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"{what!r} not reached in {RUN_TIMEOUT} s:\n{self.output[-3000:]}")
            time.sleep(0.005)
        time.sleep(delay)
        if self.proc.poll() is not None:
            raise AssertionError(f"the run ended (rc {self.proc.returncode}) before the kill:\n{self.output[-3000:]}")
        self.kill()
        return time.monotonic() - self.started

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group this test created: the run and its children
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.reader.join(timeout=10)

    def finish(self) -> int:
        try:
            rc = self.proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        self.reader.join(timeout=10)
        return rc


def _db_rows(db: Path, version: str) -> dict:
    with connect(db, read_only=True) as con:
        return {t: repr(con.execute(f"SELECT * FROM results.{t} WHERE result_version = ? ORDER BY ALL",
                                    [version]).fetchall()) for t in RESULT_TABLES}


def _folder_bytes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _version(output: str) -> str:
    m = re.search(r"^version: (v[0-9a-f]+)$", output, re.M)
    assert m, output[-3000:]
    return m.group(1)


@pytest.fixture
def api_url(prefect_harness) -> str | None:
    import prefect.settings

    return prefect.settings.PREFECT_API_URL.value()


def test_sigkill_at_any_point_leaves_the_last_version_intact(api_url, tmp_path):
    root = write_all(tmp_path / "data")
    db, results = root / "repool.duckdb", root / "results"
    env = _env(tmp_path / "prefect-home", api_url)
    (tmp_path / "prefect-home").mkdir()

    first = Run(root, env)
    assert first.finish() == 0, first.output[-3000:]
    v1 = _version(first.output)
    rows_v1, folder_v1 = _db_rows(db, v1), _folder_bytes(results / v1)
    assert len(folder_v1) >= 5 and "report.html" in folder_v1

    write_csv_legacy(root, delivery_id="2013-09-30", **{"patients.csv": (PATIENTS_HEADER, [
        "1;1;46;0;J;78,5;1;01.02.2012;28.03.2012",
        "2;2;33;n.a.;N;n.a.;2;15.03.2012;11.04.2012",
        "3;1;61;1;N;4,0;3;01.04.2012;28.04.2012",
        "4;2;29;2;J;12;1;01.05.2012;28.06.2012",
    ])})

    killed_at, committed = {}, set()
    for name, what, delay in KILL_POINTS:
        run = Run(root, env)
        killed_at[name] = (round(run.kill_at(what, delay), 2), f"after {run.last_task()}")
        with connect(db, read_only=True) as con:  # the database opens after the kill
            listed = [r[0] for r in con.execute("SELECT result_version FROM results.versions").fetchall()]
            counts = {v: con.execute("SELECT (SELECT count(*) FROM results.ard WHERE result_version = $v), "
                                     "(SELECT count(*) FROM results.lineage WHERE result_version = $v)",
                                     {"v": v}).fetchall()[0] for v in listed}
        assert v1 in listed, name
        assert _db_rows(db, v1) == rows_v1, f"v1 rows changed after a kill {name}"
        assert _folder_bytes(results / v1) == folder_v1, f"v1 folder changed after a kill {name}"
        for v in set(listed) - {v1}:  # committed just before the kill: whole rows, the folder can be rebuilt
            assert counts[v][0] == counts[v1][0] and counts[v][1] == 15, (name, v, counts)
            committed.add(v)
        visible = sorted(p.name for p in results.iterdir() if not p.name.startswith("."))
        assert set(visible) <= {v1} | committed, (name, visible)

    stale = sorted(p.name for p in results.iterdir() if p.name.startswith("."))
    final = Run(root, env)
    assert final.finish() == 0, f"the run after the kills failed (stale: {stale}):\n{final.output[-3000:]}"
    v2 = _version(final.output)
    assert v2 != v1
    assert ("up to date" in final.output) if v2 in committed else ("published result version" in final.output)
    with connect(db, read_only=True) as con:
        listed = sorted(r[0] for r in con.execute("SELECT result_version FROM results.versions").fetchall())
        lineage = con.execute("SELECT DISTINCT delivery_id FROM results.lineage WHERE result_version = ? "
                              "AND study = 'MT103-206'", [v2]).fetchall()
    assert listed == sorted([v1, v2]) and lineage == [("2013-09-30",)]
    assert _db_rows(db, v1) == rows_v1 and _folder_bytes(results / v1) == folder_v1
    for name in ("report.html", "ard.parquet", "ard.csv", "km.parquet", "lineage.json"):
        assert (results / v2 / name).is_file(), name
    left = sorted(p.name for p in results.iterdir() if p.name.startswith("."))
    print(f"\nkilled at (s after start, last finished task): {killed_at}\n"
          f"temporary folders before the final run: {stale}; after it: {left}")


def test_a_crash_between_commit_and_rename_is_recovered(prefect_harness, tmp_path, monkeypatch):
    """The one window a kill can leave a listed version without its folder: the commit is done, the
    temporary folder not yet renamed (a SIGKILL leaves it as `.tmp-<version>-<pid>`). The next run sees
    the version, rebuilds the folder from the stored rows and says up to date."""
    import pandas as pd

    from repool.flows.repool_flow import repool
    from repool.tasks import publish
    from repool.tasks.render.diff import compute_ard_diff

    code_version = publish.compute_code_version(default_policy_file())
    monkeypatch.setattr(publish, "compute_code_version", lambda *_a: code_version)  # others edit tasks/ meanwhile
    root = write_all(tmp_path / "data")
    results = root / "results"
    state = repool(data_dir=str(root), return_state=True, gx_checkpoint=False)
    assert state.is_completed(), state.message
    version = state.result()["version"]
    original = _folder_bytes(results / version)
    # the state a kill between the commit and the rename leaves behind
    (results / version).rename(results / f".tmp-{version}-999999")
    (results / f".tmp-{version}-999999" / "report.html").write_bytes(b"<html>half written")

    state = repool(data_dir=str(root), return_state=True, gx_checkpoint=False)
    assert state.is_completed(), state.message
    data = state.result()
    assert data["status"] == "up-to-date" and data["version"] == version
    rebuilt = _folder_bytes(results / version)
    for name in ("report.html", "ard.parquet", "ard.csv", "km.parquet", "lineage.json"):
        assert name in rebuilt, name
    assert rebuilt["ard.csv"] == original["ard.csv"]
    differ = sorted(n for n in set(original) | set(rebuilt) if rebuilt.get(n) != original.get(n))
    assert set(differ) <= {"report.html"}, differ  # exports byte-identical; the report is re-rendered
    with connect(root / "repool.duckdb", read_only=True) as con:
        stored = publish.read_version_ard(con, version)
    assert compute_ard_diff(stored, pd.read_parquet(results / version / "ard.parquet")).empty
    assert not (results / f".tmp-{version}-999999").exists()  # the stale temporary folder is cleared
    if differ:
        import difflib

        old, new = (d["report.html"].decode().splitlines() for d in (original, rebuilt))
        changed = [ln[:160] for ln in difflib.unified_diff(old, new, n=0, lineterm="") if ln[:1] in "+-"][:8]
        print("\nreport.html rebuilt differs:", *changed, sep="\n  ")
