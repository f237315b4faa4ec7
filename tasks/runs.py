"""Run bookkeeping (audit.runs): open a run, close it with its outcome and its summary artifact.

Plumbing beside the stages: it decides nothing about data. `finish_run` returns the outcome the
flow turns into its final Prefect state (aggregates and failure locations, never values).
"""
from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from repool.settings import Settings
from repool.tasks import in_prefect_run
from repool.tasks.audit import record_delivery, record_failures, utc_now
from repool.tasks.cache import remove_stale_workspaces
from repool.tasks.db import connect, create_schemas, transaction
from repool.tasks.ingest import DeliveryResult
from repool.tasks.validate.delivery import find_subject_count_drop
from repool.tasks.validate.policy import ACTION_TAKEN, decide, load_policy

MAX_RECORDED_LINES = 200


def describe_recorded(rows: list[tuple]) -> list[str]:
    """Warning lines for the run's outcome: study, delivery, rule, file, row, column, never a value."""
    lines = []
    for study, delivery_id, reason, file, row, column in rows[:MAX_RECORDED_LINES]:
        where = "".join(f" {k} {v}" for k, v in (("file", file), ("row", row), ("column", column)) if v is not None)
        lines.append(f"{study or '-'}@{delivery_id or '-'}: {reason} in{where or ' delivery'}")
    if len(rows) > MAX_RECORDED_LINES:
        lines.append("... more: see `repool audit`")
    return lines


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(settings: Settings, flow_run_id: str | None) -> str:
    """Create the schemas if needed and register the run in audit.runs; returns the run id."""
    load_policy(settings.policy_file)  # a broken policy file stops the run before any work
    run_id = flow_run_id or uuid.uuid4().hex
    remove_stale_work_folders(settings.results_dir)
    remove_stale_workspaces(settings.cache_dir)  # half-built cache entries of a killed run
    with connect(settings.db_path) as con:
        create_schemas(con, settings.sql_dir)
        # the caller holds the database: a run still marked 'running' was killed
        con.execute("UPDATE audit.runs SET status = 'crashed', finished_at = ?, "
                    "message = 'the run ended without finishing (killed?)' WHERE status = 'running'", [utc_now()])
        con.execute("INSERT INTO audit.runs VALUES (?, ?, ?, NULL, 'running', NULL, NULL, ?)",
                    [run_id, flow_run_id, utc_now(), json.dumps(settings.analysis_parameters(), sort_keys=True)])
    return run_id


def remove_stale_work_folders(results_dir: Path) -> None:
    """Temporary folders left by a killed run (`.tmp-<version>-<pid>`, `.gx-<run>`); never a published one."""
    if Path(results_dir).is_dir():
        for p in Path(results_dir).iterdir():
            if p.is_dir() and p.name.startswith((".tmp-", ".gx-")):
                shutil.rmtree(p, ignore_errors=True)


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_run(settings: Settings, run_id: str, status: str, version: str | None, message: str,
               accepted: list[DeliveryResult], refused: list[DeliveryResult], summary_markdown: str,
               folder: str | None = None) -> dict:
    """Close the run in audit.runs, publish its summary artifact, and return its outcome:
    {"run_id", "status", "version", "report", "message", "refused", "quarantined", "quarantine"}."""
    with connect(settings.db_path) as con:
        con.execute("UPDATE audit.runs SET finished_at = ?, status = ?, result_version = ?, message = ? WHERE run_id = ?",
                    [utc_now(), status, version, message, run_id])
        recorded = con.execute(
            'SELECT DISTINCT study, delivery_id, reason, file, row, "column" FROM audit.validation_failures '
            "WHERE run_id = ? AND action = ? ORDER BY ALL LIMIT ?", [run_id, ACTION_TAKEN["warn"], MAX_RECORDED_LINES + 1]
        ).fetchall()
    if in_prefect_run():
        create_markdown_artifact(key="repool-run-summary", markdown=summary_markdown,
                                 description="What this run pooled and why")
    excluded = [q for r in accepted for q in r.quarantined]
    outcome = {"run_id": run_id, "status": status, "message": message,
               "refused": [r.public_message for r in refused], "recorded": describe_recorded(recorded)}
    if version is not None and status != "failed":
        outcome |= {"version": version,
                    "report": str(Path(folder or settings.results_dir / version) / "report.html"),
                    "quarantined": len(excluded),
                    "quarantine": [f"{q['study']}@{q['delivery_id']}: {q['reason']} in {q['file']} row {q['row']} "
                                   f"column {q['column']}" for q in excluded]}
    return outcome


@task(name="record-deliveries", cache_policy=NO_CACHE)
def record_deliveries(settings: Settings, run_id: str, flow_run_id: str | None,
                      results: list[DeliveryResult]) -> list[DeliveryResult]:
    """The coordinator's half of each delivery's unit: append its failures (a reused unit's with the
    run that validated it), the history check no unit can make alone (subject_count_drop, against the
    study's previous accepted delivery in this database), the files it loaded (audit.load_log) and its
    outcome. Only the coordinator writes the run database."""
    policy = load_policy(settings.policy_file)
    with connect(settings.db_path) as con, transaction(con):  # one commit for the round, however many units
        failures, loaded, now = [], [], utc_now()
        for r in sorted(results, key=lambda r: r.label):
            validated_in = r.validated_in_run or run_id
            failures += [{**f, "validated_in_run": validated_in} for f in r.failures]
            if r.ingested and r.delivery is not None:
                found = decide(find_subject_count_drop(con, r.delivery, settings.subject_drop_threshold), policy)
                failures += [{**f, "validated_in_run": run_id} for f in found]
                r.failures = r.failures + found
                if r.accepted and r.rejected:
                    r.accepted = False
                r.message = r.summary()
            if r.ingested and not r.reused:
                loaded += [[run_id, r.study, r.delivery_id, f, m["sha256"], m.get("rows"), f"cache:{r.key}", now]
                           for f, m in sorted(r.delivery.files.items())]
            record_delivery(con, run_id, r.study, r.delivery_id, "accepted" if r.accepted else "rejected",
                            r.message, r.quarantined, validated_in_run=validated_in, cache_key=r.key)
        record_failures(con, run_id, flow_run_id, failures)
        if loaded:
            con.executemany("INSERT INTO audit.load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?)", loaded)
    return results
