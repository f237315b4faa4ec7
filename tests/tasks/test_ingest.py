"""Ingest: discovery, manifest verification, encoding, raw loads with source row numbers."""
from __future__ import annotations

import json
import shutil

import pytest

from repool.tasks.db import connect, create_schemas
from repool.resources import bundled_data_dir
from repool.tasks.runs import start_run
from repool.tasks.db import connect_unit
from repool.tasks.ingest import DeliveryRejected, discover_deliveries, load_delivery, load_registry, verify_manifest
from tests.fixtures_deliveries import write_csv_legacy, write_manifest

REGISTRY = load_registry(bundled_data_dir() / "studies.toml")


def discover(root, pinned=None):
    found, records = discover_deliveries(root, REGISTRY, pinned)
    assert records == []
    return found


def verify(delivery_dir):
    delivery, unlisted = verify_manifest(delivery_dir, REGISTRY)
    assert unlisted == []
    return delivery


def test_discover_newest_first_and_pins(fixture_root):
    older = fixture_root / "deliveries" / "MT103-206" / "2012-12-31"
    shutil.copytree(fixture_root / "deliveries" / "MT103-206" / "2013-06-30", older)
    found = discover(fixture_root / "deliveries")
    assert sorted(found) == ["00103311", "MT103-206", "MT103-211"]
    assert [p.name for p in found["MT103-206"]] == ["2013-06-30", "2012-12-31"]
    pinned = discover(fixture_root / "deliveries", {"MT103-206": "2012-12-31"})
    assert [p.name for p in pinned["MT103-206"]] == ["2012-12-31"]
    with pytest.raises(FileNotFoundError, match="pinned delivery"):
        discover(fixture_root / "deliveries", {"MT103-206": "1999-01-01"})


def test_sha256_mismatch_and_missing_file_reject_the_delivery(fixture_root):
    d = fixture_root / "deliveries" / "MT103-206" / "2013-06-30"
    with open(d / "ae.csv", "ab") as fh:
        fh.write(b"1;Nausea;1;N;N;03.02.2012;RECOVERED\n")
    (d / "hsct.csv").unlink()
    with pytest.raises(DeliveryRejected) as exc:
        verify(d)
    reasons = {(f["reason"], f["file"]) for f in exc.value.failures}
    assert reasons == {("manifest_sha256", "ae.csv"), ("manifest_missing_file", "hsct.csv")}
    assert "ae.csv" in str(exc.value) or "hsct.csv" in str(exc.value)


def test_raw_tables_keep_values_as_delivered_with_source_rows(settings, fixture_root):
    d = verify(fixture_root / "deliveries" / "MT103-206" / "2013-06-30")
    with connect_unit(settings.sql_dir) as con:
        tables, warnings = load_delivery(con, d)
        rows = con.execute(f"SELECT _row, PATNR, BM_BLASTS, ECOG FROM {tables['patients.csv']} ORDER BY _row").fetchall()
        therapy = con.execute(f"SELECT THERAPY FROM {tables['other_tx.csv']} WHERE _row = 1").fetchall()[0][0]
    assert rows[0] == (1, "1", "78,5", "0") and rows[1] == (2, "2", "n.a.", "n.a.")
    assert therapy.startswith("Hochdosis-Ara-C (ärztl.")  # latin-1 decoded
    assert warnings == []


def test_the_coordinator_logs_what_a_unit_loaded_and_nothing_for_a_reused_one(settings, fixture_root):
    from tests.chain import prepare_delivery

    d = fixture_root / "deliveries" / "MT103-206" / "2013-06-30"
    run1 = start_run.fn(settings, None)
    first = prepare_delivery(settings, run1, d)
    run2 = start_run.fn(settings, None)
    second = prepare_delivery(settings, run2, d)
    with connect(settings.db_path) as con:
        log = con.execute("SELECT run_id, study, file, rows FROM audit.load_log ORDER BY file").fetchall()
    assert (run1, "MT103-206", "patients.csv", 4) in log
    assert not [r for r in log if r[0] == run2], "a reused unit loads nothing"
    assert not first.reused and second.reused and second.validated_in_run == run1


def test_utf8_file_is_the_wrong_encoding(settings, tmp_path):
    root = tmp_path / "data"
    d = write_csv_legacy(root)
    text = (d / "other_tx.csv").read_bytes().decode("latin-1")
    (d / "other_tx.csv").write_bytes(text.encode("utf-8"))
    write_manifest(d, "MT103-206", "2013-06-30", "csv-legacy")
    delivery = verify(d)
    with connect_unit(settings.sql_dir) as con:
        with pytest.raises(DeliveryRejected, match="encoding") as exc:
            load_delivery(con, delivery)
    f = exc.value.failures[0]
    assert (f["file"], f["reason"], f["row"]) == ("other_tx.csv", "encoding", 1)


def test_manifest_row_count_must_match(settings, fixture_root):
    d = fixture_root / "deliveries" / "MT103-211" / "2014-06-30"
    m = json.loads((d / "manifest.json").read_text())
    m["files"]["adae.xpt"]["rows"] = 99
    (d / "manifest.json").write_text(json.dumps(m))
    with connect_unit(settings.sql_dir) as con:
        with pytest.raises(DeliveryRejected, match="manifest says 99"):
            load_delivery(con, verify(d))
