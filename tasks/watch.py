"""Detect deliveries that arrived (or changed) under the data root since the last scan.

A delivery is `<data root>/deliveries/<STUDY>/<DELIVERY_ID>/` and it *counts* only once its
`manifest.json` exists: producers copy the files first and write the manifest last, so a
half-copied folder is not announced. Its fingerprint is the sha256 of the manifest's bytes (the
manifest carries the sha256 of every file), so a re-delivered manifest under the same id counts as
new again. A delivery that disappears is forgotten, so putting it back counts as new.

The state ("seen": `"<study>/<delivery_id>" -> fingerprint`) is a small JSON file under the data
root (`.repool-watch.json`), next to the DuckDB file. Not a Prefect Variable: a Variable is capped
at 5,000 characters (about 50 deliveries) and belongs to one Prefect server, while the seen-list
belongs to the data root (it survives a server reset and two data roots never share it).

Plain functions, no Prefect: `flows/watch_flow.py` does the emitting.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from repool.tasks.ingest import DELIVERY_ID, sha256_of

STATE_FILE = ".repool-watch.json"
EVENT = "repool.delivery.arrived"


def state_path(data_dir: Path) -> Path:
    return Path(data_dir) / STATE_FILE


def scan_deliveries(deliveries_dir: Path) -> dict[str, dict]:
    """Every delivery with a manifest: `"<study>/<delivery_id>" -> {study, delivery_id, fingerprint, path}`."""
    deliveries_dir = Path(deliveries_dir)
    found: dict[str, dict] = {}
    if not deliveries_dir.is_dir():
        return found
    for study_dir in sorted(p for p in deliveries_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for cut in sorted(p for p in study_dir.iterdir() if p.is_dir() and DELIVERY_ID.match(p.name)):
            manifest = cut / "manifest.json"
            if not manifest.is_file():
                continue  # still being copied: counts once its manifest is written
            found[f"{study_dir.name}/{cut.name}"] = {
                "study": study_dir.name, "delivery_id": cut.name,
                "fingerprint": sha256_of(manifest), "path": str(cut),
            }
    return found


def find_new_deliveries(deliveries_dir: Path, seen: dict[str, str]) -> tuple[list[dict], dict[str, str]]:
    """Deliveries that are new or whose manifest changed since `seen`, and the updated seen-map.

    Returns `(new, seen_updated)`; `new` is a list of `{study, delivery_id, fingerprint, path}`
    sorted by study then delivery id; `seen_updated` maps every delivery now present to its
    fingerprint (deliveries that vanished are dropped). `seen` itself is not modified.
    """
    current = scan_deliveries(deliveries_dir)
    new = [d for key, d in current.items() if seen.get(key) != d["fingerprint"]]
    return new, {key: d["fingerprint"] for key, d in current.items()}


def load_seen(data_dir: Path) -> dict[str, str] | None:
    """The seen-map, or None when the watcher never ran on this data root."""
    p = state_path(data_dir)
    if not p.is_file():
        return None
    state = json.loads(p.read_text(encoding="utf-8"))
    return dict(state.get("seen", {}))


def save_seen(data_dir: Path, seen: dict[str, str]) -> Path:
    """Write the seen-map atomically (a crash never leaves half a file)."""
    p = state_path(data_dir)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=STATE_FILE, dir=p.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"seen": dict(sorted(seen.items()))}, fh, indent=2)
        fh.write("\n")
    os.replace(tmp, p)
    return p


def event_resource(delivery: dict, data_dir: Path) -> dict[str, str]:
    """The Prefect event resource naming one delivery (labels are strings)."""
    return {
        "prefect.resource.id": f"repool.delivery.{delivery['study']}.{delivery['delivery_id']}",
        "prefect.resource.name": f"{delivery['study']}@{delivery['delivery_id']}",
        "study": delivery["study"],
        "delivery_id": delivery["delivery_id"],
        "data_dir": str(data_dir),
    }
