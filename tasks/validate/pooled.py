"""Stage 4b, validate the pool: the pooled contract (schemas/pooled.py), the delivered TEAE flags
against the re-derived ones, and the great-expectations checkpoint (suites generated from the same
pooled models). Records name the pooled table, row and column; the policy module decides.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from repool.schemas.audit import failure
from repool.schemas.pooled import POOLED_MODELS
from repool.settings import Settings
from repool.tasks.audit import record_failures
from repool.tasks.db import connect
from repool.tasks.ingest import Delivery, DeliveryResult
from repool.tasks.validate.delivery import MAX_CASES_PER_CHECK
from repool.tasks.validate.policy import decide, load_policy



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


# pooled dataset -> the staged file its rows come from, per format
SOURCE_STEMS = {
    "adsl": {"csv-legacy": "patients", "xpt-adam": "adsl", "parquet-adam": "adsl"},
    "adtte": {"csv-legacy": "followup", "xpt-adam": "adtte", "parquet-adam": "adtte"},
    "adrs": {"csv-legacy": "response", "xpt-adam": "adrs", "parquet-adam": "adrs"},
    "adae": {"csv-legacy": "ae", "xpt-adam": "adae", "parquet-adam": "adae"},
}


def locate_in_source(con, records: list[dict], frames: dict[str, pd.DataFrame], lineage: dict[str, Delivery]) -> list[dict]:
    """Pooled-contract records pointed at the delivered file and row they came from (the pooled
    table and row stay in the message): AE rows by their source row (AESEQ), the others by the
    subject's first row in the staged file."""
    from repool.tasks.stage import staging_table

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
            source_row = int(frames["adae"].iloc[f["row"] - 1]["AESEQ"])
        else:
            hit = con.execute(f"SELECT min(_row) FROM {staging_table(d.study, stem)} WHERE USUBJID = ?",
                              [f["subject"]]).fetchall()
            source_row = hit[0][0] if hit else None
        out.append({**f, "delivery_id": d.delivery_id, "file": file, "row": source_row,
                    "file_sha256": d.files.get(file, {}).get("sha256"),
                    "message": f"{file} row {source_row} (pooled.{dataset} row {f['row']}): {f['message']}"})
    return out


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


@task(name="validate-pooled", cache_policy=NO_CACHE)
def validate_pool(settings: Settings, run_id: str, flow_run_id: str | None, frames: dict[str, pd.DataFrame],
                  accepted: list[DeliveryResult], docs_dir: str | None) -> dict:
    """Pooled contract, TEAE-flag cross-check and GX checkpoint; every failure into the audit.

    Returns {"contract_failures": [...], "warnings": [...], "gx": summary | None, "ok": bool};
    a contract failure is decided `reject` (run stopped) by the policy module.
    """
    lineage = {r.study: r.delivery for r in accepted}
    policy = load_policy(settings.policy_file)
    found = validate_pooled_frames(frames) + check_teae_flags(frames["adae"], lineage)
    gx = None
    if docs_dir is not None:
        from repool.tasks.validate.gx_checkpoint import run_gx_checkpoint

        gx = run_gx_checkpoint(frames, Path(docs_dir), run_name=run_id)
        found += failures_from_gx(gx)
    with connect(settings.db_path) as con:
        decided = decide(locate_in_source(con, found, frames, lineage), policy)
        record_failures(con, run_id, flow_run_id, decided)
    contract = [f for f in decided if f["action"] == "reject"]
    warnings = [f for f in decided if f["action"] != "reject"]
    return {"contract_failures": contract, "warnings": warnings, "gx": gx,
            "ok": not contract and (gx is None or gx.get("success", False))}
