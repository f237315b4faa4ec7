"""Small hand-made pooled frames (schemas/pooled.py columns) for the analysis-table tests.

Ten subjects: F1–F4 in first salvage, L1–L6 in second or later salvage, plus one AE row of a
subject (X99) who is not in ADSL. Every expected number in the table tests is computed by hand
from the tables below (see the comments there).

    subj AGE SEX ECOG    PRHSCT BMBLPCT BMBLCAT        BOR  MRD  OS       RFS      HSCT/CR/RR/OTHTX
    F1   40  M   0       Y      3       <= 5%          CR   Y    10       5        Y  Y  N  N
    F2   50  F   1       N      80      >= 50%         CRh  N    5        7+       N  N  N  Y
    F3   60  M   1       N      -       Unknown        NR   -    20+      -        Y  N  Y  N
    F4   20  M   2       N      7       > 5% - < 10%   NE   -    8        -        N  N  N  N
    L1   18  F   Unknown Y      10      10% - < 50%    CR   Y    2        3        Y  Y  N  N
    L2   30  M   0       Y      50      >= 50%         CRi  -    3        4        N  N  N  N
    L3   33  F   1       N      100     >= 50%         PR   Y    4+       -        N  N  N  N
    L4   77  F   1       N      49.9    10% - < 50%    NR   -    6        -        N  N  N  N
    L5   35  M   2       Y      5       <= 5%          CR   Y    1        10+      N  N  N  N
    L6   34  F   0       N      -       Unknown        BFHM -    12+      -        N  N  N  N
(+ = censored; L3 has MRD 'Y' without remission: must not count.)
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

FIRST, LATER = "First salvage", "Second or later salvage"

_ADSL = [
    # USUBJID SALVGRP AGE SEX ECOG PRHSCT BMBLPCT BMBLCAT HSCTFL HSCTCRFL HSCTRRFL OTHTXFL
    ("F1", FIRST, 40, "M", "0", "Y", 3.0, "<= 5%", "Y", "Y", "N", "N"),
    ("F2", FIRST, 50, "F", "1", "N", 80.0, ">= 50%", "N", "N", "N", "Y"),
    ("F3", FIRST, 60, "M", "1", "N", np.nan, "Unknown", "Y", "N", "Y", "N"),
    ("F4", FIRST, 20, "M", "2", "N", 7.0, "> 5% - < 10%", "N", "N", "N", "N"),
    ("L1", LATER, 18, "F", "Unknown", "Y", 10.0, "10% - < 50%", "Y", "Y", "N", "N"),
    ("L2", LATER, 30, "M", "0", "Y", 50.0, ">= 50%", "N", "N", "N", "N"),
    ("L3", LATER, 33, "F", "1", "N", 100.0, ">= 50%", "N", "N", "N", "N"),
    ("L4", LATER, 77, "F", "1", "N", 49.9, "10% - < 50%", "N", "N", "N", "N"),
    ("L5", LATER, 35, "M", "2", "Y", 5.0, "<= 5%", "N", "N", "N", "N"),
    ("L6", LATER, 34, "F", "0", "N", np.nan, "Unknown", "N", "N", "N", "N"),
]
_BOR = {"F1": "CR", "F2": "CRh", "F3": "NR", "F4": "NE", "L1": "CR", "L2": "CRi", "L3": "PR",
        "L4": "NR", "L5": "CR", "L6": "BFHM"}
_MRD = {"F1": "Y", "F2": "N", "L1": "Y", "L3": "Y", "L5": "Y"}
_OS = {"F1": (10, 0), "F2": (5, 0), "F3": (20, 1), "F4": (8, 0), "L1": (2, 0), "L2": (3, 0),
       "L3": (4, 1), "L4": (6, 0), "L5": (1, 0), "L6": (12, 1)}  # (AVAL months, CNSR)
_RFS = {"F1": (5, 0), "F2": (7, 1), "L1": (3, 0), "L2": (4, 0), "L5": (10, 1)}
_AE = [
    # USUBJID AETOXGR AESER AREL AEFATFL AESICAT TRTEMFL
    ("F1", 2, "N", "N", "N", None, "Y"),
    ("F1", 3, "Y", "Y", "N", "CRS", "Y"),
    ("F2", 1, "N", "N", "N", "NEURO", "Y"),
    ("F2", 5, "Y", "Y", "Y", None, "N"),  # not treatment-emergent: ignored
    ("F4", 5, "Y", "Y", "Y", None, "Y"),
    ("L1", 4, "Y", "N", "N", None, "Y"),
    ("L2", 5, "Y", "N", "Y", None, "Y"),
    ("L3", 2, "N", "Y", "N", "CRS", "Y"),
    ("L3", 1, "N", "Y", "N", "CRS", "Y"),  # same subject: counted once
    ("L4", 3, "N", "N", "N", "NEURO", "Y"),
    ("X99", 5, "Y", "Y", "Y", "CRS", "Y"),  # not in ADSL: ignored
]


def _study(usubjid: str) -> str:
    return "MT103-211" if usubjid.startswith("F") else "00103311"


_FORMAT_SUFFIX = {"MT103-211": ".xpt", "00103311": ".parquet", "MT103-206": ".csv"}
_LEGACY_FILE = {"adsl": "patients.csv", "adtte": "followup.csv", "adrs": "response.csv", "adae": "ae.csv"}


def with_source(df: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The pooled source columns (schemas/pooled.py SourceColumns) on a fixture frame: each row
    from the study's `dataset` file, numbered within the study in frame order."""
    df = df.copy()
    study = df["STUDYID"].astype(str)
    df["SRCDLV"] = study.map(lambda s: f"{s}@2020-01-01")
    df["SRCFILE"] = study.map(lambda s: _LEGACY_FILE[dataset] if _FORMAT_SUFFIX[s] == ".csv"
                              else dataset + _FORMAT_SUFFIX[s])
    df["SRCSHA"] = study.map(lambda s: hashlib.sha256(s.encode()).hexdigest())
    df["SRCROW"] = df.groupby(study).cumcount() + 1
    df["SRCROWS"] = df["SRCFILE"] + ":" + df["SRCROW"].astype(str)
    return df


def make_adsl() -> pd.DataFrame:
    cols = ["USUBJID", "SALVGRP", "AGE", "SEX", "ECOG", "PRHSCT", "BMBLPCT", "BMBLCAT",
            "HSCTFL", "HSCTCRFL", "HSCTRRFL", "OTHTXFL"]
    df = pd.DataFrame(_ADSL, columns=cols)
    df.insert(0, "STUDYID", df["USUBJID"].map(_study))
    df["SUBJID"] = df["USUBJID"]
    df["ECOGBL"] = pd.to_numeric(df["ECOG"], errors="coerce")
    df["SALVLINE"] = np.where(df["SALVGRP"] == FIRST, 1, 2)
    df["TRTSDT"] = pd.Timestamp("2020-01-01")
    df["TRTEDT"] = pd.Timestamp("2020-02-01")
    df["REMFL"] = np.where(df["USUBJID"].map(_BOR).isin(["CR", "CRh", "CRi"]), "Y", "N")
    hsct = df["HSCTFL"] == "Y"
    df["HSCTDT"] = pd.Series(pd.Timestamp("2020-06-01"), index=df.index).where(hsct)
    df["HSCTSTAT"] = np.select([df["HSCTCRFL"] == "Y", df["HSCTRRFL"] == "Y"], ["CR", "RELAPSE"], None)
    df["OTHTXDT"] = pd.Series(pd.Timestamp("2020-05-01"), index=df.index).where(df["OTHTXFL"] == "Y")
    return with_source(df, "adsl")


def make_adtte() -> pd.DataFrame:
    rows = [(u, "OS", *v) for u, v in _OS.items()] + [(u, "RFS", *v) for u, v in _RFS.items()]
    df = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "AVAL", "CNSR"])
    df["AVAL"] = df["AVAL"].astype(float)
    df.insert(0, "STUDYID", df["USUBJID"].map(_study))
    return with_source(df, "adtte")


def make_adrs() -> pd.DataFrame:
    rows = [(u, "BOR", v) for u, v in _BOR.items()] + [(u, "MRD", v) for u, v in _MRD.items()]
    df = pd.DataFrame(rows, columns=["USUBJID", "PARAMCD", "AVALC"])
    df.insert(0, "STUDYID", df["USUBJID"].map(_study))
    df["ADT"] = pd.NaT
    return with_source(df, "adrs")


def make_adae() -> pd.DataFrame:
    df = pd.DataFrame(_AE, columns=["USUBJID", "AETOXGR", "AESER", "AREL", "AEFATFL", "AESICAT", "TRTEMFL"])
    df.insert(0, "STUDYID", df["USUBJID"].map(_study))
    df["AESEQ"] = df.groupby("USUBJID").cumcount() + 1
    df["AEDECOD"] = df["AESICAT"].map({"CRS": "Cytokine release syndrome", "NEURO": "Tremor"}).fillna("Nausea")
    df["ASTDT"] = pd.Timestamp("2020-01-10")
    df["ASTDTF"] = None
    df["AEOUT"] = np.where(df["AEFATFL"] == "Y", "FATAL", "RECOVERED")
    df["SRCTEMFL"] = df["TRTEMFL"]
    return with_source(df, "adae")


def only_first(df: pd.DataFrame) -> pd.DataFrame:
    """Rows of first-salvage subjects only (for the empty-group tests)."""
    return df[df["USUBJID"].str.startswith("F")].reset_index(drop=True)
