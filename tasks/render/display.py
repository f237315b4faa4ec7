"""ARD -> display frames in the paper's layout, and plain text for the terminal (`repool show`).

Reads ARD rows only; no statistic is computed here (formatting and the group N, which is the
sum of the table 1 SEX counts, are the only arithmetic). A NULL statistic (not estimable) is
shown as "NE"; a row absent from the ARD as "—".

Displayed numbers round per the version's convention profile (`conventions` of its parameters,
results.md "Conventions"): "sas" half away from zero (`round_half_up`), "r" as R's `round()`
(`round_r`); every footnote names the profile.
"""
from __future__ import annotations


import json
import math
from contextlib import contextmanager
from contextvars import ContextVar
from decimal import ROUND_HALF_UP, Decimal
from typing import Callable, Iterator

import pandas as pd

from repool.schemas.ard import TABLE_IDS
from repool.schemas.pooled import SALVAGE_LEVELS

FIRST, LATER = SALVAGE_LEVELS
GROUPS = (FIRST, LATER)
TABLE_TITLES = {
    "table1": "Table 1. Baseline characteristics",
    "table2": "Table 2. Overall and relapse-free survival (months)",
    "table3": "Table 3. Response, MRD, transplant and other treatment",
    "table4": "Table 4. Treatment-emergent adverse events",
    "studies": "Table 5. Results by study",
}
# "{ci}" stands for the version's confidence level ("95%" at alpha = 0.05): see `format_level`.
TABLE_NOTES = {
    "table1": "n (%) unless stated; % of the salvage group's N, rounded to whole numbers.",
    "table2": "Kaplan–Meier median ({ci} CI, Brookmeyer–Crowley, log-log); NE = not estimable. "
              "HR: Cox model, second or later vs first salvage (reference); Wald {ci} CI and p.",
    "table3": "n (%) [{ci} exact Clopper–Pearson CI]; MRD response as n/N of patients in remission. "
              "Odds ratio: unadjusted 2×2, Wald {ci} CI and p.",
    "table4": "n (%) of the salvage group's N; — = not applicable.",
    "studies": "Per study: patients (first / second or later salvage); CR/CRh/CRi n (%) [{ci} exact "
               "Clopper–Pearson CI]; Kaplan–Meier median OS ({ci} CI, Brookmeyer–Crowley, log-log); OS hazard "
               "ratio (Cox model within the study) and odds ratio of remission (unadjusted 2×2), second or later "
               "vs first salvage (reference), Wald {ci} CI and p. All studies: Cox model stratified by study; "
               "two-stage meta-analysis of the studies' log HRs / log ORs, fixed effect (inverse variance) and random "
               "effects (DerSimonian–Laird), {ci} CI; k = studies combined (a study whose ratio is not "
               "estimable is left out); I² in %. NE = not estimable.",
}
DEFAULT_LEVEL = 0.95
# Convention profiles (results.md "Conventions"): the name stored in a version's parameters -> footnote label.
CONVENTION_LABELS = {"sas": "SAS (PROC LIFETEST/PHREG)", "r": "R (survival)"}
DEFAULT_CONVENTIONS = "sas"  # versions published before the profiles were computed with these rules


def format_level(confidence_level: float) -> str:
    """0.95 -> '95%', 0.9 -> '90%', 0.975 -> '97.5%'."""
    return f"{float(Decimal(str(round(100 * confidence_level, 6))).normalize()):g}%"


def level_of(parameters: dict | None) -> float:
    """The confidence level of a version from its stored parameters (alpha), 0.95 when absent."""
    if isinstance(parameters, str):
        parameters = json.loads(parameters)
    alpha = (parameters or {}).get("alpha")
    return DEFAULT_LEVEL if alpha is None else round(1 - float(alpha), 10)


def conventions_of(parameters: dict | str | None) -> str:
    """The convention profile of a version from its stored parameters, "sas" when absent."""
    if isinstance(parameters, str):
        parameters = json.loads(parameters)
    name = (parameters or {}).get("conventions") or DEFAULT_CONVENTIONS
    if name not in CONVENTION_LABELS:
        raise ValueError(f"unknown conventions {name!r}; expected one of {sorted(CONVENTION_LABELS)}")
    return name


def conventions_note(conventions: str = DEFAULT_CONVENTIONS) -> str:
    """'Conventions: SAS (PROC LIFETEST/PHREG).' — the sentence every footnote ends with."""
    return f"Conventions: {CONVENTION_LABELS[conventions]}."


def table_note(table_id: str, confidence_level: float = DEFAULT_LEVEL, conventions: str | None = None) -> str:
    """The table's footnote at `confidence_level`, ending with the profile (None: the active one)."""
    name = _ACTIVE_CONVENTIONS.get() if conventions is None else conventions
    return f"{TABLE_NOTES[table_id].replace('{ci}', format_level(confidence_level))} {conventions_note(name)}"
STUB = "Characteristic"
SPAN_SEP = ": "  # table4 column names: "<group column>: <grade column>"
ANY_GRADE, GRADE3 = "any grade", "grade ≥3"
NE, DASH, EN = "NE", "—", "–"


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()  # the ARD has no such row (distinct from a NULL stat = not estimable)


# ---------------------------------------------------------------- number formatting

def round_half_up(x: float, decimals: int = 0) -> Decimal:
    """Ordinary (school) rounding, 0.5 away from zero, as printed tables round: 5.45 -> 5, 2.5 -> 3.
    The "sas" profile's rounding (SAS's ROUND function on the decimal value: 10.45 -> 10.5)."""
    quantum = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(x))).quantize(quantum, rounding=ROUND_HALF_UP)


_LOG10_2 = math.log10(2.0)


def _r_fround(x: float, digits: int) -> float:
    """R 4.x `round(x, digits)` (src/nmath/fround.c, private_fround), line by line: digits 0 is
    nearbyint (half to even on the binary value: 2.5 -> 2, 0.5 -> 0); otherwise the nearer of
    the two candidates floor(x·10^d)/10^d and ceil(x·10^d)/10^d, compared in double arithmetic,
    the even one on a tie. Decimal halves therefore mostly go to even (10.45 -> 10.4, 0.125 ->
    0.12, 5.45 -> 5.4, 0.0005 -> 0), though not always (2.345 -> 2.35); R's sprintf("%.1f") rounds
    the exact binary value instead (5.45 -> "5.5"). Checked against R 4.2.2 on 4,010 values."""
    if math.isnan(x) or math.isinf(x) or x == 0.0:
        return x
    if digits == 0:
        return float(round(x))
    sgn = 1.0
    if x < 0:
        sgn, x = -1.0, -x
    if digits + (math.frexp(x)[1] - 1 + 0.5) * _LOG10_2 > 15:  # logb(x); DBL_DIG: nothing to round
        return sgn * x
    pow10 = 10.0 ** digits
    x10 = pow10 * x
    i10 = math.floor(x10)
    xd, xu = i10 / pow10, math.ceil(x10) / pow10
    du, dd = xu - x, x - xd
    return sgn * (xu if du < dd or (du == dd and math.fmod(i10, 2.0) == 1) else xd)


def round_r(x: float, decimals: int = 0) -> Decimal:
    """The "r" profile's rounding: R's `round(x, decimals)` shown with `decimals` places (as
    `format(round(x, d), nsmall = d)`): 0.125 -> 0.12, 2.5 -> 2, 0.5 -> 0, 1.5 -> 2, 10.45 -> 10.4."""
    return Decimal(f"{_r_fround(float(x), decimals) + 0.0:.{decimals}f}")


ROUNDING: dict[str, Callable[[float, int], Decimal]] = {"sas": round_half_up, "r": round_r}
_ACTIVE_CONVENTIONS: ContextVar[str] = ContextVar("display_conventions", default=DEFAULT_CONVENTIONS)


@contextmanager
def display_conventions(conventions: str | None) -> Iterator[str]:
    """Within the block, the format_* functions round per `conventions` (None: keep the current)."""
    name = _ACTIVE_CONVENTIONS.get() if conventions is None else conventions
    if name not in ROUNDING:
        raise ValueError(f"unknown conventions {name!r}; expected one of {sorted(ROUNDING)}")
    token = _ACTIVE_CONVENTIONS.set(name)
    try:
        yield name
    finally:
        _ACTIVE_CONVENTIONS.reset(token)


def round_display(x: float, decimals: int = 0) -> Decimal:
    """`x` rounded to `decimals` places by the active profile's rule (`display_conventions`)."""
    return ROUNDING[_ACTIVE_CONVENTIONS.get()](x, decimals)


def _is_ne(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def format_number(x, decimals: int = 1) -> str:
    """A value with fixed decimals; NULL -> 'NE', absent -> '—'."""
    if x is ABSENT:
        return DASH
    if _is_ne(x):
        return NE
    return str(round_display(x, decimals))


def format_natural(x) -> str:
    """A whole number without decimals, else one decimal (medians/ranges of age and blasts)."""
    if x is ABSENT or _is_ne(x):
        return format_number(x)
    return format_number(x, 0 if float(x).is_integer() else 1)


def format_p(p) -> str:
    """p as printed in the paper: '<0.001', else three decimals ('>0.999' at the top)."""
    if p is ABSENT or _is_ne(p):
        return format_number(p)
    if p < 0.001:
        return "<0.001"
    if p > 0.999:
        return ">0.999"
    return str(round_display(p, 3))


def format_n_pct(n, pct) -> str:
    """'98 (59)': count and whole-number percentage."""
    if n is ABSENT:
        return DASH
    return f"{format_number(n, 0)} ({format_number(pct, 0)})"


def format_estimate_ci(est, lcl, ucl, decimals: int = 1) -> str:
    """'10.4 (8.3–14.3)'; each NULL part shown as NE."""
    if est is ABSENT:
        return DASH
    return f"{format_number(est, decimals)} ({format_number(lcl, decimals)}{EN}{format_number(ucl, decimals)})"


def format_median_range(median, low, high) -> str:
    """'45 (19–80)'."""
    if median is ABSENT:
        return DASH
    return f"{format_natural(median)} ({format_natural(low)}{EN}{format_natural(high)})"


def format_n_pct_ci(n, N, pct, lcl, ucl, group_n: int | None = None) -> str:
    """'60 (36) [29–44]'; 'n/N (%) [CI]' when the denominator is not the group's N."""
    if n is ABSENT:
        return DASH
    count = format_number(n, 0)
    if not (N is ABSENT or _is_ne(N)) and group_n is not None and int(N) != group_n:
        count = f"{count}/{format_number(N, 0)}"
    return f"{count} ({format_number(pct, 0)}) [{format_number(lcl, 0)}{EN}{format_number(ucl, 0)}]"


# ---------------------------------------------------------------- reading the ARD

class ArdStats:
    """Look-up of ARD statistics by coordinates; missing rows give ABSENT, NULL stats None."""

    def __init__(self, ard: pd.DataFrame):
        self._stats = {}
        cols = ["table_id", "group1_level", "group2_level", "variable", "variable_level", "stat_name", "stat"]
        for row in ard[cols].itertuples(index=False, name=None):
            *key, stat = (None if _is_missing_label(v) else v for v in row)
            self._stats[tuple(key)] = None if stat is None or _is_ne(stat) else float(stat)

    def get(self, table_id: str, variable: str, stat_name: str, group: str | None = None,
            level: str | None = None, group2_level: str | None = None):
        return self._stats.get((table_id, group, group2_level, variable, level, stat_name), ABSENT)

    def group_n(self, group: str) -> int | None:
        """The salvage group's N: sum of table 1 SEX counts, else table 3 HSCT denominator."""
        counts = [self.get("table1", "SEX", "n", group, level) for level in ("M", "F")]
        if all(isinstance(c, float) for c in counts):
            return int(round(sum(counts)))
        hsct_n = self.get("table3", "HSCT", "N", group)
        return int(round(hsct_n)) if isinstance(hsct_n, float) else None


def _is_missing_label(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def group_sizes(ard: pd.DataFrame) -> dict[str, int | None]:
    """{salvage group: N} read from the ARD."""
    stats = ArdStats(ard)
    return {g: stats.group_n(g) for g in GROUPS}


def group_column(group: str, n: int | None) -> str:
    """'First salvage (N=165)'."""
    return f"{group} (N={n})" if n is not None else group


# ---------------------------------------------------------------- table layouts

Cell = Callable[[ArdStats, str], str]  # (stats, group) -> formatted cell


def _level_n_pct(variable: str, level: str) -> Cell:
    return lambda s, g: format_n_pct(s.get("table1", variable, "n", g, level), s.get("table1", variable, "pct", g, level))


def _median_range(variable: str) -> Cell:
    return lambda s, g: format_median_range(*(s.get("table1", variable, k, g) for k in ("median", "min", "max")))


TABLE1_ROWS: list[tuple[str, Cell]] = [
    ("Age, years, median (range)", _median_range("AGE")),
    ("Men", _level_n_pct("SEX", "M")),
    ("Women", _level_n_pct("SEX", "F")),
    ("ECOG 0", _level_n_pct("ECOG", "0")),
    ("ECOG 1", _level_n_pct("ECOG", "1")),
    ("ECOG 2", _level_n_pct("ECOG", "2")),
    ("ECOG unknown", _level_n_pct("ECOG", "Unknown")),
    ("Prior allo-HSCT", _level_n_pct("PRHSCT", "Y")),
    ("No prior allo-HSCT", _level_n_pct("PRHSCT", "N")),
    ("Bone marrow blasts, %, median (range)", _median_range("BMBLAST")),
    ("Bone marrow blasts ≤5%", _level_n_pct("BMBLCAT", "<= 5%")),
    ("Bone marrow blasts >5% to <10%", _level_n_pct("BMBLCAT", "> 5% - < 10%")),
    ("Bone marrow blasts 10% to <50%", _level_n_pct("BMBLCAT", "10% - < 50%")),
    ("Bone marrow blasts ≥50%", _level_n_pct("BMBLCAT", ">= 50%")),
    ("Bone marrow blasts unknown", _level_n_pct("BMBLCAT", "Unknown")),
]


def _events_of(variable: str, prior: str | None = None) -> Cell:
    def cell(s: ArdStats, g: str) -> str:
        n, events = (s.get("table2", variable, k, g, None, prior) for k in ("n", "events"))
        return DASH if n is ABSENT else f"{format_number(events, 0)}/{format_number(n, 0)}"
    return cell


def _median_ci(variable: str, prior: str | None = None) -> Cell:
    return lambda s, g: format_estimate_ci(
        *(s.get("table2", variable, k, g, None, prior) for k in ("median", "median_lcl", "median_ucl")))


def _later_only(table_id: str, variable: str, names: tuple[str, ...], fmt, reference: str = "") -> Cell:
    """A comparison statistic stored on the later-salvage row; the first-salvage cell shows the reference."""
    def cell(s: ArdStats, g: str) -> str:
        return fmt(*(s.get(table_id, variable, k, LATER) for k in names)) if g == LATER else reference
    return cell


def _ratio(table_id: str, variable: str, prefix: str) -> Cell:
    names = (prefix, f"{prefix}_lcl", f"{prefix}_ucl")
    return _later_only(table_id, variable, names, lambda *v: format_estimate_ci(*v, decimals=2), "1 (reference)")


def _p(table_id: str, variable: str, stat_name: str = "p_value") -> Cell:
    return _later_only(table_id, variable, (stat_name,), format_p)


TABLE2_ROWS: list[tuple[str, Cell]] = [
    ("OS, events/patients", _events_of("OS")),
    ("Median OS ({ci} CI)", _median_ci("OS")),
    ("Median OS, prior allo-HSCT ({ci} CI)", _median_ci("OS", "Y")),
    ("Median OS, no prior allo-HSCT ({ci} CI)", _median_ci("OS", "N")),
    ("OS hazard ratio ({ci} CI)", _ratio("table2", "OS", "hr")),
    ("OS p-value (Wald)", _p("table2", "OS")),
    ("OS p-value (log-rank)", _p("table2", "OS", "p_logrank")),
    ("RFS, events/patients in remission", _events_of("RFS")),
    ("Median RFS ({ci} CI)", _median_ci("RFS")),
    ("RFS hazard ratio ({ci} CI)", _ratio("table2", "RFS", "hr")),
    ("RFS p-value (Wald)", _p("table2", "RFS")),
    ("RFS p-value (log-rank)", _p("table2", "RFS", "p_logrank")),
]


def _proportion(variable: str, level: str | None = None) -> Cell:
    def cell(s: ArdStats, g: str) -> str:
        n, N, pct, lcl, ucl = (s.get("table3", variable, k, g, level) for k in ("n", "N", "pct", "ci_lower", "ci_upper"))
        return format_n_pct_ci(n, N, pct, lcl, ucl, s.group_n(g))
    return cell


TABLE3_ROWS: list[tuple[str, Cell]] = [
    ("CR", _proportion("BOR", "CR")),
    ("CRh", _proportion("BOR", "CRh")),
    ("CRi", _proportion("BOR", "CRi")),
    ("CR/CRh/CRi within two cycles", _proportion("BOR", "CR/CRh/CRi")),
    ("MRD response among remissions, n/N", _proportion("MRD")),
    ("Allo-HSCT", _proportion("HSCT")),
    ("Allo-HSCT in continuous remission post-blinatumomab", _proportion("HSCT_CR")),
    ("Allo-HSCT after relapse and/or refractory post-blinatumomab", _proportion("HSCT_RELREF")),
    ("Anti-leukemic treatment other than blinatumomab", _proportion("OTHER_TX")),
    ("Odds ratio, CR/CRh/CRi ({ci} CI)", _ratio("table3", "REMISSION", "or")),
    ("Odds ratio p-value (Wald)", _p("table3", "REMISSION")),
]

TABLE4_ROWS: list[tuple[str, str]] = [
    ("Any TEAE", "ANY_TEAE"),
    ("Serious TEAE", "SERIOUS_TEAE"),
    ("Fatal TEAE", "FATAL_TEAE"),
    ("Fatal treatment-related AE", "FATAL_RELATED"),
    ("Cytokine release syndrome", "CRS"),
    ("Neurologic events", "NEURO"),
]

_GROUP_COLUMN_ROWS = {"table1": TABLE1_ROWS, "table2": TABLE2_ROWS, "table3": TABLE3_ROWS}


def normalize_table_id(table_id: str | int) -> str:
    """'table2' from 2, '2' or 'table2'; 'studies' from 5, '5', 'table5' or 'studies'."""
    tid = f"table{table_id}" if str(table_id).isdigit() else str(table_id)
    tid = STUDIES_TABLE if tid == "table5" else tid
    if tid not in TABLE_IDS:
        raise ValueError(f"unknown table {table_id!r}; expected one of {TABLE_IDS}")
    return tid


def _group_columns_frame(stats: ArdStats, rows: list[tuple[str, Cell]], confidence_level: float) -> pd.DataFrame:
    ci = format_level(confidence_level)
    columns = {STUB: [label.replace("{ci}", ci) for label, _ in rows]}
    for g in GROUPS:
        columns[group_column(g, stats.group_n(g))] = [cell(stats, g) for _, cell in rows]
    return pd.DataFrame(columns)


def _table4_frame(stats: ArdStats) -> pd.DataFrame:
    columns = {STUB: [label for label, _ in TABLE4_ROWS]}
    for g in GROUPS:
        head = group_column(g, stats.group_n(g))
        columns[f"{head}{SPAN_SEP}{ANY_GRADE}"] = [
            format_n_pct(stats.get("table4", v, "n", g), stats.get("table4", v, "pct", g)) for _, v in TABLE4_ROWS]
        columns[f"{head}{SPAN_SEP}{GRADE3}"] = [
            format_n_pct(stats.get("table4", v, "n_grade3", g), stats.get("table4", v, "pct_grade3", g))
            for _, v in TABLE4_ROWS]
    return pd.DataFrame(columns)


# ---------------------------------------------------------------- table 5: results by study

STUDIES_TABLE = "studies"
STUDY_STUB = "Study"
STUDY_GROUP = "STUDYID"  # group1 of the per-study rows
STUDIES_COLUMNS = ("Patients (first / later)", "CR/CRh/CRi, n (%) [{ci} CI]", "Median OS, months ({ci} CI)",
                   "OS hazard ratio ({ci} CI)", "OS HR p-value", "Odds ratio, CR/CRh/CRi ({ci} CI)", "OR p-value")
POOLED_ROWS = (  # label, (variable, variable_level) of the OS and remission ratios, or None
    ("All studies, Cox model stratified by study", ("OS_STRATIFIED", None), None),
    ("All studies, meta-analysis: fixed effect", ("OS_META", "FIXED"), ("REMISSION_META", "FIXED")),
    ("All studies, meta-analysis: random effects (DL)", ("OS_META", "RANDOM"), ("REMISSION_META", "RANDOM")),
)
HETEROGENEITY_LABEL = "Heterogeneity: k; Q (p); I²; τ²"


def study_levels(ard: pd.DataFrame) -> list[str]:
    """The studies with rows in the `studies` table, sorted."""
    rows = ard[(ard["table_id"] == STUDIES_TABLE) & (ard["group1"] == STUDY_GROUP)]
    return sorted({str(v) for v in rows["group1_level"] if not _is_missing_label(v)})


def has_table(ard: pd.DataFrame, table_id: str) -> bool:
    """Whether the ARD holds any row of the table (versions before table 5 have none)."""
    return bool((ard["table_id"] == table_id).any())


def _study_cells(s: ArdStats, study: str) -> list[str]:
    def get(variable: str, stat_name: str, group2: str | None = None):
        return s.get(STUDIES_TABLE, variable, stat_name, study, None, group2)

    n, first, later = get("PATIENTS", "n"), get("PATIENTS", "n", FIRST), get("PATIENTS", "n", LATER)
    patients = DASH if n is ABSENT else (f"{format_number(n, 0)} ({format_number(first, 0)} / "
                                         f"{format_number(later, 0)})")
    remission = format_n_pct_ci(*(get("REMISSION", k) for k in ("n", "N", "pct", "ci_lower", "ci_upper")))
    median = format_estimate_ci(*(get("OS", k) for k in ("median", "median_lcl", "median_ucl")))
    hr = format_estimate_ci(*(get("OS", k, LATER) for k in ("hr", "hr_lcl", "hr_ucl")), decimals=2)
    odds = format_estimate_ci(*(get("REMISSION", k, LATER) for k in ("or", "or_lcl", "or_ucl")), decimals=2)
    return [patients, remission, median, hr, format_p(get("OS", "p_value", LATER)), odds,
            format_p(get("REMISSION", "p_value", LATER))]


def _pooled_ratio(s: ArdStats, coordinates: tuple[str, str | None] | None, ratio: str) -> tuple[str, str]:
    if coordinates is None:
        return "", ""
    variable, level = coordinates
    est, lcl, ucl, p = (s.get(STUDIES_TABLE, variable, k, LATER, level)
                        for k in (ratio, f"{ratio}_lcl", f"{ratio}_ucl", "p_value"))
    return format_estimate_ci(est, lcl, ucl, decimals=2), format_p(p)


def _heterogeneity(s: ArdStats, variable: str) -> str:
    k, q, q_p, i2, tau2 = (s.get(STUDIES_TABLE, variable, name, LATER) for name in ("k", "q", "q_p", "i2", "tau2"))
    if k is ABSENT:
        return DASH
    return (f"{format_number(k, 0)}; {format_number(q, 2)} ({format_p(q_p)}); {format_number(i2, 0)}%; "
            f"{format_number(tau2, 3)}")


def _studies_frame(ard: pd.DataFrame, stats: ArdStats, confidence_level: float) -> pd.DataFrame:
    ci = format_level(confidence_level)
    columns = [c.replace("{ci}", ci) for c in STUDIES_COLUMNS]
    rows = [[study, *_study_cells(stats, study)] for study in study_levels(ard)]
    for label, os_ratio, remission_ratio in POOLED_ROWS:
        rows.append([label, "", "", "", *_pooled_ratio(stats, os_ratio, "hr"),
                     *_pooled_ratio(stats, remission_ratio, "or")])
    rows.append([HETEROGENEITY_LABEL, "", "", "", _heterogeneity(stats, "OS_META"), "",
                 _heterogeneity(stats, "REMISSION_META"), ""])
    return pd.DataFrame(rows, columns=[STUDY_STUB, *columns])


def create_display_table(ard: pd.DataFrame, table_id: str | int,
                         confidence_level: float = DEFAULT_LEVEL, conventions: str | None = None) -> pd.DataFrame:
    """One table in the paper's layout: column 'Characteristic' and one text column per salvage
    group ('First salvage (N=165)', ...); table4 has '<group>: any grade' / '<group>: grade ≥3';
    `studies` has column 'Study', one row per study, then the stratified, meta-analysis and
    heterogeneity rows. Interval labels state `confidence_level` (the version's 1 - alpha);
    numbers round per `conventions` (the version's profile; None: the active one, "sas" by default)."""
    tid = normalize_table_id(table_id)
    stats = ArdStats(ard)
    with display_conventions(conventions):
        if tid == "table4":
            return _table4_frame(stats)
        if tid == STUDIES_TABLE:
            return _studies_frame(ard, stats, confidence_level)
        return _group_columns_frame(stats, _GROUP_COLUMN_ROWS[tid], confidence_level)


def split_column(column: str) -> tuple[str | None, str]:
    """('First salvage (N=165)', 'any grade') for a table4 column; (None, column) otherwise."""
    if SPAN_SEP in column:
        spanner, label = column.split(SPAN_SEP, 1)
        return spanner, label
    return None, column


# ---------------------------------------------------------------- terminal text

def format_text_table(df: pd.DataFrame) -> str:
    """Plain aligned text: first column left-aligned, the others right-aligned; table4-style
    '<spanner>: <label>' columns get a spanner line above their labels."""
    spanners, header = zip(*(split_column(str(c)) for c in df.columns))
    body = [[str(v) for v in row] for row in df.itertuples(index=False, name=None)]
    widths = [max(len(r[i]) for r in [list(header)] + body) for i in range(len(header))]
    span_runs = _spanner_runs(list(spanners))
    for spanner, first, last in span_runs:  # widen the run's columns evenly to fit its spanner
        extra = max(0, len(spanner) - _run_width(widths, first, last))
        for i in range(first, last + 1):
            widths[i] += -(-extra // (last - first + 1))

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:])]
        return "  ".join([first] + rest).rstrip()

    lines = []
    if span_runs:
        lines.append(_spanner_line(span_runs, widths))
    rule = "  ".join("-" * w for w in widths)
    return "\n".join(lines + [line(list(header)), rule] + [line(r) for r in body])


def _spanner_runs(spanners: list[str | None]) -> list[tuple[str, int, int]]:
    """(spanner, first column, last column) for each run of equal non-empty spanners."""
    runs: list[tuple[str, int, int]] = []
    for i, sp in enumerate(spanners):
        if sp is None:
            continue
        if runs and runs[-1][0] == sp and runs[-1][2] == i - 1:
            runs[-1] = (sp, runs[-1][1], i)
        else:
            runs.append((sp, i, i))
    return runs


def _run_width(widths: list[int], first: int, last: int) -> int:
    return sum(widths[first:last + 1]) + 2 * (last - first)


def _spanner_line(runs: list[tuple[str, int, int]], widths: list[int]) -> str:
    out = ""
    for spanner, first, last in runs:
        offset = sum(widths[:first]) + 2 * first
        out = out.ljust(offset) + spanner.center(_run_width(widths, first, last))
    return out.rstrip()


def render_text(ard: pd.DataFrame, table_id: str | int | None = None,
                confidence_level: float = DEFAULT_LEVEL, conventions: str = DEFAULT_CONVENTIONS) -> str:
    """The tables (all, or one) as plain aligned text with titles and footnotes. All: table 5
    (`studies`) only where the ARD has its rows (versions published before it have none).
    Numbers round, and footnotes name the profile, per `conventions` (the version's)."""
    if table_id is None:
        tids = tuple(t for t in TABLE_IDS if t != STUDIES_TABLE or has_table(ard, t))
    else:
        tids = (normalize_table_id(table_id),)
    blocks = []
    for tid in tids:
        table = format_text_table(create_display_table(ard, tid, confidence_level, conventions))
        blocks.append(f"{TABLE_TITLES[tid]}\n\n{table}\n\n{table_note(tid, confidence_level, conventions)}")
    return "\n\n\n".join(blocks) + "\n"
