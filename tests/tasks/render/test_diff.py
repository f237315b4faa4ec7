"""`repool.tasks.render.diff`: ARD and lineage differences between result versions, as text and as an HTML fragment."""
from __future__ import annotations

import argparse
import math

import duckdb
import pandas as pd
import pytest

from repool.tasks.analyse.ard import ARD_COLUMNS, ard_row, create_ard_frame
from repool.tasks.db import DDL
from repool.tasks.render.diff import (
    ARD_DIFF_COLUMNS,
    compute_ard_diff,
    compute_lineage_diff,
    compute_version_diff_html,
    read_version,
    render_diff,
    render_diff_html,
)

G1 = dict(group1="SALVGRP", group1_level="First salvage")
G2 = dict(group1="SALVGRP", group1_level="Second or later salvage")


def _ard_old() -> pd.DataFrame:
    return create_ard_frame([
        ard_row("table1", "AGE", "median", 42.5, **G1),
        ard_row("table1", "AGE", "n", 10, **G1),
        ard_row("table1", "SEX", "pct", 100 / 3, variable_level="M", **G1),
        ard_row("table1", "BMBLCAT", "n", 2, variable_level="<= 5%", **G2),
        ard_row("table2", "OS", "median", None, **G1),                      # NE both sides: unchanged
        ard_row("table2", "OS", "median_ucl", None, **G2),                  # NE -> estimable
        ard_row("table2", "OS", "hr", 0.8, **G2),
        ard_row("table2", "OS", "n", 4, group2="PRHSCT", group2_level="Y", **G1),
        ard_row("table4", "CRS", "n_grade3", 1, **G1),                       # removed
    ])


def _ard_new() -> pd.DataFrame:
    return create_ard_frame([
        ard_row("table4", "NEURO", "n", 3, **G2),                            # added
        ard_row("table1", "AGE", "median", 43.0, **G1),                      # changed
        ard_row("table1", "AGE", "n", 10, **G1),
        ard_row("table1", "SEX", "pct", 100 / 3 + 1e-13, variable_level="M", **G1),  # changed, exactly compared
        ard_row("table1", "BMBLCAT", "n", 2, variable_level="<= 5%", **G2),
        ard_row("table2", "OS", "median", None, **G1),
        ard_row("table2", "OS", "median_ucl", 12.25, **G2),
        ard_row("table2", "OS", "hr", 0.8, **G2),
        ard_row("table2", "OS", "n", 5, group2="PRHSCT", group2_level="Y", **G1),
    ])


def _by_key(diff: pd.DataFrame) -> dict:
    return {(r.table_id, r.variable, r.variable_level, r.group1_level, r.group2_level, r.stat_name): r
            for r in diff.itertuples(index=False)}


def test_identical_ards_have_no_differences():
    diff = compute_ard_diff(_ard_old(), _ard_old())
    assert diff.empty and list(diff.columns) == ARD_DIFF_COLUMNS


def test_ard_diff_added_removed_changed_and_nulls():
    diff = compute_ard_diff(_ard_old(), _ard_new())
    rows = _by_key(diff)
    assert len(diff) == 6
    median = rows[("table1", "AGE", None, "First salvage", None, "median")]
    assert (median.old, median.new, median.change, median.difference) == (42.5, 43.0, "changed", 0.5)
    pct = rows[("table1", "SEX", "M", "First salvage", None, "pct")]
    assert pct.change == "changed" and pct.difference != 0  # no tolerance
    ucl = rows[("table2", "OS", None, "Second or later salvage", None, "median_ucl")]
    assert ucl.change == "changed" and math.isnan(ucl.old) and ucl.new == 12.25 and math.isnan(ucl.difference)
    n_y = rows[("table2", "OS", None, "First salvage", "Y", "n")]
    assert (n_y.old, n_y.new, n_y.difference) == (4, 5, 1)
    added = rows[("table4", "NEURO", None, "Second or later salvage", None, "n")]
    assert added.change == "added" and math.isnan(added.old) and added.new == 3
    removed = rows[("table4", "CRS", None, "First salvage", None, "n_grade3")]
    assert removed.change == "removed" and removed.old == 1 and math.isnan(removed.new)
    # NULL == NULL (key parts and statistics) is unchanged; unchanged rows are dropped
    assert ("table2", "OS", None, "First salvage", None, "median") not in rows
    assert ("table1", "BMBLCAT", "<= 5%", "Second or later salvage", None, "n") not in rows
    # NULL key parts come back as None, not as a sentinel
    assert diff["variable_level"].isna().sum() == 5 and diff["group2"].isna().sum() == 5


def test_ard_diff_is_sorted_by_table_then_key_and_ignores_row_order_and_version_column():
    old, new = _ard_old(), _ard_new().sample(frac=1.0, random_state=3)
    old.insert(0, "result_version", "v1")
    new.insert(0, "result_version", "v2")
    diff = compute_ard_diff(old, new)
    assert list(diff["table_id"]) == sorted(diff["table_id"])
    assert diff.equals(compute_ard_diff(_ard_old(), _ard_new()))


def test_ard_diff_refuses_duplicate_keys():
    dup = pd.concat([_ard_old(), _ard_old().head(1)], ignore_index=True)
    with pytest.raises(ValueError, match="duplicate ARD keys"):
        compute_ard_diff(dup, _ard_new())


def _lineage(v206="2013-06-30", patients_sha="p1", extra=True) -> list[dict]:
    rows = [{"study": "MT103-206", "delivery_id": v206, "file": f, "sha256": s, "rows": 4}
            for f, s in (("patients.csv", patients_sha), ("ae.csv", "a1"))]
    rows += [{"study": "MT103-211", "delivery_id": "2014-06-30", "file": "adsl.xpt", "sha256": "x1", "rows": 3}]
    if extra:
        rows += [{"study": "00103311", "delivery_id": "2016-01-04", "file": "adsl.parquet", "sha256": "q1", "rows": 5}]
    return rows


def test_lineage_diff_names_the_study_deliveries_and_changed_files():
    diff = compute_lineage_diff(_lineage(), _lineage(v206="2013-09-30", patients_sha="p2"))
    assert diff.to_dict("records") == [{"study": "MT103-206", "old_delivery_id": "2013-06-30",
                                        "new_delivery_id": "2013-09-30", "change": "changed",
                                        "files_changed": ["patients.csv"]}]
    assert compute_lineage_diff(_lineage(), _lineage()).empty
    # a new delivery with byte-identical files still shows; frames work as well as lists
    same_bytes = compute_lineage_diff(pd.DataFrame(_lineage()), pd.DataFrame(_lineage(v206="2013-09-30")))
    assert same_bytes.to_dict("records")[0]["files_changed"] == []


def test_lineage_diff_added_and_removed_studies_and_files():
    new = _lineage(extra=False) + [{"study": "MT103-206", "delivery_id": "2013-06-30", "file": "hsct.csv",
                                    "sha256": "h1", "rows": 1}]
    diff = compute_lineage_diff(_lineage(), new).set_index("study")
    assert diff.loc["00103311", "change"] == "removed" and diff.loc["00103311", "new_delivery_id"] is None
    assert diff.loc["MT103-206", "files_changed"] == ["hsct.csv (added)"]
    back = compute_lineage_diff(new, _lineage()).set_index("study")
    assert back.loc["00103311", "change"] == "added" and back.loc["MT103-206", "files_changed"] == ["hsct.csv (removed)"]


# ---------------------------------------------------------------- stored versions


def _store(con, version: str, ard: pd.DataFrame, lineage: list[dict], created: str) -> None:
    con.execute("INSERT INTO results.versions VALUES (?, ?, 'published', 'code1', '{}', ?, NULL, NULL, NULL)",
                [version, pd.Timestamp(created).to_pydatetime(), "in-" + version])
    frame = ard[ARD_COLUMNS].copy()
    frame.insert(0, "result_version", version)
    con.register("_f", frame)
    con.execute("INSERT INTO results.ard BY NAME SELECT * FROM _f")
    con.unregister("_f")
    lin = pd.DataFrame([{"result_version": version, **r} for r in lineage])
    con.register("_l", lin)
    con.execute("INSERT INTO results.lineage BY NAME SELECT * FROM _l")
    con.unregister("_l")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "repool.duckdb"
    con = duckdb.connect(str(path))
    con.execute(DDL)
    _store(con, "v1", _ard_old(), _lineage(), "2026-01-01 10:00:00")
    _store(con, "v2", _ard_new(), _lineage(v206="2013-09-30", patients_sha="p2"), "2026-01-02 10:00:00")
    con.close()
    return path


def test_read_version_round_trips_the_stored_rows(db):
    with duckdb.connect(str(db), read_only=True) as con:
        ard, lineage = read_version(con, "v1")
    assert len(ard) == len(_ard_old()) and list(ard.columns) == ARD_COLUMNS
    assert compute_ard_diff(ard, _ard_old()).empty
    assert sorted(lineage["file"]) == ["adsl.parquet", "adsl.xpt", "ae.csv", "patients.csv"]


def test_render_diff_text(db):
    with duckdb.connect(str(db), read_only=True) as con:
        text = render_diff(con, "v1", "v2")
        same = render_diff(con, "v2", "v2")
    assert text.startswith("repool diff v1 -> v2")
    lines = text.splitlines()
    assert any("MT103-206: delivery 2013-06-30 -> 2013-09-30; files changed: patients.csv" in ln for ln in lines)
    assert any("unchanged: 00103311, MT103-211" in ln for ln in lines)
    assert "6 ARD row(s) differ: 4 changed, 1 added, 1 removed" in text
    row = next(ln for ln in lines if "AGE" in ln and "median" in ln)
    assert row.split()[-4:] == ["42.5", "43", "+0.5", "changed"]
    # a change hidden by short formatting is shown exactly
    sex = next(ln for ln in lines if "SEX=M" in ln)
    assert repr(100 / 3) in sex and repr(100 / 3 + 1e-13) in sex
    ucl = next(ln for ln in lines if "median_ucl" in ln)
    assert "NULL" in ucl and "12.25" in ucl
    # rows sorted by table: table1 rows come before table2 and table4 rows
    order = [ln.split()[0] for ln in lines if ln.split() and ln.split()[0][:5] == "table" and ln.split()[0] != "table"]
    assert order == sorted(order) and order[0] == "table1" and order[-1] == "table4"
    assert "no differences" in same


def test_repool_diff_command(db, capsys, monkeypatch):
    from repool.commands import diff

    monkeypatch.delenv("REPOOL_DB", raising=False)
    rc = diff(argparse.Namespace(data_dir=db.parent, db=db, results_dir=None, v1="v1", v2="v2"))
    out = capsys.readouterr().out
    assert rc == 0 and "repool diff v1 -> v2" in out and "changed" in out


def test_render_diff_html_fragment_is_escaped_and_offline():
    ard_diff = compute_ard_diff(_ard_old().assign(stat=lambda d: d["stat"] + 1), _ard_old())
    frag = render_diff_html(ard_diff, compute_lineage_diff(_lineage(), _lineage(v206="2013-09-30")),
                            old_version="v1", new_version="v2")
    assert "&lt;= 5%" in frag and "<= 5%" not in frag
    assert "http" not in frag and "<html" not in frag and "<script" not in frag
    assert frag.count('<tr class="diff-changed">') == 7  # NULL+1 stays NULL: unchanged
    assert "2013-06-30" in frag and "2013-09-30" in frag and "<code>v1</code>" in frag
    assert "No differences" in render_diff_html(compute_ard_diff(_ard_old(), _ard_old()),
                                                compute_lineage_diff(_lineage(), _lineage()))


def test_compute_version_diff_html_against_a_stored_version(db):
    new = _ard_new()
    with duckdb.connect(str(db), read_only=True) as con:
        frag = compute_version_diff_html(con, "v1", new, _lineage(v206="2013-09-30", patients_sha="p2"))
        none = compute_version_diff_html(con, None, new, _lineage())
        same = compute_version_diff_html(con, "v2", new.assign(result_version="vX"),
                                         _lineage(v206="2013-09-30", patients_sha="p2"))
    assert "<code>v1</code>" in frag and "patients.csv" in frag and frag.count("<tr class=\"diff-") == 6
    assert "No previous result version" in none
    assert "No differences" in same
