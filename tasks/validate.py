"""Validate: pandera models on the raw files, cross-file SQL checks on staging, pandera models on the
pooled datasets. Every failure case becomes an audit record (study, delivery, file, row, column,
check, value) with the action its reason code's policy prescribes; nothing is only raised.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa

from schemas.pooled import POOLED_MODELS
from schemas.sources import BUILTIN_REASONS, SOURCE_DATASETS, build_source_schema
from tasks.db import render_sql, study_slug
from tasks.ingest import Delivery, DeliveryRejected, failure
from tasks.policy import ACTION_TAKEN, SEVERITY, Policy

MAX_CASES_PER_CHECK = 1000  # per file and check; beyond that one summary record says how many more


@dataclass
class Outcome:
    """What validation decided for one delivery."""

    delivery: Delivery
    failures: list[dict] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return any(f["action"] == "reject" for f in self.failures)

    @property
    def quarantined(self) -> list[tuple[str, str, str, int | None, str | None, str | None]]:
        """(study, subject, reason, row, file, column) of every subject set aside, first reason per subject."""
        seen: dict[str, tuple] = {}
        for f in self.failures:
            if f["action"] == "quarantine" and f.get("subject") and f["subject"] not in seen:
                seen[f["subject"]] = (f["study"], f["subject"], f["reason"], f.get("row"), f.get("file"), f.get("column"))
        return list(seen.values())

    def summary(self) -> str:
        if self.rejected:
            first = next(f for f in self.failures if f["action"] == "reject")
            return str(DeliveryRejected(self.delivery.study, self.delivery.delivery_id, [first]))
        q = len(self.quarantined)
        w = sum(f["action"] == "warn" for f in self.failures)
        return f"{self.delivery.label} accepted ({q} subject(s) quarantined, {w} warning(s))"


def apply_policy(failures: list[dict], policy: Policy) -> list[dict]:
    """Attach action, severity and action-taken text to each failure record."""
    out = []
    for f in failures:
        action = policy.action_for(f["reason"])
        out.append({**f, "action": action, "severity": SEVERITY[action], "action_taken": ACTION_TAKEN[action]})
    return out


# ------------------------------------------------------------------------------------------------
# Source files: pandera
# ------------------------------------------------------------------------------------------------


def _subject_id(delivery: Delivery, raw_subject) -> str | None:
    if raw_subject is None or (isinstance(raw_subject, float) and pd.isna(raw_subject)):
        return None
    text = str(raw_subject).strip()
    if not text or text == "n.a.":
        return None
    return f"{delivery.study}-{text}" if delivery.format == "csv-legacy" else text


def failures_from_schema_errors(delivery: Delivery, file: str, df: pd.DataFrame, cases: pd.DataFrame,
                                subject_col: str) -> list[dict]:
    """pandera failure cases -> audit records, one per (row, column, check)."""
    sha = delivery.files[file]["sha256"]
    records: list[dict] = []
    cases = cases.copy()
    cases["check"] = cases["check"].astype(str)
    cases = cases.drop_duplicates(subset=["column", "check", "index", "failure_case"])
    for (column, check), grp in cases.groupby(["column", "check"], sort=True, dropna=False):
        reason = BUILTIN_REASONS.get(check, check)
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


def validate_source_files(con: duckdb.DuckDBPyConnection, delivery: Delivery, raw_tables: dict[str, str]) -> list[dict]:
    """Run each file's pandera model (lazy) on its raw table; extra columns are recorded once."""
    records: list[dict] = []
    for file, table in raw_tables.items():
        ds = SOURCE_DATASETS[delivery.format][file]
        df = con.sql(f"SELECT * FROM {table}").df().set_index("_row", drop=True)
        df.index.name = None
        if delivery.format != "csv-legacy":  # CSV extras were recorded from the header at load
            for c in [c for c in df.columns if c not in ds.column_names and c.upper() != "STUDYID"]:
                records.append(failure(delivery.study, delivery.delivery_id, "extra_column",
                                       f"{file} has column {c} beyond the contract (ignored)",
                                       file=file, sha256=delivery.files[file]["sha256"], column=c))
        try:
            build_source_schema(ds).validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            records += failures_from_schema_errors(delivery, file, df, exc.failure_cases, ds.subject)
    return records


# ------------------------------------------------------------------------------------------------
# Staging and cross-file checks
# ------------------------------------------------------------------------------------------------


def staging_table(study: str, file: str) -> str:
    return f"staging.stg_{study_slug(study)}__{Path(file).stem}"


def build_staging(con: duckdb.DuckDBPyConnection, delivery: Delivery, raw_tables: dict[str, str],
                  sql_dir: Path) -> dict[str, str]:
    """Run the format's staging models for one delivery: staging.stg_<study>__<file>."""
    by_stem = {Path(f).stem: t for f, t in raw_tables.items()}
    built = {}
    for file in SOURCE_DATASETS[delivery.format]:
        stem = Path(file).stem
        template = (sql_dir / "staging" / delivery.format / f"{stem}.sql").read_text(encoding="utf-8")
        sql = render_sql(template, {"study": delivery.study, "delivery_id": delivery.delivery_id},
                         {"source": lambda s: by_stem[s]})
        target = staging_table(delivery.study, file)
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}")
        built[stem] = target
    return built


def run_cross_checks(con: duckdb.DuckDBPyConnection, delivery: Delivery, sql_dir: Path) -> list[dict]:
    """The SQL checks of sql/checks/<format>/ on the study's staging models."""
    records: list[dict] = []
    for path in sorted((sql_dir / "checks" / delivery.format).glob("*.sql")):
        sql = render_sql(path.read_text(encoding="utf-8"), {"study": delivery.study},
                         {"ref": lambda s: staging_table(delivery.study, s)})
        for file, row, column, reason, value, subject in con.execute(sql).fetchall():
            records.append(failure(delivery.study, delivery.delivery_id, reason,
                                   f"{file} row {row} column {column}: {reason} ({value})",
                                   file=file, sha256=delivery.files.get(file, {}).get("sha256"),
                                   row=row, column=column, value=value, subject=subject, check=path.stem))
    return records


def validate_delivery(con: duckdb.DuckDBPyConnection, delivery: Delivery, raw_tables: dict[str, str],
                      policy: Policy, sql_dir: Path, load_warnings: list[dict] | None = None) -> Outcome:
    """Source models, then (if nothing structural failed) staging and cross-file checks."""
    failures = apply_policy(list(load_warnings or []) + validate_source_files(con, delivery, raw_tables), policy)
    outcome = Outcome(delivery, failures)
    if outcome.rejected:
        return outcome
    build_staging(con, delivery, raw_tables, sql_dir)
    outcome.failures += apply_policy(run_cross_checks(con, delivery, sql_dir), policy)
    # a failure that cannot be attributed to a subject cannot be quarantined: refuse the delivery
    for f in outcome.failures:
        if f["action"] == "quarantine" and not f.get("subject"):
            f.update(action="reject", severity=SEVERITY["reject"], action_taken=ACTION_TAKEN["reject"],
                     message=f["message"] + " (no subject id on the row, so the delivery is refused)")
    return outcome


# ------------------------------------------------------------------------------------------------
# Pooled datasets
# ------------------------------------------------------------------------------------------------


def validate_pooled_frames(frames: dict[str, pd.DataFrame]) -> list[dict]:
    """The pooled pandera models (lazy); records name the pooled table, row and column."""
    records: list[dict] = []
    for name, model in POOLED_MODELS.items():
        df = frames[name].reset_index(drop=True)
        df.index = df.index + 1
        try:
            model.validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases.drop_duplicates(subset=["column", "check", "index"])
            for _, case in cases.head(MAX_CASES_PER_CHECK).iterrows():
                row = None if case["index"] is None or pd.isna(case["index"]) else int(case["index"])
                subject = str(df.at[row, "USUBJID"]) if row is not None and "USUBJID" in df else None
                study = str(df.at[row, "STUDYID"]) if row is not None and "STUDYID" in df else None
                records.append(failure(study, None, "pooled_contract",
                                       f"pooled.{name} row {row} column {case['column']}: {case['check']} "
                                       f"failed for {case['failure_case']!r}",
                                       file=f"pooled.{name}", row=row, column=None if pd.isna(case["column"]) else str(case["column"]),
                                       value=case["failure_case"], subject=subject, check=str(case["check"])))
    return records


def check_teae_flags(adae: pd.DataFrame, lineage: dict[str, Delivery]) -> list[dict]:
    """Delivered TEAE flags that disagree with the re-derived ones (cross-dataset warning)."""
    if "SRCTEMFL" not in adae:
        return []
    bad = adae[adae["SRCTEMFL"].notna() & (adae["SRCTEMFL"] != adae["TRTEMFL"])]
    records = []
    for _, r in bad.iterrows():
        d = lineage[r["STUDYID"]]
        file = next((f for f in d.files if f.startswith("adae")), "adae")
        records.append(failure(r["STUDYID"], d.delivery_id, "teae_flag_mismatch",
                               f"{file} row {r['AESEQ']}: delivered TRTEMFL={r['SRCTEMFL']} but the TEAE window "
                               f"gives {r['TRTEMFL']} (onset {pd.Timestamp(r['ASTDT']).date()})",
                               file=file, sha256=d.files.get(file, {}).get("sha256"), row=int(r["AESEQ"]),
                               column="TRTEMFL", value=r["SRCTEMFL"], subject=r["USUBJID"]))
    return records


# ------------------------------------------------------------------------------------------------
# Writing the audit
# ------------------------------------------------------------------------------------------------

AUDIT_COLUMNS = ["run_id", "flow_run_id", "study", "delivery_id", "file", "file_sha256", "row", "column",
                 "check", "reason", "value", "subject", "severity", "action", "message", "recorded_at"]


def record_failures(con: duckdb.DuckDBPyConnection, run_id: str, flow_run_id: str | None, failures: list[dict]) -> int:
    """Append failure records to audit.validation_failures (never updated, never deleted)."""
    if not failures:
        return 0
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    df = pd.DataFrame([{**{k: f.get(k) for k in AUDIT_COLUMNS}, "run_id": run_id, "flow_run_id": flow_run_id,
                        "action": f.get("action_taken", f.get("action")), "recorded_at": now} for f in failures],
                      columns=AUDIT_COLUMNS)
    df["row"] = pd.array(df["row"], dtype="Int64")
    for c in AUDIT_COLUMNS:
        if c not in ("row", "recorded_at"):
            df[c] = df[c].astype(object).where(df[c].notna(), None).map(lambda v: v if v is None else str(v))
    con.register("_audit_frame", df)
    try:
        con.execute("INSERT INTO audit.validation_failures BY NAME SELECT * FROM _audit_frame")
    finally:
        con.unregister("_audit_frame")
    return len(df)
