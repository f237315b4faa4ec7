"""Publish: content-derived version ids, one DuckDB transaction for results.*, and the version folder.

The version id is a hash over the inputs (every pooled file's sha256), the code (every .py/.sql file
that shapes a result, and the policy file) and the analysis parameters: the same inputs, code and
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
from typing import Callable

import duckdb
import pandas as pd

from tasks.ard import ARD_COLUMNS, assert_ard
from tasks.db import transaction

CODE_DIRS = ("tasks", "schemas", "sql", "flows")
CODE_SUFFIXES = (".py", ".sql", ".json")
KM_COLUMNS = ["variable", "group1_level", "group2_level", "time", "surv", "surv_lcl", "surv_ucl",
              "n_risk", "n_event", "n_censor"]


def compute_code_version(project_root: Path, policy_file: Path) -> str:
    """sha256 over the code that shapes results (relative path + bytes, sorted) and the policy file."""
    h = hashlib.sha256()
    files = sorted(p for d in CODE_DIRS for p in (project_root / d).rglob("*")
                   if p.is_file() and p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts)
    for p in files:
        h.update(p.relative_to(project_root).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    h.update(b"policy\0" + Path(policy_file).read_bytes())
    return h.hexdigest()


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
    assert_ard(ard[ARD_COLUMNS])
    out = ard[ARD_COLUMNS].copy()
    out.insert(0, "result_version", version)
    return out.reset_index(drop=True)


def write_exports(folder: Path, ard: pd.DataFrame, km: pd.DataFrame, lineage: list[dict], meta: dict) -> None:
    """ard.parquet, ard.csv, km.parquet, lineage.json — byte-reproducible for the same content."""
    folder.mkdir(parents=True, exist_ok=True)
    ard.to_parquet(folder / "ard.parquet", index=False)
    ard.to_csv(folder / "ard.csv", index=False, lineterminator="\n")
    km.to_parquet(folder / "km.parquet", index=False)
    doc = {"result_version": meta["result_version"], "code_version": meta["code_version"],
           "parameters": meta["parameters"], "input_hash": meta["input_hash"],
           "deliveries": meta["deliveries"], "exclusions": meta.get("exclusions", [])}
    (folder / "lineage.json").write_text(json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")


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
                    extra_files: dict[str, Path] | None = None) -> Path:
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
        km_v = km[KM_COLUMNS].copy()
        write_exports(tmp, ard_v, km_v, lineage, meta)
        for name, src in (extra_files or {}).items():
            if Path(src).exists():
                shutil.copytree(src, tmp / name) if Path(src).is_dir() else shutil.copy2(src, tmp / name)
        render(ard_v, km_v, meta, tmp)
        _insert_version_rows(con, version, ard_v, km_v, lineage, exclusions, meta, str(final / "report.html"))
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _insert_version_rows(con, version, ard_v, km_v, lineage, exclusions, meta, report_path) -> None:
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
        for table, frame in (("results.lineage", lineage_df), ("results.ard", ard_v),
                             ("results.km_curves", km_df), ("results.exclusions", excl_df)):
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


def latest_version(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("SELECT result_version FROM results.versions ORDER BY created_at DESC, result_version LIMIT 1").fetchall()
    return rows[0][0] if rows else None
