"""Stage 4, harmonise: the intermediate models per study (sql/pooled/int/<format>/) and the pooled marts
(sql/pooled/*.sql) that union every accepted study: pooled.adsl, pooled.adrs, pooled.adtte, pooled.adae.
"""
from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from repool.settings import Settings
from repool.tasks.db import connect, render_sql, study_slug
from repool.tasks.ingest import Delivery, DeliveryResult
from repool.tasks.stage import staging_table

POOLED_ORDER = ("adsl", "adrs", "adtte", "adae")  # adsl first: the others keep only its subjects
INT_ORDER = ("adrs", "adsl", "adtte", "adae")  # the legacy adtte model reads the study's int_adrs


def int_table(dataset: str, study: str) -> str:
    return f"work.int_{dataset}__{study_slug(study)}"


def create_quarantine_table(con: duckdb.DuckDBPyConnection, quarantined: list[tuple[str, str]]) -> None:
    """work.quarantine: the (STUDYID, USUBJID) set aside in this run."""
    con.execute("CREATE OR REPLACE TABLE work.quarantine (STUDYID VARCHAR, USUBJID VARCHAR)")
    if quarantined:
        con.executemany("INSERT INTO work.quarantine VALUES (?, ?)", [list(q) for q in sorted(set(quarantined))])


def build_intermediate(con: duckdb.DuckDBPyConnection, delivery: Delivery, sql_dir: Path, variables: dict) -> None:
    """One study's int_<dataset> models from its staging models."""
    for dataset in INT_ORDER:
        template = (sql_dir / "pooled" / "int" / delivery.format / f"{dataset}.sql").read_text(encoding="utf-8")
        sql = render_sql(template, variables, {
            "ref": lambda f: staging_table(delivery.study, f),
            "this_int": lambda d: int_table(d, delivery.study),
        })
        con.execute(f"CREATE OR REPLACE TABLE {int_table(dataset, delivery.study)} AS {sql}")


def build_pooled(con: duckdb.DuckDBPyConnection, deliveries: list[Delivery], quarantined: list[tuple[str, str]],
                 sql_dir: Path, variables: dict) -> dict[str, int]:
    """Build pooled.* from the accepted deliveries (their staging models must exist); returns row counts."""
    if not deliveries:
        raise ValueError("nothing to pool: no accepted delivery")
    create_quarantine_table(con, quarantined)
    for d in deliveries:
        build_intermediate(con, d, sql_dir, variables)
    studies = sorted(d.study for d in deliveries)

    def union(dataset: str) -> str:
        return "(" + " UNION ALL BY NAME ".join(f"SELECT * FROM {int_table(dataset, s)}" for s in studies) + ")"

    counts = {}
    for dataset in POOLED_ORDER:
        template = (sql_dir / "pooled" / f"{dataset}.sql").read_text(encoding="utf-8")
        sql = render_sql(template, variables, {"union": union})
        con.execute(f"CREATE OR REPLACE TABLE pooled.{dataset} AS {sql}")
        counts[dataset] = con.execute(f"SELECT count(*) FROM pooled.{dataset}").fetchall()[0][0]
    return counts


def read_pooled_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The small pooled frames the statistics need (one query per dataset)."""
    return {d: con.sql(f"SELECT * FROM pooled.{d}").df() for d in POOLED_ORDER}


@task(name="harmonise", cache_policy=NO_CACHE)
def harmonise_pool(settings: Settings, accepted: list[DeliveryResult]) -> dict[str, int]:
    """pooled.* from the accepted deliveries, their quarantined subjects set aside; row counts."""
    quarantined = [(q["study"], q["subject"]) for r in accepted for q in r.quarantined]
    variables = {"days_per_month": float(settings.days_per_month),
                 "teae_window_days": int(settings.teae_window_days)}
    with connect(settings.db_path) as con:
        return build_pooled(con, [r.delivery for r in accepted], quarantined, settings.sql_dir, variables)


@task(name="read-pooled", cache_policy=NO_CACHE)
def read_pooled(settings: Settings) -> dict[str, pd.DataFrame]:
    with connect(settings.db_path) as con:
        return read_pooled_frames(con)
