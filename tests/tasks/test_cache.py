"""The per-delivery cache (tasks/cache.py): what enters the key, reuse with its audit, relocation,
and that a half-written or altered entry is never reused (issue 10, parts 1 and 6)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from repool.settings import Settings
from repool.tasks.cache import compute_unit_key, lookup, remove_stale_workspaces
from repool.tasks.db import connect
from repool.tasks.ingest import verify_delivery
from repool.tasks.publish import compute_code_version
from repool.tasks.runs import start_run
from tests.chain import prepare_delivery, run_unit

CSV = ("MT103-206", "2013-06-30")


def _dir(settings: Settings, study: str = CSV[0], cut: str = CSV[1]) -> Path:
    return settings.deliveries_dir / study / cut


def _key(settings: Settings, code: str | None = None, **params) -> str:
    r = verify_delivery(settings, str(_dir(settings)))
    return compute_unit_key(r.delivery, [w["file"] for w in r.warnings], code or compute_code_version(settings.policy_file),
                            {**settings.unit_parameters(), **params})


def test_the_key_follows_every_input_and_nothing_else(settings):
    base = _key(settings)
    assert _key(settings) == base, "a function of its inputs"
    assert _key(settings, code="0" * 64) != base, "the code version"
    assert _key(settings, days_per_month=30.0) != base, "a model parameter"
    (_dir(settings) / "notes.txt").write_text("x")
    assert _key(settings) != base, "a file the manifest does not list"
    (_dir(settings) / "notes.txt").unlink()
    assert _key(settings) == base


def test_an_unchanged_delivery_is_reused_with_the_run_that_validated_it(settings):
    (_dir(settings) / "notes.txt").write_text("x")  # recorded (unlisted_file), and kept in the unit
    run1 = start_run.fn(settings, None)
    first = prepare_delivery(settings, run1, _dir(settings))
    run2 = start_run.fn(settings, None)
    second = prepare_delivery(settings, run2, _dir(settings))
    assert not first.reused and second.reused and second.key == first.key
    assert (second.accepted, second.quarantined, second.message) == (first.accepted, first.quarantined, first.message)
    from repool.tasks.publish import compute_lineage

    assert compute_lineage([second]) == compute_lineage([first]) and len(compute_lineage([first])) == 7, \
        "a reused unit stands for the same input files: the version id cannot change"
    with connect(settings.db_path, read_only=True) as con:
        def recorded(run):
            return con.execute('SELECT file, row, "column", reason, action, value, validated_in_run FROM '
                               "audit.validation_failures WHERE run_id = ? ORDER BY ALL", [run]).fetchall()
        delivered = con.execute("SELECT run_id, validated_in_run, cache_key FROM audit.deliveries ORDER BY recorded_at"
                                ).fetchall()
        r1, r2 = recorded(run1), recorded(run2)
        from repool.tasks.render.audit_report import render_audit

        shown = render_audit(con, run=run2)
        as_csv = render_audit(con, run=run2, fmt="csv")
    assert ("notes.txt", None, None, "unlisted_file", "recorded") in [x[:5] for x in r1]
    assert [x[:-1] for x in r2] == [x[:-1] for x in r1], "the reused validation is a complete record for run 2"
    assert {x[-1] for x in r1} == {run1} and {x[-1] for x in r2} == {run1}
    assert delivered == [(run1, run1, first.key), (run2, run1, first.key)]
    assert f"reused from run {run1}" in shown and as_csv.splitlines()[1].endswith(run1)


def test_a_changed_file_is_read_and_validated_again(settings):
    run1 = start_run.fn(settings, None)
    first = run_unit(settings, run1, _dir(settings))
    d = _dir(settings)
    manifest = json.loads((d / "manifest.json").read_text())
    with open(d / "ae.csv", "ab") as fh:
        fh.write(b"\n")  # a trailing newline: same rows, another digest
    from repool.hashing import sha256_of
    manifest["files"]["ae.csv"]["sha256"] = sha256_of(d / "ae.csv")
    (d / "manifest.json").write_text(json.dumps(manifest))
    second = run_unit(settings, start_run.fn(settings, None), d)
    assert second.key != first.key and not second.reused


def test_the_cache_moves_with_the_data_root(settings, tmp_path):
    run1 = start_run.fn(settings, None)
    first = run_unit(settings, run1, _dir(settings))
    moved = tmp_path / "elsewhere"
    shutil.copytree(settings.data_dir, moved / "data")
    shutil.copytree(settings.cache_dir, moved / "cache")
    there = replace(settings, data_dir=moved / "data", db_path=moved / "data" / "repool.duckdb",
                    results_dir=moved / "data" / "results", cache_dir=moved / "cache")
    again = run_unit(there, start_run.fn(there, None), _dir(there))
    assert again.reused and again.key == first.key and Path(again.entry).parent == moved / "cache"


def test_an_altered_entry_is_set_aside_and_rebuilt(settings):
    run1 = start_run.fn(settings, None)
    first = run_unit(settings, run1, _dir(settings))
    parquet = Path(first.entry) / "pooled" / "adsl.parquet"
    data = bytearray(parquet.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    parquet.write_bytes(bytes(data))
    assert lookup(settings.cache_dir, first.key) is None
    assert [p.name.startswith(".bad-") for p in settings.cache_dir.iterdir()] == [True]
    again = run_unit(settings, start_run.fn(settings, None), _dir(settings))
    assert not again.reused and (Path(again.entry) / "pooled" / "adsl.parquet").is_file()


KILLED = r"""
import os, signal, sys
from pathlib import Path
import repool.tasks.cache as cache
from repool.settings import Settings
from tests.chain import run_unit

real_fsync = cache._fsync_tree
def fsync_then_die(root):
    real_fsync(root)  # every output and unit.json written: die just before the rename
    os.kill(os.getpid(), signal.SIGKILL)
cache._fsync_tree = fsync_then_die
settings = Settings(data_dir=Path(sys.argv[1]))
run_unit(settings, "killed-run", sys.argv[2])
"""


def test_a_unit_killed_before_its_commit_is_never_reused(settings):
    proc = subprocess.run([sys.executable, "-c", KILLED, str(settings.data_dir), str(_dir(settings))],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    leftovers = [p for p in settings.cache_dir.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".tmp-")
    assert (leftovers[0] / "unit.json").is_file(), "killed with the entry complete but not committed"
    assert lookup(settings.cache_dir, _key(settings)) is None, "not found under its key"
    run_id = start_run.fn(settings, None)  # the next run removes the half-built folder
    assert not any(p.name.startswith(".tmp-") for p in settings.cache_dir.iterdir())
    rebuilt = run_unit(settings, run_id, _dir(settings))
    assert not rebuilt.reused and rebuilt.validated_in_run == run_id
    assert remove_stale_workspaces(settings.cache_dir) == 0


def test_a_unit_refuses_other_code_than_the_coordinators(settings):
    from repool.flows.repool_flow import prepare_delivery as unit
    from repool.tasks.publish import CodeMismatch

    with pytest.raises(CodeMismatch, match="install the same repool"):
        unit.fn(settings, "run", str(_dir(settings)), "0" * 64)
