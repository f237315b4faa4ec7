"""The bad-input corpus: one broken delivery per kind of bad input (`repool generate --corrupt KIND`),
each pooled by the real flow on top of an already published version.

For every kind: the run's outcome (refused -> the previous delivery is pooled; quarantined -> the
subject is set aside and a new version records it; allowed extra column -> a warning), the audit rows
(file, row, column, check), a message naming file and rule, and every version published before is
byte-identical afterwards (folder bytes and database rows).
"""
from __future__ import annotations

import shutil

import pytest

from tests.paths import DATA_DIR
from tests.versions import snapshot_version as _snapshot
from repool.synth.corrupt import CORRUPTION_KINDS, write_corrupt_delivery
from repool.tasks.db import connect

pytestmark = pytest.mark.slow

# kind -> (reason code recorded, action)
EXPECTED = {
    "missing-column": ("missing_column", "reject"),
    "extra-column": ("extra_column", "warn"),
    "wrong-type": ("wrong_type", "reject"),
    "decimal-point": ("wrong_type", "reject"),
    "unknown-code": ("unknown_code", "quarantine"),
    "duplicate-subject": ("duplicate_subject", "reject"),
    "age-under-18": ("age_range", "quarantine"),
    "age-over-100": ("age_range", "quarantine"),
    "blasts-out-of-range": ("blasts_range", "quarantine"),
    "death-before-first-dose": ("death_before_first_dose", "quarantine"),
    "grade-out-of-range": ("grade_range", "quarantine"),
    "unparseable-date": ("date_unparseable", "reject"),
    "sha256-mismatch": ("manifest_sha256", "reject"),
    "rows-mismatch": ("manifest_rows", "reject"),
    "listed-file-missing": ("manifest_missing_file", "reject"),
    "wrong-encoding": ("encoding", "reject"),
    "wrong-encoding-utf16": ("encoding", "reject"),
}
ACTION_TAKEN = {"reject": "delivery rejected", "quarantine": "subject quarantined", "warn": "recorded"}


def test_every_corruption_kind_has_an_expectation():
    assert set(EXPECTED) == set(CORRUPTION_KINDS)


def _run(root):
    from repool.flows.repool_flow import repool

    return repool(data_dir=str(root), return_state=True, gx_checkpoint=False)


@pytest.fixture(scope="module")
def published_base(prefect_harness, tmp_path_factory):
    """The bundled deliveries with version v1 published."""
    root = tmp_path_factory.mktemp("corpus") / "base"
    shutil.copytree(DATA_DIR / "deliveries", root / "deliveries")
    state = _run(root)
    assert state.is_completed(), state.message
    return root, state.result()["version"]


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_bad_input_is_recorded_and_handled(published_base, tmp_path, kind):
    base, v1 = published_base
    root = tmp_path / kind
    shutil.copytree(base, root)
    before = _snapshot(root, v1)
    fault = write_corrupt_delivery(root, kind)
    reason, action = EXPECTED[kind]

    state = _run(root)
    assert state.is_completed(), state.message
    data = state.result()

    with connect(root / "repool.duckdb", read_only=True) as con:
        audit = con.execute(
            'SELECT file, row, "column", reason, value, action, message FROM audit.validation_failures '
            "WHERE run_id = ? AND study = ? AND delivery_id = ? AND reason = ?",
            [data["run_id"], fault["study"], fault["delivery_id"], reason]).fetchall()
        lineage = con.execute("SELECT DISTINCT delivery_id FROM results.lineage WHERE result_version = ? AND study = ?",
                              [data["version"], fault["study"]]).fetchall()
        exclusions = con.execute("SELECT subject, reason, file, row FROM results.exclusions WHERE result_version = ?",
                                 [data["version"]]).fetchall()
    assert audit, f"no audit row for {reason}"
    hit = next((a for a in audit if a[0] == fault["file"]), audit[0])
    assert hit[0] == fault["file"] and hit[3] == reason and hit[5] == ACTION_TAKEN[action]
    if fault["row"] is not None and reason != "duplicate_subject":
        assert any(a[1] == fault["row"] for a in audit), (audit[:3], fault)
    if fault["column"] is not None and action != "reject" or reason in ("missing_column", "wrong_type"):
        assert any(a[2] == fault["column"] for a in audit), (audit[:3], fault)

    if action == "reject":
        # refused: the previous delivery is pooled, which is exactly v1's input -> up to date
        assert state.name == "Completed with exclusions"
        assert data["status"] == "up-to-date" and data["version"] == v1
        refused = " ".join(data["refused"])
        assert fault["file"] in refused and reason in refused and "REJECTED" in refused
    elif action == "quarantine":
        assert state.name == "Completed with exclusions" and data["status"] == "published"
        assert data["version"] != v1 and lineage == [(fault["delivery_id"],)]
        assert len(exclusions) == 1 and exclusions[0][1] == reason and exclusions[0][2] == fault["file"]
    else:
        assert data["status"] == "published" and lineage == [(fault["delivery_id"],)] and not exclusions

    assert _snapshot(root, v1) == before  # nothing published before was touched
