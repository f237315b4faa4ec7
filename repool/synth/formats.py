"""Writers of the three native delivery formats (sources.md) and of `manifest.json`.

Each writer takes the canonical tables of ONE study (`patients` with a `subj`/`site` id and an
`arm`, and its `aes`) and writes the study's files into a delivery folder, deterministically.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from repool.hashing import sha256_of

SAS_EPOCH = np.datetime64("1960-01-01", "D")
FORMAT_FILES = {
    "csv-legacy": ["patients.csv", "followup.csv", "response.csv", "relapse.csv", "hsct.csv",
                   "other_tx.csv", "ae.csv"],
    "xpt-adam": ["adsl.xpt", "adtte.xpt", "adrs.xpt", "adae.xpt"],
    "parquet-adam": ["adsl.parquet", "adtte.parquet", "adrs.parquet", "adae.parquet"],
}
CSV_COLUMNS = {
    "patients.csv": ["PATNR", "SEX", "AGE", "ECOG", "PRIOR_SCT", "BM_BLASTS", "SALVAGE_NR", "FIRST_DOSE", "LAST_DOSE"],
    "followup.csv": ["PATNR", "STATUS", "STATUS_DATE"],
    "response.csv": ["PATNR", "CYCLE", "RESPONSE", "MRD", "ASSESS_DATE"],
    "relapse.csv": ["PATNR", "RELAPSE_DATE"],
    "hsct.csv": ["PATNR", "HSCT_DATE", "STATUS_AT_HSCT"],
    "other_tx.csv": ["PATNR", "START_DATE", "THERAPY"],
    "ae.csv": ["PATNR", "PT", "GRADE", "SERIOUS", "RELATED", "ONSET", "OUTCOME"],
}
OUTCOME_206 = {"RECOVERED": "RECOVERED", "RECOVERING": "ONGOING", "NOT_RECOVERED": "NOT RECOVERED",
               "SEQUELAE": "RECOVERED", "UNKNOWN": "UNKNOWN", "MISSING": "n.a.", "FATAL": "FATAL"}
OUTCOME_CDISC = {"RECOVERED": "RECOVERED/RESOLVED", "RECOVERING": "RECOVERING/RESOLVING",
                 "NOT_RECOVERED": "NOT RECOVERED/NOT RESOLVED", "SEQUELAE": "RECOVERED/RESOLVED WITH SEQUELAE",
                 "UNKNOWN": "UNKNOWN", "MISSING": "", "FATAL": "FATAL"}
BOR_211 = {"CR": "CR", "CRh": "CRH", "CRi": "CRI", "BFHM": "BFHM", "PR": "PR", "NR": "NR", "NE": "NE"}
BOR_TOWER = {"CR": "CR", "CRh": "CR with partial hematologic recovery",
             "CRi": "CR with incomplete hematologic recovery",
             "BFHM": "Blast-free hypoplastic or aplastic bone marrow", "PR": "Partial remission",
             "NR": "No response", "NE": "Not evaluable"}
SALVAGE_PHASE = {1: "FIRST", 2: "SECOND", 3: "THIRD", 4: "FOURTH"}
# ADaM variable labels (at most 40 characters in transport v5)
XPT_LABELS = {
    "STUDYID": "Study Identifier", "USUBJID": "Unique Subject Identifier", "SUBJID": "Subject Identifier for the Study",
    "SITEID": "Study Site Identifier", "AGE": "Age", "SEX": "Sex", "RACE": "Race",
    "ECOGBL": "Baseline ECOG Performance Status", "PRHSCTFL": "Prior Allogeneic HSCT Flag",
    "BMBLPCT": "Baseline Bone Marrow Blasts (%)", "PRSALVN": "Number of Prior Salvage Therapies",
    "TRTSDT": "Date of First Exposure to Treatment", "TRTEDT": "Date of Last Exposure to Treatment",
    "SAFFL": "Safety Population Flag", "HSCTDT": "Date of Allogeneic HSCT", "HSCTSTAT": "Disease Status at HSCT",
    "OTHTXDT": "Date of First Other Anti-leukemic Tx", "PARAMCD": "Parameter Code", "PARAM": "Parameter",
    "STARTDT": "Time-to-Event Origin Date", "ADT": "Analysis Date", "AVAL": "Analysis Value",
    "CNSR": "Censor", "AVALC": "Analysis Value (C)", "AESEQ": "Sequence Number",
    "AEDECOD": "Dictionary-Derived Term", "AETOXGR": "Standard Toxicity Grade", "AESER": "Serious Event",
    "AREL": "Analysis Causality", "ASTDT": "Analysis Start Date", "AEOUT": "Outcome of Adverse Event",
    "TRTEMFL": "Treatment Emergent Analysis Flag",
}
XPT_DATASET_LABELS = {"adsl": "Subject-Level Analysis Dataset", "adtte": "Time-to-Event Analysis Dataset",
                      "adrs": "Response Analysis Dataset", "adae": "Adverse Events Analysis Dataset"}
# other anti-leukaemic therapies as the legacy site system spells them (latin-1 text)
THERAPIES_206 = ["FLAG-Ida", "Hochdosis-Ara-C (Zytostatika-Therapie, ärztl. Entscheidung)", "Clofarabin",
                 "Vincristin/Dexamethason (Rückfalltherapie)", "Inotuzumab-Ozogamicin (Härtefallprogramm)",
                 "Hyper-CVAD", "Studienmedikation Phase I (außerhalb Protokoll)"]
PRIOR_THERAPIES_206 = ["GMALL-Rezidivprotokoll", "Hochdosis-Ara-C (Zytostatika-Therapie, ärztl. Entscheidung)",
                       "FLAG-Ida"]


# --------------------------------------------------------------------------- helpers
def count_rows(path: Path) -> int:
    """Data rows of a delivered file (CSV: lines after the header)."""
    if path.suffix == ".csv":
        with open(path, "rb") as f:
            return max(sum(1 for _ in f) - 1, 0)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        return pq.ParquetFile(path).metadata.num_rows
    if path.suffix == ".xpt":
        import pyreadstat
        _, meta = pyreadstat.read_xport(str(path), metadataonly=True)
        if meta.number_rows is not None:
            return meta.number_rows
        df, _ = pyreadstat.read_xport(str(path), usecols=[meta.column_names[0]])
        return len(df)
    raise ValueError(f"unknown file type: {path}")


def manifest_dict(folder: Path, study: str, delivery_id: str, fmt: str, names: list[str]) -> dict:
    """The manifest of the files present in `folder` (sha256 and data rows per file)."""
    files = {name: {"sha256": sha256_of(folder / name), "rows": count_rows(folder / name)}
             for name in sorted(names)}
    return {"study": study, "delivery_id": delivery_id, "data_cut": delivery_id, "format": fmt, "files": files}


def write_manifest(folder: Path, manifest: dict) -> Path:
    """Write manifest.json deterministically (fixed key order, 2-space indent, trailing newline)."""
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def _dates(first_dose: np.ndarray, days: np.ndarray) -> np.ndarray:
    """first_dose + days as datetime64[D]; NaT where days < 0 or first_dose is NaT."""
    days = np.asarray(days)
    out = first_dose + np.where(days >= 0, days, 0).astype("timedelta64[D]")
    return np.where(days >= 0, out, np.datetime64("NaT"))


def _ddmmyyyy(d) -> str:
    if pd.isna(d):
        return ""
    d = np.datetime64(d, "D")
    y, m, dd = str(d)[:10].split("-")
    return f"{dd}.{m}.{y}"


def _iso(d) -> str | None:
    return None if pd.isna(d) else str(np.datetime64(d, "D"))


def _partial_iso(d, partial: str) -> str:
    s = str(np.datetime64(d, "D"))
    return s[:7] if partial == "M" else s[:4] if partial == "Y" else s


def _sas_days(d: np.ndarray) -> np.ndarray:
    d = np.asarray(d, dtype="datetime64[D]")
    out = (d - SAS_EPOCH).astype(float)
    out[np.isnat(d)] = np.nan
    return out


# --------------------------------------------------------------------------- response rows
def response_assessments(p: dict, rng: np.random.Generator) -> list[tuple[int, str, str, int]]:
    """(cycle, response, mrd, day) per assessment, consistent with the patient's best response,
    first remission day and MRD response. mrd: 'neg', 'pos' or '' (not assessed)."""
    bor, obs = p["bor"], int(p["obs"])
    a1, a2 = int(p["a1"]), int(p["a2"])
    if obs < a1:
        return [(1, "NE", "", obs)]
    remission = p["remission_day"] >= 0
    if not remission:
        rows = [(1, bor, "pos" if rng.random() < 0.3 else "", a1)]
        if a2 >= 0:
            rows.append((2, "NR" if bor in ("NR", "NE") else bor, "", a2))
        return rows
    lesser = {"CR": ["CRh", "CRi"], "CRh": ["CRi"], "CRi": []}[bor]
    if p["rem_cycle"] == 2:
        c1 = str(rng.choice(["NR", "PR", "BFHM"], p=[0.5, 0.35, 0.15]))
        rows = [(1, c1, "", a1), (2, bor, "", a2)]
    elif a2 >= 0 and lesser and rng.random() < 0.25:
        rows = [(1, str(rng.choice(lesser)), "", a1), (2, bor, "", a2)]
    else:
        rows = [(1, bor, "", a1)] + ([(2, bor, "", a2)] if a2 >= 0 else [])
    remission_rows = [i for i, r in enumerate(rows) if r[1] in ("CR", "CRh", "CRi")]
    if p["mrd"]:
        k = remission_rows[-1] if len(remission_rows) > 1 and rng.random() < 0.3 else remission_rows[0]
        rows = [(c, r, "neg" if i == k else ("pos" if i < k else ""), d) for i, (c, r, _, d) in enumerate(rows)]
    else:
        rows = [(c, r, "pos" if (r in ("CR", "CRh", "CRi") and rng.random() < 0.8) else "", d)
                for c, r, _, d in rows]
    return rows


# --------------------------------------------------------------------------- MT103-206 CSV
def _csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    lines = [";".join(header)] + [";".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("latin-1")


def _num_comma(x: float) -> str:
    return f"{x:.1f}".replace(".", ",") if x != int(x) else str(int(x))


def legacy_csv_tables(pt: pd.DataFrame, aes: pd.DataFrame, seed: int) -> dict[str, list[list[str]]]:
    """Rows (as text fields) of every 206 file."""
    rng = np.random.default_rng([seed, 206])
    fd = pt["first_dose"].to_numpy(dtype="datetime64[D]")
    t: dict[str, list[list[str]]] = {name: [] for name in CSV_COLUMNS}
    for i, p in enumerate(pt.to_dict("records")):
        nr, f = str(int(p["subj"])), fd[i]

        def d(day: int) -> str:
            return _ddmmyyyy(f + np.timedelta64(int(day), "D"))

        unknown = "n.a." if rng.random() < 0.7 else ""
        blasts = unknown if np.isnan(p["blasts"]) else _num_comma(float(p["blasts"]))
        ecog = unknown if p["ecog"] < 0 else str(int(p["ecog"]))
        t["patients.csv"].append([nr, "1" if p["sex"] == "M" else "2", str(int(p["age"])), ecog,
                                  "J" if p["prhsct"] else "N", blasts, str(int(p["line"])), d(0),
                                  d(p["last_day"])])
        t["followup.csv"].append([nr, "DEAD" if p["dead"] else "ALIVE", d(p["obs"])])
        for cycle, resp, mrd, day in response_assessments(p, rng):
            t["response.csv"].append([nr, str(cycle), "CRh*" if resp == "CRh" else resp, mrd, d(day)])
        if p["relapse_day"] >= 0:
            t["relapse.csv"].append([nr, d(p["relapse_day"])])
        if p["hsct_day"] >= 0:
            t["hsct.csv"].append([nr, d(p["hsct_day"]), p["hsct_status"]])
        t["other_tx.csv"].extend(_other_tx_rows_206(rng, nr, p, d))
    subj = pt["subj"].to_numpy()
    for a in aes.to_dict("records"):
        onset = _ddmmyyyy(fd[a["pid"]] + np.timedelta64(int(a["day"]), "D"))
        outcome = OUTCOME_206[a["outcome"]]
        if outcome == "n.a." and rng.random() < 0.5:
            outcome = ""
        t["ae.csv"].append([str(int(subj[a["pid"]])), a["pt"], str(int(a["grade"])), "J" if a["serious"] else "N",
                            "J" if a["related"] else "N", onset, outcome])
    return t


def _other_tx_rows_206(rng: np.random.Generator, nr: str, p: dict, d) -> list[list[str]]:
    """Prior therapy (before the first dose, not counted) and post-dose therapies."""
    rows = []
    if rng.random() < 0.12:
        rows.append([nr, d(-int(rng.integers(45, 200))), str(rng.choice(PRIOR_THERAPIES_206))])
    if p["other_day"] >= 0:
        rows.append([nr, d(p["other_day"]), str(rng.choice(THERAPIES_206))])
        second = int(p["other_day"]) + int(rng.integers(30, 90))
        if second < p["obs"] and (p["hsct_day"] < 0 or second < p["hsct_day"]) and rng.random() < 0.3:
            rows.append([nr, d(second), str(rng.choice(THERAPIES_206))])
    return rows


def write_legacy_csv(folder: Path, pt: pd.DataFrame, aes: pd.DataFrame, seed: int) -> list[str]:
    tables = legacy_csv_tables(pt, aes, seed)
    for name, rows in tables.items():
        (folder / name).write_bytes(_csv_text(CSV_COLUMNS[name], rows))
    return list(tables)


# --------------------------------------------------------------------------- ADaM tables (shared)
def adam_tables(pt: pd.DataFrame, aes: pd.DataFrame, study: str, seed: int) -> dict[str, pd.DataFrame]:
    """Canonical ADSL/ADTTE/ADRS/ADAE content (dates as datetime64) shared by the XPT and
    Parquet writers; `usubjid` = `<study>-<site>-<subject>`."""
    rng = np.random.default_rng([seed, 211])
    fd = pt["first_dose"].to_numpy(dtype="datetime64[D]")
    usubjid = [f"{study}-{s}-{int(n)}" for s, n in zip(pt["site"], pt["subj"])]
    treated = pt["treated"].to_numpy(dtype=bool)
    adsl = pd.DataFrame({
        "usubjid": usubjid, "site": pt["site"].to_numpy(), "subj": pt["subj"].to_numpy(),
        "arm": pt["arm"].to_numpy(), "treated": treated,
        "age": pt["age"].to_numpy(), "sex": pt["sex"].to_numpy(), "ecog": pt["ecog"].to_numpy(),
        "prhsct": pt["prhsct"].to_numpy(), "blasts": pt["blasts"].to_numpy(), "line": pt["line"].to_numpy(),
        "rand_date": pt["rand_date"].to_numpy(dtype="datetime64[D]"),
        "first_dose": np.where(treated, fd, np.datetime64("NaT")),
        "last_dose": _dates(fd, np.where(treated, pt["last_day"], -1)),
        "hsct_date": _dates(fd, pt["hsct_day"]), "hsct_status": pt["hsct_status"].to_numpy(),
        "other_tx_date": _dates(fd, pt["other_day"]),
    })
    origin = np.where(treated, fd, pt["rand_date"].to_numpy(dtype="datetime64[D]"))
    os_rows = pd.DataFrame({"usubjid": usubjid, "paramcd": "OS", "start": origin,
                            "adt": origin + pt["obs"].to_numpy().astype("timedelta64[D]"),
                            "aval_days": pt["obs"].to_numpy(), "cnsr": (~pt["dead"].to_numpy(dtype=bool)).astype(int)})
    r = (pt["remission_day"] >= 0).to_numpy()
    rem_date = _dates(fd, pt["remission_day"])
    rfs_rows = pd.DataFrame({"usubjid": np.array(usubjid)[r], "paramcd": "RFS", "start": rem_date[r],
                             "adt": rem_date[r] + pt["rfs_days"].to_numpy()[r].astype("timedelta64[D]"),
                             "aval_days": pt["rfs_days"].to_numpy()[r],
                             "cnsr": (~pt["rfs_event"].to_numpy(dtype=bool)[r]).astype(int)})
    adtte = pd.concat([os_rows, rfs_rows], ignore_index=True).sort_values(["usubjid", "paramcd"], kind="stable")
    adrs = _adrs_rows(pt, usubjid, fd, rng)
    adae = aes.copy()
    adae["usubjid"] = np.array(usubjid)[adae["pid"].to_numpy()]
    adae["onset"] = fd[adae["pid"].to_numpy()] + adae["day"].to_numpy().astype("timedelta64[D]")
    adae["aeseq"] = adae.groupby("pid").cumcount() + 1
    adae["src_te"] = _delivered_trtemfl(adae)
    return {"adsl": adsl, "adtte": adtte.reset_index(drop=True), "adrs": adrs, "adae": adae}


def _adrs_rows(pt: pd.DataFrame, usubjid: list[str], fd: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """BOR and MRD rows per subject; BOR's date = the first remission assessment (else the best
    response's assessment); MRD: Y (below 1e-4), N, or NE when not in remission."""
    rows = []
    for i, p in enumerate(pt.to_dict("records")):
        if not p["treated"]:
            rows.append((usubjid[i], "BOR", "NE", np.datetime64("NaT"), "MRD", None))
            continue
        assessments = response_assessments(p, rng)
        if p["remission_day"] >= 0:
            bor_day = int(p["remission_day"])
            mrd = "Y" if p["mrd"] else ("N" if rng.random() < 0.9 else "NE")
        else:
            bor_day = assessments[0][3]
            mrd = "NE" if rng.random() < 0.7 else "N"
        rows.append((usubjid[i], "BOR", p["bor"], fd[i] + np.timedelta64(bor_day, "D"), "MRD", mrd))
    out = []
    for u, _, bor, d, _, mrd in rows:
        out.append({"usubjid": u, "paramcd": "BOR", "avalc": bor, "adt": d})
        out.append({"usubjid": u, "paramcd": "MRD", "avalc": mrd, "adt": d})
    return pd.DataFrame(out)


def _delivered_trtemfl(adae: pd.DataFrame) -> np.ndarray:
    """TRTEMFL as a sponsor would deliver it: the spec's rule, except for a few rows where the
    sponsor's derivation disagreed (an AE on the first-dose day flagged N, two events just after
    the window flagged Y). The pipeline re-derives the flag and audits the disagreement."""
    te = adae["te"].to_numpy(dtype=bool).copy()
    day0 = np.flatnonzero(te & (adae["day"].to_numpy() == 0))
    outside = np.flatnonzero(~te & (adae["day"].to_numpy() > 0))
    te[day0[:1]] = False
    te[outside[:2]] = True
    return te


# --------------------------------------------------------------------------- MT103-211 XPT
def write_xpt_adam(folder: Path, pt: pd.DataFrame, aes: pd.DataFrame, study: str, seed: int,
                   cut: np.datetime64) -> list[str]:
    import pyreadstat

    t = adam_tables(pt, aes, study, seed)
    rng = np.random.default_rng([seed, 2110])
    s, tt, rs, ae = t["adsl"], t["adtte"], t["adrs"], t["adae"]
    adsl = pd.DataFrame({
        "STUDYID": study, "USUBJID": s["usubjid"], "SUBJID": s["subj"].astype(int).astype(str),
        "SITEID": s["site"], "AGE": s["age"].astype(float), "SEX": s["sex"],
        "RACE": rng.choice(["WHITE", "ASIAN", "BLACK OR AFRICAN AMERICAN", "OTHER"], len(s), p=[0.84, 0.08, 0.04, 0.04]),
        "ECOGBL": np.where(s["ecog"] < 0, np.nan, s["ecog"]).astype(float),
        "PRHSCTFL": np.where(s["prhsct"], "Y", "N"), "BMBLPCT": s["blasts"].astype(float),
        "PRSALVN": (s["line"] - 1).astype(float),
        "TRTSDT": _sas_days(s["first_dose"]), "TRTEDT": _sas_days(s["last_dose"]),
        "SAFFL": np.where(s["treated"], "Y", "N"),
        "HSCTDT": _sas_days(s["hsct_date"]), "HSCTSTAT": s["hsct_status"].fillna(""),
        "OTHTXDT": _sas_days(s["other_tx_date"]),
    })
    adtte = pd.DataFrame({
        "STUDYID": study, "USUBJID": tt["usubjid"], "PARAMCD": tt["paramcd"],
        "PARAM": np.where(tt["paramcd"] == "OS", "Overall Survival (days)", "Relapse-free Survival (days)"),
        "STARTDT": _sas_days(tt["start"]), "ADT": _sas_days(tt["adt"]),
        "AVAL": tt["aval_days"].astype(float), "CNSR": tt["cnsr"].astype(float),
    })
    adrs = pd.DataFrame({
        "STUDYID": study, "USUBJID": rs["usubjid"],
        "PARAMCD": np.where(rs["paramcd"] == "BOR", "BOR2C", "MRD2C"),
        "AVALC": [BOR_211[v] if c == "BOR" else v for c, v in zip(rs["paramcd"], rs["avalc"])],
        "ADT": _sas_days(rs["adt"]),
    })
    adae = pd.DataFrame({
        "STUDYID": study, "USUBJID": ae["usubjid"], "AESEQ": ae["aeseq"].astype(float),
        "AEDECOD": ae["pt"], "AETOXGR": ae["grade"].astype(int).astype(str),
        "AESER": np.where(ae["serious"], "Y", "N"), "AREL": np.where(ae["related"], "Y", "N"),
        "ASTDT": _sas_days(ae["onset"]), "AEOUT": ae["outcome"].map(OUTCOME_CDISC),
        "TRTEMFL": np.where(ae["src_te"], "Y", "N"),
    })
    names = []
    for name, df in (("adsl", adsl), ("adtte", adtte), ("adrs", adrs), ("adae", adae)):
        path = folder / f"{name}.xpt"
        pyreadstat.write_xport(df, str(path), file_format_version=5, table_name=name.upper(),
                               file_label=XPT_DATASET_LABELS[name],
                               column_labels={c: XPT_LABELS.get(c) for c in df.columns})
        _stamp_xpt_header(path, cut)
        names.append(path.name)
    return names


def _stamp_xpt_header(path: Path, cut: np.datetime64) -> None:
    """Replace the created/modified datetimes that the writer stamps into the transport headers
    with the data cut (ddMMMyy:hh:mm:ss), so that the file is a function of the data only."""
    raw = bytearray(path.read_bytes())
    y, m, d = str(cut)[:10].split("-")
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    stamp = f"{d}{months[int(m) - 1]}{y[2:]}:00:00:00".encode("ascii")
    # the 16-char stamp appears in the library and member headers (created and modified)
    pattern = re.compile(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}")
    header_end = min(len(raw), 80 * 12)
    head = pattern.sub(lambda _m: stamp, bytes(raw[:header_end]))
    path.write_bytes(head + bytes(raw[header_end:]))


# --------------------------------------------------------------------------- 00103311 Parquet
def write_parquet_adam(folder: Path, pt: pd.DataFrame, aes: pd.DataFrame, study: str, seed: int) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = adam_tables(pt, aes, study, seed)
    s, tt, rs, ae = t["adsl"], t["adtte"], t["adrs"], t["adae"]
    tables = {
        "adsl": pa.table({
            "studyid": pa.array([study] * len(s), pa.string()),
            "usubjid": pa.array(s["usubjid"], pa.string()),
            "siteid": pa.array(s["site"], pa.string()),
            "arm": pa.array(s["arm"], pa.string()),
            "treated": pa.array(s["treated"], pa.bool_()),
            "age": pa.array(s["age"].astype(int), pa.int64()),
            "sex": pa.array(np.where(s["sex"] == "M", "MALE", "FEMALE"), pa.string()),
            "ecog": pa.array([None if e < 0 else str(int(e)) for e in s["ecog"]], pa.string()),
            "prior_allo_hsct": pa.array(s["prhsct"], pa.bool_()),
            "bm_blasts_pct": pa.array([None if np.isnan(b) else float(b) for b in s["blasts"]], pa.float64()),
            "salvage_phase": pa.array([SALVAGE_PHASE.get(int(x), "FIFTH_OR_LATER") for x in s["line"]], pa.string()),
            "rand_date": pa.array([_iso(d) for d in s["rand_date"]], pa.string()),
            "first_dose_date": pa.array([_iso(d) for d in s["first_dose"]], pa.string()),
            "last_dose_date": pa.array([_iso(d) for d in s["last_dose"]], pa.string()),
            "hsct_date": pa.array([_iso(d) for d in s["hsct_date"]], pa.string()),
            "hsct_status": pa.array([v or None for v in s["hsct_status"]], pa.string()),
            "other_tx_date": pa.array([_iso(d) for d in s["other_tx_date"]], pa.string()),
        }),
        "adtte": pa.table({
            "studyid": pa.array([study] * len(tt), pa.string()),
            "usubjid": pa.array(tt["usubjid"], pa.string()),
            "paramcd": pa.array(tt["paramcd"], pa.string()),
            "aval": pa.array(tt["aval_days"].astype(float) / 30.4375, pa.float64()),
            "avalu": pa.array(["MONTHS"] * len(tt), pa.string()),
            "cnsr": pa.array(tt["cnsr"].astype(int), pa.int64()),
            "startdt": pa.array([_iso(d) for d in tt["start"]], pa.string()),
            "adt": pa.array([_iso(d) for d in tt["adt"]], pa.string()),
        }),
        "adrs": pa.table({
            "studyid": pa.array([study] * len(rs), pa.string()),
            "usubjid": pa.array(rs["usubjid"], pa.string()),
            "paramcd": pa.array(np.where(rs["paramcd"] == "BOR", "BOR_C1C2", "MRD_C1C2"), pa.string()),
            "avalc": pa.array([BOR_TOWER[v] if c == "BOR" else (None if v in (None, "NE") else v)
                               for c, v in zip(rs["paramcd"], rs["avalc"])], pa.string()),
            "adt": pa.array([_iso(d) for d in rs["adt"]], pa.string()),
        }),
        "adae": pa.table({
            "studyid": pa.array([study] * len(ae), pa.string()),
            "usubjid": pa.array(ae["usubjid"], pa.string()),
            "aeseq": pa.array(ae["aeseq"].astype(int), pa.int64()),
            "aedecod": pa.array(ae["pt"], pa.string()),
            "toxgrade": pa.array(ae["grade"].astype(int), pa.int64()),
            "serious": pa.array(ae["serious"].astype(bool), pa.bool_()),
            "related": pa.array(ae["related"].astype(bool), pa.bool_()),
            "onset_date": pa.array([_partial_iso(d, p) for d, p in zip(ae["onset"], ae["partial"])], pa.string()),
            "outcome": pa.array([OUTCOME_CDISC[o] or None for o in ae["outcome"]], pa.string()),
        }),
    }
    names = []
    for name, table in tables.items():
        path = folder / f"{name}.parquet"
        pq.write_table(table, path, compression="snappy")
        names.append(path.name)
    return names
