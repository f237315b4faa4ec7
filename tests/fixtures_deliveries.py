"""Small hand-made deliveries in the three native formats (independent of the generator), with
hand-known contents, for tests of ingest, validation, harmonising and the flow.

MT103-206 (CSV): 4 patients; MT103-211 (XPT): 3 subjects; 00103311 (Parquet): 3 blinatumomab
treated + 1 untreated + 1 SOC. Subject numbers collide across studies on purpose (1, 2, 3 ...).
"""
from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pandas as pd

SAS_EPOCH = date(1960, 1, 1)


def sas(d: str | None) -> float:
    return float("nan") if d is None else float((date.fromisoformat(d) - SAS_EPOCH).days)


def write_manifest(folder: Path, study: str, delivery_id: str, fmt: str) -> None:
    files = {}
    for p in sorted(folder.iterdir()):
        if p.name == "manifest.json":
            continue
        if p.suffix == ".csv":
            rows = p.read_bytes().count(b"\n") - 1
        elif p.suffix == ".parquet":
            rows = len(pd.read_parquet(p))
        else:
            import pyreadstat

            rows = len(pyreadstat.read_xport(str(p))[0])
        files[p.name] = {"sha256": hashlib.sha256(p.read_bytes()).hexdigest(), "rows": rows}
    manifest = {"study": study, "delivery_id": delivery_id, "data_cut": delivery_id, "format": fmt, "files": files}
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _csv(folder: Path, name: str, header: str, rows: list[str]) -> None:
    (folder / name).write_bytes(("\n".join([header] + rows) + "\n").encode("latin-1"))


def write_csv_legacy(root: Path, study="MT103-206", delivery_id="2013-06-30", **overrides) -> Path:
    f = root / "deliveries" / study / delivery_id
    f.mkdir(parents=True, exist_ok=True)
    files = {
        "patients.csv": ("PATNR;SEX;AGE;ECOG;PRIOR_SCT;BM_BLASTS;SALVAGE_NR;FIRST_DOSE;LAST_DOSE", [
            "1;1;45;0;J;78,5;1;01.02.2012;28.03.2012",
            "2;2;33;n.a.;N;n.a.;2;15.03.2012;11.04.2012",
            "3;1;61;1;N;4,0;3;01.04.2012;28.04.2012",
            "4;2;29;2;J;12;1;01.05.2012;28.06.2012",
        ]),
        "followup.csv": ("PATNR;STATUS;STATUS_DATE", [
            "1;DEAD;01.02.2013", "2;ALIVE;30.06.2013", "3;DEAD;15.06.2012", "4;ALIVE;30.06.2013",
        ]),
        "response.csv": ("PATNR;CYCLE;RESPONSE;MRD;ASSESS_DATE", [
            "1;1;CRh*;pos;01.03.2012", "1;2;CR;neg;12.04.2012",
            "2;1;NR;;12.04.2012",
            "3;1;NE;;",
            "4;1;CRi;;29.05.2012", "4;2;CRi;pos;10.07.2012",
        ]),
        "relapse.csv": ("PATNR;RELAPSE_DATE", ["1;01.10.2012"]),
        "hsct.csv": ("PATNR;HSCT_DATE;STATUS_AT_HSCT", ["4;01.09.2012;CR"]),
        "other_tx.csv": ("PATNR;START_DATE;THERAPY", [
            "2;01.05.2012;Hochdosis-Ara-C (ärztl. Entscheidung)", "2;01.01.2011;Vorbehandlung vor Studie"]),
        "ae.csv": ("PATNR;PT;GRADE;SERIOUS;RELATED;ONSET;OUTCOME", [
            "1;Cytokine release syndrome;3;J;J;02.02.2012;RECOVERED",
            "1;Pyrexia;1;N;N;31.01.2012;RECOVERED",          # before first dose: not TEAE
            "2;Tremor;2;N;J;11.05.2012;n.a.",                # last dose + 30: TEAE (boundary)
            "2;Headache;1;N;N;12.05.2012;RECOVERED",         # last dose + 31: not TEAE
            "3;Sepsis;5;J;N;10.06.2012;FATAL",
        ]),
    }
    for name, (header, rows) in files.items():
        header, rows = overrides.get(name, (header, rows))
        _csv(f, name, header, rows)
    write_manifest(f, study, delivery_id, "csv-legacy")
    return f


def write_xpt_adam(root: Path, study="MT103-211", delivery_id="2014-06-30") -> Path:
    import pyreadstat

    f = root / "deliveries" / study / delivery_id
    f.mkdir(parents=True, exist_ok=True)
    ids = [f"{study}-101-1", f"{study}-101-2", f"{study}-102-3"]
    adsl = pd.DataFrame({
        "STUDYID": [study] * 3, "USUBJID": ids, "AGE": [50.0, 19.0, 70.0], "SEX": ["M", "F", "F"],
        "ECOGBL": [1.0, float("nan"), 0.0], "PRHSCTFL": ["Y", "N", "N"], "BMBLPCT": [90.0, 7.5, float("nan")],
        "PRSALVN": [0.0, 1.0, 2.0], "TRTSDT": [sas("2013-01-10"), sas("2013-02-01"), sas("2013-03-01")],
        "TRTEDT": [sas("2013-02-06"), sas("2013-03-28"), sas("2013-03-20")], "SAFFL": ["Y", "Y", "Y"],
        "HSCTDT": [sas("2013-06-01"), float("nan"), float("nan")], "HSCTSTAT": ["RELAPSE", "", ""],
        "OTHTXDT": [float("nan"), sas("2013-05-01"), float("nan")], "SITEID": ["101", "101", "102"],
    })
    adtte = pd.DataFrame({
        "STUDYID": [study] * 4, "USUBJID": [ids[0], ids[1], ids[2], ids[1]],
        "PARAMCD": ["OS", "OS", "OS", "RFS"],
        "STARTDT": [sas("2013-01-10"), sas("2013-02-01"), sas("2013-03-01"), sas("2013-03-15")],
        "ADT": [sas("2013-12-10"), sas("2014-06-30"), sas("2013-05-01"), sas("2013-09-15")],
        "CNSR": [0.0, 1.0, 0.0, 0.0],
    })
    adtte["AVAL"] = adtte["ADT"] - adtte["STARTDT"]
    adrs = pd.DataFrame({
        "STUDYID": [study] * 6, "USUBJID": [ids[0], ids[0], ids[1], ids[1], ids[2], ids[2]],
        "PARAMCD": ["BOR2C", "MRD2C"] * 3, "AVALC": ["PR", "NE", "CRH", "Y", "NR", "N"],
        "ADT": [sas("2013-02-20"), float("nan"), sas("2013-03-15"), float("nan"), sas("2013-04-01"), float("nan")],
    })
    adae = pd.DataFrame({
        "STUDYID": [study] * 3, "USUBJID": [ids[0], ids[1], ids[2]],
        "AEDECOD": ["Encephalopathy", "Neutropenia", "Cytokine release syndrome"],
        "AETOXGR": ["3", "4", "1"], "AESER": ["Y", "N", "N"], "AREL": ["Y", "N", "Y"],
        "ASTDT": [sas("2013-01-15"), sas("2013-02-01"), sas("2013-05-01")],
        "AEOUT": ["RECOVERED/RESOLVED", "RECOVERING/RESOLVING", "RECOVERED/RESOLVED"],
        "TRTEMFL": ["Y", "Y", "Y"],  # the last one disagrees: 2013-05-01 > 2013-03-20 + 30
    })
    for name, df in (("adsl", adsl), ("adtte", adtte), ("adrs", adrs), ("adae", adae)):
        pyreadstat.write_xport(df, str(f / f"{name}.xpt"), table_name=name.upper(), file_format_version=5)
    write_manifest(f, study, delivery_id, "xpt-adam")
    return f


def write_parquet_adam(root: Path, study="00103311", delivery_id="2016-01-04") -> Path:
    f = root / "deliveries" / study / delivery_id
    f.mkdir(parents=True, exist_ok=True)
    ids = [f"{study}-{i}" for i in ("11-1", "11-2", "12-3", "12-4", "13-5")]
    adsl = pd.DataFrame({
        "usubjid": ids, "arm": ["Blinatumomab"] * 4 + ["SOC chemotherapy"], "treated": [True, True, True, False, True],
        "age": [40, 55, 22, 60, 48], "sex": ["MALE", "FEMALE", "MALE", "FEMALE", "MALE"],
        "ecog": ["0", "1", None, "1", "2"], "prior_allo_hsct": [False, True, False, False, True],
        "bm_blasts_pct": [55.0, 3.0, None, 80.0, 20.0],
        "salvage_phase": ["FIRST", "SECOND", "FIFTH_OR_LATER", "FIRST", "THIRD"],
        "first_dose_date": ["2015-01-15", "2015-02-10", "2015-03-01", None, "2015-01-20"],
        "last_dose_date": ["2015-02-11", "2015-04-07", "2015-03-28", None, "2015-02-20"],
        "hsct_date": [None, "2015-07-01", None, None, None], "hsct_status": [None, "CR", None, None, None],
        "other_tx_date": [None, None, "2015-05-01", None, None],
    })
    adtte = pd.DataFrame({
        "usubjid": [ids[0], ids[1], ids[2], ids[1], ids[3], ids[4]],
        "paramcd": ["OS", "OS", "OS", "RFS", "OS", "OS"],
        "aval": [300 / 30.4375, 400 / 30.4375, 90 / 30.4375, 200 / 30.4375, 100 / 30.4375, 150 / 30.4375],
        "avalu": ["MONTHS"] * 6, "cnsr": [1, 0, 0, 1, 0, 0],
    })
    adrs = pd.DataFrame({
        "usubjid": [ids[0], ids[0], ids[1], ids[1], ids[2], ids[2], ids[3], ids[3], ids[4], ids[4]],
        "paramcd": ["BOR_C1C2", "MRD_C1C2"] * 5,
        "avalc": ["Blast-free hypoplastic or aplastic bone marrow", None, "CR", "Y", "No response", None,
                  "Not evaluable", None, "CR", "N"],
    })
    adae = pd.DataFrame({
        "usubjid": [ids[0], ids[0], ids[1], ids[2], ids[4]],
        "aedecod": ["Cytokine release syndrome", "Nausea", "Seizure", "Pneumonia", "Febrile neutropenia"],
        "toxgrade": [2, 1, 3, 5, 3], "serious": [False, False, True, True, True],
        "related": [True, False, True, False, False],
        "onset_date": ["2015-01", "2014-12", "2015-02-20", "2015", "2015-01-25"],  # partial dates
        "outcome": ["RECOVERED/RESOLVED", "RECOVERED/RESOLVED", "RECOVERING/RESOLVING", "FATAL", "RECOVERED/RESOLVED"],
    })
    for name, df in (("adsl", adsl), ("adtte", adtte), ("adrs", adrs), ("adae", adae)):
        df.to_parquet(f / f"{name}.parquet", index=False)
    write_manifest(f, study, delivery_id, "parquet-adam")
    return f


def write_all(root: Path) -> Path:
    write_csv_legacy(root)
    write_xpt_adam(root)
    write_parquet_adam(root)
    return root
