"""Stage 3, stage one delivery: the staging models (sql/staging/<format>/: rename, cast, decode) into
`staging.stg_<study>__<file>`, then the cross-file checks of `sql/checks/` on the staged columns:
the format's fact models (sql/staging/<format>/facts/) put them into one shape, which every shared
check reads (sql/checks/README.md).

The delivery's outcome (accepted or refused, quarantined subjects) is decided here; the coordinator
records it (only the coordinator writes the run database).
"""
from __future__ import annotations

from pathlib import Path

import duckdb
from prefect import task
from prefect.cache_policies import NO_CACHE

from repool.schemas.audit import failure
from repool.schemas.sources import SOURCE_DATASETS
from repool.settings import Settings
from repool.tasks.db import render_sql, study_slug
from repool.tasks.ingest import Delivery, DeliveryResult
from repool.tasks.validate.policy import decide, load_policy



def staging_table(study: str, file: str) -> str:
    return f"staging.stg_{study_slug(study)}__{Path(file).stem}"


def build_staging(con: duckdb.DuckDBPyConnection, delivery: Delivery, raw_tables: dict[str, str],
                  sql_dir: Path) -> dict[str, str]:
    """Run the format's staging models for one delivery: staging.stg_<study>__<file>."""
    by_stem = {Path(f).stem: t for f, t in raw_tables.items()}
    built = {}
    # the study id is data: it reaches SQL as a bound value (getvariable('repool_study')), never as text
    con.execute("SET VARIABLE repool_study = ?", [delivery.study])
    for file in SOURCE_DATASETS[delivery.format]:
        stem = Path(file).stem
        template = (sql_dir / "staging" / delivery.format / f"{stem}.sql").read_text(encoding="utf-8")
        sql = render_sql(template, {}, {"source": lambda s: by_stem[s]})
        target = staging_table(delivery.study, file)
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}")
        built[stem] = target
    return built


def facts_table(study: str, name: str) -> str:
    return f"staging.facts_{study_slug(study)}__{name}"


def build_check_facts(con: duckdb.DuckDBPyConnection, delivery: Delivery, sql_dir: Path) -> dict[str, str]:
    """Run the format's fact models (sql/staging/<format>/facts/<name>.sql) on the study's staging
    models into staging.facts_<study>__<name>: the one shape every shared check reads."""
    built = {}
    for path in sorted((sql_dir / "staging" / delivery.format / "facts").glob("*.sql")):
        sql = render_sql(path.read_text(encoding="utf-8"), {}, {"ref": lambda s: staging_table(delivery.study, s)})
        target = facts_table(delivery.study, path.stem)
        con.execute(f"CREATE OR REPLACE TABLE {target} AS {sql}")
        built[path.stem] = target
    return built


def check_files(sql_dir: Path, fmt: str) -> list[tuple[Path, bool]]:
    """(check, shared?) in name order: every sql/checks/*.sql (shared by all formats) and the format's
    own sql/checks/format_specific/<format>/*.sql."""
    shared = [(p, True) for p in (sql_dir / "checks").glob("*.sql")]
    own = [(p, False) for p in (sql_dir / "checks" / "format_specific" / fmt).glob("*.sql")]
    return sorted(shared + own, key=lambda c: (c[0].stem, c[0].as_posix()))


def run_cross_checks(con: duckdb.DuckDBPyConnection, delivery: Delivery, sql_dir: Path) -> list[dict]:
    """The cross-file checks on the study's staged columns. A shared check (sql/checks/*.sql) reads
    only the format's facts (`{{ facts('times') }}`); a format-specific one may also read the staging
    models (`{{ ref('adrs') }}`). Nothing from the delivery is rendered into the SQL text: the table
    names derive from the study slug and the code's own file names."""
    facts = build_check_facts(con, delivery, sql_dir)

    def fact(name: str) -> str:
        if name not in facts:
            raise KeyError(f"no fact model {name!r} for format {delivery.format} "
                           f"(sql/staging/{delivery.format}/facts/{name}.sql)")
        return facts[name]

    records: list[dict] = []
    for path, shared in check_files(sql_dir, delivery.format):
        functions = {"facts": fact} if shared else {"facts": fact, "ref": lambda s: staging_table(delivery.study, s)}
        sql = render_sql(path.read_text(encoding="utf-8"), {}, functions)
        for file, row, column, reason, value, subject in con.execute(sql).fetchall():
            records.append(failure(delivery.study, delivery.delivery_id, reason,
                                   f"{file} row {row} column {column}: {reason} ({value})",
                                   file=file, sha256=delivery.files.get(file, {}).get("sha256"),
                                   row=row, column=column, value=value, subject=subject, check=path.stem))
    return records


def write_staged(con: duckdb.DuckDBPyConnection, delivery: Delivery, workspace: Path) -> dict[str, str]:
    """The staged files as Parquet in the unit's workspace (staging/<stem>.parquet): the pooled
    contract's failures are traced back to their source rows through them."""
    out = Path(workspace) / "staging"
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for file in SOURCE_DATASETS[delivery.format]:
        stem = Path(file).stem
        con.table(staging_table(delivery.study, file)).write_parquet(str(out / f"{stem}.parquet"))
        written[stem] = f"staging/{stem}.parquet"
    return written


@task(name="stage", cache_policy=NO_CACHE)
def stage_delivery(settings: Settings, con: duckdb.DuckDBPyConnection, result: DeliveryResult,
                   workspace: str) -> DeliveryResult:
    """Staging models and cross-file checks for a delivery that passed its source contracts, in the
    unit's connection; the staged files go to the unit's workspace. The outcome (accepted, or refused
    naming the first refusing failure) is decided here and recorded by the coordinator."""
    if result.ingested and not result.rejected:
        build_staging(con, result.delivery, result.raw_tables, settings.sql_dir)
        found = decide(run_cross_checks(con, result.delivery, settings.sql_dir), load_policy(settings.policy_file))
        result.failures = result.failures + found
        result.accepted = not result.rejected
        result.message = result.summary()
        if result.accepted:
            write_staged(con, result.delivery, Path(workspace))
    return result
