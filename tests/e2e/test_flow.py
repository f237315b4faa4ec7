"""The `repool` flow end to end on hand-made deliveries, under Prefect's test harness."""
from __future__ import annotations

import shutil

import pytest

from repool.schemas.ard import TABLE_IDS
from repool.tasks.db import connect
from tests.fixtures_deliveries import write_csv_legacy

pytestmark = pytest.mark.slow

PATIENTS_HEADER = "PATNR;SEX;AGE;ECOG;PRIOR_SCT;BM_BLASTS;SALVAGE_NR;FIRST_DOSE;LAST_DOSE"


def _run(root, **kw):
    from repool.flows.repool_flow import repool

    return repool(data_dir=str(root), return_state=True, gx_checkpoint=kw.pop("gx", False), **kw)


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_publish_then_up_to_date(prefect_harness, fixture_root):
    state = _run(fixture_root, gx=True)
    assert state.is_completed(), state.message
    data = state.result()
    assert data["status"] == "published"
    folder = fixture_root / "results" / data["version"]
    for name in ("report.html", "ard.parquet", "ard.csv", "lineage.json", "km.parquet", "data_docs/index.html"):
        assert (folder / name).is_file(), name
    before = _snapshot(folder)
    with connect(fixture_root / "repool.duckdb", read_only=True) as con:
        ard_rows = con.execute("SELECT count(*) FROM results.ard WHERE result_version = ?", [data["version"]]).fetchall()[0][0]
        lineage = con.execute("SELECT study, delivery_id, file FROM results.lineage ORDER BY ALL").fetchall()
        ids = con.execute("SELECT DISTINCT table_id FROM results.ard ORDER BY 1").fetchall()
    assert ard_rows > 100 and [i[0] for i in ids] == sorted(TABLE_IDS)
    assert ("MT103-206", "2013-06-30", "patients.csv") in lineage and len(lineage) == 15

    again = _run(fixture_root)
    assert again.is_completed() and again.result()["status"] == "up-to-date"
    assert again.result()["version"] == data["version"]
    assert _snapshot(folder) == before  # nothing rewritten


def test_same_inputs_give_the_same_version_and_identical_ard(prefect_harness, tmp_path):
    from tests.fixtures_deliveries import write_all

    a = write_all(tmp_path / "a")
    b = tmp_path / "b"  # the same input bytes (an XPT header carries its write time)
    shutil.copytree(a / "deliveries", b / "deliveries")
    va, vb = _run(a).result()["version"], _run(b).result()["version"]
    assert va == vb
    for name in ("ard.parquet", "ard.csv", "km.parquet", "lineage.json"):
        assert (a / "results" / va / name).read_bytes() == (b / "results" / vb / name).read_bytes(), name


def test_refused_delivery_falls_back_and_quarantine_is_not_silent(prefect_harness, fixture_root):
    bad = fixture_root / "deliveries" / "MT103-206" / "2013-09-30"
    write_csv_legacy(fixture_root, delivery_id="2013-09-30")
    (bad / "hsct.csv").write_bytes(b"PATNR;HSCT_DATE;STATUS_AT_HSCT\n4;01.09.2012;CR\n4;02.09.2012;CR\n")  # sha256 now wrong
    state = _run(fixture_root)
    assert state.is_completed()
    assert state.name == "Completed with exclusions" and "refused" in state.message
    data = state.result()
    assert any("MT103-206@2013-09-30" in r and "manifest_sha256" in r for r in data["refused"])
    with connect(fixture_root / "repool.duckdb", read_only=True) as con:
        used = con.execute("SELECT DISTINCT delivery_id FROM results.lineage WHERE study = 'MT103-206'").fetchall()
        audit = con.execute("SELECT file, reason, action FROM audit.validation_failures "
                            "WHERE delivery_id = '2013-09-30'").fetchall()
    assert used == [("2013-06-30",)]
    assert ("hsct.csv", "manifest_sha256", "delivery rejected") in audit


def test_no_valid_delivery_publishes_nothing(prefect_harness, tmp_path):
    from tests.fixtures_deliveries import write_parquet_adam, write_xpt_adam

    root = tmp_path / "data"
    write_xpt_adam(root)
    write_parquet_adam(root)
    d = write_csv_legacy(root)
    (d / "ae.csv").unlink()
    state = _run(root)
    assert state.is_failed() and "MT103-206" in state.message
    assert not (root / "results").exists() or not any(p for p in (root / "results").iterdir() if not p.name.startswith("."))
