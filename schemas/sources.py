"""Pandera models of the source datasets, one per delivered file, as the files arrive (sources.md).

Raw tables hold the values as delivered: MT103-206 CSV as text, SAS transport as numbers and
character, Parquet with its own types. Each check is named by its *reason code* (`wrong_type`,
`unknown_code`, `age_range`, ...; registry in `schemas/reasons.py`), so a failure case maps
straight to the policy that decides what happens (`schemas/policies.toml`). Nulls pass every check but `missing_value`.

The frames validated here are indexed by the 1-based source row number, so a failure case's
`index` is the row in the delivered file.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from repool.schemas.reasons import Reason, as_reason

if TYPE_CHECKING:  # annotations only: pandas is imported by the functions that use it
    import pandas as pd
    import pandera.pandas as pa

# ---------------------------------------------------------------------------------------------
# Column descriptions
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Col:
    """One delivered column: how its values are written and what they may be."""

    name: str
    kind: str  # text | int_text | dec_text | date_de | num | int | sas_date | iso_date | partial_date | bool | code
    codes: tuple = ()
    nullable: bool = False
    lo: float | None = None
    hi: float | None = None
    range_reason: str = ""  # a registered reason code; required with lo/hi
    unique: bool = False


@dataclass(frozen=True)
class SourceDataset:
    """One delivered file of a format: its columns, subject column and compound key."""

    format: str
    file: str
    columns: tuple[Col, ...]
    subject: str  # the column holding the study-local subject id
    unique_together: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


YN = ("Y", "N")
JN = ("J", "N")
HSCT_CODES = ("CR", "RELAPSE", "REFRACTORY", "OTHER_TX")
CDISC_OUTCOMES = (
    "RECOVERED/RESOLVED", "RECOVERING/RESOLVING", "NOT RECOVERED/NOT RESOLVED",
    "RECOVERED/RESOLVED WITH SEQUELAE", "FATAL", "UNKNOWN",
)

_PATNR = Col("PATNR", "int_text")

CSV_LEGACY = {
    "patients.csv": SourceDataset("csv-legacy", "patients.csv", (
        Col("PATNR", "int_text", unique=True),
        Col("SEX", "code", codes=("1", "2")),
        Col("AGE", "int_text", lo=18, hi=100, range_reason="age_range"),
        Col("ECOG", "code", codes=("0", "1", "2"), nullable=True),
        Col("PRIOR_SCT", "code", codes=JN),
        Col("BM_BLASTS", "dec_text", nullable=True, lo=0, hi=100, range_reason="blasts_range"),
        Col("SALVAGE_NR", "int_text", lo=1, hi=99, range_reason="salvage_range"),
        Col("FIRST_DOSE", "date_de"),
        Col("LAST_DOSE", "date_de"),
    ), subject="PATNR"),
    "followup.csv": SourceDataset("csv-legacy", "followup.csv", (
        Col("PATNR", "int_text", unique=True),
        Col("STATUS", "code", codes=("DEAD", "ALIVE")),
        Col("STATUS_DATE", "date_de"),
    ), subject="PATNR"),
    "response.csv": SourceDataset("csv-legacy", "response.csv", (
        _PATNR,
        Col("CYCLE", "code", codes=("1", "2")),
        Col("RESPONSE", "code", codes=("CR", "CRh*", "CRi", "BFHM", "PR", "NR", "NE")),
        Col("MRD", "code", codes=("neg", "pos"), nullable=True),
        Col("ASSESS_DATE", "date_de", nullable=True),
    ), subject="PATNR"),  # one row per assessment: a cycle may hold several
    "relapse.csv": SourceDataset("csv-legacy", "relapse.csv", (
        Col("PATNR", "int_text", unique=True),
        Col("RELAPSE_DATE", "date_de"),
    ), subject="PATNR"),
    "hsct.csv": SourceDataset("csv-legacy", "hsct.csv", (
        Col("PATNR", "int_text", unique=True),
        Col("HSCT_DATE", "date_de"),
        Col("STATUS_AT_HSCT", "code", codes=HSCT_CODES),
    ), subject="PATNR"),
    "other_tx.csv": SourceDataset("csv-legacy", "other_tx.csv", (
        _PATNR,
        Col("START_DATE", "date_de"),
        Col("THERAPY", "text", nullable=True),
    ), subject="PATNR"),
    "ae.csv": SourceDataset("csv-legacy", "ae.csv", (
        _PATNR,
        Col("PT", "text"),
        Col("GRADE", "int_text", lo=1, hi=5, range_reason="grade_range"),
        Col("SERIOUS", "code", codes=JN),
        Col("RELATED", "code", codes=JN),
        Col("ONSET", "date_de"),
        Col("OUTCOME", "code", codes=("FATAL", "RECOVERED", "ONGOING", "NOT RECOVERED", "UNKNOWN"), nullable=True),
    ), subject="PATNR"),
}

XPT_ADAM = {
    "adsl.xpt": SourceDataset("xpt-adam", "adsl.xpt", (
        Col("USUBJID", "text", unique=True),
        Col("AGE", "int", lo=18, hi=100, range_reason="age_range"),
        Col("SEX", "code", codes=("M", "F")),
        Col("ECOGBL", "code", codes=(0, 1, 2), nullable=True),
        Col("PRHSCTFL", "code", codes=YN),
        Col("BMBLPCT", "num", nullable=True, lo=0, hi=100, range_reason="blasts_range"),
        Col("PRSALVN", "int", lo=0, hi=99, range_reason="salvage_range"),
        Col("TRTSDT", "sas_date"),
        Col("TRTEDT", "sas_date"),
        Col("SAFFL", "code", codes=YN),
        Col("HSCTDT", "sas_date", nullable=True),
        Col("HSCTSTAT", "code", codes=HSCT_CODES, nullable=True),
        Col("OTHTXDT", "sas_date", nullable=True),
    ), subject="USUBJID"),
    "adtte.xpt": SourceDataset("xpt-adam", "adtte.xpt", (
        Col("USUBJID", "text"),
        Col("PARAMCD", "code", codes=("OS", "RFS")),
        Col("STARTDT", "sas_date"),
        Col("ADT", "sas_date"),
        Col("AVAL", "num"),
        Col("CNSR", "code", codes=(0, 1)),
    ), subject="USUBJID", unique_together=("USUBJID", "PARAMCD")),
    "adrs.xpt": SourceDataset("xpt-adam", "adrs.xpt", (
        Col("USUBJID", "text"),
        Col("PARAMCD", "code", codes=("BOR2C", "MRD2C")),
        Col("AVALC", "code", codes=("CR", "CRH", "CRI", "BFHM", "PR", "NR", "NE", "Y", "N")),
        Col("ADT", "sas_date", nullable=True),
    ), subject="USUBJID", unique_together=("USUBJID", "PARAMCD")),
    "adae.xpt": SourceDataset("xpt-adam", "adae.xpt", (
        Col("USUBJID", "text"),
        Col("AEDECOD", "text"),
        Col("AETOXGR", "int_text", lo=1, hi=5, range_reason="grade_range"),
        Col("AESER", "code", codes=YN),
        Col("AREL", "code", codes=YN),
        Col("ASTDT", "sas_date"),
        Col("AEOUT", "code", codes=CDISC_OUTCOMES, nullable=True),
        Col("TRTEMFL", "code", codes=YN, nullable=True),
    ), subject="USUBJID"),
}

PARQUET_ADAM = {
    "adsl.parquet": SourceDataset("parquet-adam", "adsl.parquet", (
        Col("usubjid", "text", unique=True),
        Col("arm", "code", codes=("Blinatumomab", "SOC chemotherapy")),
        Col("treated", "bool"),
        Col("age", "int", lo=18, hi=100, range_reason="age_range"),
        Col("sex", "code", codes=("MALE", "FEMALE")),
        Col("ecog", "code", codes=("0", "1", "2"), nullable=True),
        Col("prior_allo_hsct", "bool"),
        Col("bm_blasts_pct", "num", nullable=True, lo=0, hi=100, range_reason="blasts_range"),
        Col("salvage_phase", "code", codes=("FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH_OR_LATER")),
        Col("first_dose_date", "iso_date", nullable=True),
        Col("last_dose_date", "iso_date", nullable=True),
        Col("hsct_date", "iso_date", nullable=True),
        Col("hsct_status", "code", codes=HSCT_CODES, nullable=True),
        Col("other_tx_date", "iso_date", nullable=True),
    ), subject="usubjid"),
    "adtte.parquet": SourceDataset("parquet-adam", "adtte.parquet", (
        Col("usubjid", "text"),
        Col("paramcd", "code", codes=("OS", "RFS")),
        Col("aval", "num"),
        Col("avalu", "code", codes=("MONTHS",)),
        Col("cnsr", "code", codes=(0, 1)),
    ), subject="usubjid", unique_together=("usubjid", "paramcd")),
    "adrs.parquet": SourceDataset("parquet-adam", "adrs.parquet", (
        Col("usubjid", "text"),
        Col("paramcd", "code", codes=("BOR_C1C2", "MRD_C1C2")),
        Col("avalc", "code", nullable=True, codes=(
            "CR", "CR with partial hematologic recovery", "CR with incomplete hematologic recovery",
            "Blast-free hypoplastic or aplastic bone marrow", "Partial remission", "No response",
            "Not evaluable", "Y", "N")),
    ), subject="usubjid", unique_together=("usubjid", "paramcd")),
    "adae.parquet": SourceDataset("parquet-adam", "adae.parquet", (
        Col("usubjid", "text"),
        Col("aedecod", "text"),
        Col("toxgrade", "int", lo=1, hi=5, range_reason="grade_range"),
        Col("serious", "bool"),
        Col("related", "bool"),
        Col("onset_date", "partial_date"),
        Col("outcome", "code", codes=CDISC_OUTCOMES, nullable=True),
    ), subject="usubjid"),
}

SOURCE_DATASETS: dict[str, dict[str, SourceDataset]] = {
    "csv-legacy": CSV_LEGACY,
    "xpt-adam": XPT_ADAM,
    "parquet-adam": PARQUET_ADAM,
}
FORMATS = tuple(SOURCE_DATASETS)


def get_source_dataset(fmt: str, file: str) -> SourceDataset:
    try:
        return SOURCE_DATASETS[fmt][file]
    except KeyError:
        raise KeyError(f"no source model for format {fmt!r}, file {file!r}") from None


# ---------------------------------------------------------------------------------------------
# Vectorised value checks (True = passes). Null-like values pass; `missing_value` catches them.
# ---------------------------------------------------------------------------------------------


# Within one file's validation every check of a column gets the same Series (the checks take their
# nulls themselves, ignore_na=False), and each derived form of it (stripped text, null mask, numbers,
# dates) is computed once for all of them: they were computed up to six times per column, and the
# source contracts were most of a unit's time (issue 10). pandera checks one column after another, so
# only the current column's forms are kept.
_DERIVED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("repool_source_derived", default=None)


@contextlib.contextmanager
def shared_derivations():
    """Inside, `_as_text`, `is_nullish`, `_numeric_or_nan` and `parse_dates` remember their results for
    the Series they last saw (by identity: a new Series, the next column, replaces them); outside, they
    compute."""
    token = _DERIVED.set({})
    try:
        yield
    finally:
        _DERIVED.reset(token)


def _derived(s: pd.Series, key: tuple, compute: Callable[[], pd.Series]) -> pd.Series:
    memo = _DERIVED.get()
    if memo is None:
        return compute()
    if memo.get("series") is not s:  # the next column: forget the last one's forms
        memo.clear()
        memo.update(series=s, forms={})
    forms = memo["forms"]
    if key not in forms:
        forms[key] = compute()
    return forms[key]


def is_nullish(s: pd.Series) -> pd.Series:
    return _derived(s, ("nullish",), lambda: _is_nullish(s))


def _is_nullish(s: pd.Series) -> pd.Series:
    import pandas as pd
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.isna()
    text = _as_text(s)
    return s.isna() | text.isna() | text.isin(["", "n.a."])


def _as_text(s: pd.Series) -> pd.Series:
    return _derived(s, ("text",), lambda: _stripped_text(s))


def _stripped_text(s: pd.Series) -> pd.Series:
    return s.astype("string[pyarrow]").str.strip()


def _numeric_or_nan(s: pd.Series, decimal_comma: bool = False) -> pd.Series:
    return _derived(s, ("numeric", decimal_comma), lambda: _to_numeric_or_nan(s, decimal_comma))


def _to_numeric_or_nan(s: pd.Series, decimal_comma: bool) -> pd.Series:
    import pandas as pd
    if pd.api.types.is_bool_dtype(s):
        return pd.Series(float("nan"), index=s.index)
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    text = _as_text(s)
    if decimal_comma:
        text = text.str.replace(",", ".", regex=False)
    return pd.to_numeric(text, errors="coerce")


def _typed_numeric(s: pd.Series) -> pd.Series:
    """For SAS/Parquet numeric columns: a text column is the wrong type, whatever it holds."""
    import pandas as pd
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return pd.Series(True, index=s.index)
    return is_nullish(s)


def _wrong_type_check(kind: str) -> Callable[[pd.Series], pd.Series] | None:
    import pandas as pd
    def int_text(s):
        return is_nullish(s) | _as_text(s).str.fullmatch(r"-?\d+").fillna(False).astype(bool)

    def dec_text(s):
        return is_nullish(s) | _as_text(s).str.fullmatch(r"-?\d+(,\d+)?").fillna(False).astype(bool)

    def num(s):
        return _typed_numeric(s)

    def int_(s):
        ok = _typed_numeric(s)
        if not pd.api.types.is_numeric_dtype(s):
            return ok
        return ok & (s.isna() | (s.astype("float64") % 1 == 0))

    def bool_(s):
        if pd.api.types.is_bool_dtype(s):
            return pd.Series(True, index=s.index)
        return s.isna() | s.map(lambda v: isinstance(v, bool))

    return {"int_text": int_text, "dec_text": dec_text, "num": num, "int": int_,
            "sas_date": num, "bool": bool_}.get(kind)


def _date_check(kind: str) -> Callable[[pd.Series], pd.Series] | None:
    # beyond_pandas (one strptime per value) runs only on the values pandas could not parse
    import pandas as pd
    def date_de(s):
        parsed = pd.to_datetime(_as_text(s), format="%d.%m.%Y", errors="coerce")
        ok = is_nullish(s) | parsed.notna()
        return ok | beyond_pandas(kind, s.where(~ok))

    def iso_date(s):
        parsed = pd.to_datetime(_as_text(s), format="%Y-%m-%d", errors="coerce")
        ok = is_nullish(s) | (parsed.notna() & _as_text(s).str.len().eq(10).fillna(False))
        return ok | beyond_pandas(kind, s.where(~ok))

    def partial_date(s):
        text = _as_text(s)
        full = pd.to_datetime(text.where(text.str.len() == 10), format="%Y-%m-%d", errors="coerce").notna()
        month = pd.to_datetime(text.where(text.str.len() == 7), format="%Y-%m", errors="coerce").notna()
        year = pd.to_datetime(text.where(text.str.len() == 4), format="%Y", errors="coerce").notna()
        ok = is_nullish(s) | full | month | year
        return ok | beyond_pandas(kind, s.where(~ok))

    return {"date_de": date_de, "iso_date": iso_date, "partial_date": partial_date}.get(kind)


TEXT_DATE_FORMATS = {"date_de": (("%d.%m.%Y", None),), "iso_date": (("%Y-%m-%d", 10),),
                     "partial_date": (("%Y-%m-%d", 10), ("%Y-%m", 7), ("%Y", 4))}
PANDAS_YEARS = (1678, 2261)  # whole years a pandas timestamp can hold


def beyond_pandas(kind: str, s: pd.Series) -> pd.Series:
    """True where a text date is a real calendar date in a year pandas cannot hold (31.12.9999, 0210-05-01
    typed for 2010): such a date parses, it is implausible (`_plausible_check`), not unparseable."""
    import pandas as pd
    out = pd.Series(False, index=s.index)
    if kind not in TEXT_DATE_FORMATS:
        return out

    def far(value: str) -> bool:
        for fmt, length in TEXT_DATE_FORMATS[kind]:
            if length is None or len(value) == length:
                try:
                    year = datetime.strptime(value, fmt).year
                except ValueError:
                    continue
                return not PANDAS_YEARS[0] <= year <= PANDAS_YEARS[1]
        return False

    text = _stripped_text(s)  # a part of a column (s.where(...)), not the column: not remembered
    todo = text[text.notna()]
    if len(todo):
        out.loc[todo.index] = [far(v) for v in todo]
    return out


DATE_KINDS = ("date_de", "sas_date", "iso_date", "partial_date")


@functools.cache
def plausible_window() -> tuple:
    """(PLAUSIBLE_FROM, PLAUSIBLE_TO, SAS_EPOCH) as pandas timestamps: 1900-01-01, 2100-12-31, 1960-01-01.
    A function, not module constants, so that importing the contracts does not import pandas."""
    import pandas as pd

    return pd.Timestamp("1900-01-01"), pd.Timestamp("2100-12-31"), pd.Timestamp("1960-01-01")


def parse_dates(kind: str, s: pd.Series) -> pd.Series:
    """The first day each value can mean (partial dates: the start of their period), NaT where there is none.
    SAS dates outside 1900–2100 come back as NaT too; `_plausible_check` reports them."""
    return _derived(s, ("dates", kind), lambda: _parse_dates(kind, s))


def _parse_dates(kind: str, s: pd.Series) -> pd.Series:
    import pandas as pd
    PLAUSIBLE_FROM, PLAUSIBLE_TO, SAS_EPOCH = plausible_window()
    if kind == "sas_date":
        days = _numeric_or_nan(s)
        inside = days.between((PLAUSIBLE_FROM - SAS_EPOCH).days, (PLAUSIBLE_TO - SAS_EPOCH).days)
        return SAS_EPOCH + pd.to_timedelta(days.where(inside).floordiv(1), unit="D")
    text = _as_text(s)
    if kind == "date_de":
        return pd.to_datetime(text, format="%d.%m.%Y", errors="coerce")
    if kind == "iso_date":
        return pd.to_datetime(text.where(text.str.len() == 10), format="%Y-%m-%d", errors="coerce")
    full = pd.to_datetime(text.where(text.str.len() == 10), format="%Y-%m-%d", errors="coerce")
    month = pd.to_datetime(text.where(text.str.len() == 7), format="%Y-%m", errors="coerce")
    year = pd.to_datetime(text.where(text.str.len() == 4), format="%Y", errors="coerce")
    return full.fillna(month).fillna(year)


def _plausible_check(kind: str) -> Callable[[pd.Series], pd.Series]:
    """A date between 1900 and 2100 (a SAS date a million days out, year 0210 typed for 2010, ...)."""
    def check(s):
        PLAUSIBLE_FROM, PLAUSIBLE_TO, SAS_EPOCH = plausible_window()
        if kind == "sas_date":
            days = _numeric_or_nan(s)
            return days.isna() | days.between((PLAUSIBLE_FROM - SAS_EPOCH).days, (PLAUSIBLE_TO - SAS_EPOCH).days)
        parsed = parse_dates(kind, s)
        return (parsed.isna() & ~beyond_pandas(kind, s.where(parsed.isna()))) | parsed.between(PLAUSIBLE_FROM, PLAUSIBLE_TO)

    return check


def _not_after_cut_check(kind: str, data_cut) -> Callable[[pd.Series], pd.Series]:
    """Nothing can have happened after the delivery's data cut."""
    import pandas as pd
    cut = pd.Timestamp(data_cut)

    def check(s):
        parsed = parse_dates(kind, s)
        return parsed.isna() | (parsed <= cut)

    return check


def _code_check(codes: tuple) -> Callable[[pd.Series], pd.Series]:
    numeric_codes = all(isinstance(c, (int, float)) for c in codes)

    def check(s):
        if numeric_codes:
            return is_nullish(s) | _numeric_or_nan(s).isin([float(c) for c in codes])
        return is_nullish(s) | _as_text(s).isin([str(c) for c in codes]).fillna(False).astype(bool)

    return check


def _range_check(col: Col) -> Callable[[pd.Series], pd.Series]:
    def check(s):
        v = _numeric_or_nan(s, decimal_comma=col.kind == "dec_text")
        inside = v.between(col.lo if col.lo is not None else -float("inf"),
                           col.hi if col.hi is not None else float("inf"))
        return v.isna() | inside  # unparseable values are the wrong_type check's business

    return check


def _checks_for(col: Col, data_cut=None) -> list[pa.Check]:
    import pandera.pandas as pa
    # ignore_na=False everywhere: pandera skips nulls by default, and a null is what missing_value is for;
    # the other checks pass nulls themselves, and so all of a column's checks see the one Series
    def check(fn, name: str) -> pa.Check:
        return pa.Check(fn, name=name, ignore_na=False)

    checks: list[pa.Check] = []
    if not col.nullable:
        checks.append(check(lambda s: ~is_nullish(s), name=Reason.MISSING_VALUE.value))
    wrong = _wrong_type_check(col.kind)
    if wrong is not None:
        checks.append(check(wrong, name=Reason.WRONG_TYPE.value))
    date = _date_check(col.kind)
    if date is not None:
        checks.append(check(date, name=Reason.DATE_UNPARSEABLE.value))
    if col.codes:
        checks.append(check(_code_check(col.codes), name=Reason.UNKNOWN_CODE.value))
    if col.lo is not None or col.hi is not None:
        checks.append(check(_range_check(col), name=as_reason(col.range_reason).value))
    if col.kind in DATE_KINDS:
        checks.append(check(_plausible_check(col.kind), name=Reason.IMPLAUSIBLE_DATE.value))
        if data_cut is not None:
            checks.append(check(_not_after_cut_check(col.kind, data_cut), name=Reason.DATE_AFTER_CUT.value))
    return checks


def build_source_schema(ds: SourceDataset, data_cut=None) -> pa.DataFrameSchema:
    """The pandera model of one delivered file; with `data_cut`, no date may lie after it."""
    import pandera.pandas as pa
    columns = {
        c.name: pa.Column(checks=_checks_for(c, data_cut), nullable=True, unique=c.unique, required=True)
        for c in ds.columns
    }
    return pa.DataFrameSchema(
        columns,
        name=f"{ds.format}:{ds.file}",
        strict=False,  # extra columns are allowed (recorded as a warning by the validator)
        unique=list(ds.unique_together) or None,
        coerce=False,
    )
