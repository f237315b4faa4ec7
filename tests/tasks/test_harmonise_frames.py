"""The lean pooled frames (`read_pooled_frames(..., lean=True)`, what the flow analyses): text columns
as Categoricals holding the same values, nulls and sort order as the object-dtype frames, so that every
table, its membership and the KM curves come out identical to the last bit.

Checked on the bundled pool and on the hand-made pool of tests/fixtures_pooled.py written to DuckDB
(nulls in BMBLPCT and AESICAT, an ADAE subject not in ADSL, identifiers whose code point order is not
their order ignoring case or accents), and on variants of it: AESICAT NULL on every row, no ADAE row.
"""
from __future__ import annotations

import duckdb
import pandas as pd
import pandas.testing as pdt
import pytest

from repool.tasks.analyse import POOLED_COLUMNS, TABLES
from repool.tasks.analyse.table2_survival import compute_km_curves
from repool.tasks.db import connect
from repool.tasks.harmonise import read_pooled_frames
from tests.chain import pool_bundled
from tests.fixtures_pooled import make_adae, make_adrs, make_adsl, make_adtte

# sorted by code point: "L1" < "L5" < "l2" < "Ł6"; ignoring case or accents "l2" would sort before "L5"
RENAMED = {"L2": "l2", "L6": "Ł6"}
MAKERS = {"adsl": make_adsl, "adrs": make_adrs, "adtte": make_adtte, "adae": make_adae}


def _handmade_con(variant: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE SCHEMA pooled")
    for dataset, make in MAKERS.items():
        df = make()[list(POOLED_COLUMNS[dataset])]
        df["USUBJID"] = df["USUBJID"].replace(RENAMED)
        if dataset == "adae" and variant == "aesicat_all_null":
            df["AESICAT"] = None
        empty = dataset == "adae" and variant == "no_adae"
        con.register("frame", df)
        con.execute(f"CREATE TABLE pooled.{dataset} AS SELECT * FROM frame" + (" WHERE false" if empty else ""))
        con.unregister("frame")
    if variant == "aesicat_all_null":
        con.execute("ALTER TABLE pooled.adae ALTER AESICAT TYPE VARCHAR")
    return con


@pytest.fixture(scope="module")
def bundled_db(tmp_path_factory):
    s, _ = pool_bundled(tmp_path_factory.mktemp("lean"))
    return s.db_path


@pytest.fixture(params=["bundled", "handmade", "aesicat_all_null", "no_adae"])
def frames(request):
    """(object frames, lean frames) of one pool."""
    if request.param == "bundled":
        con = connect(request.getfixturevalue("bundled_db"))
    else:
        con = _handmade_con(request.param)
    try:
        return (read_pooled_frames(con, POOLED_COLUMNS),
                read_pooled_frames(con, POOLED_COLUMNS, lean=True))
    finally:
        con.close()


def _identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal dtypes and values, None and NaN told apart, floats to the bit (repr round-trips)."""
    pdt.assert_frame_equal(a, b, check_exact=True)
    assert a.astype(object).map(repr).equals(b.astype(object).map(repr))


def test_lean_frames_hold_the_object_frames_values(frames):
    plain, lean = frames
    for dataset, df in lean.items():
        ref = plain[dataset]
        assert list(df.columns) == list(ref.columns) == list(POOLED_COLUMNS[dataset])
        assert len(df) == len(ref) and df.index.equals(ref.index)
        for c in df.columns:
            if ref[c].dtype == object:  # a text column: a Categorical of the sorted distinct strings
                assert isinstance(df[c].dtype, pd.CategoricalDtype) and not df[c].dtype.ordered
                categories = list(df[c].dtype.categories)
                assert categories == sorted(categories) and df[c].dtype.categories.dtype == object
                assert set(ref[c].dropna()) <= set(categories)
                values = df[c].astype(object).where(df[c].notna(), None)
                assert values.tolist() == ref[c].tolist()
            else:  # any other column exactly as DuckDB's .df() gives it
                pdt.assert_series_equal(df[c], ref[c], check_exact=True)
    # one dtype per column name across the datasets: ADAE and ADSL subjects compare by code
    assert lean["adae"]["USUBJID"].dtype == lean["adsl"]["USUBJID"].dtype == lean["adrs"]["USUBJID"].dtype
    assert lean["adrs"]["PARAMCD"].dtype == lean["adtte"]["PARAMCD"].dtype


@pytest.mark.parametrize("table_id", list(TABLES))
def test_tables_and_membership_from_lean_frames_are_identical(frames, table_id):
    plain, lean = frames
    fn, inputs, _ = TABLES[table_id]
    ard, subjects = fn(*(plain[i] for i in inputs), with_subjects=True)
    lean_ard, lean_subjects = fn(*(lean[i] for i in inputs), with_subjects=True)
    assert len(ard) > 0 and len(subjects) > 0
    _identical(lean_ard, ard)
    _identical(lean_subjects, subjects)
    _identical(fn(*(lean[i] for i in inputs)), ard)


def test_km_curves_from_lean_frames_are_identical(frames):
    plain, lean = frames
    curves = compute_km_curves(plain["adsl"], plain["adtte"])
    assert len(curves) > 0
    _identical(compute_km_curves(lean["adsl"], lean["adtte"]), curves)


def test_handmade_pool_keeps_its_nulls_and_outsider():
    con = _handmade_con("handmade")
    lean = read_pooled_frames(con, POOLED_COLUMNS, lean=True)
    assert lean["adsl"]["BMBLPCT"].isna().sum() == 2  # F3, L6
    assert lean["adae"]["AESICAT"].isna().sum() == 5  # the rows of F1, F2, F4, L1, L2 without CRS or NEURO
    assert "X99" in set(lean["adae"]["USUBJID"]) and "X99" not in set(lean["adsl"]["USUBJID"])
    assert list(lean["adsl"]["USUBJID"].dtype.categories) == [
        "F1", "F2", "F3", "F4", "L1", "L3", "L4", "L5", "X99", "l2", "Ł6"]


@pytest.mark.parametrize("variant", ["handmade", "aesicat_all_null"])
def test_codes_from_duckdb_equal_codes_from_arrow(monkeypatch, variant):
    """A column of few distinct strings is coded by DuckDB (list_position into the sorted values),
    a larger one looked up in Arrow: both ways give the same frames."""
    import repool.tasks.harmonise as harmonise

    con = _handmade_con(variant)
    by_duckdb = read_pooled_frames(con, POOLED_COLUMNS, lean=True)
    monkeypatch.setattr(harmonise, "CODED_IN_SQL", 0)
    by_arrow = read_pooled_frames(con, POOLED_COLUMNS, lean=True)
    for dataset, df in by_duckdb.items():
        pdt.assert_frame_equal(df, by_arrow[dataset], check_exact=True)
        assert df["USUBJID"].cat.codes.tolist() == by_arrow[dataset]["USUBJID"].cat.codes.tolist()
