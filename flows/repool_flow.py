# Flow `repool`: ingest -> validate -> stage every study's newest delivery (falling back to an older
# one when refused), harmonise the pool, validate it, analyse every table (TABLE_IDS) and publish a
# content-addressed result version. Orchestration only: order, fan-out, naming and exits; every
# rule lives in tasks/, sql/ and schemas/.
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.context import get_run_context
from prefect.states import Completed, Failed
from prefect.task_runners import ThreadPoolTaskRunner

from repool.schemas.ard import TABLE_IDS
from repool.settings import Settings
from repool.tasks.analyse import analyse_table, derive_km_curves
from repool.tasks.db import connect
from repool.tasks.harmonise import harmonise_pool, read_pooled
from repool.tasks.ingest import discover, fall_back, ingest_delivery
from repool.tasks.publish import identify_version, publish_results
from repool.tasks.render.summary import create_run_summary
from repool.tasks.runs import finish_run, start_run
from repool.tasks.stage import stage_delivery
from repool.tasks.validate.delivery import validate_delivery
from repool.tasks.validate.pooled import validate_pool


def _flow_run_id() -> str | None:
    try:
        return str(get_run_context().flow_run.id)
    except Exception:  # called outside a flow run (plain function use)
        return None


def _label(path: str) -> str:
    return f"{Path(path).parent.name}@{Path(path).name}"


def select_deliveries(settings: Settings, run_id: str, flow_run_id: str | None, candidates: dict[str, list[str]]):
    """Round by round, every study's next candidate goes through ingest -> validate -> stage
    concurrently, until each study has an accepted delivery or has run out of candidates."""
    pending, accepted, refused = {s: paths for s, paths in candidates.items() if paths}, {}, []
    while pending:
        staged = {}
        for study, paths in pending.items():
            name = _label(paths[0])
            ingested = ingest_delivery.with_options(task_run_name=f"ingest[{name}]").submit(
                settings, run_id, flow_run_id, paths[0])
            validated = validate_delivery.with_options(task_run_name=f"validate[{name}]").submit(
                settings, run_id, flow_run_id, ingested)
            staged[study] = stage_delivery.with_options(task_run_name=f"stage[{name}]").submit(
                settings, run_id, flow_run_id, validated)
        outcomes = {study: fut.result() for study, fut in staged.items()}
        round_accepted, round_refused, pending = fall_back(pending, outcomes)
        accepted |= round_accepted
        refused += round_refused
    return accepted, refused


@flow(name="repool", task_runner=ThreadPoolTaskRunner(max_workers=4), log_prints=True)
def repool(data_dir: str | None = None, db: str | None = None, results_dir: str | None = None,
           pins: dict[str, str] | None = None, gx_checkpoint: bool = True, alpha: float | None = None,
           conventions: str | None = None) -> dict:
    """Pool the newest valid delivery of every study and publish a result version."""
    settings = Settings.from_env().with_overrides(
        data_dir=Path(data_dir) if data_dir else None, db_path=Path(db) if db else None,
        results_dir=Path(results_dir) if results_dir else None, pinned=pins or None, alpha=alpha,
        conventions=conventions)
    flow_run_id = _flow_run_id()
    lease = connect(settings.db_path)  # held for the whole run: a second process is refused, not interleaved
    try:
        run_id = start_run(settings, flow_run_id)

        def exit_run(status, message, accepted, refused, version=None, pooled_check=None, folder=None):
            summary = create_run_summary(run_id, version, status, message, accepted, refused, pooled_check)
            outcome = finish_run(settings, run_id, status, version, message, accepted, refused,
                                 summary.markdown, folder)
            if status == "failed":
                return Failed(message=message, data=outcome)
            get_run_logger().info(message)
            notes = ([f"{len(refused)} delivery(ies) refused"] if refused else []) + \
                    ([f"{outcome['quarantined']} subject(s) quarantined"] if outcome["quarantined"] else [])
            if notes:
                return Completed(name="Completed with exclusions", message=f"{message}; " + ", ".join(notes), data=outcome)
            return Completed(message=message, data=outcome)

        candidates = discover(settings, run_id, flow_run_id)
        accepted, refused = select_deliveries(settings, run_id, flow_run_id, candidates)
        missing = sorted(set(candidates) - set(accepted))
        if missing:
            return exit_run("failed", f"no valid delivery for {', '.join(missing)}; nothing published",
                            list(accepted.values()), refused)
        results = [accepted[s] for s in sorted(accepted)]
        identity = identify_version(settings, results)
        version = identity["version"]
        if identity["exists"]:
            return exit_run("up-to-date", f"up to date: result version {version} already published for these "
                            "inputs, code and parameters", results, refused, version)

        harmonise_pool(settings, results)
        frames = read_pooled(settings)
        docs_dir = str(settings.results_dir / f".gx-{run_id}") if gx_checkpoint else None
        pooled_check = validate_pool(settings, run_id, flow_run_id, frames, results, docs_dir)
        if pooled_check["contract_failures"]:
            return exit_run("failed", f"pooled datasets break their contract ({len(pooled_check['contract_failures'])}"
                            " failure(s)); nothing published", results, refused, pooled_check=pooled_check)

        ards = [analyse_table.with_options(task_run_name=f"analyse[{table_id}]").submit(
                    table_id, frames, settings.alpha, settings.conventions)
                for table_id in TABLE_IDS]
        km = derive_km_curves.submit(frames, settings.alpha)
        summary = create_run_summary(run_id, version, "published", "", results, refused, pooled_check)
        folder = publish_results.with_options(task_run_name=f"publish[{version}]")(
            settings, run_id, flow_run_id, identity, [f.result() for f in ards], km.result(), results, docs_dir,
            [("Run summary", summary.html)])
        return exit_run("published", f"published result version {version}", results, refused, version,
                        pooled_check, folder)
    finally:
        lease.close()
