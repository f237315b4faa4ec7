# Flow `repool`: ingest the newest valid delivery of every study into DuckDB, validate it (falling back
# to the study's previous delivery when one is refused), harmonise the pool, validate the pool, fan out
# one analysis task per table, and publish a content-addressed result version. Orchestration only:
# every rule lives in tasks/, sql/ and schemas/.
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from repool.settings import Settings
from tasks import prefect_tasks as t
from tasks.db import connect
from tasks.summary import create_run_summary


def _flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run (plain function use)
        return None


def _select_deliveries(settings: Settings, run_id: str, flow_run_id: str | None, candidates: dict[str, list[str]]):
    """Round by round: every study's next candidate is ingested and validated concurrently, until each
    study has an accepted delivery or has run out of candidates."""
    pending = {study: list(paths) for study, paths in candidates.items()}
    accepted, refused = {}, []
    while pending:
        ingested = {study: t.ingest.with_options(task_run_name=f"ingest[{study}@{Path(paths[0]).name}]")
                    .submit(settings, run_id, flow_run_id, paths[0]) for study, paths in pending.items()}
        validated = {study: t.validate.with_options(task_run_name=f"validate[{study}@{Path(pending[study][0]).name}]")
                     .submit(settings, run_id, flow_run_id, fut) for study, fut in ingested.items()}
        for study, fut in validated.items():
            result = fut.result()
            if result.accepted:
                accepted[study] = result
                del pending[study]
            else:
                refused.append(result)
                pending[study].pop(0)
                if not pending[study]:
                    del pending[study]
    return accepted, refused


@flow(name="repool", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=True)
def repool(data_dir: str | None = None, db: str | None = None, results_dir: str | None = None,
           pins: dict[str, str] | None = None, gx_checkpoint: bool = True) -> dict:
    """Pool the newest valid delivery of every study and publish a result version."""
    log = get_run_logger()
    settings = Settings.from_env().with_overrides(
        data_dir=Path(data_dir) if data_dir else None, db_path=Path(db) if db else None,
        results_dir=Path(results_dir) if results_dir else None, pinned=pins or None)
    flow_run_id = _flow_run_id()
    lease = connect(settings.db_path)  # held for the whole run: a second process is refused, not interleaved
    try:
        run_id = t.start_run(settings, flow_run_id)
        candidates = t.discover(settings)
        accepted, refused = _select_deliveries(settings, run_id, flow_run_id, candidates)
        missing = sorted(set(candidates) - set(accepted))
        if missing:
            message = f"no valid delivery for {', '.join(missing)}; nothing published"
            t.summarise(create_run_summary(run_id, None, "failed", message, list(accepted.values()), refused).markdown)
            t.finish_run(settings, run_id, "failed", None, message)
            return Failed(message=message, data={"run_id": run_id, "status": "failed", "message": message})
        results = [accepted[s] for s in sorted(accepted)]
        identity = t.identify_version(settings, results)
        version = identity["version"]
        if identity["exists"]:
            message = f"up to date: result version {version} already published for these inputs, code and parameters"
            log.info(message)
            t.summarise(create_run_summary(run_id, version, "up-to-date", message, results, refused).markdown)
            t.finish_run(settings, run_id, "up-to-date", version, message)
            return _completed(version, "up-to-date", message, settings, run_id, refused, results)

        t.harmonise(settings, results)
        frames = t.read_pooled(settings)
        docs_dir = str(settings.results_dir / f".gx-{run_id}") if gx_checkpoint else None
        pooled_check = t.validate_pooled(settings, run_id, flow_run_id, frames, results, docs_dir)
        if pooled_check["contract_failures"]:
            message = f"pooled datasets break their contract ({len(pooled_check['contract_failures'])} failure(s)); nothing published"
            t.summarise(create_run_summary(run_id, None, "failed", message, results, refused, pooled_check).markdown)
            t.finish_run(settings, run_id, "failed", None, message)
            return Failed(message=message, data={"run_id": run_id, "status": "failed", "message": message})

        ards = [t.analyse.with_options(task_run_name=f"analyse[{table_id}]").submit(table_id, frames)
                for table_id in t.steps.TABLE_IDS]
        km = t.km_curves.submit(frames)
        summary = create_run_summary(run_id, version, "published", "", results, refused, pooled_check)
        folder = t.publish.with_options(task_run_name=f"publish[{version}]")(
            settings, run_id, flow_run_id, identity, [f.result() for f in ards], km.result(), results, docs_dir,
            [("Run summary", summary.html)])
        message = f"published result version {version}"
        t.summarise(summary.markdown)
        t.finish_run(settings, run_id, "published", version, message)
        return _completed(version, "published", message, settings, run_id, refused, results, folder)
    finally:
        lease.close()


def _completed(version, status, message, settings, run_id, refused, results, folder=None):
    excluded = [q for r in results for q in r.quarantined]
    quarantined = len(excluded)
    report = str(Path(folder or settings.results_dir / version) / "report.html")
    data = {"run_id": run_id, "status": status, "version": version, "report": report, "message": message,
            "refused": [r.message for r in refused], "quarantined": quarantined,
            "quarantine": [f"{q['study']}@{q['delivery_id']} subject {q['subject']}: {q['reason']} in {q['file']}"
                           f" row {q['row']} column {q['column']}" for q in excluded]}
    if refused or quarantined:
        notes = [f"{len(refused)} delivery(ies) refused"] if refused else []
        notes += [f"{quarantined} subject(s) quarantined"] if quarantined else []
        return Completed(name="Completed with exclusions", message=f"{message}; " + ", ".join(notes), data=data)
    return Completed(message=message, data=data)
