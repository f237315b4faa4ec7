"""The pooled contract as SQL over the pooled tables (tasks/validate/pooled_sql.py): every rule of the
pandera models fires in SQL on a bad row with the right table, row, column, check and reason, and
finds what pandera finds on the same frame (the pandas model stays the reference); the SQL twins of
the dataframe checks agree with the pandas checks row by row, nulls included; cases are capped; the
TEAE-flag cross-check runs in SQL."""
from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest

from repool.schemas.pooled import POOLED_MODELS, sql_twins
from repool.tasks.ingest import Delivery
from repool.tasks.validate.pooled import check_teae_flags, locate_in_source
from repool.tasks.validate.pooled_sql import validate_pooled_table, validate_pooled_tables
from tests.tasks.validate.test_gx_checkpoint import _valid_frames
from tests.tasks.validate.test_pooled import pooled_db

DTYPE_CHECKS = {"coerce_dtype('int64')", "dtype('int64')"}  # pandas-only: an int column holding NaN


def _pandera_cases(name: str, df: pd.DataFrame) -> set[tuple]:
    """(row, column, check) pandera reports, rows numbered from 1 as the pooled validation does;
    a dataframe check's row counted once (pandera lists every column of it)."""
    df = df.reset_index(drop=True)
    df.index = df.index + 1
    model = POOLED_MODELS[name]
    twins = sql_twins(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.validate(df, lazy=True)
            return set()
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
    out = set()
    for _, c in cases.iterrows():
        check = str(c["check"])
        if check in DTYPE_CHECKS:
            continue
        if check in twins:
            out.add((int(c["index"]), ", ".join(twins[check]["columns"]), check))
        elif check == "column_in_dataframe":
            out.add((None, str(c["failure_case"]), check))
        else:
            out.add((None if pd.isna(c["index"]) else int(c["index"]), str(c["column"]), check))
    return out


def _sql_cases(name: str, df: pd.DataFrame) -> list[dict]:
    return validate_pooled_table(pooled_db({name: df}), name, POOLED_MODELS[name])


def _bad_values(col, df: pd.DataFrame, column: str) -> list[tuple[object, str]]:
    """(a value breaking the rule, the check pandera names) for every rule of one column."""
    out = []
    if not col.nullable and not str(col.dtype).startswith("int"):
        out.append((None, "not_nullable"))
    for check in col.checks:
        stats = check.statistics
        if check.name == "isin":
            allowed = stats["allowed_values"]
            bad = "ZZ" if isinstance(allowed[0], str) else max(allowed) + 7
            out.append((bad, check.error))
        elif check.name == "greater_than_or_equal_to":
            out.append((stats["min_value"] - 1, check.error))
        elif check.name == "less_than_or_equal_to":
            out.append((stats["max_value"] + 1, check.error))
        else:
            raise AssertionError(f"no bad value for {check.name}: extend this test with the rule")
    return out


CASES = [(name, column, value, check)
         for name, model in POOLED_MODELS.items()
         for column, col in model.to_schema().columns.items()
         for value, check in _bad_values(col, _valid_frames()[name], column)]


def test_every_column_rule_of_every_model_has_a_case():
    rules = {(name, column, str(c.error)) for name, model in POOLED_MODELS.items()
             for column, col in model.to_schema().columns.items() for c in col.checks}
    assert rules <= {(n, c, k) for n, c, _, k in CASES}
    assert len(CASES) > 40


@pytest.mark.parametrize("name,column,value,check", CASES, ids=[f"{n}.{c}:{k}" for n, c, _, k in CASES])
def test_each_column_rule_fires_in_sql_on_the_bad_row(name, column, value, check):
    df = _valid_frames()[name]
    assert _sql_cases(name, df) == []
    df[column] = df[column].astype(object)
    df.loc[1, column] = value  # the second row
    df[column] = df[column].infer_objects()
    found = _sql_cases(name, df)
    hits = [f for f in found if f["column"] == column]
    assert [(f["file"], f["row"], f["column"], f["check"], f["reason"]) for f in hits] == [
        (f"pooled.{name}", 2, column, check, "pooled_contract")]
    (f,) = hits
    others = {(g["row"], g["check"]) for g in found if g is not f}  # a null date also breaks the dose order
    assert others <= {(2, c) for c in sql_twins(POOLED_MODELS[name])}
    assert (f["study"], f["subject"]) == (df.loc[1, "STUDYID"], df.loc[1, "USUBJID"])
    assert f["value"] == (None if value is None else str(df.loc[1, column]))  # as stored: -1 in a float column is -1.0
    assert f["message"].startswith(f"pooled.{name} row 2 column {column}: {check} failed")
    assert {(f["row"], f["column"], f["check"]) for f in found} == _pandera_cases(name, df)


def test_uniqueness_missing_column_and_dataframe_checks_as_pandera_finds_them():
    frames = _valid_frames()
    frames["adsl"].loc[2, "USUBJID"] = frames["adsl"].loc[1, "USUBJID"]  # field_uniqueness, rows 2 and 3
    frames["adsl"].loc[0, "TRTEDT"] = pd.Timestamp("2014-01-01")  # last dose before the first
    frames["adtte"].loc[4, "PARAMCD"] = "OS"  # second OS row of 00103311-05-017 (rows 4 and 5)
    frames["adrs"].loc[1, "AVALC"] = "CR"  # MRD takes Y/N only
    frames["adae"].loc[2, "AEFATFL"] = "N"  # grade 5 is fatal
    frames["adae"] = frames["adae"].drop(columns=["AEOUT"])  # nullable, but required
    got = {name: sorted(((f["row"], f["column"], f["check"]) for f in _sql_cases(name, df)), key=str)
           for name, df in frames.items()}
    assert got == {
        "adsl": [(1, "TRTSDT, TRTEDT", "last_dose_not_before_first_dose"),
                 (2, "USUBJID", "field_uniqueness"), (3, "USUBJID", "field_uniqueness")],
        "adtte": [(4, "PARAMCD", "multiple_fields_uniqueness"), (4, "USUBJID", "multiple_fields_uniqueness"),
                  (5, "PARAMCD", "multiple_fields_uniqueness"), (5, "USUBJID", "multiple_fields_uniqueness")],
        "adrs": [(2, "PARAMCD, AVALC", "avalc_fits_paramcd")],
        "adae": [(3, "AETOXGR, AEFATFL", "grade_5_is_fatal"), (None, "AEOUT", "column_in_dataframe")],
    }
    for name, df in frames.items():
        assert set(got[name]) == _pandera_cases(name, df), name
    (fatal,) = [f for f in _sql_cases("adae", frames["adae"]) if f["row"] == 3]
    assert (fatal["file"], fatal["reason"], fatal["value"]) == ("pooled.adae", "pooled_contract", "AETOXGR=5, AEFATFL=N")


def test_a_value_that_does_not_cast_is_a_coercion_failure():
    df = _valid_frames()["adsl"]
    df["AGE"] = ["34", "old", "18"]  # delivered as text: VARCHAR in DuckDB
    found = _sql_cases("adsl", df)
    # the value does not cast; its cast is then null (pandera, too, reports more than the coercion)
    assert [(f["row"], f["column"], f["check"], f["value"]) for f in found] == [
        (2, "AGE", "coerce_dtype('int64')", "old"), (2, "AGE", "not_nullable", None)]


# Each twin against its pandas check on rows that cover the null cases (pandas: a comparison with
# NaN/NaT is False, .ne is True, .eq/.isin are False).
TWIN_FIXTURES = {
    "adsl": pd.DataFrame({
        "TRTSDT": pd.to_datetime(["2014-01-10", "2014-01-10", "2014-01-10", None, None, "2014-01-10"]),
        "TRTEDT": pd.to_datetime(["2014-01-10", "2014-02-10", "2014-01-09", "2014-01-10", None, None]),
    }),
    "adrs": pd.DataFrame({
        "PARAMCD": ["BOR", "BOR", "MRD", "MRD", "BOR", "MRD", None, None, "XYZ", "BOR"],
        "AVALC": ["CR", "Y", "N", "CR", "NE", None, "CR", None, "CR", None],
    }),
    "adae": pd.DataFrame({
        "AETOXGR": [5.0, 5.0, 4.0, 4.0, np.nan, np.nan, 5.0, 1.0],
        "AEFATFL": ["Y", "N", "N", "Y", "N", None, None, None],
    }),
}


@pytest.mark.parametrize("name", sorted(TWIN_FIXTURES))
def test_sql_twin_agrees_with_the_pandas_check(name):
    model = POOLED_MODELS[name]
    df = TWIN_FIXTURES[name]
    (check,) = model.to_schema().checks
    twin = sql_twins(model)[check.name]
    pandas_passes = check._check_fn(df).tolist()
    con = duckdb.connect()
    con.register("t", df)
    sql_passes = [r[0] for r in con.execute(f"SELECT coalesce(({twin['passes']}), FALSE) FROM t").fetchall()]
    assert sql_passes == pandas_passes
    assert True in pandas_passes and False in pandas_passes  # the fixture tells pass from fail


def test_every_dataframe_check_has_a_twin():
    for name, model in POOLED_MODELS.items():
        assert set(sql_twins(model)) == {c.name for c in model.to_schema().checks}, name


def test_cases_are_capped_per_check_with_a_count_of_the_rest():
    df = pd.concat([_valid_frames()["adtte"]] * 3, ignore_index=True)
    df["USUBJID"] = [f"S{i}" for i in range(len(df))]
    df["CNSR"] = 2  # 15 rows break isin([0, 1])
    found = validate_pooled_table(pooled_db({"adtte": df}), "adtte", POOLED_MODELS["adtte"], cap=4)
    assert [f["row"] for f in found] == [1, 2, 3, 4, None]
    assert found[-1]["message"] == "11 more failures of isin([0, 1]) in pooled.adtte column CNSR"
    assert (found[-1]["column"], found[-1]["check"], found[-1]["reason"]) == ("CNSR", "isin([0, 1])", "pooled_contract")


def _delivery(study: str) -> Delivery:
    return Delivery(study, "2014-09-30", Path("."), "xpt-adam", {"adae.xpt": {"sha256": "cd" * 32, "rows": 3},
                                                                 "adsl.xpt": {"sha256": "ab" * 32, "rows": 3}})


def test_teae_flag_mismatch_in_sql_names_the_delivered_row():
    frames = _valid_frames()
    adae = frames["adae"]
    adae.loc[0, "SRCTEMFL"] = "N"  # delivered N, window gives Y
    adae.loc[2, "SRCTEMFL"] = "Y"  # agrees
    con = pooled_db(frames)
    lineage = {s: _delivery(s) for s in adae["STUDYID"].unique()}
    (rec,) = check_teae_flags(con, lineage)
    assert (rec["study"], rec["file"], rec["row"], rec["column"], rec["value"], rec["subject"], rec["reason"]) == (
        "MT103-211", "adae.xpt", 1, "TRTEMFL", "N", "MT103-211-01-001", "teae_flag_mismatch")
    assert rec["message"] == "adae.xpt row 1: delivered TRTEMFL=N but the TEAE window gives Y (onset 2014-01-11)"
    adae["SRCTEMFL"] = "N"  # every row disagrees: 2 in MT103-211, 1 in 00103311
    capped = check_teae_flags(pooled_db(frames), lineage, cap=1)
    assert [(r["study"], r["row"]) for r in capped] == [("00103311", 1), ("MT103-211", 1), ("MT103-211", None)]
    assert capped[-1]["message"].startswith("1 more delivered TRTEMFL flags in adae.xpt")
    assert check_teae_flags(pooled_db({**frames, "adae": adae.drop(columns=["SRCTEMFL"])}), lineage) == []


def test_an_ae_breach_is_located_by_its_source_row():
    frames = _valid_frames()
    frames["adae"]["AESEQ"] = [7, 8, 9]
    frames["adae"].loc[1, "AETOXGR"] = 6  # pooled.adae row 2 is delivered row AESEQ 8
    con = pooled_db(frames)
    (found,) = validate_pooled_tables(con)
    (located,) = locate_in_source(con, [found], {"MT103-211": _delivery("MT103-211")})
    assert (located["file"], located["row"], located["column"]) == ("adae.xpt", 8, "AETOXGR")
    assert located["message"].startswith("adae.xpt row 8 (pooled.adae row 2)")


def test_validate_pool_reads_the_database_not_frames(tmp_path):
    """The task over a database file while the run's lease connection is open (as the flow holds
    it): contract failure decided `reject`, GX over the same tables with Data Docs, audit written."""
    from repool.settings import Settings
    from repool.tasks.db import connect, create_schemas
    from repool.tasks.ingest import DeliveryResult
    from repool.tasks.validate.pooled import validate_pool

    settings = Settings(data_dir=tmp_path, db_path=tmp_path / "repool.duckdb")
    frames = _valid_frames()
    frames["adsl"].loc[1, "AGE"] = 12
    lease = connect(settings.db_path)
    try:
        create_schemas(lease, settings.sql_dir)
        for name, df in frames.items():
            lease.register("_frame", df)
            lease.execute(f"CREATE TABLE pooled.{name} AS SELECT * FROM _frame")
            lease.unregister("_frame")
        from repool.tasks.stage import staging_table

        lease.execute(f"CREATE TABLE {staging_table('MT103-211', 'adsl')} AS "
                      "SELECT * FROM (VALUES (4, 'MT103-211-01-001'), (6, 'MT103-211-01-002')) t(_row, USUBJID)")
        accepted = [DeliveryResult(s, "2014-09-30", delivery=_delivery(s), accepted=True)
                    for s in sorted(frames["adsl"]["STUDYID"].unique())]
        out = validate_pool.fn(settings, "run-1", None, None, accepted, str(tmp_path / "docs"))
        assert [(f["file"], f["row"], f["column"], f["action"]) for f in out["contract_failures"]] == [
            ("adsl.xpt", 6, "AGE", "reject")]  # the delivered row of pooled.adsl row 2
        assert out["ok"] is False and out["gx"]["success"] is False
        assert [f["column"] for f in out["gx"]["datasets"]["adsl"]["failed"]] == ["AGE"]
        assert (tmp_path / "docs" / "index.html").is_file()
        audit = lease.execute("SELECT file, row, \"column\", reason FROM audit.validation_failures "
                              "WHERE run_id = 'run-1' ORDER BY reason").fetchall()
        assert audit == [("pooled.adsl", None, "AGE", "gx_expectation"), ("adsl.xpt", 6, "AGE", "pooled_contract")]
    finally:
        lease.close()
