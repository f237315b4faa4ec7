"""The per-delivery cache: one delivery's ingest -> validate -> stage -> intermediate models, kept as a
relocatable unit under a key of its inputs, so an unchanged delivery is never loaded or validated again.

Plumbing shared by the stages (like db.py and audit.py). An entry is a folder
`<cache dir>/<key>/` holding

    unit.json              the outcome: delivery, verified file digests, every audit record with its
                           action, accepted or refused, the run that validated it, and its outputs
    pooled/<dataset>.parquet  the study's rows of the pooled marts (sql/pooled/*.sql over its
                           intermediate models), which the run database's pooled.* views read
    staging/<stem>.parquet the staged subject-level files (for pooled failures' source rows)

Only paths relative to the entry are stored, so the cache folder can move with the data root.
The key is a sha256 over the delivery's study, id, format, data cut, every verified file digest and
row count, the names of unlisted files in the folder, the code version (stages, SQL, schemas,
policy file) and the numeric parameters of the models (days per month, TEAE window).

Crash safety: an entry is built in `<cache dir>/.tmp-<key>-<pid>-<random>/` and becomes visible by
one `rename` after every file, and `unit.json` last, are written and fsynced. A half-written entry is
therefore never found by its key; `lookup` also checks that every output it lists is there with its
size and sha256 before it is reused, and stale `.tmp-*` folders are removed at the start of a run.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import socket
from pathlib import Path

from repool.hashing import sha256_of

UNIT_FILE = "unit.json"
CACHE_FORMAT = 2  # bump when the entry layout changes: older entries are then never reused


class CacheEntryInvalid(RuntimeError):
    """A committed entry whose outputs are missing or altered: it is not reused."""


def compute_unit_key(delivery, unlisted: list[str], code_version: str, parameters: dict) -> str:
    """The cache key of one delivery's unit: its verified inputs, the code and the model parameters."""
    for name, value in parameters.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"unit parameter {name} must be a number")
    payload = {
        "cache_format": CACHE_FORMAT,
        "study": delivery.study, "delivery_id": delivery.delivery_id, "format": delivery.format,
        "data_cut": delivery.data_cut.isoformat() if delivery.data_cut else None,
        "files": {name: [meta["sha256"].lower(), meta.get("rows")] for name, meta in sorted(delivery.files.items())},
        "unlisted": sorted(unlisted),
        "code_version": code_version,
        "parameters": {k: parameters[k] for k in sorted(parameters)},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def entry_dir(cache_dir: Path, key: str) -> Path:
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError("a cache key is 64 lower-case hex digits")
    return Path(cache_dir) / key


def new_workspace(cache_dir: Path, key: str) -> Path:
    """A fresh folder to build the entry in (invisible to `lookup` until `commit_entry`)."""
    entry_dir(cache_dir, key)  # checks the key
    path = Path(cache_dir) / f".tmp-{key}-{os.getpid()}-{secrets.token_hex(4)}"
    path.mkdir(parents=True)
    return path


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
    for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def describe_outputs(workspace: Path) -> dict[str, dict]:
    """Every file of the workspace (relative path -> bytes, sha256), unit.json excepted."""
    return {p.relative_to(workspace).as_posix(): {"bytes": p.stat().st_size, "sha256": sha256_of(p)}
            for p in sorted(workspace.rglob("*")) if p.is_file() and p.name != UNIT_FILE}


def commit_entry(workspace: Path, cache_dir: Path, key: str, unit: dict) -> Path:
    """Write unit.json (listing the outputs) last, fsync, and rename the workspace to its key.

    When an entry for the key already exists (another worker got there first), it is kept and the
    workspace removed: both are the same function of the same inputs.
    """
    final = entry_dir(cache_dir, key)
    unit = {**unit, "key": key, "cache_format": CACHE_FORMAT, "outputs": describe_outputs(workspace)}
    (workspace / UNIT_FILE).write_text(json.dumps(unit, sort_keys=True, indent=1, default=str), encoding="utf-8")
    _fsync_tree(workspace)
    try:
        os.rename(workspace, final)
    except OSError:
        if (final / UNIT_FILE).is_file():
            shutil.rmtree(workspace, ignore_errors=True)
            return final
        raise
    fd = os.open(Path(cache_dir), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return final


def lookup(cache_dir: Path, key: str, verify: bool = True) -> dict | None:
    """The committed unit for `key`, or None. An entry whose outputs are missing or altered is moved
    aside (`.bad-<key>-…`) and reported as a miss, never reused."""
    final = entry_dir(cache_dir, key)
    unit_path = final / UNIT_FILE
    if not unit_path.is_file():
        return None
    try:
        unit = json.loads(unit_path.read_text(encoding="utf-8"))
        if unit.get("key") != key or unit.get("cache_format") != CACHE_FORMAT:
            raise CacheEntryInvalid("entry does not match its key")
        for rel, meta in unit.get("outputs", {}).items():
            path = final / rel
            if not path.is_file() or path.stat().st_size != meta["bytes"]:
                raise CacheEntryInvalid(f"{rel} missing or of another size")
            if verify and sha256_of(path) != meta["sha256"]:
                raise CacheEntryInvalid(f"{rel} altered")
    except (CacheEntryInvalid, ValueError, KeyError, TypeError):
        os.rename(final, Path(cache_dir) / f".bad-{key}-{secrets.token_hex(4)}")
        return None
    unit["entry"] = str(final)
    return unit


def remove_stale_workspaces(cache_dir: Path) -> int:
    """Remove `.tmp-*` (half-built, e.g. after a SIGKILL) and `.bad-*` folders; called by the run that
    holds the database lease, so no other run is building entries."""
    cache_dir = Path(cache_dir)
    if not cache_dir.is_dir():
        return 0
    stale = [p for p in cache_dir.iterdir() if p.is_dir() and p.name.startswith((".tmp-", ".bad-"))]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return len(stale)


# ------------------------------------------------------------------------------------------------
# A unit's result <-> its entry
# ------------------------------------------------------------------------------------------------


def unit_record(result, run_id: str) -> dict:
    """What an entry remembers of a unit's result (no absolute path: the entry is relocatable)."""
    d = result.delivery
    return {
        "study": result.study, "delivery_id": result.delivery_id,
        "delivery": {"format": d.format, "files": d.files, "data_cut": d.data_cut.isoformat() if d.data_cut else None},
        "accepted": bool(result.accepted), "ingested": bool(result.ingested), "message": result.message,
        "failures": result.failures, "validated_in_run": run_id,
        "built_by": {"host": socket.gethostname(), "pid": os.getpid()},  # which worker made it
    }


def result_from_unit(unit: dict, delivery_dir: Path):
    """The DeliveryResult a cached unit stands for, marked reused (nothing read or validated again)."""
    from datetime import date

    from repool.tasks.ingest import Delivery, DeliveryResult

    meta = unit["delivery"]
    delivery = Delivery(study=unit["study"], delivery_id=unit["delivery_id"], path=Path(delivery_dir),
                        format=meta["format"], files=meta["files"],
                        data_cut=date.fromisoformat(meta["data_cut"]) if meta.get("data_cut") else None)
    return DeliveryResult(study=unit["study"], delivery_id=unit["delivery_id"], delivery=delivery,
                          failures=unit["failures"], accepted=unit["accepted"], ingested=unit["ingested"],
                          message=unit["message"], key=unit["key"], entry=unit["entry"],
                          validated_in_run=unit["validated_in_run"], reused=True)
