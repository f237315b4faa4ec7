"""DuckDB access: connection, the persistent schemas (audit, results), and SQL model rendering.

SQL models under `sql/` are templates with a few dbt-like tags, rendered by `render_sql`:
`{{ source('file') }}` the raw table of a delivered file, `{{ ref('file') }}` a staging model of the
same study, `{{ this_int('adrs') }}` the study's intermediate model, `{{ union('adsl') }}` all
studies' intermediate models, and plain `{{ name }}` variables (study, days_per_month, ...).
"""
from __future__ import annotations

import os
import re
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb

DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SCHEMA IF NOT EXISTS results;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS pooled;
CREATE SCHEMA IF NOT EXISTS work;
CREATE TABLE IF NOT EXISTS audit.runs (
    run_id VARCHAR PRIMARY KEY, flow_run_id VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
    status VARCHAR, result_version VARCHAR, message VARCHAR, parameters VARCHAR);
CREATE TABLE IF NOT EXISTS audit.load_log (
    run_id VARCHAR, study VARCHAR, delivery_id VARCHAR, file VARCHAR, sha256 VARCHAR,
    rows BIGINT, raw_table VARCHAR, loaded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS audit.validation_failures (
    run_id VARCHAR, flow_run_id VARCHAR, study VARCHAR, delivery_id VARCHAR, file VARCHAR,
    file_sha256 VARCHAR, row BIGINT, "column" VARCHAR, "check" VARCHAR, reason VARCHAR,
    value VARCHAR, subject VARCHAR, severity VARCHAR, action VARCHAR, message VARCHAR,
    recorded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS audit.quarantine (
    run_id VARCHAR, study VARCHAR, delivery_id VARCHAR, subject VARCHAR, reason VARCHAR,
    file VARCHAR, row BIGINT, recorded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS audit.deliveries (
    run_id VARCHAR, study VARCHAR, delivery_id VARCHAR, status VARCHAR, message VARCHAR,
    recorded_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS results.versions (
    result_version VARCHAR PRIMARY KEY, created_at TIMESTAMP, status VARCHAR, code_version VARCHAR,
    parameters VARCHAR, input_hash VARCHAR, run_id VARCHAR, flow_run_id VARCHAR, report_path VARCHAR);
CREATE TABLE IF NOT EXISTS results.lineage (
    result_version VARCHAR, study VARCHAR, delivery_id VARCHAR, file VARCHAR, sha256 VARCHAR, rows BIGINT);
CREATE TABLE IF NOT EXISTS results.ard (
    result_version VARCHAR, table_id VARCHAR, group1 VARCHAR, group1_level VARCHAR,
    group2 VARCHAR, group2_level VARCHAR, variable VARCHAR, variable_level VARCHAR,
    stat_name VARCHAR, stat DOUBLE);
CREATE TABLE IF NOT EXISTS results.km_curves (
    result_version VARCHAR, variable VARCHAR, group1_level VARCHAR, group2_level VARCHAR,
    time DOUBLE, surv DOUBLE, surv_lcl DOUBLE, surv_ucl DOUBLE, n_risk BIGINT, n_event BIGINT,
    n_censor BIGINT);
CREATE TABLE IF NOT EXISTS results.exclusions (
    result_version VARCHAR, study VARCHAR, delivery_id VARCHAR, subject VARCHAR, reason VARCHAR,
    file VARCHAR, row BIGINT);
"""


class DatabaseBusy(RuntimeError):
    """Another process holds the DuckDB file (DuckDB allows one writer and no readers beside it)."""


class DatabaseMissing(FileNotFoundError):
    """A reader asked for a database that does not exist yet."""


READ_WAIT_ENV = "REPOOL_READ_WAIT_SECONDS"
DEFAULT_READ_WAIT = 120.0
# DuckDB's memory for the run (pooling a million patients, the pooled contract, GX): beyond it, joins,
# aggregates and sorts spill to `<database>.tmp/` instead of growing. DuckDB's own default is 80% of
# the machine's memory (issue 10: a 1M run's peak was 4.1 GiB with it). A DuckDB size ("1GB", "4GiB").
MEMORY_LIMIT_ENV = "REPOOL_DUCKDB_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "1GB"
READ_RETRY_SECONDS = 0.5


def _is_lock_error(exc: duckdb.IOException) -> bool:
    return "lock" in str(exc).lower()


def _read_wait_seconds() -> float:
    raw = os.environ.get(READ_WAIT_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_READ_WAIT
    except ValueError:
        return DEFAULT_READ_WAIT


def memory_limit() -> str:
    """REPOOL_DUCKDB_MEMORY_LIMIT, else DEFAULT_MEMORY_LIMIT."""
    return os.environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT


def _holder(exc: Exception) -> str:
    m = re.search(r"\(PID (\d+)\)", str(exc))
    return f" (PID {m.group(1)})" if m else ""


def connect(db_path: Path, read_only: bool = False, wait: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the run's database; a lock held by another process becomes a clear DatabaseBusy.

    A writer (`read_only=False`) fails at once: a second `repool run` is refused, never queued.
    A reader waits for the writer (a running `repool run` holds the file for its whole run): it says
    so once on stderr, retries every 0.5 s, and gives up after `wait` seconds (default
    REPOOL_READ_WAIT_SECONDS, else 120) with DatabaseBusy.
    """
    db_path = Path(db_path)
    if read_only and not db_path.exists():
        raise DatabaseMissing(f"no repool database at {db_path}; run `repool run` first")
    if not read_only:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db_path), read_only=read_only)
    except duckdb.IOException as exc:
        if not _is_lock_error(exc):
            raise
        if not read_only:
            raise DatabaseBusy(
                f"{db_path} is in use by another process (another repool run?): {exc}. "
                "Wait for it to finish and try again."
            ) from exc
        first = exc
    else:
        if not read_only:  # a setting of the database instance, shared by the run's connections
            try:
                con.execute("SET memory_limit = ?", [memory_limit()])
            except duckdb.Error as exc:
                con.close()
                raise ValueError(f"{MEMORY_LIMIT_ENV}={memory_limit()!r} is not a DuckDB memory size: {exc}") from exc
        return con
    wait = _read_wait_seconds() if wait is None else max(0.0, wait)

    def busy(held: str) -> DatabaseBusy:
        return DatabaseBusy(f"{db_path} is {held} (a running repool run?); "
                            f"try again when it has finished, or set {READ_WAIT_ENV}")

    if wait <= 0:
        raise busy(f"held by another process{_holder(first)}") from first
    print(f"repool: waiting for the running repool run to release {db_path} …", file=sys.stderr, flush=True)
    deadline = time.monotonic() + wait
    while True:
        time.sleep(max(0.0, min(READ_RETRY_SECONDS, deadline - time.monotonic())))
        try:
            return duckdb.connect(str(db_path), read_only=True)
        except duckdb.IOException as exc:
            if not _is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise busy(f"still held by another process{_holder(exc)} after {wait:g} s") from first


def release_buffers(con: duckdb.DuckDBPyConnection) -> None:
    """Give back the memory DuckDB's buffer manager keeps for blocks it has read: a run that holds the
    database keeps them up to the memory limit, though the steps after pooling (the analyses, in
    pandas) never read them again. Lowering the limit evicts them (DuckDB's own advice); the limit is
    then put back. Best effort: when DuckDB cannot evict enough (memory it may not drop, such as an
    in-memory table's), it refuses the lower limit and the run goes on with what it holds."""
    try:
        con.execute("SET memory_limit = '16MB'")
    except duckdb.OutOfMemoryException:
        pass
    finally:
        con.execute("SET memory_limit = ?", [memory_limit()])


MIGRATIONS = """
ALTER TABLE audit.validation_failures ADD COLUMN IF NOT EXISTS validated_in_run VARCHAR;
ALTER TABLE audit.deliveries ADD COLUMN IF NOT EXISTS validated_in_run VARCHAR;
ALTER TABLE audit.deliveries ADD COLUMN IF NOT EXISTS cache_key VARCHAR;
"""


def create_schemas(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> None:
    con.execute(DDL)
    con.execute(MIGRATIONS)  # columns added since the first release; older databases gain them
    con.execute((sql_dir / "macros.sql").read_text(encoding="utf-8"))


UNIT_THREADS = 2


def connect_unit(sql_dir: Path) -> duckdb.DuckDBPyConnection:
    """A private in-memory database for one delivery's unit (ingest -> validate -> stage -> model):
    workers never open the run database, which only the coordinator writes."""
    con = duckdb.connect(":memory:", config={"threads": UNIT_THREADS})
    con.execute("CREATE SCHEMA IF NOT EXISTS staging; CREATE SCHEMA IF NOT EXISTS work;")
    con.execute((sql_dir / "macros.sql").read_text(encoding="utf-8"))
    return con


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def study_slug(study: str) -> str:
    """A SQL-identifier-safe name for a study id ('MT103-211' -> 'mt103_211')."""
    return re.sub(r"[^a-z0-9]+", "_", study.lower()).strip("_")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_TAG = re.compile(r"\{\{\s*(\w+)(?:\(\s*'([^']*)'\s*\))?\s*\}\}")


def render_sql(template: str, variables: dict, functions: dict[str, Callable[[str], str]]) -> str:
    """Render the `{{ ... }}` tags of a SQL model; an unknown tag is an error, never left in.

    Variables are numbers only (settings such as days_per_month): a text value, which could come from
    a delivery, must reach SQL as a bound parameter or variable, never pasted into the SQL text.
    Functions return identifiers the code built itself (table names from checked study slugs).
    """
    for name, value in variables.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"SQL template variable {name} must be a number, not {type(value).__name__}")

    def replace(m: re.Match) -> str:
        name, arg = m.group(1), m.group(2)
        if arg is not None:
            if name not in functions:
                raise KeyError(f"unknown SQL template function {name}()")
            return functions[name](arg)
        if name not in variables:
            raise KeyError(f"unknown SQL template variable {name}")
        return str(variables[name])

    return _TAG.sub(replace, template)
