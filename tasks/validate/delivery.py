"""Stage 2, validate one delivery: each delivered file against its source contract (schemas/sources.py).

Every failure case becomes an audit record (study, delivery, file, row, column, check, value) with
the action the policy module decides; nothing is only raised. Cross-file rules run after staging,
on the renamed columns (`tasks/stage.py`).
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from repool.schemas.audit import failure
from repool.schemas.reasons import PANDERA_REASONS
from repool.schemas.sources import SOURCE_DATASETS, build_source_schema, shared_derivations
from repool.settings import Settings
from repool.lazy import import_once
from repool.tasks.audit import record_failures
from repool.tasks.db import connect
from repool.tasks.ingest import Delivery, DeliveryResult
from repool.tasks.validate.policy import decide, load_policy

if TYPE_CHECKING:  # annotations only: pandas is imported by the functions that use it
    import pandas as pd

MAX_CASES_PER_CHECK = 1000  # per file and check; beyond that one summary record says how many more


# ------------------------------------------------------------------------------------------------
# Source files: pandera
# ------------------------------------------------------------------------------------------------


def _subject_id(delivery: Delivery, raw_subject) -> str | None:
    import pandas as pd
    if raw_subject is None or (isinstance(raw_subject, float) and pd.isna(raw_subject)):
        return None
    text = str(raw_subject).strip()
    if not text or text == "n.a.":
        return None
    return f"{delivery.study}-{text}" if delivery.format == "csv-legacy" else text


def failures_from_schema_errors(delivery: Delivery, file: str, df: pd.DataFrame, cases: pd.DataFrame,
                                subject_col: str) -> list[dict]:
    """pandera failure cases -> audit records, one per (row, column, check)."""
    import pandas as pd
    sha = delivery.files[file]["sha256"]
    records: list[dict] = []
    cases = cases.copy()
    cases["check"] = cases["check"].astype(str)
    cases = cases.drop_duplicates(subset=["column", "check", "index", "failure_case"])
    for (column, check), grp in cases.groupby(["column", "check"], sort=True, dropna=False):
        reason = PANDERA_REASONS.get(check, check)
        rows = grp.head(MAX_CASES_PER_CHECK)
        for _, case in rows.iterrows():
            row = case["index"]
            row = None if row is None or pd.isna(row) else int(row)
            subject = _subject_id(delivery, df.at[row, subject_col]) if row is not None and subject_col in df else None
            col = None if pd.isna(column) else str(column)
            if reason == "missing_column":
                col, value = str(case["failure_case"]), None
                msg = f"{file} lacks required column {col}"
            else:
                value = case["failure_case"]
                msg = f"{file} row {row} column {col}: {check} failed for value {value!r}"
            records.append(failure(delivery.study, delivery.delivery_id, reason, msg, file=file, sha256=sha,
                                   row=row, column=col, value=value, subject=subject, check=check))
        if len(grp) > MAX_CASES_PER_CHECK:
            records.append(failure(delivery.study, delivery.delivery_id, reason,
                                   f"{len(grp) - MAX_CASES_PER_CHECK} more failures of {check} in {file} column {column}",
                                   file=file, sha256=sha, column=None if pd.isna(column) else str(column), check=check))
    return records


SUBJECT_LEVEL_STEMS = ("patients", "adsl")  # the file with one row per subject, in every format


@functools.cache
def _nested_types() -> tuple[type, ...]:
    import numpy as np  # imported when a delivery is validated, not with the module

    return (dict, list, tuple, set, np.ndarray)


def _is_nested(value) -> bool:
    return isinstance(value, _nested_types())


def find_nested_values(delivery: Delivery, file: str, df: pd.DataFrame, columns: list[str]) -> tuple[list[dict], list[str]]:
    """(wrong_type records, columns holding nested values): a struct or list where the contract wants a scalar.
    The records carry row and column only; the values are not rendered (they may be whole records)."""
    records, bad = [], []
    for c in columns:
        if c not in df or df[c].dtype != object:
            continue
        nested = df[c].map(_is_nested)
        if nested.any():
            bad.append(c)
            for row in list(df.index[nested])[:MAX_CASES_PER_CHECK]:
                records.append(failure(delivery.study, delivery.delivery_id, "wrong_type",
                                       f"{file} row {row} column {c}: a nested value where the contract wants a scalar",
                                       file=file, sha256=delivery.files[file]["sha256"], row=int(row), column=c,
                                       value="<nested>"))
    return records, bad


def find_foreign_studyid(delivery: Delivery, file: str, df: pd.DataFrame, subject_col: str) -> list[dict]:
    """Rows whose STUDYID (any case; ADaM files may carry it) names another study than the delivering one."""
    records = []
    for c in [c for c in df.columns if str(c).upper() == "STUDYID"]:
        text = df[c].astype("string[pyarrow]").str.strip()
        foreign = text.notna() & (text != "") & (text != delivery.study)
        for row in list(df.index[foreign.fillna(False).astype(bool)])[:MAX_CASES_PER_CHECK]:
            records.append(failure(delivery.study, delivery.delivery_id, "studyid_mismatch",
                                   f"{file} row {row} column {c}: STUDYID names another study than {delivery.study}",
                                   file=file, sha256=delivery.files[file]["sha256"], row=int(row), column=c,
                                   value=df.at[row, c], subject=_subject_id(delivery, df.at[row, subject_col])
                                   if subject_col in df else None))
    return records


def validate_source_files(con: duckdb.DuckDBPyConnection, delivery: Delivery, raw_tables: dict[str, str]) -> list[dict]:
    """Run each file's pandera model (lazy) on its raw table; extra columns are recorded once."""
    import pandera.pandas as pa
    records: list[dict] = []
    for file, table in raw_tables.items():
        ds = SOURCE_DATASETS[delivery.format][file]
        df = con.sql(f"SELECT * FROM {table}").df().set_index("_row", drop=True)
        df.index.name = None
        sha = delivery.files[file]["sha256"]
        if delivery.format != "csv-legacy":  # CSV extras were recorded from the header at load
            for c in [c for c in df.columns if c not in ds.column_names and c.upper() != "STUDYID"]:
                records.append(failure(delivery.study, delivery.delivery_id, "extra_column",
                                       f"{file} has column {c} beyond the contract (ignored)",
                                       file=file, sha256=sha, column=c))
        if Path(file).stem in SUBJECT_LEVEL_STEMS and len(df) == 0:
            records.append(failure(delivery.study, delivery.delivery_id, "empty_dataset",
                                   f"{file} holds no subject: the study would vanish from the pool",
                                   file=file, sha256=sha, value=0))
        records += find_foreign_studyid(delivery, file, df, ds.subject)
        # only a column DuckDB holds as a nested type (LIST, STRUCT, MAP, UNION) can hold a nested value
        nestable = [c for c, t, *_ in con.execute(f"DESCRIBE {table}").fetchall()
                    if c in ds.column_names and re.search(r"\[|STRUCT|MAP|UNION", str(t))]
        nested_records, nested = find_nested_values(delivery, file, df, nestable)
        records += nested_records
        schema = build_source_schema(ds, delivery.data_cut)
        if nested:
            schema = schema.remove_columns(nested)
        try:
            with shared_derivations():  # a column's text, nulls, numbers and dates once for all its checks
                schema.validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            records += failures_from_schema_errors(delivery, file, df, exc.failure_cases, ds.subject)
    return records


def find_subject_count_drop(con: duckdb.DuckDBPyConnection, delivery: Delivery, threshold: float) -> list[dict]:
    """A subject-level file with sharply fewer rows than the study's previous accepted delivery's.

    Reads the run database's history (audit.load_log, audit.deliveries), so the coordinator runs it
    on every unit's result, reused or not; the row counts are the verified manifest's."""
    records = []
    for file in [f for f in SOURCE_DATASETS[delivery.format] if Path(f).stem in SUBJECT_LEVEL_STEMS]:
        previous = con.execute(
            "SELECT l.delivery_id, l.rows FROM audit.load_log l JOIN audit.deliveries d "
            "ON d.study = l.study AND d.delivery_id = l.delivery_id AND d.status = 'accepted' "
            "WHERE l.study = ? AND l.file = ? AND l.delivery_id < ? ORDER BY l.delivery_id DESC, l.loaded_at DESC LIMIT 1",
            [delivery.study, file, delivery.delivery_id]).fetchall()
        rows = delivery.files.get(file, {}).get("rows")
        if previous and rows is not None and previous[0][1] and rows < (1 - threshold) * previous[0][1]:
            records.append(failure(delivery.study, delivery.delivery_id, "subject_count_drop",
                                   f"{file} has {rows} subjects, {previous[0][1]} in the previous accepted delivery "
                                   f"{previous[0][0]} (a fall of more than {threshold:.0%})",
                                   file=file, sha256=delivery.files[file]["sha256"], value=rows))
    return records


@task(name="validate", cache_policy=NO_CACHE)
def validate_delivery(settings: Settings, con: duckdb.DuckDBPyConnection, result: DeliveryResult) -> DeliveryResult:
    """The source contracts of an ingested delivery (and the warnings found at verify and load),
    decided by the policy; the coordinator records them."""
    import_once("numpy", "pandas", "pandera.pandas")  # units run in threads
    if not result.ingested:  # refused at verify or load
        return result
    found = list(result.warnings) + validate_source_files(con, result.delivery, result.raw_tables)
    result.failures = decide(found, load_policy(settings.policy_file))
    result.message = result.summary()
    return result
