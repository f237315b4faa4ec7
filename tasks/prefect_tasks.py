"""Thin Prefect wrappers around the plain step functions of `tasks/steps.py`.

Retries only where I/O can fail transiently (reading delivery files); no caching across runs here —
incremental behaviour comes from the load log and content-derived version ids, which survive
Prefect's own storage. Artifacts carry aggregates only, never patient-level rows.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from repool.settings import Settings
from tasks import steps
from tasks.steps import DeliveryResult


@task(name="start-run", cache_policy=NO_CACHE)
def start_run(settings: Settings, flow_run_id: str | None) -> str:
    return steps.start_run(settings, flow_run_id)


@task(name="discover", cache_policy=NO_CACHE)
def discover(settings: Settings) -> dict[str, list[str]]:
    return steps.discover(settings)


@task(name="ingest", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def ingest(settings: Settings, run_id: str, flow_run_id: str | None, delivery_dir: str) -> DeliveryResult:
    return steps.ingest_delivery(settings, run_id, flow_run_id, delivery_dir)


@task(name="validate", cache_policy=NO_CACHE)
def validate(settings: Settings, run_id: str, flow_run_id: str | None, result: DeliveryResult) -> DeliveryResult:
    return steps.validate_delivery(settings, run_id, flow_run_id, result)


@task(name="identify-version", cache_policy=NO_CACHE)
def identify_version(settings: Settings, accepted: list[DeliveryResult]) -> dict:
    return steps.identify_version(settings, steps.compute_lineage(accepted))


@task(name="harmonise", cache_policy=NO_CACHE)
def harmonise(settings: Settings, accepted: list[DeliveryResult]) -> dict[str, int]:
    return steps.harmonise_pool(settings, accepted)


@task(name="read-pooled", cache_policy=NO_CACHE)
def read_pooled(settings: Settings) -> dict[str, pd.DataFrame]:
    return steps.read_pooled(settings)


@task(name="validate-pooled", cache_policy=NO_CACHE)
def validate_pooled(settings: Settings, run_id: str, flow_run_id: str | None, frames: dict,
                    accepted: list[DeliveryResult], docs_dir: str | None) -> dict:
    return steps.validate_pool(settings, run_id, flow_run_id, frames, accepted,
                               Path(docs_dir) if docs_dir else None)


@task(name="analyse", cache_policy=NO_CACHE)
def analyse(table_id: str, frames: dict) -> pd.DataFrame:
    ard = steps.analyse_table(table_id, frames)
    from tasks.display import create_display_table

    display = create_display_table(ard, table_id).astype(str)
    create_table_artifact(key=f"repool-{table_id}", table=display.reset_index().to_dict(orient="records"),
                          description=f"{table_id}: aggregate results (ARD rendered)")
    return ard


@task(name="km-curves", cache_policy=NO_CACHE)
def km_curves(frames: dict) -> pd.DataFrame:
    return steps.compute_km_curves(frames)


@task(name="publish", cache_policy=NO_CACHE)
def publish(settings: Settings, run_id: str, flow_run_id: str | None, identity: dict, ards: list,
            km: pd.DataFrame, accepted: list[DeliveryResult], docs_dir: str | None,
            extra_sections: list | None = None) -> str:
    folder = steps.publish_results(settings, run_id, flow_run_id, identity, ards, km, accepted,
                                   Path(docs_dir) if docs_dir else None, extra_sections)
    create_link_artifact(key="repool-report", link=(folder / "report.html").resolve().as_uri(),
                         link_text=f"Report of result version {identity['version']}")
    if (folder / "data_docs" / "index.html").exists():
        create_link_artifact(key="repool-data-docs", link=(folder / "data_docs" / "index.html").resolve().as_uri(),
                             link_text=f"great-expectations Data Docs of {identity['version']} (offline)")
    return str(folder)


@task(name="finish-run", cache_policy=NO_CACHE)
def finish_run(settings: Settings, run_id: str, status: str, version: str | None, message: str) -> None:
    steps.finish_run(settings, run_id, status, version, message)


@task(name="summarise", cache_policy=NO_CACHE)
def summarise(markdown: str) -> None:
    create_markdown_artifact(key="repool-run-summary", markdown=markdown, description="What this run pooled and why")
