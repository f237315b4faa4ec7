"""The per-delivery chain as plain functions (`task.fn`), for tests that need pooled data without Prefect."""
from __future__ import annotations

from repool.settings import Settings
from repool.tasks.ingest import DeliveryResult, discover, ingest_delivery
from repool.tasks.runs import start_run
from repool.tasks.stage import stage_delivery
from repool.tasks.validate.delivery import validate_delivery


def prepare_delivery(settings: Settings, run_id: str, delivery_dir: str) -> DeliveryResult:
    """ingest -> validate -> stage one delivery, as the flow does for one candidate."""
    result = ingest_delivery.fn(settings, run_id, None, str(delivery_dir))
    result = validate_delivery.fn(settings, run_id, None, result)
    return stage_delivery.fn(settings, run_id, None, result)


def prepare_newest(settings: Settings) -> tuple[str, list[DeliveryResult]]:
    """(run id, the newest delivery of every study through the chain), sorted by study."""
    run_id = start_run.fn(settings, None)
    return run_id, [prepare_delivery(settings, run_id, paths[0]) for _, paths in sorted(discover.fn(settings).items())]
