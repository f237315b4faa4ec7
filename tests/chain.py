"""The per-delivery unit as plain functions (`task.fn`), for tests that need pooled data without Prefect."""
from __future__ import annotations

from pathlib import Path

from prefect.states import State

from repool.flows.repool_flow import prepare_delivery as _unit
from repool.settings import Settings
from repool.tasks.ingest import DeliveryResult, discover
from repool.tasks.publish import compute_code_version
from repool.tasks.runs import record_deliveries, start_run


def run_unit(settings: Settings, run_id: str, delivery_dir: str) -> DeliveryResult:
    """One delivery's unit (verify -> cache or ingest -> validate -> stage -> model), unrecorded."""
    out = _unit.fn(settings, run_id, str(delivery_dir), compute_code_version(settings.policy_file))
    return out.data if isinstance(out, State) else out


def prepare_delivery(settings: Settings, run_id: str, delivery_dir: str) -> DeliveryResult:
    """One delivery's unit and its recording by the coordinator, as the flow does for one candidate."""
    return record_deliveries.fn(settings, run_id, None, [run_unit(settings, run_id, delivery_dir)])[0]


def prepare_newest(settings: Settings) -> tuple[str, list[DeliveryResult]]:
    """(run id, the newest delivery of every study through the chain), sorted by study."""
    run_id = start_run.fn(settings, None)
    return run_id, [prepare_delivery(settings, run_id, paths[0]) for _, paths in sorted(discover.fn(settings).items())]


def pool_bundled(tmp: Path) -> tuple[Settings, list[DeliveryResult]]:
    """(settings, accepted): the bundled deliveries pooled into pooled.* of a database under `tmp`."""
    from repool.tasks.harmonise import harmonise_pool
    from tests.paths import DATA_DIR

    settings = Settings(data_dir=DATA_DIR, db_path=tmp / "db.duckdb", results_dir=tmp / "results")
    _, accepted = prepare_newest(settings)
    harmonise_pool.fn(settings, accepted)
    return settings, accepted


def staged_unit(settings: Settings, delivery_dir: str):
    """(unit connection, result): one delivery ingested, validated and staged in a private in-memory
    database, its check facts built, for tests that inspect the unit's tables."""
    from repool.tasks.db import connect_unit
    from repool.tasks.ingest import ingest_delivery, verify_delivery
    from repool.tasks.stage import build_check_facts, build_staging
    from repool.tasks.validate.delivery import validate_delivery

    con = connect_unit(settings.sql_dir)
    result = validate_delivery.fn(settings, con, ingest_delivery.fn(settings, con, verify_delivery(settings, str(delivery_dir))))
    build_staging(con, result.delivery, result.raw_tables, settings.sql_dir)
    build_check_facts(con, result.delivery, settings.sql_dir)
    return con, result
