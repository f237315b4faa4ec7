"""audit.record_failures: records of text and whole numbers (the cached failures an unchanged run records)
are stored without pandas, exactly as the pandas frame stores them; any other value goes through pandas."""
from __future__ import annotations

import numpy as np
import pytest

from repool.tasks import audit
from repool.tasks.db import DDL, MIGRATIONS, connect

FAILURES = [
    {"study": "MT103-206", "delivery_id": "2013-07-31", "file": "patients.csv", "file_sha256": "ab12", "row": None,
     "column": "ECOG", "check": "missing_value", "reason": "missing_value", "value": None, "subject": None,
     "severity": "warning", "action_taken": "warn", "message": "patients.csv: ECOG missing"},
    {"study": "MT103-211", "delivery_id": "2014-09-30", "file": "adsl.xpt", "file_sha256": "cd34", "row": 7,
     "column": None, "check": "age_range", "reason": "age_range", "value": "101", "subject": "211-0007",
     "severity": "error", "action": "quarantine", "message": "row 7: AGE 101", "validated_in_run": "older-run"},
    {"study": "00103311", "delivery_id": "2016-01-04", "file": None, "file_sha256": None, "row": 12_345_678_901,
     "column": "AGE", "check": "wrong_type", "reason": "wrong_type", "value": "", "subject": "ü-1",
     "severity": "warning", "message": "no action given"},
]
STORED = "SELECT * EXCLUDE (recorded_at) FROM audit.validation_failures WHERE run_id = ? ORDER BY rowid"


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "run.duckdb")
    c.execute(DDL)
    c.execute(MIGRATIONS)
    yield c
    c.close()


def _through_pandas(monkeypatch, con, run_id, failures):
    with monkeypatch.context() as m:
        m.setattr(audit, "_plain", lambda row: False)
        return audit.record_failures(con, run_id, "flow-1", failures, "this-run")


def test_text_records_are_stored_as_given(con):
    assert audit.record_failures(con, "run-1", None, FAILURES, "this-run") == 3
    assert con.execute(STORED, ["run-1"]).fetchall() == [
        ("run-1", None, "MT103-206", "2013-07-31", "patients.csv", "ab12", None, "ECOG", "missing_value",
         "missing_value", None, None, "warning", "warn", "patients.csv: ECOG missing", "this-run"),
        ("run-1", None, "MT103-211", "2014-09-30", "adsl.xpt", "cd34", 7, None, "age_range", "age_range", "101",
         "211-0007", "error", "quarantine", "row 7: AGE 101", "older-run"),
        ("run-1", None, "00103311", "2016-01-04", None, None, 12_345_678_901, "AGE", "wrong_type", "wrong_type", "",
         "ü-1", "warning", None, "no action given", "this-run"),
    ]
    (stamp,) = con.execute("SELECT DISTINCT typeof(recorded_at) FROM audit.validation_failures").fetchall()
    assert stamp == ("TIMESTAMP",)


def test_the_plain_path_stores_what_the_pandas_path_stores(con, monkeypatch):
    many = [dict(FAILURES[i % 3], row=None if i % 5 == 0 else i, subject=None if i % 7 == 0 else f"S{i}")
            for i in range(1500)]
    assert all(audit._plain(_row(f)) for f in many)
    assert audit.record_failures(con, "plain", "flow-1", many, "this-run") == 1500
    assert _through_pandas(monkeypatch, con, "frame", many) == 1500
    plain = [r[1:] for r in con.execute(STORED, ["plain"]).fetchall()]
    frame = [r[1:] for r in con.execute(STORED, ["frame"]).fetchall()]
    assert len(plain) == 1500 and plain == frame


def _row(failure: dict) -> dict:
    return {**{k: failure.get(k) for k in audit.AUDIT_COLUMNS}, "run_id": "r", "flow_run_id": None, "action": None,
            "recorded_at": None, "validated_in_run": "r"}


def test_other_values_go_through_pandas_as_text(con):
    odd = [dict(FAILURES[0], row=np.int64(3), value=2.5), dict(FAILURES[1], value=float("nan"))]
    assert [audit._plain(_row(f)) for f in odd] == [False, False]
    assert [audit._plain(_row(f)) for f in FAILURES] == [True, True, True]
    assert audit.record_failures(con, "run-2", None, odd) == 2
    rows = con.execute('SELECT "row", value, subject FROM audit.validation_failures WHERE run_id = ? ORDER BY rowid',
                       ["run-2"]).fetchall()
    assert rows == [(3, "2.5", None), (7, None, "211-0007")]
