"""Deliberately broken deliveries for the validation tests (sources.md, "Bad input").

`write_corrupt_delivery(root, kind, study)` copies a study's default delivery to a NEW delivery id
(one day after the study's newest delivery), applies exactly one fault, and re-computes the
manifest so that the fault is the only thing wrong (for the manifest kinds the manifest is what is
wrong). It returns a description: kind, study, delivery_id, file, row (1-based data row; header
excluded for CSV, record number for XPT/Parquet; None for file- or column-level faults), column,
rule, value.
"""
from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

from repool.hashing import sha256_of
from repool.synth import formats
from repool.synth.cohort import DEFAULT_PLANS, DEFAULT_SEED

CSV, XPT, PARQUET = "csv-legacy", "xpt-adam", "parquet-adam"


@dataclass(frozen=True)
class Kind:
    rule: str
    default_study: str
    formats: tuple[str, ...]
    doc: str


CORRUPTION_KINDS: dict[str, Kind] = {
    "missing-column": Kind("missing column", "MT103-211", (CSV, XPT, PARQUET),
                           "drop the blasts column of the subject file (206 ECOG)"),
    "extra-column": Kind("extra column (allowed: warning only)", "MT103-211", (CSV, XPT, PARQUET),
                         "add an unlisted column to the subject file"),
    "wrong-type": Kind("wrong type", "00103311", (CSV, XPT, PARQUET),
                       "age delivered as text (206: a non-numeric AGE in one row)"),
    "decimal-point": Kind("wrong type", "MT103-206", (CSV,),
                          "BM_BLASTS written with a decimal point instead of a comma in one row"),
    "unknown-code": Kind("unknown code", "MT103-211", (CSV, XPT, PARQUET), "a sex code outside the study's codes"),
    "duplicate-subject": Kind("duplicate subject", "00103311", (CSV, XPT, PARQUET),
                              "one subject row repeated right after itself"),
    "age-under-18": Kind("age < 18 or > 100", "MT103-206", (CSV, XPT, PARQUET), "AGE 17 in one row"),
    "age-over-100": Kind("age < 18 or > 100", "MT103-211", (CSV, XPT, PARQUET), "AGE 101 in one row"),
    "blasts-out-of-range": Kind("blasts outside 0-100", "MT103-206", (CSV, XPT, PARQUET),
                                "bone-marrow blasts 104.5% in one row"),
    "death-before-first-dose": Kind("death before first dose", "MT103-206", (CSV, XPT, PARQUET),
                                    "a death dated 10 days before the first dose"),
    "grade-out-of-range": Kind("grade outside 1-5", "00103311", (CSV, XPT, PARQUET), "an AE of grade 6"),
    "unparseable-date": Kind("date does not parse", "MT103-206", (CSV, PARQUET), "an AE onset of 31 February"),
    "sha256-mismatch": Kind("file does not match its manifest (sha256)", "MT103-211", (CSV, XPT, PARQUET),
                            "the manifest lists a wrong sha256 for the subject file"),
    "rows-mismatch": Kind("file does not match its manifest (rows)", "MT103-211", (CSV, XPT, PARQUET),
                          "the manifest lists one row too many for the AE file"),
    "listed-file-missing": Kind("listed file missing", "00103311", (CSV, XPT, PARQUET),
                                "a file listed in the manifest is not in the delivery"),
    "wrong-encoding": Kind("wrong encoding", "MT103-206", (CSV,),
                           "other_tx.csv written in UTF-8 (its therapy names hold umlauts)"),
    "wrong-encoding-utf16": Kind("wrong encoding", "MT103-206", (CSV,), "patients.csv written in UTF-16"),
}
SUBJECT_FILE = {CSV: "patients.csv", XPT: "adsl.xpt", PARQUET: "adsl.parquet"}
AE_FILE = {CSV: "ae.csv", XPT: "adae.xpt", PARQUET: "adae.parquet"}
COLUMN = {  # logical column -> per-format name
    "age": {CSV: "AGE", XPT: "AGE", PARQUET: "age"},
    "sex": {CSV: "SEX", XPT: "SEX", PARQUET: "sex"},
    "blasts": {CSV: "BM_BLASTS", XPT: "BMBLPCT", PARQUET: "bm_blasts_pct"},
    "grade": {CSV: "GRADE", XPT: "AETOXGR", PARQUET: "toxgrade"},
}
TARGET_ROW = 5  # the data row that row-level faults hit (1-based)


# --------------------------------------------------------------------------- file access
class CsvFile:
    """A 206 CSV as header + rows of text fields (latin-1)."""

    def __init__(self, path: Path):
        self.path = path
        lines = path.read_bytes().decode("latin-1").split("\n")[:-1]
        self.header = lines[0].split(";")
        self.rows = [line.split(";") for line in lines[1:]]

    def col(self, name: str) -> int:
        return self.header.index(name)

    def save(self, encoding: str = "latin-1") -> None:
        text = "\n".join(";".join(r) for r in [self.header] + self.rows) + "\n"
        self.path.write_bytes(text.encode(encoding))


def _read_xpt(path: Path):
    import pyreadstat
    df, _ = pyreadstat.read_xport(str(path))
    return df


def _write_xpt(path: Path, df, cut: str) -> None:
    import numpy as np
    import pyreadstat
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name=path.stem.upper(),
                           file_label=formats.XPT_DATASET_LABELS[path.stem],
                           column_labels={c: formats.XPT_LABELS.get(c) for c in df.columns})
    formats._stamp_xpt_header(path, np.datetime64(cut, "D"))


def _read_parquet(path: Path):
    import pyarrow.parquet as pq
    return pq.read_table(path)


def _write_parquet(path: Path, table) -> None:
    import pyarrow.parquet as pq
    pq.write_table(table, path, compression="snappy")


def _parquet_set(table, column: str, row: int, value, as_type=None):
    """A copy of the table with one cell replaced (row 1-based); `as_type` changes the column type."""
    import pyarrow as pa
    values = table.column(column).to_pylist()
    if as_type is not None:
        values = [None if v is None else str(v) for v in values]
    values[row - 1] = value
    typ = as_type or table.schema.field(column).type
    i = table.schema.get_field_index(column)
    return table.set_column(i, pa.field(column, typ), pa.array(values, typ))


# --------------------------------------------------------------------------- faults
def _fault_missing_column(folder: Path, fmt: str, cut: str) -> dict:
    name = SUBJECT_FILE[fmt]
    if fmt == CSV:
        f = CsvFile(folder / name)
        j = f.col("ECOG")
        f.header.pop(j)
        for r in f.rows:
            r.pop(j)
        f.save()
        return {"file": name, "row": None, "column": "ECOG", "value": None}
    col = COLUMN["blasts"][fmt]
    if fmt == XPT:
        _write_xpt(folder / name, _read_xpt(folder / name).drop(columns=col), cut)
    else:
        _write_parquet(folder / name, _read_parquet(folder / name).drop_columns([col]))
    return {"file": name, "row": None, "column": col, "value": None}


def _fault_extra_column(folder: Path, fmt: str, cut: str) -> dict:
    name = SUBJECT_FILE[fmt]
    if fmt == CSV:
        f = CsvFile(folder / name)
        f.header.append("BEMERKUNG")
        for i, r in enumerate(f.rows):
            r.append("Einschluss bestätigt" if i % 7 == 0 else "")
        f.save()
        return {"file": name, "row": None, "column": "BEMERKUNG", "value": None}
    if fmt == XPT:
        df = _read_xpt(folder / name)
        df["COUNTRY"] = "DEU"
        _write_xpt(folder / name, df, cut)
        return {"file": name, "row": None, "column": "COUNTRY", "value": "DEU"}
    import pyarrow as pa
    t = _read_parquet(folder / name)
    _write_parquet(folder / name, t.append_column("country", pa.array(["USA"] * t.num_rows, pa.string())))
    return {"file": name, "row": None, "column": "country", "value": "USA"}


def _fault_wrong_type(folder: Path, fmt: str, cut: str) -> dict:
    name = SUBJECT_FILE[fmt]
    if fmt == CSV:
        return _set_csv(folder / name, "AGE", TARGET_ROW, "vierzig")
    col = COLUMN["age"][fmt]
    if fmt == XPT:
        df = _read_xpt(folder / name)
        df[col] = df[col].map(lambda v: str(int(v)))
        _write_xpt(folder / name, df, cut)
        return {"file": name, "row": None, "column": col, "value": "character"}
    import pyarrow as pa
    t = _read_parquet(folder / name)
    i = t.schema.get_field_index(col)
    t = t.set_column(i, pa.field(col, pa.string()), pa.array([str(v) for v in t.column(col).to_pylist()], pa.string()))
    _write_parquet(folder / name, t)
    return {"file": name, "row": None, "column": col, "value": "string"}


def _fault_decimal_point(folder: Path, fmt: str, cut: str) -> dict:
    f = CsvFile(folder / "patients.csv")
    j = f.col("BM_BLASTS")
    row = next(i for i, r in enumerate(f.rows, 1) if r[j] not in ("", "n.a."))
    value = f.rows[row - 1][j].replace(",", ".")
    if "." not in value:
        value += ".5"
    return _set_csv(folder / "patients.csv", "BM_BLASTS", row, value)


def _set_cell(folder: Path, fmt: str, cut: str, name: str, logical: str, value_csv: str, value_other) -> dict:
    """Replace one cell of row TARGET_ROW of a file in any of the three formats."""
    col = COLUMN[logical][fmt]
    if fmt == CSV:
        return _set_csv(folder / name, col, TARGET_ROW, value_csv)
    if fmt == XPT:
        df = _read_xpt(folder / name)
        df.loc[TARGET_ROW - 1, col] = value_other
        _write_xpt(folder / name, df, cut)
    else:
        _write_parquet(folder / name, _parquet_set(_read_parquet(folder / name), col, TARGET_ROW, value_other))
    return {"file": name, "row": TARGET_ROW, "column": col, "value": value_other}


def _set_csv(path: Path, column: str, row: int, value: str) -> dict:
    f = CsvFile(path)
    f.rows[row - 1][f.col(column)] = value
    f.save()
    return {"file": path.name, "row": row, "column": column, "value": value}


def _fault_unknown_code(folder: Path, fmt: str, cut: str) -> dict:
    value = {CSV: "3", XPT: "U", PARQUET: "UNKNOWN"}[fmt]
    return _set_cell(folder, fmt, cut, SUBJECT_FILE[fmt], "sex", value, value)


def _fault_age_under(folder: Path, fmt: str, cut: str) -> dict:
    return _set_cell(folder, fmt, cut, SUBJECT_FILE[fmt], "age", "17", 17 if fmt == PARQUET else 17.0)


def _fault_age_over(folder: Path, fmt: str, cut: str) -> dict:
    return _set_cell(folder, fmt, cut, SUBJECT_FILE[fmt], "age", "101", 101 if fmt == PARQUET else 101.0)


def _fault_blasts(folder: Path, fmt: str, cut: str) -> dict:
    return _set_cell(folder, fmt, cut, SUBJECT_FILE[fmt], "blasts", "104,5", 104.5)


def _fault_grade(folder: Path, fmt: str, cut: str) -> dict:
    return _set_cell(folder, fmt, cut, AE_FILE[fmt], "grade", "6", 6 if fmt == PARQUET else "6")


def _fault_duplicate(folder: Path, fmt: str, cut: str) -> dict:
    name = SUBJECT_FILE[fmt]
    k = TARGET_ROW
    if fmt == CSV:
        f = CsvFile(folder / name)
        f.rows.insert(k, list(f.rows[k - 1]))
        f.save()
        return {"file": name, "row": k + 1, "column": "PATNR", "value": f.rows[k][0]}
    if fmt == XPT:
        import pandas as pd
        df = _read_xpt(folder / name)
        df = pd.concat([df.iloc[:k], df.iloc[k - 1:k], df.iloc[k:]], ignore_index=True)
        _write_xpt(folder / name, df, cut)
        return {"file": name, "row": k + 1, "column": "USUBJID", "value": df.loc[k, "USUBJID"]}
    import pyarrow as pa
    t = _read_parquet(folder / name)
    t = pa.concat_tables([t.slice(0, k), t.slice(k - 1, 1), t.slice(k)])
    _write_parquet(folder / name, t)
    return {"file": name, "row": k + 1, "column": "usubjid", "value": t.column("usubjid")[k].as_py()}


def _fault_death_before_dose(folder: Path, fmt: str, cut: str) -> dict:
    if fmt == CSV:
        pt, fu = CsvFile(folder / "patients.csv"), CsvFile(folder / "followup.csv")
        first = {r[0]: r[pt.col("FIRST_DOSE")] for r in pt.rows}
        row = next(i for i, r in enumerate(fu.rows, 1) if r[fu.col("STATUS")] == "DEAD")
        d, m, y = first[fu.rows[row - 1][0]].split(".")
        value = (date(int(y), int(m), int(d)) - timedelta(days=10)).strftime("%d.%m.%Y")
        return _set_csv(folder / "followup.csv", "STATUS_DATE", row, value)
    if fmt == XPT:
        df = _read_xpt(folder / "adtte.xpt")
        i = int(df.index[(df["PARAMCD"] == "OS") & (df["CNSR"] == 0)][0])
        df.loc[i, "ADT"] = df.loc[i, "STARTDT"] - 10
        df.loc[i, "AVAL"] = -10.0
        _write_xpt(folder / "adtte.xpt", df, cut)
        return {"file": "adtte.xpt", "row": i + 1, "column": "ADT", "value": float(df.loc[i, "ADT"])}
    t = _read_parquet(folder / "adtte.parquet")
    rows = t.to_pylist()
    i = next(k for k, r in enumerate(rows) if r["paramcd"] == "OS" and r["cnsr"] == 0)
    value = -10 / 30.4375
    t = _parquet_set(t, "aval", i + 1, value)
    start = date.fromisoformat(rows[i]["startdt"])
    t = _parquet_set(t, "adt", i + 1, (start - timedelta(days=10)).isoformat())
    _write_parquet(folder / "adtte.parquet", t)
    return {"file": "adtte.parquet", "row": i + 1, "column": "aval", "value": value}


def _fault_unparseable_date(folder: Path, fmt: str, cut: str) -> dict:
    if fmt == CSV:
        f = CsvFile(folder / "ae.csv")
        y = f.rows[TARGET_ROW - 1][f.col("ONSET")][-4:]
        return _set_csv(folder / "ae.csv", "ONSET", TARGET_ROW, f"31.02.{y}")
    t = _read_parquet(folder / "adae.parquet")
    y = t.column("onset_date")[TARGET_ROW - 1].as_py()[:4]
    _write_parquet(folder / "adae.parquet", _parquet_set(t, "onset_date", TARGET_ROW, f"{y}-02-30"))
    return {"file": "adae.parquet", "row": TARGET_ROW, "column": "onset_date", "value": f"{y}-02-30"}


def _fault_wrong_encoding(folder: Path, fmt: str, cut: str) -> dict:
    f = CsvFile(folder / "other_tx.csv")
    f.save(encoding="utf-8")
    return {"file": "other_tx.csv", "row": None, "column": None, "value": "utf-8"}


def _fault_wrong_encoding_utf16(folder: Path, fmt: str, cut: str) -> dict:
    CsvFile(folder / "patients.csv").save(encoding="utf-16")
    return {"file": "patients.csv", "row": None, "column": None, "value": "utf-16"}


def _fault_sha256(manifest: dict, folder: Path, fmt: str) -> dict:
    name = SUBJECT_FILE[fmt]
    wrong = hashlib.sha256(b"transfer interrupted").hexdigest()
    manifest["files"][name]["sha256"] = wrong
    return {"file": name, "row": None, "column": "sha256", "value": wrong}


def _fault_rows(manifest: dict, folder: Path, fmt: str) -> dict:
    name = AE_FILE[fmt]
    manifest["files"][name]["rows"] += 1
    return {"file": name, "row": None, "column": "rows", "value": manifest["files"][name]["rows"]}


def _fault_missing_file(manifest: dict, folder: Path, fmt: str) -> dict:
    name = {CSV: "response.csv", XPT: "adrs.xpt", PARQUET: "adrs.parquet"}[fmt]
    (folder / name).unlink()
    return {"file": name, "row": None, "column": None, "value": None}


FILE_FAULTS: dict[str, Callable] = {
    "missing-column": _fault_missing_column, "extra-column": _fault_extra_column,
    "wrong-type": _fault_wrong_type, "decimal-point": _fault_decimal_point,
    "unknown-code": _fault_unknown_code, "duplicate-subject": _fault_duplicate,
    "age-under-18": _fault_age_under, "age-over-100": _fault_age_over,
    "blasts-out-of-range": _fault_blasts, "death-before-first-dose": _fault_death_before_dose,
    "grade-out-of-range": _fault_grade, "unparseable-date": _fault_unparseable_date,
    "wrong-encoding": _fault_wrong_encoding, "wrong-encoding-utf16": _fault_wrong_encoding_utf16,
}
# applied after the manifest is computed (they make the manifest disagree with the files)
MANIFEST_FAULTS: dict[str, Callable] = {
    "sha256-mismatch": _fault_sha256, "rows-mismatch": _fault_rows, "listed-file-missing": _fault_missing_file,
}


# --------------------------------------------------------------------------- entry point
def _next_delivery_id(study_dir: Path) -> str:
    ids = sorted(p.name for p in study_dir.iterdir() if p.is_dir())
    return (date.fromisoformat(ids[-1]) + timedelta(days=1)).isoformat()


def write_corrupt_delivery(root: Path, kind: str, study: str | None = None, seed: int = DEFAULT_SEED) -> dict:
    """Copy `study`'s default delivery to a new, newer delivery id with exactly one fault of `kind`."""
    from repool.synth.deliveries import delivery_dir, write_default_deliveries

    if kind not in CORRUPTION_KINDS:
        raise ValueError(f"unknown corruption kind {kind!r}; one of {sorted(CORRUPTION_KINDS)}")
    spec = CORRUPTION_KINDS[kind]
    study = study or spec.default_study
    plan = next((p for p in DEFAULT_PLANS if p.study == study), None)
    if plan is None:
        raise ValueError(f"unknown study {study!r}")
    if plan.fmt not in spec.formats:
        raise ValueError(f"kind {kind!r} does not apply to {study} ({plan.fmt})")
    root = Path(root)
    source = delivery_dir(root, study, plan.delivery_id)
    if not (source / "manifest.json").exists():
        write_default_deliveries(root, seed)
    new_id = _next_delivery_id(source.parent)
    target = delivery_dir(root, study, new_id)
    shutil.copytree(source, target)
    (target / "manifest.json").unlink()
    names = formats.FORMAT_FILES[plan.fmt]
    desc: dict = {}
    if kind in FILE_FAULTS:
        desc = FILE_FAULTS[kind](target, plan.fmt, new_id)
    manifest = formats.manifest_dict(target, study, new_id, plan.fmt, names) if kind != "wrong-encoding-utf16" \
        else _manifest_without_row_count(target, study, new_id, plan.fmt, names)
    if kind in MANIFEST_FAULTS:
        desc = MANIFEST_FAULTS[kind](manifest, target, plan.fmt)
    formats.write_manifest(target, manifest)
    return {"kind": kind, "study": study, "delivery_id": new_id, "file": desc.get("file"), "row": desc.get("row"),
            "column": desc.get("column"), "rule": spec.rule, "value": desc.get("value")}


def _manifest_without_row_count(folder: Path, study: str, delivery_id: str, fmt: str, names: list[str]) -> dict:
    """Manifest of a delivery whose UTF-16 file has as many rows as before (count lines in UTF-16)."""
    m = formats.manifest_dict(folder, study, delivery_id, fmt, [n for n in names if n != "patients.csv"])
    path = folder / "patients.csv"
    rows = path.read_bytes().decode("utf-16").count("\n") - 1
    m["files"]["patients.csv"] = {"sha256": sha256_of(path), "rows": rows}
    m["files"] = dict(sorted(m["files"].items()))
    return m


def describe_kinds() -> str:
    return "\n".join(f"{k:<26} {v.rule:<45} default {v.default_study:<10} {v.doc}" for k, v in CORRUPTION_KINDS.items())
