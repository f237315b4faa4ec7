"""`repool audit`: read-only summaries of the append-only audit tables.

For a run, a version (the run that published it, and the subjects it excluded) or a study: failures
per study and check, then every failing row with file, row, column, check, value and action taken.
"""
from __future__ import annotations

import io

import duckdb
import pandas as pd

ROW_COLUMNS = ["run_id", "study", "delivery_id", "file", "row", "column", "check", "reason", "value",
               "severity", "action", "message", "validated_in_run"]


def _scope(con: duckdb.DuckDBPyConnection, run: str | None, version: str | None, study: str | None) -> tuple[str, str, list]:
    """(title, WHERE clause, params) selecting the audit rows asked for; default: the latest run."""
    if version:
        rows = con.execute("SELECT run_id FROM results.versions WHERE result_version = ?", [version]).fetchall()
        if not rows:
            raise SystemExit(f"repool audit: no result version {version!r}")
        return f"version {version} (run {rows[0][0]})", "run_id = ?", [rows[0][0]]
    if run:
        return f"run {run}", "run_id = ?", [run]
    if study:
        return f"study {study} (all runs)", "study = ?", [study]
    latest = con.execute("SELECT run_id FROM audit.runs ORDER BY started_at DESC LIMIT 1").fetchall()
    if not latest:
        raise SystemExit("repool audit: no runs recorded yet")
    return f"latest run {latest[0][0]}", "run_id = ?", [latest[0][0]]


def read_failures(con, where: str, params: list) -> pd.DataFrame:
    return con.execute(
        f'SELECT run_id, study, delivery_id, file, row, "column", "check", reason, value, severity, action, message, '
        f"coalesce(validated_in_run, run_id) AS validated_in_run FROM audit.validation_failures WHERE {where} ORDER BY recorded_at, study, delivery_id, file, row NULLS FIRST, \"column\"",
        params).df()


def summarise_failures(failures: pd.DataFrame) -> pd.DataFrame:
    """Counts per study, delivery, reason and action."""
    if failures.empty:
        return pd.DataFrame(columns=["study", "delivery_id", "reason", "action", "cases", "files"])
    g = failures.fillna({"delivery_id": "", "file": ""}).groupby(["study", "delivery_id", "reason", "action"], dropna=False)
    out = g.agg(cases=("reason", "size"), files=("file", lambda s: ", ".join(sorted(set(s) - {""})))).reset_index()
    return out.sort_values(["study", "delivery_id", "reason"]).reset_index(drop=True)


def _text_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "  (none)\n"
    shown = df.astype(object).where(df.notna(), "")
    return shown.to_string(index=False) + "\n"


def render_audit(con: duckdb.DuckDBPyConnection, run: str | None = None, version: str | None = None,
                 study: str | None = None, fmt: str = "table") -> str:
    title, where, params = _scope(con, run, version, study)
    failures = read_failures(con, where, params)
    if fmt == "csv":
        buf = io.StringIO()
        failures[ROW_COLUMNS].to_csv(buf, index=False, lineterminator="\n")
        return buf.getvalue()
    out = [f"Audit of {title}\n"]
    deliveries = con.execute(
        "SELECT study, delivery_id, status, CASE WHEN validated_in_run IS NOT NULL AND validated_in_run <> run_id "
        "THEN 'reused from run ' || validated_in_run ELSE 'this run' END AS validated, message "
        f"FROM audit.deliveries WHERE {where} ORDER BY study, delivery_id DESC", params).df()
    out += ["\nDeliveries considered:\n", _text_table(deliveries)]
    out += ["\nFailures per study and check:\n", _text_table(summarise_failures(failures))]
    out += ["\nFailing rows:\n", _text_table(failures[["study", "delivery_id", "file", "row", "column", "check",
                                                        "value", "action"]])]
    if version:
        excl = con.execute("SELECT study, delivery_id, subject, reason, file, row FROM results.exclusions "
                           "WHERE result_version = ? ORDER BY study, subject", [version]).df()
        out += [f"\nSubjects excluded from version {version}:\n", _text_table(excl)]
    return "".join(out)
