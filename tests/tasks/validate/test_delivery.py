"""Validation of source files and cross-file checks: every failure names file, row, column and rule,
and the policy decides reject / quarantine / warn."""
from __future__ import annotations

import pandas as pd
import pytest

from repool.settings import Settings
from repool.tasks.ingest import DeliveryResult
from repool.tasks.runs import start_run
from tests.chain import prepare_delivery
from repool.tasks.db import connect
from tests.fixtures_deliveries import write_csv_legacy, write_manifest, write_parquet_adam, write_xpt_adam

PATIENTS_HEADER = "PATNR;SEX;AGE;ECOG;PRIOR_SCT;BM_BLASTS;SALVAGE_NR;FIRST_DOSE;LAST_DOSE"
GOOD_PATIENTS = [
    "1;1;45;0;J;78,5;1;01.02.2012;28.03.2012",
    "2;2;33;n.a.;N;n.a.;2;15.03.2012;11.04.2012",
    "3;1;61;1;N;4,0;3;01.04.2012;28.04.2012",
    "4;2;29;2;J;12;1;01.05.2012;28.06.2012",
]


def _patients(row_index: int, new_row: str) -> dict:
    rows = list(GOOD_PATIENTS)
    rows[row_index] = new_row
    return {"patients.csv": (PATIENTS_HEADER, rows)}


def _ingest_and_validate(root, study_dir) -> DeliveryResult:
    s = Settings(data_dir=root)
    return prepare_delivery(s, start_run.fn(s, None), str(study_dir))


@pytest.mark.parametrize("row, reason, column", [
    ("2;2;150;n.a.;N;n.a.;2;15.03.2012;11.04.2012", "age_range", "AGE"),
    ("2;3;33;n.a.;N;n.a.;2;15.03.2012;11.04.2012", "unknown_code", "SEX"),
    ("2;2;33;n.a.;N;101,5;2;15.03.2012;11.04.2012", "blasts_range", "BM_BLASTS"),
    ("2;2;33;n.a.;N;n.a.;2;15.03.2012;11.03.2012", "dose_order", "LAST_DOSE"),
])
def test_row_level_impossibility_quarantines_the_subject(tmp_path, row, reason, column):
    root = tmp_path / "data"
    d = write_csv_legacy(root, **_patients(1, row))
    r = _ingest_and_validate(root, d)
    assert r.accepted
    hits = [f for f in r.failures if f["reason"] == reason]
    assert hits and hits[0]["file"] == "patients.csv" and hits[0]["row"] == 2 and hits[0]["column"] == column
    assert hits[0]["action"] == "quarantine" and hits[0]["subject"] == "MT103-206-2"
    assert [q["subject"] for q in r.quarantined] == ["MT103-206-2"]


@pytest.mark.parametrize("row, reason, column", [
    ("2;2;abc;n.a.;N;n.a.;2;15.03.2012;11.04.2012", "wrong_type", "AGE"),
    ("2;2;33;n.a.;N;n.a.;2;31.02.2012;11.04.2012", "date_unparseable", "FIRST_DOSE"),
    ("1;2;33;n.a.;N;n.a.;2;15.03.2012;11.04.2012", "duplicate_subject", "PATNR"),
])
def test_structural_fault_rejects_the_delivery(tmp_path, row, reason, column):
    root = tmp_path / "data"
    d = write_csv_legacy(root, **_patients(1, row))
    r = _ingest_and_validate(root, d)
    assert not r.accepted
    hit = next(f for f in r.failures if f["reason"] == reason)
    assert (hit["file"], hit["column"], hit["action"]) == ("patients.csv", column, "reject")
    assert reason in r.message and "patients.csv" in r.message


def test_missing_column_rejects_and_extra_column_warns(tmp_path):
    root = tmp_path / "data"
    header = PATIENTS_HEADER.replace(";ECOG", "")
    rows = [";".join(p for i, p in enumerate(r.split(";")) if i != 3) for r in GOOD_PATIENTS]
    d = write_csv_legacy(root, **{"patients.csv": (header, rows)})
    r = _ingest_and_validate(root, d)
    assert not r.accepted and r.failures[0]["reason"] == "missing_column" and r.failures[0]["column"] == "ECOG"
    root2 = tmp_path / "data2"
    d2 = write_csv_legacy(root2, **{"patients.csv": (PATIENTS_HEADER + ";SITE", [x + ";A" for x in GOOD_PATIENTS])})
    r2 = _ingest_and_validate(root2, d2)
    assert r2.accepted
    assert [(f["reason"], f["column"], f["action"]) for f in r2.failures] == [("extra_column", "SITE", "warn")]


def test_death_before_first_dose_is_quarantined(tmp_path):
    root = tmp_path / "data"
    d = write_csv_legacy(root, **{"followup.csv": ("PATNR;STATUS;STATUS_DATE", [
        "1;DEAD;01.02.2013", "2;ALIVE;30.06.2013", "3;DEAD;15.03.2012", "4;ALIVE;30.06.2013"])})
    r = _ingest_and_validate(root, d)
    hit = next(f for f in r.failures if f["reason"] == "death_before_first_dose")
    assert (hit["file"], hit["row"], hit["column"], hit["subject"]) == ("followup.csv", 3, "STATUS_DATE", "MT103-206-3")
    assert r.accepted and [q["subject"] for q in r.quarantined] == ["MT103-206-3"]


def test_xpt_grade_out_of_range_and_parquet_wrong_type(tmp_path):
    import pyreadstat

    root = tmp_path / "data"
    d = write_xpt_adam(root)
    adae, _ = pyreadstat.read_xport(str(d / "adae.xpt"))
    adae.loc[1, "AETOXGR"] = "7"
    pyreadstat.write_xport(adae, str(d / "adae.xpt"), table_name="ADAE", file_format_version=5)
    write_manifest(d, "MT103-211", "2014-06-30", "xpt-adam")
    r = _ingest_and_validate(root, d)
    hit = next(f for f in r.failures if f["reason"] == "grade_range")
    assert (hit["file"], hit["row"], hit["column"], hit["value"]) == ("adae.xpt", 2, "AETOXGR", "7")
    assert r.accepted and [q["subject"] for q in r.quarantined] == ["MT103-211-101-2"]

    p = write_parquet_adam(root)
    adsl = pd.read_parquet(p / "adsl.parquet")
    adsl["age"] = adsl["age"].astype(str)
    adsl.to_parquet(p / "adsl.parquet", index=False)
    write_manifest(p, "00103311", "2016-01-04", "parquet-adam")
    r2 = _ingest_and_validate(root, p)
    assert not r2.accepted
    assert {(f["file"], f["column"], f["reason"]) for f in r2.failures if f["action"] == "reject"} == {
        ("adsl.parquet", "age", "wrong_type")}


def test_failures_are_appended_to_the_audit_never_overwritten(tmp_path):
    root = tmp_path / "data"
    d = write_csv_legacy(root, **_patients(1, "2;2;150;n.a.;N;n.a.;2;15.03.2012;11.04.2012"))
    _ingest_and_validate(root, d)
    _ingest_and_validate(root, d)
    with connect(Settings(data_dir=root).db_path) as con:
        rows = con.execute("SELECT run_id, study, delivery_id, file, row, \"column\", reason, value, severity, action "
                           "FROM audit.validation_failures WHERE reason = 'age_range'").fetchall()
        q = con.execute("SELECT count(*) FROM audit.quarantine").fetchall()[0][0]
    assert len(rows) == 2 and len({r[0] for r in rows}) == 2
    assert rows[0][1:] == ("MT103-206", "2013-06-30", "patients.csv", 2, "AGE", "age_range", "150", "error",
                           "subject quarantined")
    assert q == 2


def test_remission_dates_are_checked_and_cycles_may_hold_several_assessments(tmp_path):
    root = tmp_path / "data"
    d = write_csv_legacy(root, **{
        "response.csv": ("PATNR;CYCLE;RESPONSE;MRD;ASSESS_DATE", [
            "1;1;CRh*;pos;01.03.2012", "1;1;CR;neg;15.03.2012", "1;2;CR;neg;12.04.2012",  # two in cycle 1
            "2;1;NR;;12.04.2012", "3;1;NE;;",
            "4;1;CRi;;", "4;2;CRi;pos;10.07.2012"]),  # a remission without its date
        "relapse.csv": ("PATNR;RELAPSE_DATE", ["1;01.02.2012"]),  # before the remission of 01.03.2012
    })
    r = _ingest_and_validate(root, d)
    assert r.accepted
    found = {(f["file"], f["row"], f["column"], f["reason"], f["subject"]) for f in r.failures}
    assert ("response.csv", 6, "ASSESS_DATE", "missing_value", "MT103-206-4") in found
    assert ("relapse.csv", 1, "RELAPSE_DATE", "negative_time", "MT103-206-1") in found
    assert sorted(q["subject"] for q in r.quarantined) == ["MT103-206-1", "MT103-206-4"]


def test_parquet_best_response_without_a_value_is_quarantined(tmp_path):
    root = tmp_path / "data"
    p = write_parquet_adam(root)
    adrs = pd.read_parquet(p / "adrs.parquet")
    adrs.loc[2, "avalc"] = None  # row 3: the BOR of subject 11-2
    adrs.to_parquet(p / "adrs.parquet", index=False)
    write_manifest(p, "00103311", "2016-01-04", "parquet-adam")
    r = _ingest_and_validate(root, p)
    assert r.accepted
    assert [(f["file"], f["row"], f["column"], f["reason"]) for f in r.failures] == [
        ("adrs.parquet", 3, "avalc", "missing_value")]
    assert [q["subject"] for q in r.quarantined] == ["00103311-11-2"]


def test_reordered_csv_header_is_recorded_by_its_own_rule(tmp_path):
    root = tmp_path / "data"
    cols = PATIENTS_HEADER.split(";")
    order = [0, 2, 1] + list(range(3, len(cols)))  # AGE before SEX
    rows = [";".join(r.split(";")[i] for i in order) for r in GOOD_PATIENTS]
    d = write_csv_legacy(root, **{"patients.csv": (";".join(cols[i] for i in order), rows)})
    r = _ingest_and_validate(root, d)
    assert r.accepted and not r.quarantined
    assert [(f["file"], f["reason"], f["action"]) for f in r.failures] == [("patients.csv", "column_order", "warn")]
