"""A published version as bytes and rows, to prove a later run left it untouched."""
from __future__ import annotations

from pathlib import Path

from repool.tasks.db import connect


def snapshot_version(root: Path, version: str) -> tuple[dict, dict]:
    """(file name -> bytes of the version folder, results.* table -> the version's rows)."""
    folder = root / "results" / version
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    with connect(root / "repool.duckdb", read_only=True) as con:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                              "WHERE table_schema = 'results'").fetchall()}
        rows = {t: con.execute(f"SELECT * FROM results.{t} WHERE result_version = ? ORDER BY ALL", [version]).fetchall()
                for t in ("versions", "lineage", "ard", "km_curves", "exclusions", "subjects", "sources")
                if t in present}  # subjects, sources: the drill-down stored with the version
    return files, rows
