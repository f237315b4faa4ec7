"""Stage 4b, validate the pool in the database: the pooled contract (schemas/pooled.py, run as SQL by
tasks/validate/pooled_sql.py), the delivered TEAE flags against the re-derived ones (SQL), and the
great-expectations checkpoint (suites generated from the same pooled models) against the pooled
tables in DuckDB. Nothing of the pool is loaded into pandas. Records name the pooled table, row and
column; the policy module decides.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from repool.schemas.audit import failure
from repool.settings import Settings
from repool.tasks.audit import record_failures
from repool.tasks.db import connect, quote_ident, release_buffers
from repool.tasks.ingest import Delivery, DeliveryResult
from repool.tasks.validate.delivery import MAX_CASES_PER_CHECK
from repool.tasks.validate.policy import decide, load_policy
from repool.tasks.validate.pooled_sql import numbered, table_columns, validate_pooled_tables

__all__ = ["validate_pool", "validate_pooled_tables", "check_teae_flags", "locate_in_source", "failures_from_gx"]


# pooled dataset -> the staged file its rows come from, per format
SOURCE_STEMS = {
    "adsl": {"csv-legacy": "patients", "xpt-adam": "adsl", "parquet-adam": "adsl"},
    "adtte": {"csv-legacy": "followup", "xpt-adam": "adtte", "parquet-adam": "adtte"},
    "adrs": {"csv-legacy": "response", "xpt-adam": "adrs", "parquet-adam": "adrs"},
    "adae": {"csv-legacy": "ae", "xpt-adam": "adae", "parquet-adam": "adae"},
}


def locate_in_source(con: duckdb.DuckDBPyConnection, records: list[dict], lineage: dict[str, Delivery],
                     schema: str = "pooled") -> list[dict]:
    """Pooled-contract records pointed at the delivered file and row they came from (the pooled
    table and row stay in the message): AE rows by their source row (AESEQ, read from the pooled
    table in one query), the others by the subject's first row in the staged file."""
    from repool.tasks.stage import staging_table

    ae_rows = sorted({f["row"] for f in records if f.get("file") == "pooled.adae" and f.get("row") is not None})
    aeseq = {}
    if ae_rows:
        aeseq = dict(con.execute(f"SELECT rowid + 1, AESEQ FROM {numbered(con, schema, 'adae')} "
                                 "WHERE rowid + 1 IN (SELECT unnest(?::BIGINT[]))", [ae_rows]).fetchall())
    out = []
    for f in records:
        d = lineage.get(f.get("study") or "")
        dataset = str(f.get("file") or "").removeprefix("pooled.")
        if d is None or dataset not in SOURCE_STEMS or f.get("row") is None:
            out.append(f)
            continue
        stem = SOURCE_STEMS[dataset][d.format]
        file = next((name for name in d.files if name.startswith(stem + ".")), None)
        if dataset == "adae":
            source_row = None if aeseq.get(f["row"]) is None else int(aeseq[f["row"]])
        else:
            hit = con.execute(f"SELECT min(_row) FROM {staging_table(d.study, stem)} WHERE USUBJID = ?",
                              [f["subject"]]).fetchall()
            source_row = hit[0][0] if hit else None
        out.append({**f, "delivery_id": d.delivery_id, "file": file, "row": source_row,
                    "file_sha256": d.files.get(file, {}).get("sha256"),
                    "message": f"{file} row {source_row} (pooled.{dataset} row {f['row']}): {f['message']}"})
    return out


def check_teae_flags(con: duckdb.DuckDBPyConnection, lineage: dict[str, Delivery], schema: str = "pooled",
                     cap: int = MAX_CASES_PER_CHECK) -> list[dict]:
    """Delivered TEAE flags that disagree with the re-derived ones (cross-dataset warning), found in
    SQL over pooled.adae; at most `cap` records per study, then one saying how many more."""
    cols = table_columns(con, schema, "adae") or {}
    if "SRCTEMFL" not in cols:
        return []
    src = numbered(con, schema, "adae")
    mismatch = "SRCTEMFL IS NOT NULL AND SRCTEMFL IS DISTINCT FROM TRTEMFL"  # pandas: != with NaN is True
    counts = dict(con.execute(f"SELECT STUDYID, count(*) FROM {quote_ident(schema)}.adae WHERE {mismatch} "
                              "GROUP BY ALL").fetchall())
    if not counts:
        return []
    hits = con.execute(
        f"SELECT STUDYID, USUBJID, AESEQ, SRCTEMFL, TRTEMFL, ASTDT FROM ("
        f"  SELECT *, row_number() OVER (PARTITION BY STUDYID ORDER BY rowid) AS k FROM {src} WHERE {mismatch}"
        f") WHERE k <= {int(cap)} ORDER BY STUDYID, k").fetchall()
    records = []
    for study, subject, aeseq, delivered, derived, onset in hits:
        d = lineage[study]
        file = next((f for f in d.files if f.startswith("adae")), "adae")
        onset = None if onset is None else (onset.date() if hasattr(onset, "hour") else onset)
        records.append(failure(study, d.delivery_id, "teae_flag_mismatch",
                               f"{file} row {aeseq}: delivered TRTEMFL={delivered} but the TEAE window "
                               f"gives {derived} (onset {onset})",
                               file=file, sha256=d.files.get(file, {}).get("sha256"), row=int(aeseq),
                               column="TRTEMFL", value=delivered, subject=subject))
    for study, n in sorted(counts.items()):
        if n > cap:
            d = lineage[study]
            file = next((f for f in d.files if f.startswith("adae")), "adae")
            records.append(failure(study, d.delivery_id, "teae_flag_mismatch",
                                   f"{n - cap} more delivered TRTEMFL flags in {file} disagree with the TEAE window",
                                   file=file, sha256=d.files.get(file, {}).get("sha256"), column="TRTEMFL"))
    return records


def failures_from_gx(summary: dict) -> list[dict]:
    """Failed great-expectations expectations as audit records (one per expectation, with counts)."""
    records = []
    for name, ds in sorted(summary.get("datasets", {}).items()):
        for f in ds.get("failed", []):
            column = f.get("column")
            column = ", ".join(column) if isinstance(column, list) else column
            examples = f.get("partial_unexpected_list") or []
            records.append(failure(
                None, None, "gx_expectation",
                f"pooled.{name}: {f['expectation']} failed ({f.get('unexpected_count')} unexpected"
                f"{', e.g. ' + ', '.join(map(str, examples[:3])) if examples else ''})",
                file=f"pooled.{name}", column=column, value=f.get("unexpected_count"), check=f["expectation"]))
    return records


def check_pool_in_sql(con: duckdb.DuckDBPyConnection, lineage: dict[str, Delivery]) -> list[dict]:
    """The pooled contract and the TEAE-flag cross-check, in that order."""
    return validate_pooled_tables(con) + check_teae_flags(con, lineage)


@task(name="validate-pooled", cache_policy=NO_CACHE)
def validate_pool(settings: Settings, run_id: str, flow_run_id: str | None, frames: dict | None,
                  accepted: list[DeliveryResult], docs_dir: str | None) -> dict:
    """Pooled contract, TEAE-flag cross-check and GX checkpoint, all over the pooled tables in the
    run database (settings.db_path); every failure into the audit.

    `frames` is ignored (kept only so the flow's call keeps working; pass None): the pool is
    validated where it lies, not from pandas frames.
    Returns {"contract_failures": [...], "warnings": [...], "gx": summary | None, "ok": bool};
    a contract failure is decided `reject` (run stopped) by the policy module.
    """
    lineage = {r.study: r.delivery for r in accepted}
    policy = load_policy(settings.policy_file)
    gx = None
    with connect(settings.db_path) as con:
        if docs_dir is None:
            found = check_pool_in_sql(con, lineage)
        else:
            from repool.tasks.validate.gx_checkpoint import run_gx_checkpoint

            # the SQL checks on a cursor of their own while GX runs: GX's own Python between its queries
            # leaves DuckDB's threads idle (1M patients: 12.4 s one after the other, 11.2 s side by side)
            cursor = con.cursor()
            with ThreadPoolExecutor(max_workers=1) as pool:
                in_sql = pool.submit(check_pool_in_sql, cursor, lineage)
                try:
                    gx = run_gx_checkpoint(con, Path(docs_dir), run_name=run_id)
                finally:
                    wait([in_sql])
                    cursor.close()
            found = in_sql.result() + failures_from_gx(gx)
        decided = decide(locate_in_source(con, found, lineage), policy)
        record_failures(con, run_id, flow_run_id, decided)
        release_buffers(con)  # the checks read every block of the pool; what follows reads a few columns
    contract = [f for f in decided if f["action"] == "reject"]
    warnings = [f for f in decided if f["action"] != "reject"]
    return {"contract_failures": contract, "warnings": warnings, "gx": gx,
            "ok": not contract and (gx is None or gx.get("success", False))}
