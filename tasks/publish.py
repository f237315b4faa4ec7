"""Stage 6, publish: content-derived version ids, one DuckDB transaction for results.*, and the version folder.

The version id is a hash over the inputs (every pooled file's sha256), the code that can change a
number (`CODE_VERSION_SOURCES`: the stages, statistics, SQL, schemas, and the policy file) and the
analysis parameters; renderers, the watcher, flows and deployments are left out: the same inputs, code and
parameters give the same id, and a version that exists is never written again. The folder is built
under a temporary name and renamed into place only after the database commit, so a crash leaves
either no version or a whole one; a folder missing after a crash is rebuilt from the stored ARD.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import duckdb

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from repool.resources import package_dir
from repool.schemas.sources import SOURCE_DATASETS
from repool.schemas.ard import ARD_COLUMNS, KM_CURVE_COLUMNS, SOURCE_COLUMNS, SUBJECT_COLUMNS
from repool.settings import Settings
from repool.tasks import in_prefect_run
from repool.tasks.audit import utc_now
from repool.tasks.db import connect, transaction
from repool.tasks.ingest import DeliveryResult

if TYPE_CHECKING:  # annotations only: pandas is imported by the functions that use it
    import pandas as pd

# What can change a number, as (package, files or folders inside it). Not here, on purpose: the
# renderers (tasks/render), the watcher, flows, deployments and the CLI: editing them never makes
# a new version of identical numbers.
CODE_VERSION_SOURCES = (
    ("repool.tasks", ("db.py", "audit.py", "ingest.py", "validate", "stage.py", "harmonise.py", "analyse",
                      "publish.py")),
    ("repool.schemas", (".",)),
    ("repool.sql", (".",)),
)
CODE_SUFFIXES = (".py", ".sql", ".json", ".toml")
# Inside those, what only describes an export format (the CDISC ARS JSON Schema the tests validate
# ars.json against): it changes no number.
CODE_VERSION_EXCLUDED = ("schemas/ars/",)


def list_code_version_files() -> list[tuple[str, Path]]:
    """(name inside the package, path) of every file the code version covers, sorted by name."""
    out = {}
    for package, entries in CODE_VERSION_SOURCES:
        root = package_dir(package)
        prefix = package.removeprefix("repool.").replace(".", "/")
        for entry in entries:
            base = root / entry
            paths = [base] if base.is_file() else base.rglob("*")
            for p in paths:
                name = f"{prefix}/{p.relative_to(root).as_posix()}"
                if (p.is_file() and p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts
                        and not name.startswith(CODE_VERSION_EXCLUDED)):
                    out[name] = p
    return sorted(out.items())


def compute_code_version(policy_file: Path) -> str:
    """sha256 over the code that can change a number (name + bytes, sorted) and the policy file.

    Names are taken inside the package, so a checkout and an installed wheel give the same value.
    """
    h = hashlib.sha256()
    for name, p in list_code_version_files():
        h.update(name.encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(b"policy\0" + Path(policy_file).read_bytes())
    return h.hexdigest()


class CodeMismatch(RuntimeError):
    """A worker runs other repool code (or another policy file) than the coordinator."""


def assert_same_code(settings: Settings, code_version: str) -> None:
    """Refuse to build a unit with code other than the coordinator's: its cache key and its outputs
    would disagree (a Dask worker with a stale install)."""
    mine = compute_code_version(settings.policy_file)
    if mine != code_version:
        raise CodeMismatch(f"this worker's repool code version {mine[:12]} differs from the coordinator's "
                           f"{code_version[:12]}: install the same repool (and policy file) on every worker")


def stores_drill_down(settings: Settings, pooled_subjects: int) -> bool:
    """Whether this version stores the subjects behind every number (membership, sources, listings):
    up to `Settings.drill_down_max_subjects` pooled subjects (REPOOL_DRILL_DOWN_MAX_SUBJECTS)."""
    return int(pooled_subjects) <= int(settings.drill_down_max_subjects)


def compute_version_id(lineage: list[dict], code_version: str, parameters: dict) -> tuple[str, str]:
    """(version id, input hash). Lineage rows: study, delivery_id, file, sha256, rows."""
    inputs = sorted((r["study"], r["delivery_id"], r["file"], r["sha256"]) for r in lineage)
    input_hash = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()
    payload = json.dumps({"inputs": input_hash, "code": code_version, "parameters": parameters}, sort_keys=True)
    return "v" + hashlib.sha256(payload.encode()).hexdigest()[:12], input_hash


def version_exists(con: duckdb.DuckDBPyConnection, version: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM results.versions WHERE result_version = ?", [version]).fetchall()[0][0])


def create_version_ard(ard: pd.DataFrame, version: str) -> pd.DataFrame:
    """The ARD as persisted: result_version first, rows in a fixed order."""
    from repool.tasks.analyse.ard import assert_ard  # pandas: with the function
    assert_ard(ard[ARD_COLUMNS])
    out = ard[ARD_COLUMNS].copy()
    out.insert(0, "result_version", version)
    return out.reset_index(drop=True)


def write_exports(folder: Path, ard: pd.DataFrame, km: pd.DataFrame, lineage: list[dict], meta: dict,
                  subjects: pd.DataFrame | None = None, sources: pd.DataFrame | None = None) -> None:
    """ard.parquet, ard.csv, km.parquet, lineage.json — byte-reproducible for the same content — and,
    when given, the drill-down: subjects.parquet (per ARD row the subjects and pooled records behind
    it), sources.parquet (per pooled record its delivered rows) and the trace/ listings."""
    folder.mkdir(parents=True, exist_ok=True)
    if subjects is not None and sources is not None:
        from repool.tasks.render.trace import write_trace_listings

        subjects.to_parquet(folder / "subjects.parquet", index=False)
        sources.to_parquet(folder / "sources.parquet", index=False)
        write_trace_listings(folder, ard, subjects, sources)
    ard.to_parquet(folder / "ard.parquet", index=False)
    ard.to_csv(folder / "ard.csv", index=False, lineterminator="\n")
    km.to_parquet(folder / "km.parquet", index=False)
    doc = {"result_version": meta["result_version"], "code_version": meta["code_version"],
           "parameters": meta["parameters"], "input_hash": meta["input_hash"],
           "confidence_level": round(1 - float(meta["parameters"].get("alpha", 0.05)), 10),
           "deliveries": meta["deliveries"], "exclusions": meta.get("exclusions", [])}
    (folder / "lineage.json").write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------
# Drill-down stored with a version (issue 11, part 3): membership and the pooled records' sources
# ------------------------------------------------------------------------------------------------

TRACE_DDL = """
CREATE TABLE IF NOT EXISTS results.subjects (
    result_version VARCHAR, table_id VARCHAR, group1 VARCHAR, group1_level VARCHAR, group2 VARCHAR,
    group2_level VARCHAR, variable VARCHAR, variable_level VARCHAR, stat_name VARCHAR, role VARCHAR,
    STUDYID VARCHAR, USUBJID VARCHAR, dataset VARCHAR, record VARCHAR);
CREATE TABLE IF NOT EXISTS results.sources (
    result_version VARCHAR, dataset VARCHAR, STUDYID VARCHAR, USUBJID VARCHAR, record VARCHAR,
    SRCDLV VARCHAR, SRCFILE VARCHAR, SRCSHA VARCHAR, SRCROW BIGINT, "primary" BOOLEAN);
"""
# pooled dataset -> the SQL naming a record within a subject (schemas/ard.py: dataset/record)
POOLED_RECORD = {"adsl": "''", "adrs": "PARAMCD", "adtte": "PARAMCD", "adae": "CAST(AESEQ AS VARCHAR)"}


def ensure_trace_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(TRACE_DDL)


def read_pooled_sources(con: duckdb.DuckDBPyConnection, lineage: list[dict]) -> pd.DataFrame:
    """Every pooled record's delivered rows (SOURCE_COLUMNS), from the pooled marts' source columns:
    SRCROWS exploded to one row per delivered row, its file's sha256 taken from the lineage the pooled
    marts were joined with (work.source_files, by study and file; else the version's lineage), `primary`
    the record's own row (SRCFILE, SRCROW)."""
    import pandas as pd
    sha = {(r["study"], r["file"]): r["sha256"] for r in lineage}
    if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'work' "
                   "AND table_name = 'source_files'").fetchall()[0][0]:
        sha |= {(s, f): h for s, f, h in con.execute("SELECT STUDYID, SRCFILE, SRCSHA FROM work.source_files").fetchall()}
    parts = []
    for dataset, record in POOLED_RECORD.items():
        parts.append(con.execute(
            f"SELECT ? AS dataset, STUDYID, USUBJID, {record} AS record, SRCDLV, SRCFILE AS primary_file, "
            f"SRCROW AS primary_row, unnest(string_split(SRCROWS, '; ')) AS src FROM pooled.{dataset}",
            [dataset]).df())
    df = pd.concat(parts, ignore_index=True)
    file_row = df["src"].str.rsplit(":", n=1, expand=True)
    df["SRCFILE"] = file_row[0]
    df["SRCROW"] = pd.to_numeric(file_row[1]).astype("int64")
    df["SRCSHA"] = [sha.get((s, f)) for s, f in zip(df["STUDYID"], df["SRCFILE"])]
    df["primary"] = (df["SRCFILE"] == df["primary_file"]) & (df["SRCROW"] == df["primary_row"])
    df = df[SOURCE_COLUMNS].drop_duplicates(["dataset", "STUDYID", "USUBJID", "record", "SRCFILE", "SRCROW"])
    return df.sort_values(["dataset", "STUDYID", "USUBJID", "record", "SRCFILE", "SRCROW"],
                          kind="mergesort").reset_index(drop=True)


def create_version_subjects(subjects: pd.DataFrame, version: str) -> pd.DataFrame:
    out = subjects[SUBJECT_COLUMNS].copy().reset_index(drop=True)
    out.insert(0, "result_version", version)
    return out


def create_version_sources(sources: pd.DataFrame, version: str) -> pd.DataFrame:
    out = sources[SOURCE_COLUMNS].copy().reset_index(drop=True)
    out["SRCROW"] = out["SRCROW"].astype("int64")
    out["primary"] = out["primary"].astype(bool)
    out.insert(0, "result_version", version)
    return out


def split_memberships(results: list) -> tuple[list[pd.DataFrame], pd.DataFrame | None]:
    """The analyse tasks' results -> (ARD frames, their membership concatenated, or None when no
    table gave one): a result is an ARD frame or (ARD, membership)."""
    import pandas as pd
    ards, subjects = [], []
    for r in results:
        ard, sub = r if isinstance(r, tuple) else (r, None)
        ards.append(ard)
        if sub is not None:
            subjects.append(sub)
    return ards, (pd.concat(subjects, ignore_index=True) if subjects else None)


def read_version_subjects(con: duckdb.DuckDBPyConnection, version: str) -> pd.DataFrame | None:
    """A version's membership (SUBJECT_COLUMNS), or None for a version published without it."""
    if not _has_table(con, "subjects"):
        return None
    df = con.execute("SELECT * EXCLUDE (result_version) FROM results.subjects WHERE result_version = ? ORDER BY rowid",
                     [version]).df()
    return df if len(df) else None


def read_version_sources(con: duckdb.DuckDBPyConnection, version: str) -> pd.DataFrame | None:
    """A version's stored sources of its pooled records (SOURCE_COLUMNS), or None."""
    if not _has_table(con, "sources"):
        return None
    df = con.execute("SELECT * EXCLUDE (result_version) FROM results.sources WHERE result_version = ? ORDER BY rowid",
                     [version]).df()
    return df if len(df) else None


def _has_table(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'results' "
                            "AND table_name = ?", [table]).fetchall()[0][0])


def group_lineage(lineage: list[dict]) -> list[dict]:
    """Flat lineage rows -> one entry per study delivery with its files."""
    out: dict[tuple, dict] = {}
    for r in sorted(lineage, key=lambda r: (r["study"], r["file"])):
        d = out.setdefault((r["study"], r["delivery_id"]), {"study": r["study"], "delivery_id": r["delivery_id"], "files": []})
        d["files"].append({"file": r["file"], "sha256": r["sha256"], "rows": r["rows"]})
    return list(out.values())


def publish_version(con: duckdb.DuckDBPyConnection, *, version: str, ard: pd.DataFrame, km: pd.DataFrame,
                    lineage: list[dict], exclusions: list[dict], meta: dict, results_dir: Path,
                    render: Callable[[pd.DataFrame, pd.DataFrame, dict, Path], Path],
                    extra_files: dict[str, Path] | None = None, subjects: pd.DataFrame | None = None,
                    sources: pd.DataFrame | None = None) -> Path:
    """Write the version: folder under a temporary name, one transaction, then rename into place.

    Refuses to touch a version that exists. Returns the version folder.
    """
    results_dir = Path(results_dir)
    final = results_dir / version
    if version_exists(con, version) or final.exists():
        raise FileExistsError(f"result version {version} is already published; it is never overwritten")
    tmp = results_dir / f".tmp-{version}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        ard_v = create_version_ard(ard, version)
        km_v = km[KM_CURVE_COLUMNS].copy()
        subjects_v = None if subjects is None else create_version_subjects(subjects, version)
        sources_v = None if sources is None else create_version_sources(sources, version)
        write_exports(tmp, ard_v, km_v, lineage, meta, subjects_v, sources_v)
        for name, src in (extra_files or {}).items():
            if Path(src).exists():
                shutil.copytree(src, tmp / name) if Path(src).is_dir() else shutil.copy2(src, tmp / name)
        render(ard_v, km_v, meta, tmp)
        _insert_version_rows(con, version, ard_v, km_v, lineage, exclusions, meta, str(final / "report.html"),
                             subjects_v, sources_v)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _insert_version_rows(con, version, ard_v, km_v, lineage, exclusions, meta, report_path,
                         subjects_v=None, sources_v=None) -> None:
    import pandas as pd
    lineage_df = pd.DataFrame([{"result_version": version, **{k: r[k] for k in ("study", "delivery_id", "file", "sha256", "rows")}}
                               for r in lineage])
    excl_df = pd.DataFrame([{"result_version": version, **e} for e in exclusions],
                           columns=["result_version", "study", "delivery_id", "subject", "reason", "file", "row"])
    excl_df["row"] = pd.array(excl_df["row"], dtype="Int64")
    km_df = km_v.copy()
    km_df.insert(0, "result_version", version)
    with transaction(con):
        con.execute(
            "INSERT INTO results.versions VALUES (?, ?, 'published', ?, ?, ?, ?, ?, ?)",
            [version, datetime.fromisoformat(meta["created"].rstrip("Z")), meta["code_version"],
             json.dumps(meta["parameters"], sort_keys=True), meta["input_hash"], meta.get("run_id"),
             meta.get("flow_run_id"), report_path])
        ensure_trace_tables(con)
        for table, frame in (("results.lineage", lineage_df), ("results.ard", ard_v),
                             ("results.km_curves", km_df), ("results.exclusions", excl_df),
                             ("results.subjects", subjects_v), ("results.sources", sources_v)):
            if frame is None:
                continue
            if len(frame):
                con.register("_publish_frame", frame)
                try:
                    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _publish_frame")
                finally:
                    con.unregister("_publish_frame")


def read_version_ard(con: duckdb.DuckDBPyConnection, version: str) -> pd.DataFrame:
    return con.execute("SELECT * FROM results.ard WHERE result_version = ? ORDER BY rowid", [version]).df()


def read_version_lineage(con: duckdb.DuckDBPyConnection, version: str) -> pd.DataFrame:
    """A version's lineage rows: study, delivery_id, file, sha256, rows."""
    return con.execute("SELECT study, delivery_id, file, sha256, rows FROM results.lineage WHERE result_version = ? "
                       "ORDER BY study, file", [version]).df()


def read_version_parameters(con: duckdb.DuckDBPyConnection, version: str) -> dict:
    """The analysis parameters a version was computed with (alpha, TEAE window, ...)."""
    rows = con.execute("SELECT parameters FROM results.versions WHERE result_version = ?", [version]).fetchall()
    return json.loads(rows[0][0]) if rows and rows[0][0] else {}


def latest_version(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("SELECT result_version FROM results.versions ORDER BY created_at DESC, result_version LIMIT 1").fetchall()
    return rows[0][0] if rows else None


# ------------------------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------------------------


def compute_lineage(accepted: list[DeliveryResult]) -> list[dict]:
    """One row per pooled file (the files of the delivery's format, loaded now or in the cached unit
    reused): study, delivery_id, file, sha256, rows."""
    rows = []
    for r in accepted:
        d = r.delivery
        for file in sorted(SOURCE_DATASETS[d.format]):
            rows.append({"study": d.study, "delivery_id": d.delivery_id, "file": file,
                         "sha256": d.files[file]["sha256"], "rows": d.files[file].get("rows")})
    return rows


@task(name="identify-version", cache_policy=NO_CACHE)
def identify_version(settings: Settings, accepted: list[DeliveryResult]) -> dict:
    """Version id from inputs, code and parameters, and whether it is already published (a missing
    folder of a published version is rebuilt from its stored rows)."""
    code_version = compute_code_version(settings.policy_file)
    version, input_hash = compute_version_id(compute_lineage(accepted), code_version, settings.analysis_parameters())
    with connect(settings.db_path) as con:
        exists = version_exists(con, version)
    if exists and not (settings.results_dir / version).exists():
        rebuild_version_folder(settings, version)
    return {"version": version, "input_hash": input_hash, "code_version": code_version, "exists": exists}


def render_version_report(ard: pd.DataFrame, km: pd.DataFrame, meta: dict, folder: Path) -> Path:
    """report.html of a version, from its ARD (and KM curves) only."""
    from repool.tasks.render.ars import write_ars
    from repool.tasks.render.cards import write_cards_ard
    from repool.tasks.render.report import render_report
    from repool.tasks.render.reproduce import compare_with_publication
    from repool.tasks.render.submission import write_submission_tables

    write_submission_tables(ard, meta, folder)  # tables/<table_id>.rtf and .docx
    write_ars(ard, meta, folder)  # ars.json: CDISC ARS v1.0 ReportingEvent
    write_cards_ard(ard, meta, folder)  # ard_cards.parquet / .csv: the ARD in cards' columns
    return render_report(ard, km, meta, folder, reproduction=compare_with_publication(ard),
                         extra_sections=meta.get("extra_sections"))


def create_table_artifacts(ard: pd.DataFrame, parameters: dict) -> None:
    """One Prefect table artifact per analysis table: aggregates rendered from the ARD, never rows."""
    from repool.tasks.render.display import conventions_of, create_display_table, level_of

    for table_id in ard["table_id"].drop_duplicates():
        display = create_display_table(ard[ard["table_id"] == table_id], table_id, level_of(parameters),
                                       conventions_of(parameters)).astype(str)
        create_table_artifact(key=f"repool-{table_id}", table=display.reset_index().to_dict(orient="records"),
                              description=f"{table_id}: aggregate results (ARD rendered)")


@task(name="publish", cache_policy=NO_CACHE)
def publish_results(settings: Settings, run_id: str, flow_run_id: str | None, identity: dict,
                    ards: list[pd.DataFrame], km: pd.DataFrame, accepted: list[DeliveryResult],
                    docs_dir: str | None, extra_sections: list | None = None) -> str:
    """Write the version (database rows, folder, report) and link it from the Prefect UI."""
    import pandas as pd
    from repool.tasks.render.diff import compute_version_diff_html

    lineage = compute_lineage(accepted)
    exclusions = [q for r in accepted for q in r.quarantined]
    ards, subjects = split_memberships(ards)
    ard = pd.concat(ards, ignore_index=True)
    meta = {"result_version": identity["version"], "created": utc_now().isoformat(timespec="seconds") + "Z",
            "code_version": identity["code_version"], "input_hash": identity["input_hash"],
            "parameters": settings.analysis_parameters(), "deliveries": group_lineage(lineage),
            "exclusions": exclusions, "run_id": run_id, "flow_run_id": flow_run_id,
            "extra_sections": list(extra_sections or [])}
    extra = {"data_docs": Path(docs_dir)} if docs_dir is not None else None
    with connect(settings.db_path) as con:
        previous = latest_version(con)
        meta["extra_sections"].append((f"Changes since {previous}" if previous else "Changes",
                                       compute_version_diff_html(con, previous, ard, lineage, identity["version"])))
        sources = read_pooled_sources(con, lineage) if subjects is not None else None
        folder = publish_version(con, version=identity["version"], ard=ard, km=km, lineage=lineage,
                                 exclusions=exclusions, meta=meta, results_dir=settings.results_dir,
                                 render=render_version_report, extra_files=extra, subjects=subjects,
                                 sources=sources)
    if docs_dir is not None:
        shutil.rmtree(docs_dir, ignore_errors=True)
    if not in_prefect_run():
        return str(folder)
    create_table_artifacts(ard, meta["parameters"])
    from repool.tasks.render.results_http import artifact_for  # a link where HTTP serves the folder, else a note

    for key, path, text in (("repool-report", folder / "report.html", f"Report of result version {identity['version']}"),
                            ("repool-data-docs", folder / "data_docs" / "index.html",
                             f"great-expectations Data Docs of {identity['version']} (offline)")):
        if path.exists():
            kind, content = artifact_for(settings.results_url, settings.results_dir, path, text)
            if kind == "link":
                create_link_artifact(key=key, link=content, link_text=text, description=text)
            else:
                create_markdown_artifact(key=key, markdown=content, description=text)
    return str(folder)


def rebuild_version_folder(settings: Settings, version: str) -> Path:
    """Re-create a published version's folder from the stored rows (after a crash between commit and rename)."""
    with connect(settings.db_path) as con:
        ard = read_version_ard(con, version)
        km = con.execute("SELECT * EXCLUDE (result_version) FROM results.km_curves WHERE result_version = ? ORDER BY rowid",
                         [version]).df()
        v = con.execute("SELECT code_version, parameters, input_hash, run_id, flow_run_id, created_at FROM results.versions "
                        "WHERE result_version = ?", [version]).fetchall()[0]
        lineage = read_version_lineage(con, version).to_dict("records")
        exclusions = con.execute("SELECT study, delivery_id, subject, reason, file, row FROM results.exclusions "
                                 "WHERE result_version = ?", [version]).df().to_dict("records")
        subjects, sources = read_version_subjects(con, version), read_version_sources(con, version)
    meta = {"result_version": version, "created": v[5].isoformat(timespec="seconds") + "Z", "code_version": v[0],
            "parameters": json.loads(v[1]), "input_hash": v[2], "run_id": v[3], "flow_run_id": v[4],
            "deliveries": group_lineage(lineage), "exclusions": exclusions}
    folder = settings.results_dir / version
    tmp = settings.results_dir / f".tmp-{version}-rebuild"
    shutil.rmtree(tmp, ignore_errors=True)
    write_exports(tmp, ard, km, lineage, meta,
                  None if subjects is None else create_version_subjects(subjects, version),
                  None if sources is None else create_version_sources(sources, version))
    render_version_report(ard, km, meta, tmp)
    tmp.rename(folder)
    return folder
