"""The pipeline's units of work at run level: plain functions of a `Settings` (each opens the run's
DuckDB by path; in one process every connection shares one database instance). The thin Prefect
wrappers live in `tasks/prefect_tasks.py`; flows call those.
"""
from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from repool.settings import PROJECT_ROOT, Settings
from tasks import harmonise, ingest, publish, validate
from tasks.db import connect, create_schemas
from tasks.diff import compute_version_diff_html
from tasks.ingest import Delivery, DeliveryRejected
from tasks.policy import ACTION_TAKEN, SEVERITY, load_policy


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ------------------------------------------------------------------------------------------------
# Run bookkeeping
# ------------------------------------------------------------------------------------------------


def start_run(settings: Settings, flow_run_id: str | None) -> str:
    """Create the schemas if needed and register the run in audit.runs; returns the run id."""
    load_policy(settings.policy_file)  # a broken policy file stops the run before any work
    run_id = flow_run_id or uuid.uuid4().hex
    remove_stale_work_folders(settings.results_dir)
    with connect(settings.db_path) as con:
        create_schemas(con, settings.sql_dir)
        # the caller holds the database: a run still marked 'running' was killed
        con.execute("UPDATE audit.runs SET status = 'crashed', finished_at = ?, "
                    "message = 'the run ended without finishing (killed?)' WHERE status = 'running'", [_now()])
        con.execute("INSERT INTO audit.runs VALUES (?, ?, ?, NULL, 'running', NULL, NULL, ?)",
                    [run_id, flow_run_id, _now(), json.dumps(settings.analysis_parameters(), sort_keys=True)])
    return run_id


def remove_stale_work_folders(results_dir: Path) -> None:
    """Temporary folders left by a killed run (`.tmp-<version>-<pid>`, `.gx-<run>`); never a published one."""
    if Path(results_dir).is_dir():
        for p in Path(results_dir).iterdir():
            if p.is_dir() and p.name.startswith((".tmp-", ".gx-")):
                shutil.rmtree(p, ignore_errors=True)


def finish_run(settings: Settings, run_id: str, status: str, version: str | None, message: str) -> None:
    with connect(settings.db_path) as con:
        con.execute("UPDATE audit.runs SET finished_at = ?, status = ?, result_version = ?, message = ? WHERE run_id = ?",
                    [_now(), status, version, message, run_id])


def discover(settings: Settings) -> dict[str, list[str]]:
    """Study -> candidate delivery folders, newest first (JSON-friendly for Prefect)."""
    found = ingest.discover_deliveries(settings.deliveries_dir, settings.pinned)
    if not found:
        raise FileNotFoundError(f"no deliveries under {settings.deliveries_dir}")
    return {study: [str(p) for p in paths] for study, paths in found.items()}


# ------------------------------------------------------------------------------------------------
# Ingest and validate one delivery
# ------------------------------------------------------------------------------------------------


@dataclass
class DeliveryResult:
    """The outcome of ingesting and validating one delivery."""

    study: str
    delivery_id: str
    delivery: Delivery | None = None
    raw_tables: dict[str, str] = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)  # with actions
    accepted: bool = False
    ingested: bool = False
    message: str = ""

    @property
    def quarantined(self) -> list[dict]:
        if not self.delivery:
            return []
        return [{"study": s, "delivery_id": self.delivery_id, "subject": subj, "reason": r, "row": row, "file": f,
                 "column": col}
                for s, subj, r, row, f, col in validate.Outcome(self.delivery, self.failures).quarantined]


def _apply_ingest_policy(settings: Settings, result: DeliveryResult) -> None:
    """Actions for failures found at ingest. A file that cannot be loaded (manifest, encoding, header,
    unreadable) refuses the delivery whatever the policy file says: there is nothing to pool from it."""
    failures = validate.apply_policy(result.failures, load_policy(settings.policy_file))
    for f in failures:
        if f["reason"].startswith(("manifest_", "unreadable", "encoding", "missing_column")):
            f.update(action="reject", severity=SEVERITY["reject"], action_taken=ACTION_TAKEN["reject"])
    result.failures = failures


def ingest_delivery(settings: Settings, run_id: str, flow_run_id: str | None, delivery_dir: str) -> DeliveryResult:
    """Verify the manifest and load the raw files; a broken delivery comes back rejected (not raised)."""
    path = Path(delivery_dir)
    result = DeliveryResult(study=path.parent.name, delivery_id=path.name)
    try:
        result.delivery = ingest.verify_manifest(path)
        with connect(settings.db_path) as con:
            result.raw_tables, result.warnings = ingest.load_delivery(con, result.delivery, run_id)
        result.ingested = True
    except DeliveryRejected as exc:
        result.failures = exc.failures
        result.message = str(exc)
        _apply_ingest_policy(settings, result)
        _write_delivery_audit(settings, run_id, flow_run_id, result, "rejected")
    return result


def validate_delivery(settings: Settings, run_id: str, flow_run_id: str | None, result: DeliveryResult) -> DeliveryResult:
    """Source models and cross-file checks for an ingested delivery; writes every failure to the audit."""
    if not result.ingested:  # rejected at ingest; already recorded
        return result
    policy = load_policy(settings.policy_file)
    with connect(settings.db_path) as con:
        outcome = validate.validate_delivery(con, result.delivery, result.raw_tables, policy,
                                             settings.sql_dir, result.warnings)
    result.failures = outcome.failures
    result.accepted = not outcome.rejected
    result.message = outcome.summary()
    _write_delivery_audit(settings, run_id, flow_run_id, result, "accepted" if result.accepted else "rejected")
    return result


def _write_delivery_audit(settings, run_id, flow_run_id, result: DeliveryResult, status: str) -> None:
    with connect(settings.db_path) as con:
        validate.record_failures(con, run_id, flow_run_id, result.failures)
        con.execute("INSERT INTO audit.deliveries VALUES (?, ?, ?, ?, ?, ?)",
                    [run_id, result.study, result.delivery_id, status, result.message, _now()])
        if status == "accepted" and result.quarantined:
            rows = [[run_id, q["study"], q["delivery_id"], q["subject"], q["reason"], q["file"], q["row"], _now()]
                    for q in result.quarantined]
            con.executemany("INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


# ------------------------------------------------------------------------------------------------
# Version identity
# ------------------------------------------------------------------------------------------------


def compute_lineage(accepted: list[DeliveryResult]) -> list[dict]:
    rows = []
    for r in accepted:
        d = r.delivery
        for file in sorted(r.raw_tables):
            rows.append({"study": d.study, "delivery_id": d.delivery_id, "file": file,
                         "sha256": d.files[file]["sha256"], "rows": d.files[file].get("rows")})
    return rows


def identify_version(settings: Settings, lineage: list[dict]) -> dict:
    """Version id from inputs, code and parameters, and whether it is already published."""
    code_version = publish.compute_code_version(PROJECT_ROOT, settings.policy_file)
    version, input_hash = publish.compute_version_id(lineage, code_version, settings.analysis_parameters())
    with connect(settings.db_path) as con:
        exists = publish.version_exists(con, version)
    if exists:
        publish_dir = settings.results_dir / version
        if not publish_dir.exists():
            rebuild_version_folder(settings, version)
    return {"version": version, "input_hash": input_hash, "code_version": code_version, "exists": exists}


# ------------------------------------------------------------------------------------------------
# Harmonise and validate the pool
# ------------------------------------------------------------------------------------------------


def harmonise_pool(settings: Settings, accepted: list[DeliveryResult]) -> dict[str, int]:
    quarantined = [(q["study"], q["subject"]) for r in accepted for q in r.quarantined]
    variables = {"days_per_month": repr(float(settings.days_per_month)),
                 "teae_window_days": int(settings.teae_window_days)}
    with connect(settings.db_path) as con:
        return harmonise.build_pooled(con, [r.delivery for r in accepted], quarantined, settings.sql_dir, variables)


def read_pooled(settings: Settings) -> dict[str, pd.DataFrame]:
    with connect(settings.db_path) as con:
        return harmonise.read_pooled_frames(con)


def validate_pool(settings: Settings, run_id: str, flow_run_id: str | None, frames: dict[str, pd.DataFrame],
                  accepted: list[DeliveryResult], docs_dir: Path | None) -> dict:
    """Pooled pandera models, the TEAE-flag cross-check, and the great-expectations checkpoint."""
    lineage = {r.study: r.delivery for r in accepted}
    policy = load_policy(settings.policy_file)
    contract = validate.validate_pooled_frames(frames)
    for f in contract:
        f.update(action="reject", severity="error", action_taken="run stopped")
    warnings = validate.apply_policy(validate.check_teae_flags(frames["adae"], lineage), policy)
    gx = None
    if docs_dir is not None:
        from tasks.gx_checkpoint import run_gx_checkpoint

        gx = run_gx_checkpoint(frames, Path(docs_dir), run_name=run_id)
        warnings += validate.apply_policy(failures_from_gx(gx), policy)
    with connect(settings.db_path) as con:
        validate.record_failures(con, run_id, flow_run_id, contract + warnings)
    return {"contract_failures": contract, "warnings": warnings, "gx": gx,
            "ok": not contract and (gx is None or gx.get("success", False))}


def failures_from_gx(summary: dict) -> list[dict]:
    """Failed great-expectations expectations as audit records (one per expectation, with counts)."""
    records = []
    for name, ds in sorted(summary.get("datasets", {}).items()):
        for f in ds.get("failed", []):
            column = f.get("column")
            column = ", ".join(column) if isinstance(column, list) else column
            examples = f.get("partial_unexpected_list") or []
            records.append(ingest.failure(
                None, None, "gx_expectation",
                f"pooled.{name}: {f['expectation']} failed ({f.get('unexpected_count')} unexpected"
                f"{', e.g. ' + ', '.join(map(str, examples[:3])) if examples else ''})",
                file=f"pooled.{name}", column=column, value=f.get("unexpected_count"), check=f["expectation"]))
    return records


# ------------------------------------------------------------------------------------------------
# Analyse and publish
# ------------------------------------------------------------------------------------------------


def _table_functions() -> dict:
    from tasks.table1_baseline import compute_table1
    from tasks.table2_survival import compute_table2
    from tasks.table3_response import compute_table3
    from tasks.table4_adverse_events import compute_table4

    return {
        "table1": (compute_table1, ("adsl",)),
        "table2": (compute_table2, ("adsl", "adtte")),
        "table3": (compute_table3, ("adsl", "adrs")),
        "table4": (compute_table4, ("adsl", "adae")),
    }


TABLE_IDS = ("table1", "table2", "table3", "table4")


def analyse_table(table_id: str, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One analysis table's ARD rows from the pooled frames (a pure function of them)."""
    fn, inputs = _table_functions()[table_id]
    return fn(*(frames[i] for i in inputs))


def compute_km_curves(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    from tasks.table2_survival import compute_km_curves as _curves

    return _curves(frames["adsl"], frames["adtte"])


def render_version_report(ard: pd.DataFrame, km: pd.DataFrame, meta: dict, folder: Path) -> Path:
    """report.html of a version, from its ARD (and KM curves) only."""
    from tasks.report import render_report
    from tasks.reproduce import compare_with_publication

    return render_report(ard, km, meta, folder, reproduction=compare_with_publication(ard),
                         extra_sections=meta.get("extra_sections"))


def publish_results(settings: Settings, run_id: str, flow_run_id: str | None, identity: dict,
                    ards: list[pd.DataFrame], km: pd.DataFrame, accepted: list[DeliveryResult],
                    docs_dir: Path | None, extra_sections: list | None = None) -> Path:
    lineage = compute_lineage(accepted)
    exclusions = [q for r in accepted for q in r.quarantined]
    ard = pd.concat(ards, ignore_index=True)
    meta = {"result_version": identity["version"], "created": _now().isoformat(timespec="seconds") + "Z",
            "code_version": identity["code_version"], "input_hash": identity["input_hash"],
            "parameters": settings.analysis_parameters(), "deliveries": publish.group_lineage(lineage),
            "exclusions": exclusions, "run_id": run_id, "flow_run_id": flow_run_id,
            "extra_sections": extra_sections or []}
    extra = {"data_docs": docs_dir} if docs_dir is not None else None
    with connect(settings.db_path) as con:
        previous = publish.latest_version(con)
        meta["extra_sections"].append((f"Changes since {previous}" if previous else "Changes",
                                       compute_version_diff_html(con, previous, ard, lineage, identity["version"])))
        folder = publish.publish_version(con, version=identity["version"], ard=ard, km=km, lineage=lineage,
                                         exclusions=exclusions, meta=meta, results_dir=settings.results_dir,
                                         render=render_version_report, extra_files=extra)
    if docs_dir is not None:
        shutil.rmtree(docs_dir, ignore_errors=True)
    return folder


def rebuild_version_folder(settings: Settings, version: str) -> Path:
    """Re-create a published version's folder from the stored rows (after a crash between commit and rename)."""
    with connect(settings.db_path) as con:
        ard = publish.read_version_ard(con, version)
        km = con.execute("SELECT * EXCLUDE (result_version) FROM results.km_curves WHERE result_version = ? ORDER BY rowid",
                         [version]).df()
        v = con.execute("SELECT code_version, parameters, input_hash, run_id, flow_run_id, created_at FROM results.versions "
                        "WHERE result_version = ?", [version]).fetchall()[0]
        lineage = publish.read_version_lineage(con, version).to_dict("records")
        exclusions = con.execute("SELECT study, delivery_id, subject, reason, file, row FROM results.exclusions "
                                 "WHERE result_version = ?", [version]).df().to_dict("records")
    meta = {"result_version": version, "created": v[5].isoformat(timespec="seconds") + "Z", "code_version": v[0],
            "parameters": json.loads(v[1]), "input_hash": v[2], "run_id": v[3], "flow_run_id": v[4],
            "deliveries": publish.group_lineage(lineage), "exclusions": exclusions}
    folder = settings.results_dir / version
    tmp = settings.results_dir / f".tmp-{version}-rebuild"
    shutil.rmtree(tmp, ignore_errors=True)
    publish.write_exports(tmp, ard, km, lineage, meta)
    render_version_report(ard, km, meta, tmp)
    tmp.rename(folder)
    return folder
