"""The append-only audit (schema `audit`): failure records, delivery outcomes, quarantined subjects.

Plumbing shared by the stages: every stage appends what it found; nothing here is updated or deleted.
"""
from __future__ import annotations

from datetime import datetime, timezone

import duckdb

from repool.schemas.audit import AUDIT_COLUMNS


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def record_failures(con: duckdb.DuckDBPyConnection, run_id: str, flow_run_id: str | None, failures: list[dict],
                    validated_in_run: str | None = None) -> int:
    """Append failure records to audit.validation_failures (never updated, never deleted).

    `validated_in_run` names the run whose checks found them: this run, or the earlier run whose
    cached validation of an unchanged delivery this run relies on (tasks/cache.py)."""
    if not failures:
        return 0
    now = utc_now()
    rows = [{**{k: f.get(k) for k in AUDIT_COLUMNS}, "run_id": run_id, "flow_run_id": flow_run_id,
             "action": f.get("action_taken", f.get("action")), "recorded_at": now,
             "validated_in_run": f.get("validated_in_run") or validated_in_run or run_id} for f in failures]
    if all(_plain(r) for r in rows):
        return _insert_plain(con, rows)
    import pandas as pd  # values of other types: pandas turns them into text (an unchanged run never gets here)

    df = pd.DataFrame(rows, columns=AUDIT_COLUMNS)
    df["row"] = pd.array(df["row"], dtype="Int64")
    for c in AUDIT_COLUMNS:
        if c not in ("row", "recorded_at"):
            df[c] = df[c].astype(object).where(df[c].notna(), None).map(lambda v: v if v is None else str(v))
    con.register("_audit_frame", df)
    try:
        con.execute("INSERT INTO audit.validation_failures BY NAME SELECT * FROM _audit_frame")
    finally:
        con.unregister("_audit_frame")
    return len(df)


_TEXT_COLUMNS = [c for c in AUDIT_COLUMNS if c not in ("row", "recorded_at")]


def _plain(row: dict) -> bool:
    """Every text column str or None and `row` an int or None: the records stored as they are (the
    cached records of an unchanged delivery, read back from JSON, are such)."""
    r = row["row"]
    return (r is None or (type(r) is int)) and all(row[c] is None or type(row[c]) is str for c in _TEXT_COLUMNS)


def _insert_plain(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> int:
    """The same rows as the pandas frame of `record_failures` would store, one list per column, without
    importing pandas (an unchanged run records its cached failures this way)."""
    text = ", ".join(f'unnest(?::VARCHAR[]) AS "{c}"' for c in _TEXT_COLUMNS)
    con.execute(f'INSERT INTO audit.validation_failures BY NAME SELECT {text}, unnest(?::BIGINT[]) AS "row", '
                '?::TIMESTAMP AS recorded_at',
                [[r[c] for r in rows] for c in _TEXT_COLUMNS] + [[r["row"] for r in rows], rows[0]["recorded_at"]])
    return len(rows)


def record_delivery(con: duckdb.DuckDBPyConnection, run_id: str, study: str, delivery_id: str, status: str,
                    message: str, quarantined: list[dict], validated_in_run: str | None = None,
                    cache_key: str | None = None) -> None:
    """The delivery's outcome in audit.deliveries (with the run whose validation it is and the unit's
    cache key), and its quarantined subjects when accepted."""
    con.execute("INSERT INTO audit.deliveries BY NAME SELECT ? AS run_id, ? AS study, ? AS delivery_id, "
                "? AS status, ? AS message, ? AS recorded_at, ? AS validated_in_run, ? AS cache_key",
                [run_id, study, delivery_id, status, message, utc_now(), validated_in_run or run_id, cache_key])
    if status == "accepted" and quarantined:
        rows = [[run_id, q["study"], q["delivery_id"], q["subject"], q["reason"], q["file"], q["row"], utc_now()]
                for q in quarantined]
        con.executemany("INSERT INTO audit.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
