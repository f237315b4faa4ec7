"""The hostile-delivery corpus: deliveries written to break the pipeline rather than by accident.

Each case writes one new delivery (a later delivery id) or one odd entry next to the bundled
deliveries, on top of an already published version v1, and the real flow pools it. Cases that can
share a run do (several refused deliveries of one study are tried one after the other, newest
first; one accepted delivery per study), but every case is asserted on its own:

- test_outcome:     refused -> up to date on v1 (the previous delivery is pooled); quarantined ->
                    published with the subject in results.exclusions; recorded -> nothing new is
                    pooled; accepted -> published with the delivery in the lineage;
- test_audit:       the audit row (file, row, column, reason, action) of this run;
- test_state:       the flow state's data/message names the rule and file, and its name is
                    `Completed with exclusions` whenever anything was refused or set aside;
- test_untouched:   v1's folder and rows are byte-identical, and a file outside the delivery
                    (class 2) shows up nowhere: database, result folders, state, captured output.
Class 8 (`test_no_patient_value_in_prefect_database`) scans Prefect's own database afterwards.

Classes: 1 names as code, 2 paths, 3 manifest shape, 4 odd folders, 5 required values missing at
the source, 6 completeness, 7 impossible values, 8 nothing patient-level leaves the database.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
import sqlite3
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import pytest

from repool.hashing import sha256_of
from repool.synth import formats
from repool.synth.corrupt import CsvFile, _parquet_set, _read_parquet, _read_xpt, _write_parquet, _write_xpt
from repool.tasks.db import connect
from tests.versions import snapshot_version as _snapshot
from tests.paths import DATA_DIR

DRILL_DOWN = True  # tests/e2e/conftest.py: these runs store the drill-down

pytestmark = [pytest.mark.slow,  # (pyreadstat warns when it renames the repeated name of xpt-column-named-twice)
              pytest.mark.filterwarnings("ignore:column 'AGE' is duplicated:UserWarning")]

CSV, XPT, PQ = "csv-legacy", "xpt-adam", "parquet-adam"
S206, S211, S311 = "MT103-206", "MT103-211", "00103311"
FMT = {S206: CSV, S211: XPT, S311: PQ}
BUNDLED = {s: max(p.name for p in (DATA_DIR / "deliveries" / s).iterdir() if p.is_dir()) for s in FMT}
SUBJECT_FILE = {S206: "patients.csv", S211: "adsl.xpt", S311: "adsl.parquet"}
SAS_EPOCH = date(1960, 1, 1)
FIRST_NEW_ID = date(2020, 1, 1)  # later than every bundled delivery
WITH_EXCLUSIONS = "Completed with exclusions"
ACTION_TAKEN = {"refused": "delivery rejected", "quarantined": "subject quarantined", "recorded": "recorded",
                "accepted": "recorded"}
SQL_NAME = "x'); DROP TABLE results.ard; --"


def sas(d: str) -> float:
    return float((date.fromisoformat(d) - SAS_EPOCH).days)


# --------------------------------------------------------------------------------------------
# Writing cases
# --------------------------------------------------------------------------------------------


@dataclass
class Ctx:
    """Where one case writes: its data root, study, new delivery id and a private folder outside the root."""

    root: Path
    study: str | None
    did: str | None
    outside: Path

    @property
    def deliveries(self) -> Path:
        return self.root / "deliveries"

    @property
    def folder(self) -> Path:
        return self.deliveries / self.study / self.did

    @property
    def fmt(self) -> str:
        return FMT[self.study]

    @property
    def cut(self) -> str:
        return self.did


def copy_bundled(d: Ctx, study: str | None = None, to: Path | None = None) -> Path:
    """The study's bundled delivery copied to the case's new delivery folder, without its manifest."""
    target = to or d.folder
    shutil.copytree(d.deliveries / (study or d.study) / BUNDLED[study or d.study], target)
    (target / "manifest.json").unlink()
    return target


def manifest_of(d: Ctx, fmt: str | None = None, folder: Path | None = None, names=None) -> dict:
    folder = folder or d.folder
    names = names or sorted(p.name for p in folder.iterdir() if p.name != "manifest.json" and p.is_file())
    return formats.manifest_dict(folder, d.study, d.did, fmt or d.fmt, names)


def write_manifest(d: Ctx, manifest, folder: Path | None = None) -> None:
    (folder or d.folder).joinpath("manifest.json").write_text(
        manifest if isinstance(manifest, str) else json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def seal(d: Ctx, **kw) -> dict:
    m = manifest_of(d, **kw)
    write_manifest(d, m)
    return m


def csv_set(path: Path, row: int, column: str, value: str) -> str:
    """Set one CSV cell (row 1-based, header excluded); returns the old value."""
    f = CsvFile(path)
    old = f.rows[row - 1][f.col(column)]
    f.rows[row - 1][f.col(column)] = value
    f.save()
    return old


def csv_cell(path: Path, row: int, column: str) -> str:
    f = CsvFile(path)
    return f.rows[row - 1][f.col(column)]


def csv_first_row(path: Path, column: str, value: str) -> int:
    f = CsvFile(path)
    return next(i for i, r in enumerate(f.rows, 1) if r[f.col(column)] == value)


def xpt_edit(d: Ctx, name: str, edit: Callable) -> None:
    df = _read_xpt(d.folder / name)
    df = edit(df) if edit is not None else df
    _write_xpt(d.folder / name, df, d.cut)


def subject_206(d: Ctx, row: int) -> str:
    return f"{S206}-{csv_cell(d.folder / 'patients.csv', row, 'PATNR')}"


def outside_file(d: Ctx, name: str, data: bytes) -> Path:
    d.outside.mkdir(parents=True, exist_ok=True)
    (d.outside / name).write_bytes(data)
    return d.outside / name


def token(d: Ctx) -> str:
    """A string only the outside file holds (it must show up nowhere)."""
    return "OUTSIDE" + re.sub(r"[^A-Za-z0-9]", "", d.outside.name).upper()[-10:] + "Q7"


# ---- class 1: names as code --------------------------------------------------------------------


def b_unregistered(name: str, with_delivery: bool = True):
    def build(d: Ctx) -> dict:
        folder = d.deliveries / name
        folder.mkdir()
        if with_delivery:  # a whole, valid-looking delivery inside: it must not be read
            copy_bundled(d, S206, to=folder / "2020-01-01")
            m = manifest_of(d, CSV, folder=folder / "2020-01-01")
            m["study"] = name
            write_manifest(d, m, folder=folder / "2020-01-01")
        return {"file": name}
    return build


def b_listed_quote_file(name: str):
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        shutil.copy(d.folder / SUBJECT_FILE[d.study], d.folder / name)
        seal(d)
        return {}
    return build


def b_csv_extra_column(name: str):
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        f = CsvFile(d.folder / "patients.csv")
        f.header.append(name)
        for r in f.rows:
            r.append("1")
        f.save()
        seal(d)
        return {"column": name}
    return build


def b_parquet_extra_column(name: str):
    def build(d: Ctx) -> dict:
        import pyarrow as pa
        copy_bundled(d)
        t = _read_parquet(d.folder / "adsl.parquet")
        _write_parquet(d.folder / "adsl.parquet", t.append_column(name, pa.array(["'; --"] * t.num_rows)))
        seal(d)
        return {"column": name}
    return build


def b_xpt_quote_column(d: Ctx) -> dict:
    """SAS names are at most 8 characters and writers refuse quotes; a hostile file has them anyway
    (the name field of the RACE NAMESTR record rewritten in place)."""
    copy_bundled(d)
    path = d.folder / "adsl.xpt"
    raw = path.read_bytes()
    end = raw.index(b"HEADER RECORD*******OBS")
    at = raw.index(b"RACE    ", 0, end)
    path.write_bytes(raw[:at] + b"R');--  " + raw[at + 8:])
    seal(d)
    return {"column": "R');--"}


def b_sql_subject_id(d: Ctx) -> dict:
    """A subject id (a value, not a name) holding SQL, consistent across all four files."""
    import pyarrow as pa
    import pyarrow.compute as pc
    copy_bundled(d)
    old = _read_parquet(d.folder / "adsl.parquet").column("usubjid")[4].as_py()
    new = f"{old}'); DROP TABLE results.ard; --"
    for name in ("adsl", "adtte", "adrs", "adae"):
        t = _read_parquet(d.folder / f"{name}.parquet")
        col = pc.if_else(pc.equal(t.column("usubjid"), old), new, t.column("usubjid"))
        t = t.set_column(t.schema.get_field_index("usubjid"), "usubjid", col.cast(pa.string()))
        _write_parquet(d.folder / f"{name}.parquet", t)
    seal(d)
    return {}


def b_column_named_twice(d: Ctx) -> dict:
    """The subject file names its age column twice, the second copy disagreeing: which one holds the
    ages would be a guess (the readers rename the second copy and read the first)."""
    import pyarrow as pa
    copy_bundled(d)
    path = d.folder / SUBJECT_FILE[d.study]
    if d.fmt == CSV:
        f = CsvFile(path)
        f.header.append("AGE")
        for r in f.rows:
            r.append("17")
        f.save()
    elif d.fmt == XPT:  # SAS writers refuse it; the RACE NAMESTR renamed AGE in place
        raw = path.read_bytes()
        at = raw.index(b"RACE    ", 0, raw.index(b"HEADER RECORD*******OBS"))
        path.write_bytes(raw[:at] + b"AGE     " + raw[at + 8:])
    else:
        t = _read_parquet(path)
        _write_parquet(path, t.append_column(pa.field("age", pa.int64()), pa.array([17] * t.num_rows, pa.int64())))
    seal(d)
    return {"column": "age" if d.fmt == PQ else "AGE"}


# ---- class 2: paths ------------------------------------------------------------------------------


def b_listed_name(name: str, target: Callable[[Ctx], Path] | None):
    """The manifest lists `name` (with the sha256 of what it points at) besides the real files."""
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        m = manifest_of(d)
        secret = token(d)
        path = target(d) if target else Path(name)
        if target:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"PATNR;SECRET\n{secret};{secret}\n", encoding="latin-1")
        m["files"][name] = {"sha256": sha256_of(path), "rows": 1}
        write_manifest(d, m)
        secrets = [secret] if target else ["root:x:0:0"]
        return {"secrets": secrets}
    return build


def b_link_listed_file(kind: str):
    """A listed file that is a symlink to a file outside the delivery (its sha256 in the manifest)."""
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        secret = token(d)
        name = SUBJECT_FILE[d.study] if kind == "outside" else "adae.parquet"
        if kind == "sibling":  # another delivery of the same study: inside the root, outside this delivery
            target = d.deliveries / d.study / BUNDLED[d.study] / name
            secrets = []
        elif d.fmt == CSV:
            src = (d.folder / name).read_text(encoding="latin-1").split("\n")
            src[1] = ";".join([secret] + src[1].split(";")[1:])
            target = outside_file(d, name, "\n".join(src).encode("latin-1"))
            secrets = [secret]
        elif d.fmt == XPT:
            df = _read_xpt(d.folder / name)
            df.loc[0, "USUBJID"] = secret
            d.outside.mkdir(parents=True, exist_ok=True)
            _write_xpt(d.outside / name, df, d.cut)
            target, secrets = d.outside / name, [secret]
        else:
            d.outside.mkdir(parents=True, exist_ok=True)
            _write_parquet(d.outside / name, _parquet_set(_read_parquet(d.folder / name), "usubjid", 1, secret))
            target, secrets = d.outside / name, [secret]
        (d.folder / name).unlink()
        (d.folder / name).symlink_to(target)
        seal(d)  # hashes and counts follow the link: the manifest matches what it points at
        return {"file": name, "secrets": secrets}
    return build


def b_link_manifest(d: Ctx) -> dict:
    copy_bundled(d)
    m = manifest_of(d)
    m["note"] = token(d)
    d.outside.mkdir(parents=True, exist_ok=True)
    write_manifest(d, m, folder=d.outside)
    (d.folder / "manifest.json").symlink_to(d.outside / "manifest.json")
    return {"secrets": [token(d)]}


def _outside_delivery(d: Ctx, folder: Path) -> str:
    """A complete, valid delivery of d.study in `folder`, one subject id replaced by a secret."""
    copy_bundled(d, to=folder)
    secret = token(d)
    _write_parquet(folder / "adsl.parquet", _parquet_set(_read_parquet(folder / "adsl.parquet"), "usubjid", 1, secret))
    write_manifest(d, manifest_of(d, folder=folder), folder=folder)
    return secret


def b_link_delivery(d: Ctx) -> dict:
    secret = _outside_delivery(d, d.outside / d.did)
    d.folder.symlink_to(d.outside / d.did, target_is_directory=True)
    return {"secrets": [secret]}


def b_link_study(d: Ctx) -> dict:
    """The registered study's folder itself is a link to a folder outside the data root."""
    study_dir = d.deliveries / d.study
    shutil.copytree(study_dir, d.outside / d.study)
    secret = _outside_delivery(d, d.outside / d.study / d.did)
    shutil.rmtree(study_dir)
    study_dir.symlink_to(d.outside / d.study, target_is_directory=True)
    return {"file": d.study, "delivery_id": None, "secrets": [secret]}


# ---- class 3: manifest shape ----------------------------------------------------------------------


def b_manifest(edit: Callable[[Ctx, dict], object]):
    """The bundled files with a manifest edited by `edit` (a dict to dump, or the text to write)."""
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        m = manifest_of(d)
        out = edit(d, m)
        write_manifest(d, m if out is None else out)
        return {}
    return build


def _dup_file_key(d: Ctx, m: dict) -> str:
    name = SUBJECT_FILE[d.study]
    text = json.dumps(m, indent=2)
    first = json.dumps({name: {"sha256": "0" * 64, "rows": 1}})[1:-1]
    return text.replace('"files": {', '"files": {' + first + ",", 1)


def _dup_format_key(d: Ctx, m: dict) -> str:
    text = json.dumps(m, indent=2)
    return text.replace(f'"format": "{d.fmt}"', f'"format": "{d.fmt}", "format": "csv-legacy"', 1)


def _upper_hex(d: Ctx, m: dict) -> None:
    for meta in m["files"].values():
        meta["sha256"] = meta["sha256"].upper()


def _mixed_hex(d: Ctx, m: dict) -> None:
    for meta in m["files"].values():
        meta["sha256"] = "".join(c.upper() if i % 2 else c for i, c in enumerate(meta["sha256"]))


def b_other_format(other: str):
    """A delivery of d.study in another study's format, the manifest saying so."""
    def build(d: Ctx) -> dict:
        copy_bundled(d, other, to=d.folder)
        seal(d, fmt=FMT[other])
        return {}
    return build


def b_later_data_cut(d: Ctx) -> dict:
    """The delivery id is the data-cut date (sources.md); a manifest moving the cut 80 years on would let
    a date after the real cut (here a patient alive in 2031) pass as before it."""
    copy_bundled(d)
    path = d.folder / "followup.csv"
    csv_set(path, csv_first_row(path, "STATUS", "ALIVE"), "STATUS_DATE", "17.03.2031")
    m = manifest_of(d)
    m["data_cut"] = "2099-12-31"
    write_manifest(d, m)
    return {}


def b_no_manifest(d: Ctx) -> dict:
    copy_bundled(d)
    return {}


def b_unlisted(*names: str):
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        seal(d)
        for n in names:
            (d.folder / n).write_text("shipped by mistake\n", encoding="utf-8")
        return {}
    return build


def b_listed_beyond_format(d: Ctx) -> dict:
    copy_bundled(d)
    m = manifest_of(d)
    (d.folder / "define.xml").write_text("<ODM/>\n", encoding="utf-8")
    m["files"]["define.xml"] = {"sha256": sha256_of(d.folder / "define.xml"), "rows": 1}
    write_manifest(d, m)
    return {}


# ---- class 4: odd folders ---------------------------------------------------------------------------


def b_odd_cut(study: str, name: str, how: str):
    def build(d: Ctx) -> dict:
        entry = d.deliveries / study / name
        if how == "copy":
            copy_bundled(d, study, to=entry)
            c = Ctx(d.root, study, name, d.outside)
            write_manifest(c, manifest_of(c, folder=entry), folder=entry)
        elif how == "link":
            entry.symlink_to(d.deliveries / study / BUNDLED[study], target_is_directory=True)
        else:
            entry.write_text("not a delivery\n", encoding="utf-8")
        return {"file": f"{study}/{name}", "study": study}
    return build


def b_root_file(d: Ctx) -> dict:
    (d.deliveries / "README.txt").write_text("deliveries go below\n", encoding="utf-8")
    return {"file": "README.txt"}


# ---- class 5: required values missing at the source ---------------------------------------------------


def b_cell(file: str, column: str, row: int, value, subject_col: str | None = None):
    """One cell of one file set to `value` (CSV text, SAS number/character, Parquet value)."""
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        path = d.folder / file
        if d.fmt == CSV:
            csv_set(path, row, column, value)
            subject = f"{S206}-{csv_cell(path, row, 'PATNR')}" if column != "PATNR" else None
        elif d.fmt == XPT:
            df = _read_xpt(path)
            subject = df.loc[row - 1, "USUBJID"] or None
            df.loc[row - 1, column] = value
            _write_xpt(path, df, d.cut)
            subject = None if column == "USUBJID" else subject
        else:
            t = _read_parquet(path)
            subject = None if column == "usubjid" else t.column("usubjid")[row - 1].as_py()
            _write_parquet(path, _parquet_set(t, column, row, value))
        seal(d)
        return {"row": row, "column": column, "subject": subject}
    return build


# ---- class 6: completeness ----------------------------------------------------------------------------


def b_empty_subject_file(d: Ctx) -> dict:
    copy_bundled(d)
    path = d.folder / SUBJECT_FILE[d.study]
    if d.fmt == CSV:
        f = CsvFile(path)
        f.rows = []
        f.save()
    elif d.fmt == XPT:
        xpt_edit(d, path.name, lambda df: df.iloc[0:0])
    else:
        _write_parquet(path, _read_parquet(path).slice(0, 0))
    seal(d)
    return {}


def b_truncated(file: str, cut_bytes: int):
    """A file cut short after its manifest was made (the manifest's sha256 updated to the cut file:
    the transfer tool hashed what arrived). A CSV loses its final line end."""
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        path = d.folder / file
        m = manifest_of(d)
        raw = path.read_bytes()
        path.write_bytes(raw[:-cut_bytes])
        m["files"][file]["sha256"] = sha256_of(path)
        write_manifest(d, m)
        return {}
    return build


def b_fewer_subjects(keep: int):
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        if d.fmt == CSV:
            kept = {r[0] for r in CsvFile(d.folder / "patients.csv").rows[:keep]}
            for name in formats.FORMAT_FILES[CSV]:
                f = CsvFile(d.folder / name)
                f.rows = [r for r in f.rows if r[0] in kept]
                f.save()
        elif d.fmt == XPT:
            kept = set(_read_xpt(d.folder / "adsl.xpt")["USUBJID"][:keep])
            for name in formats.FORMAT_FILES[XPT]:
                xpt_edit(d, name, lambda df: df[df["USUBJID"].isin(kept)].reset_index(drop=True))
        else:
            import pyarrow as pa
            import pyarrow.compute as pc
            kept = pa.array(_read_parquet(d.folder / "adsl.parquet").column("usubjid").to_pylist()[:keep])
            for name in formats.FORMAT_FILES[PQ]:
                t = _read_parquet(d.folder / name)
                _write_parquet(d.folder / name, t.filter(pc.is_in(t.column("usubjid"), value_set=kept)))
        seal(d)
        return {}
    return build


# ---- class 7: impossible values -----------------------------------------------------------------------


def b_alive_after_cut(value_fn: Callable[[Ctx], str]):
    """206: the date last known alive of an ALIVE patient after the cut (or beyond any calendar)."""
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        path = d.folder / "followup.csv"
        row = csv_first_row(path, "STATUS", "ALIVE")
        value = value_fn(d)
        csv_set(path, row, "STATUS_DATE", value)
        seal(d)
        return {"row": row, "column": "STATUS_DATE", "subject": f"{S206}-{csv_cell(path, row, 'PATNR')}",
                "planted": [value]}
    return build


def b_adtte_after_cut(d: Ctx) -> dict:
    """211: a censored OS time whose ADT (last known alive) is after the cut; AVAL kept consistent."""
    copy_bundled(d)
    df = _read_xpt(d.folder / "adtte.xpt")
    i = int(df.index[(df["PARAMCD"] == "OS") & (df["CNSR"] == 1)][0])
    df.loc[i, "ADT"] = sas("2031-03-17")
    df.loc[i, "AVAL"] = df.loc[i, "ADT"] - df.loc[i, "STARTDT"]
    _write_xpt(d.folder / "adtte.xpt", df, d.cut)
    seal(d)
    return {"row": i + 1, "column": "ADT", "subject": df.loc[i, "USUBJID"]}


def b_aval_inconsistent(d: Ctx) -> dict:
    copy_bundled(d)
    df = _read_xpt(d.folder / "adtte.xpt")
    i = 6
    df.loc[i, "AVAL"] = df.loc[i, "AVAL"] + 100
    _write_xpt(d.folder / "adtte.xpt", df, d.cut)
    seal(d)
    return {"row": i + 1, "column": "AVAL", "subject": df.loc[i, "USUBJID"]}


def b_sas_days(file: str, column: str, row: int, days: float, relative_to: str | None = None):
    """211: a SAS date `days` after another column's date (or `days` itself): a million days out, beyond INT32."""
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        df = _read_xpt(d.folder / file)
        value = days + (df.loc[row - 1, relative_to] if relative_to else 0)
        df.loc[row - 1, column] = value
        _write_xpt(d.folder / file, df, d.cut)
        seal(d)
        planted = [str(int(value))] if value < 1e9 else ["1000000000000", "1e+12", "1e12"]
        return {"row": row, "column": column, "subject": df.loc[row - 1, "USUBJID"], "planted": planted}
    return build


def b_pq_value(file: str, column: str, row: int, value, also: dict | None = None, as_type=None):
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        path = d.folder / file
        t = _read_parquet(path)
        subject = t.column("usubjid")[row - 1].as_py()
        t = _parquet_set(t, column, row, value, as_type)
        for c, v in (also or {}).items():
            t = _parquet_set(t, c, row, v)
        _write_parquet(path, t)
        seal(d)
        return {"row": row, "column": column, "subject": subject, "planted": [str(value)]}
    return build


def b_csv_value(file: str, column: str, row: int, value: str):
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        csv_set(d.folder / file, row, column, value)
        seal(d)
        return {"row": row, "column": column, "subject": subject_206(d, row), "planted": [value]}
    return build


def b_studyid(row: int, other: str):
    def build(d: Ctx) -> dict:
        copy_bundled(d)
        path = d.folder / SUBJECT_FILE[d.study]
        if d.fmt == CSV:  # the legacy export gains a STUDYID column
            f = CsvFile(path)
            f.header.append("STUDYID")
            for i, r in enumerate(f.rows, 1):
                r.append(other if i == row else d.study)
            f.save()
            column = "STUDYID"
        elif d.fmt == XPT:
            df = _read_xpt(path)
            df.loc[row - 1, "STUDYID"] = other
            _write_xpt(path, df, d.cut)
            column = "STUDYID"
        else:
            _write_parquet(path, _parquet_set(_read_parquet(path), "studyid", row, other))
            column = "studyid"
        seal(d)
        return {"row": row, "column": column}
    return build


def b_nested(file: str, column: str, kind: str):
    """A Parquet column where the contract wants a scalar holds a list or a struct in every row."""
    def build(d: Ctx) -> dict:
        import pyarrow as pa
        copy_bundled(d)
        path = d.folder / file
        t = _read_parquet(path)
        values = t.column(column).to_pylist()
        if kind == "list":
            arr = pa.array([[v, v] for v in values])
        else:
            arr = pa.array([{"value": v, "unit": "x"} for v in values])
        _write_parquet(path, t.set_column(t.schema.get_field_index(column), column, arr))
        seal(d)
        return {"row": 1, "column": column}
    return build


# --------------------------------------------------------------------------------------------
# The cases
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    klass: int
    run: str
    study: str | None  # the study whose folder the case writes into (None: an entry of the data root)
    outcome: str  # refused | quarantined | recorded | accepted
    reason: str | None  # the reason code recorded for it (None: nothing may be recorded)
    file: str | None
    build: Callable[[Ctx], dict]
    column: str | None = None
    row: int | None = None
    discovery: bool = False  # recorded while discovering deliveries (no delivery result)
    statuses: tuple = ("up-to-date",)  # for a refusal: the run's admissible statuses
    xfail: dict = field(default_factory=dict)  # aspect -> reason


C = Case  # (short, for the table below)


LINK_STUDY = ("a registered study whose folder links outside the data root has no delivery to refuse: the run "
              "fails (nothing published, path_unsafe in the audit) instead of ending 'Completed with exclusions' "
              "with a refusal line")

CASES: list[Case] = [
    # 1. names as code ---------------------------------------------------------------------------
    C("unregistered-sql-name", 1, "names", None, "recorded", "unregistered_study", SQL_NAME, b_unregistered(SQL_NAME),
      discovery=True),
    C("unregistered-obrien", 1, "names", None, "recorded", "unregistered_study", "O'Brien-1",
      b_unregistered("O'Brien-1"), discovery=True),
    C("unregistered-double-quote", 1, "names", None, "recorded", "unregistered_study",
      '"; DELETE FROM audit.validation_failures; --', b_unregistered('"; DELETE FROM audit.validation_failures; --'),
      discovery=True),
    C("unregistered-template-tag", 1, "names", None, "recorded", "unregistered_study", "{{ source('adsl') }}",
      b_unregistered("{{ source('adsl') }}"), discovery=True),
    C("listed-file-name-with-sql-206", 1, "paths", S206, "refused", "manifest_invalid", "manifest.json",
      b_listed_quote_file("O'Brien.csv")),
    C("listed-file-name-with-sql-211", 1, "paths", S211, "refused", "manifest_invalid", "manifest.json",
      b_listed_quote_file("adsl'); DROP TABLE results.ard; --.xpt")),
    C("csv-column-name-with-quotes", 1, "warn2", S206, "accepted", "extra_column", "patients.csv",
      b_csv_extra_column("O'Brien\") DROP TABLE results.ard --")),
    C("xpt-column-name-with-quotes", 1, "warn2", S211, "accepted", "extra_column", "adsl.xpt", b_xpt_quote_column),
    C("parquet-column-name-with-sql", 1, "warn1", S311, "accepted", "extra_column", "adsl.parquet",
      b_parquet_extra_column(SQL_NAME)),
    C("subject-id-with-sql", 1, "warn4", S311, "accepted", None, None, b_sql_subject_id),
    C("csv-column-named-twice", 1, "paths", S206, "refused", "unreadable_file", "patients.csv", b_column_named_twice),
    C("xpt-column-named-twice", 1, "paths", S211, "refused", "unreadable_file", "adsl.xpt", b_column_named_twice),
    C("parquet-column-named-twice", 1, "paths", S311, "refused", "unreadable_file", "adsl.parquet",
      b_column_named_twice),
    # 2. paths ------------------------------------------------------------------------------------------
    C("manifest-names-dotdot", 2, "paths", S206, "refused", "manifest_invalid", "manifest.json",
      b_listed_name("../../x", lambda d: d.folder / ".." / ".." / "x")),
    C("manifest-names-absolute", 2, "paths", S211, "refused", "manifest_invalid", "manifest.json",
      b_listed_name("/etc/passwd", None)),
    C("manifest-names-subfolder", 2, "paths", S311, "refused", "manifest_invalid", "manifest.json",
      b_listed_name("sub/dir.csv", lambda d: d.folder / "sub" / "dir.csv")),
    C("listed-file-links-outside-206", 2, "paths", S206, "refused", "path_unsafe", "patients.csv",
      b_link_listed_file("outside")),
    C("listed-file-links-outside-211", 2, "paths", S211, "refused", "path_unsafe", "adsl.xpt",
      b_link_listed_file("outside")),
    C("listed-file-links-outside-311", 2, "paths", S311, "refused", "path_unsafe", "adsl.parquet",
      b_link_listed_file("outside")),
    C("listed-file-links-to-older-delivery", 2, "paths", S311, "refused", "path_unsafe", "adae.parquet",
      b_link_listed_file("sibling")),
    C("manifest-links-outside", 2, "paths", S211, "refused", "path_unsafe", "manifest.json", b_link_manifest),
    C("delivery-folder-links-outside", 2, "link-delivery", S311, "refused", "path_unsafe", None, b_link_delivery),
    C("study-folder-links-outside", 2, "link-study", S311, "refused", "path_unsafe", None, b_link_study,
      discovery=True, statuses=("up-to-date", "failed"), xfail={"state": LINK_STUDY}),
    # 3. manifest shape ---------------------------------------------------------------------------------
    C("manifest-is-an-array", 3, "manifest", S206, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: json.dumps([m]))),
    C("manifest-files-is-a-list", 3, "manifest", S211, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: {**m, "files": [{"name": k, **v} for k, v in m["files"].items()]})),
    C("manifest-rows-as-text", 3, "manifest", S311, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: m["files"]["adsl.parquet"].update(rows=str(m["files"]["adsl.parquet"]["rows"])))),
    C("manifest-rows-missing", 3, "manifest", S206, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: m["files"]["patients.csv"].pop("rows") and None)),
    C("manifest-rows-a-float", 3, "manifest", S311, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: m["files"]["adae.parquet"].update(rows=float(m["files"]["adae.parquet"]["rows"])))),
    C("manifest-rows-a-boolean", 3, "manifest", S311, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: m["files"]["adrs.parquet"].update(rows=True))),
    C("manifest-duplicate-file-key", 3, "manifest", S211, "refused", "manifest_invalid", "manifest.json",
      b_manifest(_dup_file_key)),
    C("manifest-duplicate-format-key", 3, "manifest", S311, "refused", "manifest_invalid", "manifest.json",
      b_manifest(_dup_format_key)),
    C("manifest-sha256-too-short", 3, "manifest", S206, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: m["files"]["ae.csv"].update(sha256=m["files"]["ae.csv"]["sha256"][:63]))),
    C("manifest-not-json", 3, "manifest", S206, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: json.dumps(m)[:80])),
    C("manifest-names-another-study", 3, "manifest", S211, "refused", "manifest_invalid", "manifest.json",
      b_manifest(lambda d, m: m.update(study=S311)), column="study"),
    C("manifest-missing", 3, "manifest", S311, "refused", "manifest_invalid", "manifest.json", b_no_manifest),
    C("manifest-data-cut-after-delivery-id", 3, "manifest", S206, "refused", "manifest_invalid", "manifest.json",
      b_later_data_cut, column="data_cut"),
    C("format-mismatch-206-as-xpt", 3, "manifest", S206, "refused", "format_mismatch", "manifest.json",
      b_other_format(S211), column="format"),
    C("format-mismatch-211-as-parquet", 3, "manifest", S211, "refused", "format_mismatch", "manifest.json",
      b_other_format(S311), column="format"),
    C("format-mismatch-311-as-csv", 3, "manifest", S311, "refused", "format_mismatch", "manifest.json",
      b_other_format(S206), column="format"),
    C("manifest-upper-case-hex", 3, "warn1", S206, "accepted", None, None, b_manifest(_upper_hex)),
    C("manifest-mixed-case-hex", 3, "warn4", S211, "accepted", None, None, b_manifest(_mixed_hex)),
    C("unlisted-files-on-disk", 3, "warn1", S211, "accepted", "unlisted_file", "notes.txt",
      b_unlisted("notes.txt", "adsl.xpt.bak")),
    C("listed-file-beyond-format", 3, "warn2", S311, "accepted", "unlisted_file", "define.xml",
      b_listed_beyond_format),
    # 4. odd folders -------------------------------------------------------------------------------------
    C("cut-not-a-calendar-date", 4, "odd", None, "recorded", "unexpected_entry", f"{S206}/2020-13-45",
      b_odd_cut(S206, "2020-13-45", "copy"), discovery=True),
    C("cut-in-full-width-digits", 4, "odd", None, "recorded", "unexpected_entry", f"{S311}/２０２０-01-01",
      b_odd_cut(S311, "２０２０-01-01", "copy"), discovery=True),
    C("cut-named-latest", 4, "odd", None, "recorded", "unexpected_entry", f"{S211}/latest",
      b_odd_cut(S211, "latest", "link"), discovery=True),
    C("cut-that-is-a-file", 4, "odd", None, "recorded", "unexpected_entry", f"{S211}/2020-01-01",
      b_odd_cut(S211, "2020-01-01", "file"), discovery=True),
    C("hidden-file-in-study", 4, "odd", None, "recorded", "unexpected_entry", f"{S206}/.DS_Store",
      b_odd_cut(S206, ".DS_Store", "file"), discovery=True),
    C("file-under-deliveries", 4, "odd", None, "recorded", "unexpected_entry", "README.txt", b_root_file,
      discovery=True),
    C("empty-unregistered-study", 4, "odd", None, "recorded", "unregistered_study", "MT103-999",
      b_unregistered("MT103-999", with_delivery=False), discovery=True),
    # 5. required values missing at the source -----------------------------------------------------------
    C("csv-empty-age", 5, "q1", S206, "quarantined", "missing_value", "patients.csv",
      b_cell("patients.csv", "AGE", 5, "")),
    C("xpt-missing-age", 5, "q1", S211, "quarantined", "missing_value", "adsl.xpt",
      b_cell("adsl.xpt", "AGE", 5, float("nan"))),
    C("parquet-null-age", 5, "q1", S311, "quarantined", "missing_value", "adsl.parquet",
      b_cell("adsl.parquet", "age", 5, None)),
    C("csv-empty-first-dose", 5, "q2", S206, "quarantined", "missing_value", "patients.csv",
      b_cell("patients.csv", "FIRST_DOSE", 7, "")),
    C("xpt-missing-trtsdt", 5, "q2", S211, "quarantined", "missing_value", "adsl.xpt",
      b_cell("adsl.xpt", "TRTSDT", 7, float("nan"))),
    C("parquet-null-sex", 5, "q2", S311, "quarantined", "missing_value", "adsl.parquet",
      b_cell("adsl.parquet", "sex", 7, None)),
    C("csv-na-where-required", 5, "q6", S206, "quarantined", "missing_value", "patients.csv",
      b_cell("patients.csv", "SEX", 9, "n.a.")),
    C("csv-ae-without-subject", 5, "complete", S206, "refused", "missing_value", "ae.csv",
      b_cell("ae.csv", "PATNR", 5, "")),
    C("xpt-ae-without-subject", 5, "complete", S211, "refused", "missing_value", "adae.xpt",
      b_cell("adae.xpt", "USUBJID", 5, "")),
    C("parquet-ae-without-subject", 5, "complete", S311, "refused", "missing_value", "adae.parquet",
      b_cell("adae.parquet", "usubjid", 5, None)),
    # 6. completeness ------------------------------------------------------------------------------------
    C("csv-header-only-patients", 6, "complete", S206, "refused", "empty_dataset", "patients.csv",
      b_empty_subject_file),
    C("xpt-zero-row-adsl", 6, "complete", S211, "refused", "empty_dataset", "adsl.xpt", b_empty_subject_file),
    C("parquet-zero-row-adsl", 6, "complete", S311, "refused", "empty_dataset", "adsl.parquet", b_empty_subject_file),
    C("csv-without-final-line-end", 6, "complete", S206, "refused", "truncated_file", "ae.csv",
      b_truncated("ae.csv", 1)),
    C("xpt-off-80-byte-records", 6, "complete", S211, "refused", "truncated_file", "adtte.xpt",
      b_truncated("adtte.xpt", 37)),
    C("parquet-cut-short", 6, "complete", S311, "refused", "truncated_file", "adae.parquet",
      b_truncated("adae.parquet", 100)),
    C("csv-far-fewer-subjects", 6, "warn3", S206, "accepted", "subject_count_drop", "patients.csv",
      b_fewer_subjects(10)),
    C("xpt-far-fewer-subjects", 6, "warn3", S211, "accepted", "subject_count_drop", "adsl.xpt",
      b_fewer_subjects(40)),
    C("parquet-far-fewer-subjects", 6, "warn3", S311, "accepted", "subject_count_drop", "adsl.parquet",
      b_fewer_subjects(100)),
    # 7. impossible values --------------------------------------------------------------------------------
    C("csv-alive-after-cut", 7, "q3", S206, "quarantined", "date_after_cut", "followup.csv",
      b_alive_after_cut(lambda d: "17.03.2031")),
    C("xpt-last-alive-after-cut", 7, "q3", S211, "quarantined", "date_after_cut", "adtte.xpt", b_adtte_after_cut),
    C("parquet-hsct-after-cut", 7, "q3", S311, "quarantined", "date_after_cut", "adsl.parquet",
      b_pq_value("adsl.parquet", "hsct_date", 3, "2031-03-17", also={"hsct_status": "CR"})),
    C("csv-alive-until-9999", 7, "q4", S206, "quarantined", "implausible_date", "followup.csv",
      b_alive_after_cut(lambda d: "31.12.9999")),
    C("xpt-date-a-million-days-out", 7, "q4", S211, "quarantined", "implausible_date", "adsl.xpt",
      b_sas_days("adsl.xpt", "TRTEDT", 9, 1_000_000, relative_to="TRTSDT")),
    C("parquet-year-0210", 7, "q4", S311, "quarantined", "implausible_date", "adsl.parquet",
      b_pq_value("adsl.parquet", "other_tx_date", 4, "0210-05-01")),
    C("xpt-date-beyond-int32", 7, "q6", S211, "quarantined", "implausible_date", "adae.xpt",
      b_sas_days("adae.xpt", "ASTDT", 11, 1e12)),
    C("parquet-partial-onset-after-cut", 7, "q6", S311, "quarantined", "date_after_cut", "adae.parquet",
      b_pq_value("adae.parquet", "onset_date", 12, "2031-05")),
    C("xpt-aval-inconsistent", 7, "q5", S211, "quarantined", "aval_inconsistent", "adtte.xpt", b_aval_inconsistent),
    C("csv-age-4711", 7, "q5", S206, "quarantined", "age_range", "patients.csv", b_csv_value("patients.csv", "AGE", 11, "4711")),
    C("parquet-age-31337", 7, "q5", S311, "quarantined", "age_range", "adsl.parquet",
      b_pq_value("adsl.parquet", "age", 11, 31337)),
    C("csv-studyid-of-another-study", 7, "impossible", S206, "refused", "studyid_mismatch", "patients.csv",
      b_studyid(5, S311)),
    C("xpt-studyid-of-another-study", 7, "impossible", S211, "refused", "studyid_mismatch", "adsl.xpt",
      b_studyid(5, S206)),
    C("parquet-studyid-of-another-study", 7, "impossible", S311, "refused", "studyid_mismatch", "adsl.parquet",
      b_studyid(5, S211)),
    C("parquet-list-where-scalar", 7, "impossible", S311, "refused", "wrong_type", "adsl.parquet",
      b_nested("adsl.parquet", "age", "list")),
    C("parquet-struct-where-scalar", 7, "impossible", S311, "refused", "wrong_type", "adsl.parquet",
      b_nested("adsl.parquet", "sex", "struct")),
    C("parquet-list-in-nullable-column", 7, "impossible", S311, "refused", "wrong_type", "adsl.parquet",
      b_nested("adsl.parquet", "bm_blasts_pct", "list")),
    C("parquet-struct-in-time-file", 7, "impossible", S311, "refused", "wrong_type", "adtte.parquet",
      b_nested("adtte.parquet", "aval", "struct")),
]
BY_ID = {c.id: c for c in CASES}
assert len(BY_ID) == len(CASES)


# --------------------------------------------------------------------------------------------
# Running a group of cases through the real flow
# --------------------------------------------------------------------------------------------


def _run_flow(root: Path, drill_down: bool = True):
    import os
    from unittest import mock

    from repool.flows.repool_flow import repool

    with mock.patch.dict(os.environ, {} if drill_down else {DRILL_DOWN_ENV: "0"}):  # restored after the run
        return repool(data_dir=str(root), return_state=True, gx_checkpoint=False)


DRILL_DOWN_ENV = "REPOOL_DRILL_DOWN_MAX_SUBJECTS"


def _needs_drill_down(group_cases: list, written: dict) -> bool:
    """Whether a group's run stores the drill-down (about 2.5 s of a run): not when every case of it
    quarantines its subject (the hostile value is set aside, the drill-down lists only untouched
    subjects) and none plants a secret to look for in the result folders."""
    quarantines_only = all(c.outcome == "quarantined" for c in group_cases)
    return not quarantines_only or any(w["found"]["secrets"] for w in written.values())


def _database_text(root: Path) -> str:
    """Every value of every table of the run's DuckDB database, as text."""
    parts = []
    with connect(root / "repool.duckdb", read_only=True) as con:
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        for schema, name in tables:
            rows = con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall()
            parts.append(f"{schema}.{name}\n" + "\n".join(map(repr, rows)))
    return "\n".join(parts)


def _folder_text(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("latin-1") for p in sorted(folder.rglob("*")) if p.is_file())


@dataclass
class GroupRun:
    root: Path
    cases: dict[str, dict]  # case id -> {"ctx", "found"}
    state: object
    data: dict
    audit: list[dict]
    deliveries: list[tuple]
    lineage: dict[str, set]
    exclusions: list[dict]
    v1: str
    v1_before: tuple
    v1_after: tuple
    output: str
    seconds: float
    leak_text: str = ""  # DuckDB + result folders + state + output, for the cases that plant secrets


class Corpus:
    """Runs each group of cases once (lazily), on its own copy of the published base."""

    def __init__(self, base: Path, v1: str, tmp: pytest.TempPathFactory, capman):
        self.base, self.v1, self.tmp, self.capman = base, v1, tmp, capman
        self.runs: dict[str, GroupRun] = {}

    def run(self, group: str) -> GroupRun:
        if group not in self.runs:
            self.runs[group] = self._run(group)
        return self.runs[group]

    def _run(self, group: str) -> GroupRun:
        root = self.tmp.mktemp(f"hostile-{group}")
        root.rmdir()
        shutil.copytree(self.base, root)
        before = _snapshot(root, self.v1)
        cases, per_study = {}, {}
        group_cases = [c for c in CASES if c.run == group]
        for case in group_cases:
            n = per_study.get(case.study, 0)
            per_study[case.study] = n + 1
            did = (FIRST_NEW_ID + timedelta(days=n)).isoformat() if case.study else None
            ctx = Ctx(root, case.study, did, self.tmp.mktemp(f"outside-{case.id}"))
            found = {"study": case.study, "delivery_id": did, "file": case.file, "row": case.row,
                     "column": case.column, "subject": None, "planted": [], "secrets": []}
            found.update(case.build(ctx) or {})
            cases[case.id] = {"ctx": ctx, "found": found}
        if self.capman is not None:
            held = self.capman.read_global_capture()
        _log_everything_to_prefect()
        t0 = time.perf_counter()
        state = _run_flow(root, drill_down=_needs_drill_down(group_cases, cases))
        seconds = time.perf_counter() - t0
        out, err = self.capman.read_global_capture() if self.capman is not None else ("", "")
        if self.capman is not None:  # hand the captured output back to pytest's report
            sys.stdout.write(held[0] + out)
            sys.stderr.write(held[1] + err)
        try:  # a Failed state carries the run's outcome as its result too
            data = state.result(raise_on_failure=False)
        except Exception as exc:  # a crash: its exception
            data = exc
        if not isinstance(data, dict):
            data = {"exception": repr(data)}
        run_id = data.get("run_id")
        with connect(root / "repool.duckdb", read_only=True) as con:
            cols = ["study", "delivery_id", "file", "row", "column", "reason", "value", "subject", "action", "message"]
            audit = [dict(zip(cols, r)) for r in con.execute(
                'SELECT study, delivery_id, file, row, "column", reason, value, subject, action, message '
                "FROM audit.validation_failures WHERE run_id = ?", [run_id]).fetchall()]
            deliveries = con.execute("SELECT study, delivery_id, status FROM audit.deliveries WHERE run_id = ?",
                                     [run_id]).fetchall()
            lineage: dict[str, set] = {}
            for study, did in con.execute("SELECT DISTINCT study, delivery_id FROM results.lineage "
                                          "WHERE result_version = ?", [data.get("version")]).fetchall():
                lineage.setdefault(study, set()).add(did)
            exclusions = [dict(zip(["study", "delivery_id", "subject", "reason", "file", "row"], r)) for r in con.execute(
                "SELECT study, delivery_id, subject, reason, file, row FROM results.exclusions WHERE result_version = ?",
                [data.get("version")]).fetchall()]
        after = _snapshot(root, self.v1)
        run = GroupRun(root, cases, state, data, audit, deliveries, lineage, exclusions, self.v1, before, after,
                       out + err, seconds)
        if any(c["found"]["secrets"] for c in cases.values()):
            run.leak_text = "\n".join([_database_text(root), _folder_text(root / "results"), repr(state),
                                       str(state.message), json.dumps(data, default=str), out, err])
        print(f"hostile corpus: group {group}: {len(cases)} case(s), flow {seconds:.1f}s, "
              f"state {state.name!r}, status {data.get('status')}")
        return run


RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


def _log_everything_to_prefect() -> None:
    for name in RUN_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)


@pytest.fixture(scope="module")
def corpus(prefect_harness, tmp_path_factory, request):
    """The bundled deliveries with v1 published, and a runner for the groups of cases. The flow and task
    run loggers send everything down to DEBUG to Prefect meanwhile (the test default is WARNING), so
    that class 8 scans every log line a run can write."""
    import repool.flows.repool_flow  # noqa: F401  (importing the stack reconfigures Prefect's loggers)

    levels = {name: logging.getLogger(name).level for name in RUN_LOGGERS}
    _log_everything_to_prefect()
    try:
        root = tmp_path_factory.mktemp("hostile") / "base"
        shutil.copytree(DATA_DIR / "deliveries", root / "deliveries")
        state = _run_flow(root)
        assert state.is_completed(), state.message
        capman = request.config.pluginmanager.getplugin("capturemanager")
        yield Corpus(root, state.result()["version"], tmp_path_factory, capman)
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _params(aspect: str) -> list:
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail[aspect])]
                         if aspect in c.xfail else []) for c in CASES]


def _group_excludes(run: GroupRun) -> bool:
    return any(BY_ID[i].outcome in ("refused", "quarantined") for i in run.cases)


# --------------------------------------------------------------------------------------------
# The assertions, per case
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", _params("outcome"))
def test_outcome(corpus, case):
    run = corpus.run(case.run)
    f = run.cases[case.id]["found"]
    data, state = run.data, run.state
    if data.get("status") in ("published", "up-to-date"):  # every registered study is pooled, and nothing else
        assert set(run.lineage) == set(FMT), (data["status"], run.lineage)
    if case.outcome == "refused" and "failed" in case.statuses and data.get("status") == "failed":
        assert "nothing published" in data["message"]
        return
    assert state.is_completed(), (state.name, state.message)
    if case.outcome in ("refused", "recorded"):
        # the previous delivery is pooled (or the entry is not pooled at all): exactly v1's inputs
        assert data["status"] == "up-to-date" and data["version"] == run.v1, (data["status"], data.get("message"))
        if case.outcome == "refused" and not case.discovery:
            assert (f["study"], f["delivery_id"], "rejected") in run.deliveries
        assert not any(d[1] == f["delivery_id"] and d[2] == "accepted" for d in run.deliveries if d[0] == f["study"])
    elif case.outcome == "quarantined":
        assert data["status"] == "published" and data["version"] != run.v1
        assert run.lineage[case.study] == {f["delivery_id"]}
        assert f["subject"], "the case must name the subject it plants"
        hit = [e for e in run.exclusions if e["subject"] == f["subject"]]
        assert hit, (f["subject"], run.exclusions)
        assert (hit[0]["study"], hit[0]["delivery_id"], hit[0]["reason"], hit[0]["file"], hit[0]["row"]) == \
            (case.study, f["delivery_id"], case.reason, f["file"], f["row"]), hit
    else:  # accepted: pooled and published, nothing of this delivery set aside
        assert data["status"] == "published" and data["version"] != run.v1
        assert run.lineage[case.study] == {f["delivery_id"]}
        assert not [e for e in run.exclusions if e["study"] == case.study], run.exclusions
    if case.outcome == "quarantined":
        assert state.name == WITH_EXCLUSIONS
    elif case.outcome != "refused":  # (a refusal's state is test_state's business)
        assert state.name == (WITH_EXCLUSIONS if _group_excludes(run) else "Completed"), state.name


@pytest.mark.parametrize("case", _params("audit"))
def test_audit(corpus, case):
    run = corpus.run(case.run)
    f = run.cases[case.id]["found"]
    # a discovery record names the entry (its delivery id, if any, is the folder's name); a delivery's, its id
    mine = [a for a in run.audit if a["study"] == f["study"]
            and (case.discovery or a["delivery_id"] == f["delivery_id"])]
    if case.reason is None:  # accepted as delivered: no structural or refusing record for it
        assert not [a for a in mine if a["delivery_id"] == f["delivery_id"]
                    and (a["reason"].startswith("manifest_") or a["action"] == "delivery rejected")], mine
        return
    hits = [a for a in mine if a["reason"] == case.reason and a["file"] == f["file"]]
    assert hits, (case.reason, f["file"], [(a["reason"], a["file"], a["row"], a["column"]) for a in mine])
    if f["row"] is not None:
        hits = [a for a in hits if a["row"] == f["row"]]
        assert hits, f"no {case.reason} row for row {f['row']}"
    if f["column"] is not None:
        hits = [a for a in hits if a["column"] == f["column"]]
        assert hits, f"no {case.reason} row for column {f['column']}"
    assert hits[0]["action"] == ACTION_TAKEN[case.outcome], hits[0]
    if case.outcome == "quarantined":
        assert hits[0]["subject"] == f["subject"]


@pytest.mark.parametrize("case", _params("state"))
def test_state(corpus, case):
    run = corpus.run(case.run)
    f = run.cases[case.id]["found"]
    data, state = run.data, run.state
    if case.outcome == "refused":
        head = f"{f['study']}@{f['delivery_id']} REJECTED: {case.reason} in"
        lines = [line for line in data.get("refused", []) if line.startswith(head)]
        assert lines, (head, data.get("refused"))
        where = "".join(f" {k} {f[k]}" for k in ("file", "row", "column") if f[k] is not None) or " delivery"
        assert lines[0].startswith(head + where), (lines[0], where)
        assert state.name == WITH_EXCLUSIONS
    elif case.outcome == "quarantined":
        line = f"{case.study}@{f['delivery_id']}: {case.reason} in {f['file']} row {f['row']} column {f['column']}"
        assert line in data.get("quarantine", []), (line, data.get("quarantine"))
        assert state.name == WITH_EXCLUSIONS
    elif case.reason is not None:  # a warning: recorded, and named where the run reports
        said = (state.message or "") + json.dumps(data, default=str, ensure_ascii=False)
        assert case.reason in said and f["file"] in said, said


@pytest.mark.parametrize("case", _params("untouched"))
def test_untouched(corpus, case):
    run = corpus.run(case.run)
    f = run.cases[case.id]["found"]
    assert run.v1_after == run.v1_before  # nothing published before was touched
    assert run.v1_before[1]["ard"], "v1 has ARD rows"
    for secret in f["secrets"]:  # a file outside the delivery is never read: its content is nowhere
        assert secret not in run.leak_text, f"{secret!r} leaked"


# --------------------------------------------------------------------------------------------
# 8. No patient-level value leaves the database
# --------------------------------------------------------------------------------------------


def _prefect_database() -> Path:
    import prefect.settings

    url = prefect.settings.get_current_settings().server.database.connection_url.get_secret_value()
    path = Path(url.split("///", 1)[1])
    assert path.is_file(), url
    return path


def _drain_prefect() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=30)
    EventsWorker.drain_all(timeout=30)


def _prefect_text(path: Path) -> dict[str, str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        out = {}
        for t in tables:
            rows = con.execute(f'SELECT * FROM "{t}"').fetchall()
            out[t] = "\n".join(
                " ".join(v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in r) for r in rows)
        return out
    finally:
        con.close()


def test_no_patient_value_in_prefect_database(corpus):
    runs = [corpus.run(g) for g in dict.fromkeys(c.run for c in CASES)]
    planted = set()
    for run in runs:
        for case_id, c in run.cases.items():
            f = c["found"]
            planted |= {v for v in [f["subject"], *f["planted"], *f["secrets"]] if v}
    assert len(planted) > 20
    _drain_prefect()
    path = _prefect_database()
    # the server stores events in batches: wait for the last run's final event, then for the table to settle
    last = str(runs[-1].state.state_details.flow_run_id)
    deadline, count = time.monotonic() + 90, -1
    while True:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            final = con.execute("SELECT count(*) FROM events WHERE resource_id = ? AND event LIKE 'prefect.flow-run.Completed%'",
                                [f"prefect.flow-run.{last}"]).fetchone()[0]
            final *= con.execute("SELECT count(*) FROM log WHERE flow_run_id = ?", [last]).fetchone()[0]
            now = con.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            con.close()
        if final and now == count:
            break
        assert time.monotonic() < deadline, "Prefect never stored the last run's events"
        count = now
        time.sleep(3)
    text = _prefect_text(path)
    for table in ("flow_run", "flow_run_state", "task_run", "task_run_state", "artifact", "events", "log"):
        assert table in text, f"no table {table} in Prefect's database"
    assert "ingest[MT103-211@2020-01-01]" in text["task_run"], "the corpus' task runs are there"
    assert "published result version" in text["log"], "the corpus' log lines are there"
    assert "Deliveries refused" in text["artifact"], "the corpus' run summaries are there"
    found = []
    for value in sorted(planted):
        # a value standing alone (not a piece of a longer number, word or uuid: 4711 is a uuid group)
        pattern = re.compile(r"(?<![0-9A-Za-z.-])" + re.escape(value) + r"(?![0-9A-Za-z-])")
        for table, body in text.items():
            found += [(value, table, body[max(0, m.start() - 80):m.end() + 80]) for m in pattern.finditer(body)]
    assert not found, f"patient-level values in Prefect's database: {found}"
