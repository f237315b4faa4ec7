# Flow `watch-deliveries`: scan the data root for deliveries that arrived (or whose manifest changed)
# since the last scan and emit one Prefect event `repool.delivery.arrived` per delivery (resource
# `repool.delivery.<study>.<delivery_id>` with labels study and delivery_id). The `repool/daily`
# deployment has a trigger on that event, so an arrival starts a re-pool. The first scan of a data
# root only records what is there (no events): those deliveries are the daily run's business.
# Orchestration only: the detection rule and the seen-state file live in tasks/watch.py.
from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger
from prefect.events import emit_event

from repool.settings import Settings
from repool.tasks.watch import EVENT, event_resource, find_new_deliveries, load_seen, save_seen


@flow(name="watch-deliveries", log_prints=True)
def watch_deliveries(data_dir: str | None = None) -> list[dict]:
    """Emit `repool.delivery.arrived` for each new or changed delivery; return those announced."""
    log = get_run_logger()
    settings = Settings.from_env().with_overrides(data_dir=Path(data_dir) if data_dir else None)
    seen = load_seen(settings.data_dir)
    new, seen_now = find_new_deliveries(settings.deliveries_dir, seen or {})
    if seen is None:
        save_seen(settings.data_dir, seen_now)
        log.info(f"first scan of {settings.deliveries_dir}: {len(seen_now)} delivery(ies) recorded, no events")
        return []
    for d in new:
        emit_event(event=EVENT, resource=event_resource(d, settings.data_dir),
                   payload={"fingerprint": d["fingerprint"], "path": d["path"]})
        log.info(f"new delivery {d['study']}@{d['delivery_id']}: emitted {EVENT}")
    save_seen(settings.data_dir, seen_now)  # after emitting: a crash re-announces rather than loses
    if not new:
        log.info(f"no new delivery under {settings.deliveries_dir}")
    return [{k: d[k] for k in ("study", "delivery_id", "fingerprint")} for d in new]
