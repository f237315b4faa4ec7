"""Pandera models of the harmonised (pooled) datasets: the contract between `sql/pooled/` and the
analysis tables under `tasks/`.

One row per ... is said on each model. Dates are DuckDB DATEs (pandas datetime64). Flags are
'Y'/'N'. STUDYID is part of every key; USUBJID is unique across studies.
"""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from repool.schemas.sources import SOURCE_DATASETS

SALVAGE_LEVELS = ["First salvage", "Second or later salvage"]
ECOG_LEVELS = ["0", "1", "2", "Unknown"]
BMBLCAT_LEVELS = ["<= 5%", "> 5% - < 10%", "10% - < 50%", ">= 50%", "Unknown"]
BOR_LEVELS = ["CR", "CRh", "CRi", "BFHM", "PR", "NR", "NE"]
HSCT_STATUS = ["CR", "RELAPSE", "REFRACTORY", "OTHER_TX"]
YN = ["Y", "N"]


# ---------------------------------------------------------------------------------------------
# SQL twins of the dataframe-level checks. The pooled contract runs as SQL over the pooled tables
# (tasks/validate/pooled_sql.py generates the column rules from these models); a dataframe check is
# a Python function, so each carries its twin here, beside it: a boolean SQL expression over the
# model's columns that is TRUE exactly where the pandas check passes (null semantics written out as
# pandas has them; the runner takes NULL as a failure). tests/tasks/validate/test_pooled_sql.py
# proves twin and pandas check agree on fixtures, nulls included.


def sql_list(values) -> str:
    """A SQL list of the model's own constants (never data), quotes doubled."""
    return "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")"


def sql_twin(check: str, passes: str, columns: tuple[str, ...]):
    """Attach the SQL twin of the dataframe check named `check`: `passes` is TRUE where the check
    passes; `columns` are the columns it reads (named in the failure records)."""
    def attach(fn):
        fn.__sql_twin__ = {"check": check, "passes": passes, "columns": tuple(columns)}
        return fn
    return attach


def sql_twins(model: type) -> dict[str, dict]:
    """check name -> {"check", "passes", "columns"} for every dataframe check of `model`. A check
    without a twin (or a twin whose name matches no check) is an error: the SQL contract would
    silently miss it."""
    twins = {}
    for klass in reversed(model.__mro__):
        for attr in vars(klass).values():
            twin = getattr(getattr(attr, "__func__", attr), "__sql_twin__", None)
            if twin is not None:
                twins[twin["check"]] = twin
    checks = {c.name for c in model.to_schema().checks}
    if set(twins) != checks:
        raise LookupError(f"{model.__name__}: dataframe checks {sorted(checks)} but SQL twins {sorted(twins)}")
    return twins


# Every delivered file name a contract knows (schemas/sources.py): where a pooled record may come from.
SOURCE_FILES = sorted({file for files in SOURCE_DATASETS.values() for file in files})


class SourceColumns(pa.DataFrameModel):
    """Where a pooled record comes from (admiral's SRCDOM/SRCVAR/SRCSEQ, extended to the delivered
    files): the delivery, the file, the file's sha256 (from the run's lineage) and the 1-based data
    row of the record's own row; SRCROWS lists every delivered row it was derived from as
    'file:row' joined by '; ' (files of the same delivery, ordered as the model reads them)."""

    SRCDLV: Series[str]  # delivery id
    SRCFILE: Series[str] = pa.Field(isin=SOURCE_FILES)
    SRCSHA: Series[str]  # sha256 of SRCFILE as verified at ingest
    SRCROW: Series[int] = pa.Field(ge=1)
    SRCROWS: Series[str]


class PooledADSL(SourceColumns):
    """One row per pooled subject (randomised to and treated with blinatumomab)."""

    STUDYID: Series[str]
    USUBJID: Series[str] = pa.Field(unique=True)
    SUBJID: Series[str]
    AGE: Series[int] = pa.Field(ge=18, le=100)
    SEX: Series[str] = pa.Field(isin=["M", "F"])
    ECOGBL: Series[float] = pa.Field(isin=[0.0, 1.0, 2.0], nullable=True)
    ECOG: Series[str] = pa.Field(isin=ECOG_LEVELS)
    PRHSCT: Series[str] = pa.Field(isin=YN)
    BMBLPCT: Series[float] = pa.Field(ge=0, le=100, nullable=True)
    BMBLCAT: Series[str] = pa.Field(isin=BMBLCAT_LEVELS)
    SALVLINE: Series[int] = pa.Field(ge=1)
    SALVGRP: Series[str] = pa.Field(isin=SALVAGE_LEVELS)
    TRTSDT: Series[pd.Timestamp]
    TRTEDT: Series[pd.Timestamp]
    REMFL: Series[str] = pa.Field(isin=YN)
    HSCTDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    HSCTSTAT: Series[str] = pa.Field(isin=HSCT_STATUS, nullable=True)
    HSCTFL: Series[str] = pa.Field(isin=YN)
    HSCTCRFL: Series[str] = pa.Field(isin=YN)
    HSCTRRFL: Series[str] = pa.Field(isin=YN)
    OTHTXDT: Series[pd.Timestamp] = pa.Field(nullable=True)
    OTHTXFL: Series[str] = pa.Field(isin=YN)

    @pa.dataframe_check(name="last_dose_not_before_first_dose")
    @sql_twin("last_dose_not_before_first_dose", '"TRTEDT" >= "TRTSDT"', ("TRTSDT", "TRTEDT"))
    def _dose_order(cls, df: pd.DataFrame) -> Series[bool]:
        return df["TRTEDT"] >= df["TRTSDT"]

    class Config:
        coerce = True
        strict = False


class PooledADTTE(SourceColumns):
    """One row per subject and time-to-event parameter (OS for all, RFS for subjects in remission)."""

    STUDYID: Series[str]
    USUBJID: Series[str]
    PARAMCD: Series[str] = pa.Field(isin=["OS", "RFS"])
    AVAL: Series[float] = pa.Field(ge=0)  # months
    CNSR: Series[int] = pa.Field(isin=[0, 1])

    class Config:
        coerce = True
        strict = False
        unique = ["USUBJID", "PARAMCD"]


class PooledADRS(SourceColumns):
    """One row per subject and response parameter: BOR (best response within two cycles) and MRD."""

    STUDYID: Series[str]
    USUBJID: Series[str]
    PARAMCD: Series[str] = pa.Field(isin=["BOR", "MRD"])
    AVALC: Series[str] = pa.Field(isin=BOR_LEVELS + ["Y", "N"])
    ADT: Series[pd.Timestamp] = pa.Field(nullable=True)  # BOR: first remission date

    @pa.dataframe_check(name="avalc_fits_paramcd")
    @sql_twin("avalc_fits_paramcd", f"""("PARAMCD" = 'BOR' AND "AVALC" IN {sql_list(BOR_LEVELS)})
                  OR ("PARAMCD" = 'MRD' AND "AVALC" IN {sql_list(YN)})""", ("PARAMCD", "AVALC"))
    def _avalc_fits(cls, df: pd.DataFrame) -> Series[bool]:
        bor = df["PARAMCD"].eq("BOR") & df["AVALC"].isin(BOR_LEVELS)
        mrd = df["PARAMCD"].eq("MRD") & df["AVALC"].isin(YN)
        return bor | mrd

    class Config:
        coerce = True
        strict = False
        unique = ["USUBJID", "PARAMCD"]


class PooledADAE(SourceColumns):
    """One row per adverse event as delivered, with re-derived treatment emergence."""

    STUDYID: Series[str]
    USUBJID: Series[str]
    AESEQ: Series[int] = pa.Field(ge=1)  # source row number within the study's AE file
    AEDECOD: Series[str]
    AETOXGR: Series[int] = pa.Field(ge=1, le=5)
    AESER: Series[str] = pa.Field(isin=YN)
    AREL: Series[str] = pa.Field(isin=YN)
    ASTDT: Series[pd.Timestamp]  # onset, partial dates imputed
    ASTDTF: Series[str] = pa.Field(isin=["D", "M"], nullable=True)  # imputation flag
    AEOUT: Series[str] = pa.Field(nullable=True)
    AEFATFL: Series[str] = pa.Field(isin=YN)  # grade 5 or outcome FATAL
    AESICAT: Series[str] = pa.Field(isin=["CRS", "NEURO"], nullable=True)  # event of interest
    TRTEMFL: Series[str] = pa.Field(isin=YN)  # re-derived by the pipeline
    SRCTEMFL: Series[str] = pa.Field(isin=YN, nullable=True)  # as delivered (null where not delivered)

    @pa.dataframe_check(name="grade_5_is_fatal")
    @sql_twin("grade_5_is_fatal", '"AETOXGR" IS DISTINCT FROM 5 OR "AEFATFL" = \'Y\'', ("AETOXGR", "AEFATFL"))  # null grade passes (.ne)
    def _grade_5_fatal(cls, df: pd.DataFrame) -> Series[bool]:
        return df["AETOXGR"].ne(5) | df["AEFATFL"].eq("Y")

    class Config:
        coerce = True
        strict = False
        unique = ["STUDYID", "USUBJID", "AESEQ"]


POOLED_MODELS = {
    "adsl": PooledADSL,
    "adtte": PooledADTTE,
    "adrs": PooledADRS,
    "adae": PooledADAE,
}
