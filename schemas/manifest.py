"""The delivery manifest (docs/spec/sources.md "Layout on disk"), validated before any use.

`parse_manifest` turns the decoded JSON into a `Manifest` or raises `ManifestError` listing every
shape problem: a manifest is untrusted input like the files it lists. File names must be plain
names (no folder, no `..`, no absolute path); digests are 64 hex digits (compared in lower case);
`rows` is a required non-negative integer.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date

PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
DELIVERY_ID = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ManifestError(ValueError):
    """The manifest's shape is wrong; `problems` names each one (key path and what is wrong)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class ManifestFile:
    name: str
    sha256: str  # lower case
    rows: int


@dataclass(frozen=True)
class Manifest:
    study: str
    delivery_id: str
    data_cut: date
    format: str
    files: dict[str, ManifestFile]


def is_calendar_date(text: str) -> bool:
    """`YYYY-MM-DD` naming a real calendar date (2020-13-45 is not)."""
    if not isinstance(text, str) or not DELIVERY_ID.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def is_plain_name(name: str) -> bool:
    """A file name with no folder part, no `..`, not absolute, no control or odd characters."""
    return isinstance(name, str) and bool(PLAIN_NAME.fullmatch(name)) and ".." not in name


def loads_without_duplicates(text: str):
    """json.loads that refuses an object with the same key twice (the second would silently win)."""
    def pairs(items):
        keys = [k for k, _ in items]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ManifestError([f"duplicate key(s) {dup}"])
        return dict(items)

    return json.loads(text, object_pairs_hook=pairs)


def parse_manifest(doc) -> Manifest:
    """The typed manifest, or ManifestError naming every problem."""
    if not isinstance(doc, dict):
        raise ManifestError([f"the manifest must be a JSON object, not {type(doc).__name__}"])
    problems = []
    for key in ("study", "delivery_id", "data_cut", "format"):
        if not isinstance(doc.get(key), str) or not doc.get(key):
            problems.append(f"{key!r} must be a non-empty string")
    for key in ("delivery_id", "data_cut"):
        if isinstance(doc.get(key), str) and doc.get(key) and not is_calendar_date(doc[key]):
            problems.append(f"{key!r} must be a calendar date YYYY-MM-DD")
    files = doc.get("files")
    parsed: dict[str, ManifestFile] = {}
    if not isinstance(files, dict) or not files:
        problems.append("'files' must be a non-empty object of file name -> {sha256, rows}")
    else:
        for name, meta in files.items():
            if not is_plain_name(name):
                problems.append(f"file name {name!r} is not a plain file name")
                continue
            if not isinstance(meta, dict):
                problems.append(f"files[{name!r}] must be an object with sha256 and rows")
                continue
            sha, rows = meta.get("sha256"), meta.get("rows")
            if not isinstance(sha, str) or not SHA256.fullmatch(sha):
                problems.append(f"files[{name!r}].sha256 must be 64 hexadecimal digits")
            if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
                problems.append(f"files[{name!r}].rows must be a whole number >= 0")
            if not problems or all(not p.startswith(f"files[{name!r}]") for p in problems):
                parsed[name] = ManifestFile(name, sha.lower(), rows)
    if problems:
        raise ManifestError(problems)
    return Manifest(doc["study"], doc["delivery_id"], date.fromisoformat(doc["data_cut"]), doc["format"], parsed)
