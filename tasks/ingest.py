"""Stage 1, ingest: find deliveries, verify their manifests, load their files into DuckDB as delivered.

A delivery is `<data root>/deliveries/<STUDY>/<DELIVERY_ID>/manifest.json` plus its files. A
manifest that does not match its files (sha256, a missing file, row counts) makes the whole delivery
invalid. Raw tables keep every delivered column as delivered, plus `_row`, the 1-based data-row
number in the file, so every later failure can name its source row.
"""
from __future__ import annotations

import re
import tomllib
from datetime import date
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from prefect import task
from prefect.cache_policies import NO_CACHE

from repool.hashing import sha256_of
from repool.schemas.audit import failure
from repool.schemas.manifest import DELIVERY_ID, ManifestError, is_calendar_date, loads_without_duplicates, parse_manifest
from repool.schemas.sources import FORMATS, SOURCE_DATASETS
from repool.settings import Settings
from repool.lazy import import_once
from repool.tasks.audit import record_failures
from repool.tasks.db import connect, quote_ident, study_slug
from repool.tasks.validate.policy import decide, load_policy



@dataclass(frozen=True)
class Delivery:
    """One verified delivery of one study."""

    study: str
    delivery_id: str
    path: Path
    format: str
    files: dict[str, dict] = field(hash=False)  # file name -> {"sha256", "rows"}
    data_cut: date | None = None

    @property
    def label(self) -> str:
        return f"{self.study}@{self.delivery_id}"


@dataclass
class DeliveryResult:
    """One delivery on its way through ingest -> validate -> stage: what was loaded and what failed."""

    study: str
    delivery_id: str
    delivery: Delivery | None = None
    raw_tables: dict[str, str] = field(default_factory=dict)
    warnings: list[dict] = field(default_factory=list)  # found at load, decided by validate
    failures: list[dict] = field(default_factory=list)  # with actions
    accepted: bool = False
    ingested: bool = False
    message: str = ""
    key: str | None = None  # the unit's cache key (tasks/cache.py), once the delivery is verified
    entry: str | None = None  # the committed cache entry holding the unit's outputs
    validated_in_run: str | None = None  # the run whose validation this result is (itself, or an earlier one)
    reused: bool = False  # taken from the cache: nothing was read or validated again in this run

    @property
    def label(self) -> str:
        return f"{self.study}@{self.delivery_id}"

    @property
    def rejected(self) -> bool:
        return any(f["action"] == "reject" for f in self.failures)

    @property
    def quarantined(self) -> list[dict]:
        """Every subject set aside, with the first failure that set it aside."""
        seen: dict[str, dict] = {}
        for f in self.failures:
            if f["action"] == "quarantine" and f.get("subject") and f["subject"] not in seen:
                seen[f["subject"]] = {"study": f["study"], "delivery_id": self.delivery_id, "subject": f["subject"],
                                      "reason": f["reason"], "row": f.get("row"), "file": f.get("file"),
                                      "column": f.get("column")}
        return list(seen.values())

    @property
    def public_message(self) -> str:
        """`message` without any delivered value: study, delivery, rule, file, row and column only.
        This is what reaches Prefect (states, artifacts, logs); the values stay in the audit tables."""
        if self.rejected:
            refusing = [f for f in self.failures if f["action"] == "reject"]
            return describe_refusal(self.study, self.delivery_id, refusing)
        if not self.failures and not self.accepted:
            return f"{self.label} not pooled"
        q = len(self.quarantined)
        w = sum(f["action"] == "warn" for f in self.failures)
        return f"{self.label} accepted ({q} subject(s) quarantined, {w} warning(s))"

    def summary(self) -> str:
        """One line: refused (naming the first refusing failure) or accepted with counts."""
        if self.rejected:
            first = next(f for f in self.failures if f["action"] == "reject")
            return str(DeliveryRejected(self.study, self.delivery_id, [first]))
        q = len(self.quarantined)
        w = sum(f["action"] == "warn" for f in self.failures)
        return f"{self.label} accepted ({q} subject(s) quarantined, {w} warning(s))"


def describe_refusal(study: str, delivery_id: str, failures: list[dict]) -> str:
    """'<study>@<delivery> REJECTED: <rule> in file F row R column C (+N more)': names, never values."""
    first = failures[0] if failures else {}
    where = "".join(f" {k} {first[k]}" for k in ("file", "row", "column") if first.get(k) not in (None, ""))
    more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
    return f"{study}@{delivery_id} REJECTED: {first.get('reason', '?')} in{where or ' delivery'}{more}"


class DeliveryRejected(Exception):
    """A delivery that cannot be pooled; `failures` are audit records naming file, row, column, rule."""

    def __init__(self, study: str, delivery_id: str, failures: list[dict]):
        self.study, self.delivery_id, self.failures = study, delivery_id, failures
        first = failures[0] if failures else {}
        where = "".join(f" {k} {first[k]}" for k in ("file", "row", "column") if first.get(k) not in (None, ""))
        more = f" (+{len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(f"{study}@{delivery_id} REJECTED: {first.get('reason', '?')} in{where or ' delivery'}: "
                         f"{first.get('message', '')}{more}")


# ------------------------------------------------------------------------------------------------
# Discovery and manifests
# ------------------------------------------------------------------------------------------------


STUDY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_MANIFEST_BYTES = 1 << 20


@dataclass(frozen=True)
class Study:
    """One registered study: its id and the format it delivers in."""

    study: str
    format: str


def load_registry(path: Path) -> dict[str, Study]:
    """The study registry (TOML: [studies."<id>"] format = "..."); a bad entry is a configuration error."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    problems, studies = [], {}
    for study, entry in sorted((data.get("studies") or {}).items()):
        fmt = entry.get("format") if isinstance(entry, dict) else None
        if not STUDY_ID.fullmatch(study):
            problems.append(f"study id {study!r} is not letters, digits, '-' and '_'")
        elif fmt not in FORMATS:
            problems.append(f"study {study}: format {fmt!r} is not one of {list(FORMATS)}")
        else:
            studies[study] = Study(study, fmt)
    slugs: dict[str, str] = {}
    for study in studies:  # raw_<slug> and staging tables are named by the slug: two studies may not share one
        if study_slug(study) in slugs:
            problems.append(f"studies {slugs[study_slug(study)]} and {study} share the table name {study_slug(study)}")
        slugs[study_slug(study)] = study
    if not studies and not problems:
        problems.append("no study registered")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return studies


def _inside(path: Path, root: Path) -> bool:
    """True when `path`, links resolved, lies inside `root` (links resolved too)."""
    try:
        path.resolve(strict=True).relative_to(root.resolve(strict=True))
        return True
    except (OSError, RuntimeError, ValueError):  # missing, a link loop, or outside
        return False


def discover_deliveries(deliveries_dir: Path, registry: dict[str, Study], pinned: dict[str, str] | None = None
                        ) -> tuple[dict[str, list[Path]], list[dict]]:
    """(registered study -> its delivery folders, newest first, or only the pinned one; audit records
    of everything else under deliveries/: unregistered study folders, entries that are no delivery,
    a study folder linking outside the data root). Nothing is skipped without a record. A delivery
    folder linking outside the data root is a candidate: verify_manifest refuses it unread."""
    deliveries_dir = Path(deliveries_dir)
    if not deliveries_dir.is_dir():
        raise FileNotFoundError(f"no deliveries folder at {deliveries_dir}")
    pinned = pinned or {}
    unknown_pins = sorted(set(pinned) - set(registry))
    if unknown_pins:
        raise FileNotFoundError(f"pinned studies not in the study registry: {unknown_pins}")
    found: dict[str, list[Path]] = {}
    records: list[dict] = []

    def note(reason: str, study: str | None, delivery_id: str | None, entry: Path, why: str) -> None:
        rel = entry.relative_to(deliveries_dir).as_posix()
        records.append(failure(study, delivery_id, reason, f"deliveries/{rel}: {why}", file=rel))

    for entry in sorted(deliveries_dir.iterdir()):
        if entry.name not in registry:
            kind = "a study folder" if entry.is_dir() else "a file"
            note("unregistered_study" if entry.is_dir() else "unexpected_entry", None, None, entry,
                 f"{kind} that is not a registered study (not pooled)")
            continue
        if entry.is_symlink() or not entry.is_dir() or not _inside(entry, deliveries_dir):
            note("path_unsafe" if entry.is_symlink() else "unexpected_entry", entry.name, None, entry,
                 "a registered study's entry must be a real folder inside the data root (not read)")
            found[entry.name] = []  # present but unreadable: the study has no valid delivery, the run says so
            continue
        cuts = []
        for cut in sorted(entry.iterdir()):
            if not is_calendar_date(cut.name):
                note("unexpected_entry", entry.name, None, cut, "not a delivery folder named by a calendar date "
                     "YYYY-MM-DD (not read)")
            elif cut.is_symlink() and not _inside(cut, deliveries_dir):
                # a candidate like any delivery: verify_manifest refuses it (path_unsafe) before reading anything,
                # so the refusal is reported, and fallen back from, as every refused delivery is
                cuts.append(cut)
            elif not cut.is_dir():
                note("unexpected_entry", entry.name, cut.name, cut, "a delivery must be a folder (not read)")
            else:
                cuts.append(cut)
        cuts.sort(key=lambda p: p.name, reverse=True)
        if entry.name in pinned:
            cuts = [p for p in cuts if p.name == pinned[entry.name]]
            if not cuts:
                raise FileNotFoundError(f"pinned delivery {entry.name}@{pinned[entry.name]} not found")
        if cuts:
            found[entry.name] = cuts
    missing_pins = sorted(set(pinned) - set(found))
    if missing_pins:
        raise FileNotFoundError(f"pinned studies without deliveries: {missing_pins}")
    return found, records


def verify_manifest(delivery_dir: Path, registry: dict[str, Study] | None = None,
                    deliveries_dir: Path | None = None) -> tuple[Delivery, list[dict]]:
    """Validate manifest.json (shape, names, registry format) and every listed file's presence and
    sha256; returns (delivery, warnings for files on disk it does not list). Raises DeliveryRejected."""
    delivery_dir = Path(delivery_dir)
    study, delivery_id = delivery_dir.parent.name, delivery_dir.name
    root = Path(deliveries_dir) if deliveries_dir is not None else delivery_dir.parent.parent
    mpath = delivery_dir / "manifest.json"

    def reject(reason: str, message: str, **kw) -> DeliveryRejected:
        return DeliveryRejected(study, delivery_id, [failure(study, delivery_id, reason, message, **kw)])

    if not is_calendar_date(delivery_id):
        raise reject("unexpected_entry", f"delivery folder {delivery_id!r} is not a calendar date YYYY-MM-DD")
    if not _inside(delivery_dir, root):
        raise reject("path_unsafe", "the delivery folder links outside the data root; nothing read")
    if mpath.is_symlink() or (mpath.exists() and not _inside(mpath, delivery_dir)):
        raise reject("path_unsafe", "manifest.json is a link; nothing read", file="manifest.json")
    if not mpath.is_file():
        raise reject("manifest_invalid", "manifest.json is missing", file="manifest.json")
    if mpath.stat().st_size > MAX_MANIFEST_BYTES:
        raise reject("manifest_invalid", f"manifest.json is larger than {MAX_MANIFEST_BYTES} bytes", file="manifest.json")
    try:
        manifest = parse_manifest(loads_without_duplicates(mpath.read_text(encoding="utf-8")))
    except ManifestError as exc:
        raise DeliveryRejected(study, delivery_id, [
            failure(study, delivery_id, "manifest_invalid", f"manifest.json: {problem}", file="manifest.json")
            for problem in exc.problems]) from None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise reject("manifest_invalid", f"manifest.json is not valid JSON ({type(exc).__name__})",
                     file="manifest.json") from None
    if manifest.study != study or manifest.delivery_id != delivery_id:
        raise reject("manifest_invalid", "manifest.json names another study or delivery than the folder it lies in",
                     file="manifest.json", column="study" if manifest.study != study else "delivery_id")
    if manifest.data_cut.isoformat() != delivery_id:  # sources.md: the delivery id is the data-cut date
        raise reject("manifest_invalid", "manifest.json data_cut differs from the delivery id, which is the data-cut "
                     "date (a later cut would let dates after the real one pass)", file="manifest.json", column="data_cut")
    fmt = manifest.format
    expected = registry[study].format if registry and study in registry else None
    if fmt not in FORMATS:
        raise reject("manifest_invalid", f"unknown format; known: {list(FORMATS)}", file="manifest.json", column="format")
    if expected is not None and fmt != expected:
        raise reject("format_mismatch", f"manifest.json says format {fmt}, the study registry says {expected}",
                     file="manifest.json", column="format")
    failures = []
    for name in SOURCE_DATASETS[fmt]:
        if name not in manifest.files:
            failures.append(failure(study, delivery_id, "manifest_missing_file",
                                    f"{name} is required by format {fmt} but not listed in manifest.json", file=name))
    for name, meta in sorted(manifest.files.items()):
        path = delivery_dir / name
        if path.is_symlink() or (path.exists() and not _inside(path, delivery_dir)):
            failures.append(failure(study, delivery_id, "path_unsafe", f"{name} is a link; not read", file=name))
            continue
        if not path.is_file():
            failures.append(failure(study, delivery_id, "manifest_missing_file",
                                    f"{name} is listed in manifest.json but missing", file=name))
            continue
        actual = sha256_of(path)
        if actual != meta.sha256:
            failures.append(failure(study, delivery_id, "manifest_sha256",
                                    f"{name} sha256 {actual[:12]}… does not match manifest {meta.sha256[:12]}…",
                                    file=name, sha256=actual))
    if failures:
        raise DeliveryRejected(study, delivery_id, failures)
    warnings = [failure(study, delivery_id, "unlisted_file", f"{p.name} is in the delivery folder but not in "
                        "manifest.json (not read)", file=p.name)
                for p in sorted(delivery_dir.iterdir()) if p.name != "manifest.json" and p.name not in manifest.files]
    warnings += [failure(study, delivery_id, "unlisted_file", f"{name} is listed but not part of format {fmt} "
                         "(not read)", file=name)
                 for name in sorted(manifest.files) if name not in SOURCE_DATASETS[fmt]]
    files = {name: {"sha256": m.sha256, "rows": m.rows} for name, m in manifest.files.items()}
    return Delivery(study=study, delivery_id=delivery_id, path=delivery_dir, format=fmt, files=files,
                    data_cut=manifest.data_cut), warnings


# ------------------------------------------------------------------------------------------------
# Loading raw tables
# ------------------------------------------------------------------------------------------------


def raw_table_name(study: str, delivery_id: str, file: str) -> str:
    stem = Path(file).stem
    return f"raw_{study_slug(study)}.{quote_ident(stem + '__' + delivery_id.replace('-', '_'))}"


def assert_latin1_text(delivery: Delivery, file: str) -> None:
    """MT103-206 files are latin-1: UTF-16 (NUL bytes), a BOM or valid multi-byte UTF-8 is the wrong encoding."""
    data = (delivery.path / file).read_bytes()
    sha = delivery.files[file]["sha256"]

    def reject(message: str, row: int | None = None) -> DeliveryRejected:
        return DeliveryRejected(delivery.study, delivery.delivery_id, [failure(
            delivery.study, delivery.delivery_id, "encoding", message, file=file, sha256=sha, row=row)])

    if data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data:
        raise reject(f"{file} is not latin-1 text (byte-order mark or NUL bytes: UTF-8/UTF-16?)")
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return  # not UTF-8: consistent with latin-1
        first = next(i for i, line in enumerate(data.split(b"\n")) if any(b >= 0x80 for b in line))
        raise reject(f"{file} is UTF-8 encoded (multi-byte sequences), expected latin-1", row=first or None)


def assert_not_truncated(delivery: Delivery, file: str) -> None:
    """Each format's own structure says whether a file was cut short: a CSV ends with a line end,
    a SAS transport file is whole 80-byte records, a Parquet file ends with its `PAR1` footer magic."""
    path = delivery.path / file
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - 4))
        tail = fh.read()
    why = None
    if delivery.format == "csv-legacy" and size and not tail.endswith(b"\n"):
        why = "does not end with a line end (cut short?)"
    elif delivery.format == "xpt-adam" and (size == 0 or size % 80):
        why = f"is {size} bytes, not whole 80-byte SAS transport records (cut short?)"
    elif delivery.format == "parquet-adam" and tail != b"PAR1":
        why = "lacks the Parquet footer (cut short?)"
    if why:
        raise DeliveryRejected(delivery.study, delivery.delivery_id, [failure(
            delivery.study, delivery.delivery_id, "truncated_file", f"{file} {why}", file=file,
            sha256=delivery.files[file]["sha256"], value=size)])


def assert_csv_header(delivery: Delivery, file: str) -> list[dict]:
    """The first line must be exactly the spec's columns joined by ';' in order. A missing column
    refuses the delivery; extra columns and a different order come back as failures for the policy."""
    with open(delivery.path / file, "rb") as fh:
        header = fh.readline().decode("latin-1").rstrip("\r\n").split(";")
    expected = SOURCE_DATASETS[delivery.format][file].column_names
    sha = delivery.files[file]["sha256"]
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    if missing:
        raise DeliveryRejected(delivery.study, delivery.delivery_id, [
            failure(delivery.study, delivery.delivery_id, "missing_column",
                    f"{file} lacks column {c}; header is {';'.join(header)}", file=file, sha256=sha, column=c)
            for c in missing])
    warnings = [failure(delivery.study, delivery.delivery_id, "extra_column",
                        f"{file} has column {c} beyond the contract (ignored)", file=file, sha256=sha, column=c)
                for c in extra]
    if [c for c in header if c in expected] != expected:
        warnings.append(failure(delivery.study, delivery.delivery_id, "column_order",
                                f"{file} header order {';'.join(header)} differs from {';'.join(expected)} "
                                "(columns are read by name)", file=file, sha256=sha, row=None))
    return warnings


def _load_csv(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS "
        f"SELECT CAST(ordinality AS BIGINT) AS _row, * EXCLUDE (ordinality) FROM read_csv(?, delim=';', header=true, "
        f"all_varchar=true, encoding='latin-1', parallel=false, strict_mode=true) WITH ORDINALITY",
        [str(path)],
    )


def _load_parquet(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS "
        f"SELECT CAST(file_row_number + 1 AS BIGINT) AS _row, * EXCLUDE (file_row_number) "
        f"FROM read_parquet(?, file_row_number=true) ORDER BY file_row_number",
        [str(path)],
    )


def _load_xpt(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    import pyreadstat  # SAS transport has no DuckDB reader; pyreadstat hands DuckDB a columnar frame

    df, _meta = pyreadstat.read_xport(str(path), disable_datetime_conversion=True)
    df.insert(0, "_row", range(1, len(df) + 1))
    con.register("_xpt_frame", df)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _xpt_frame")
    finally:
        con.unregister("_xpt_frame")


LOADERS = {"csv-legacy": _load_csv, "xpt-adam": _load_xpt, "parquet-adam": _load_parquet}


class ColumnNamedTwice(ValueError):
    """A file naming one column twice: which copy holds the values would be a guess."""

    def __init__(self, column: str):
        self.column = column
        super().__init__(f"names column {column} twice (which copy holds the values would be a guess)")


def column_names(fmt: str, path: Path) -> list[str]:
    """The column names as the file itself writes them: the readers rename a repeated name (DuckDB
    `AGE_1`, pyreadstat `AGE_duplicated1`) and would read the first copy."""
    if fmt == "csv-legacy":
        with open(path, "rb") as fh:
            return fh.readline().decode("latin-1").rstrip("\r\n").split(";")
    if fmt == "parquet-adam":
        import pyarrow.parquet as pq

        return pq.read_schema(path).names
    import pyreadstat

    _df, meta = pyreadstat.read_xport(str(path), metadataonly=True)
    # NAME_duplicated<N> is pyreadstat's rename of a repeated name (longer than a transport v5 name can be)
    return [re.sub(r"_duplicated\d+$", "", n) for n in meta.column_names]


def assert_unique_columns(fmt: str, path: Path) -> None:
    seen: set[str] = set()
    for name in column_names(fmt, path):
        if name in seen:
            raise ColumnNamedTwice(name)
        seen.add(name)


def load_delivery(con: duckdb.DuckDBPyConnection, delivery: Delivery) -> tuple[dict[str, str], list[dict]]:
    """Load every file of a verified delivery into `raw_<study>` of the unit's own (in-memory)
    connection; returns (file -> raw table, warnings).

    Raises DeliveryRejected for a file that cannot be read, has the wrong encoding or header, or
    whose row count differs from the manifest.
    """
    study, did = delivery.study, delivery.delivery_id
    con.execute(f"CREATE SCHEMA IF NOT EXISTS raw_{study_slug(study)}")
    tables: dict[str, str] = {}
    warnings: list[dict] = []
    for file in SOURCE_DATASETS[delivery.format]:
        meta = delivery.files[file]
        table = raw_table_name(study, did, file)
        path = delivery.path / file
        if delivery.format == "csv-legacy":
            assert_latin1_text(delivery, file)
        assert_not_truncated(delivery, file)
        if delivery.format == "csv-legacy":
            warnings += assert_csv_header(delivery, file)
        try:
            assert_unique_columns(delivery.format, path)
            LOADERS[delivery.format](con, table, path)
        except ColumnNamedTwice as exc:
            raise DeliveryRejected(study, did, [failure(
                study, did, "unreadable_file", f"{file} {exc}", file=file, sha256=meta["sha256"], column=exc.column)]
            ) from exc
        except Exception as exc:  # the reader's own message names the line/byte where it can
            raise DeliveryRejected(study, did, [failure(
                study, did, "unreadable_file", f"{file} cannot be read as {delivery.format}: {exc}".splitlines()[0],
                file=file, sha256=meta["sha256"])]) from exc
        rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
        if meta.get("rows") is not None and int(meta["rows"]) != rows:
            raise DeliveryRejected(study, did, [failure(
                study, did, "manifest_rows", f"{file} has {rows} data rows, manifest says {meta['rows']}",
                file=file, sha256=meta["sha256"], value=rows)])
        tables[file] = table
    return tables, warnings


# ------------------------------------------------------------------------------------------------
# Tasks
# ------------------------------------------------------------------------------------------------


@task(name="discover", cache_policy=NO_CACHE)
def discover(settings: Settings, run_id: str | None = None, flow_run_id: str | None = None) -> dict[str, list[str]]:
    """Registered study -> candidate delivery folders, newest first (JSON-friendly for Prefect); every
    other entry under deliveries/ is recorded in the audit (when a run id is given)."""
    found, records = discover_deliveries(settings.deliveries_dir, load_registry(settings.studies_file), settings.pinned)
    if records and run_id is not None:
        with connect(settings.db_path) as con:
            record_failures(con, run_id, flow_run_id, decide(records, load_policy(settings.policy_file)))
    if not any(found.values()):
        raise FileNotFoundError(f"no delivery of a registered study under {settings.deliveries_dir}")
    return {study: [str(p) for p in paths] for study, paths in found.items()}


def verify_delivery(settings: Settings, delivery_dir: str) -> DeliveryResult:
    """The manifest and every file's sha256 (tasks/cache.py keys a delivery by them); a delivery that
    fails comes back refused, its failures decided by the policy (not raised)."""
    path = Path(delivery_dir)
    result = DeliveryResult(study=path.parent.name, delivery_id=path.name)
    try:
        result.delivery, result.warnings = verify_manifest(path, load_registry(settings.studies_file),
                                                           settings.deliveries_dir)
    except DeliveryRejected as exc:
        result.failures = decide(exc.failures, load_policy(settings.policy_file))
        result.message = str(exc)
    return result


@task(name="ingest", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=2)
def ingest_delivery(settings: Settings, con: duckdb.DuckDBPyConnection, result: DeliveryResult) -> DeliveryResult:
    """Load a verified delivery's files as delivered into the unit's connection; a file that cannot
    be loaded refuses the delivery (recorded, not raised)."""
    import_once("numpy", "pandas", "pyarrow", "pyarrow.parquet", "pyreadstat")  # units run in threads
    if result.delivery is None:  # refused by verify_delivery
        return result
    try:
        result.raw_tables, loaded_warnings = load_delivery(con, result.delivery)
        result.warnings = result.warnings + loaded_warnings
        result.ingested = True
    except DeliveryRejected as exc:
        result.failures = decide(exc.failures, load_policy(settings.policy_file))
        result.message = str(exc)
    return result


@task(name="fall-back", cache_policy=NO_CACHE)
def fall_back(pending: dict[str, list[str]], outcomes: dict[str, DeliveryResult]
              ) -> tuple[dict[str, DeliveryResult], list[DeliveryResult], dict[str, list[str]]]:
    """The fallback rule: a study whose candidate was refused moves on to its next older delivery.

    Returns (accepted this round, refused this round, candidates still to try per study).
    """
    accepted, refused, remaining = {}, [], {}
    for study, result in outcomes.items():
        if result.accepted:
            accepted[study] = result
        else:
            refused.append(result)
            if pending[study][1:]:
                remaining[study] = pending[study][1:]
    return accepted, refused, remaining
