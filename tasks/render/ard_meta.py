"""What each ARD statistic is, for the exports that describe it (ars.json, the cards ARD): its label,
its display format, the method that produced it, the population it was computed on.

Reads ARD coordinates only and computes nothing: the formatted values are display.py's formatters
(the report's own rounding per the version's convention profile), applied to one statistic at a time.
A row of an unknown shape raises, so a new statistic cannot leave the exports silently.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from repool.schemas.ard import SALVGRP
from repool.tasks.render.display import (
    LATER,
    STUDIES_TABLE,
    format_natural,
    format_number,
    format_p,
)

# ---------------------------------------------------------------- display format of one statistic

COUNTS = {"n", "N", "events", "k", "n_grade3"}
WHOLE = {"pct", "pct_grade3", "ci_lower", "ci_upper", "i2"}  # percentages: whole numbers, as in the tables
RATIOS = {"hr", "hr_lcl", "hr_ucl", "or", "or_lcl", "or_ucl", "q"}
P_VALUES = {"p_value", "p_logrank", "q_p"}
KM_LIMITS = {"median", "median_lcl", "median_ucl"}
RANGE = {"median", "min", "max"}  # table 1's median (range): whole number, else one decimal


@dataclass(frozen=True)
class StatFormat:
    kind: str  # "fixed" (format_number), "natural" (format_natural), "p" (format_p)
    decimals: int | None  # fixed decimals; None: depends on the value ("natural")

    def format(self, stat: float | None) -> str:
        """The statistic as the report shows it (NULL -> 'NE'), under the active display profile."""
        value = None if stat is None or (isinstance(stat, float) and math.isnan(stat)) else float(stat)
        if self.kind == "p":
            return format_p(value)
        if self.kind == "natural":
            return format_natural(value)
        return format_number(value, self.decimals)

    def digits(self, stat: float | None) -> int | None:
        """Decimal places of the formatted value (the cards `fmt_fun` integer); None for NULL."""
        if stat is None or (isinstance(stat, float) and math.isnan(stat)):
            return None
        if self.kind == "natural":
            return 0 if float(stat).is_integer() else 1
        return self.decimals

    @property
    def pattern(self) -> str:
        """ARS `resultPattern`: 'XX', 'XX.X', 'X.XX', 'X.XXX' (p: '<0.001' and '>0.999' at the ends)."""
        if self.kind == "p":
            return "X.XXX (<0.001, >0.999)"
        if self.kind == "natural":
            return "XX or XX.X (whole numbers without decimals)"
        return "XX" if not self.decimals else "X." + "X" * self.decimals


def stat_format(table_id: str, stat_name: str) -> StatFormat:
    """The report's format of a statistic (tasks/render/display.py's cells, one value at a time)."""
    if stat_name in COUNTS or stat_name in WHOLE:
        return StatFormat("fixed", 0)
    if stat_name in P_VALUES:
        return StatFormat("p", 3)
    if table_id == "table1" and stat_name in RANGE:
        return StatFormat("natural", None)
    if stat_name in KM_LIMITS:
        return StatFormat("fixed", 1)
    if stat_name in RATIOS:
        return StatFormat("fixed", 2)
    if stat_name == "tau2":
        return StatFormat("fixed", 3)
    raise ValueError(f"no display format for {table_id}/{stat_name}")


STAT_LABELS = {
    "n": "n", "N": "N", "pct": "%", "median": "Median", "min": "Min", "max": "Max", "events": "Events",
    "median_lcl": "Median CI Lower Bound", "median_ucl": "Median CI Upper Bound",
    "ci_lower": "CI Lower Bound (%)", "ci_upper": "CI Upper Bound (%)",
    "hr": "Hazard Ratio", "hr_lcl": "HR CI Lower Bound", "hr_ucl": "HR CI Upper Bound",
    "or": "Odds Ratio", "or_lcl": "OR CI Lower Bound", "or_ucl": "OR CI Upper Bound",
    "p_value": "p-value (Wald)", "p_logrank": "p-value (log-rank)",
    "n_grade3": "n, grade >=3", "pct_grade3": "%, grade >=3",
    "k": "Studies combined", "q": "Cochran's Q", "q_p": "Q p-value", "i2": "I² (%)", "tau2": "τ²",
}


def stat_label(stat_name: str) -> str:
    return STAT_LABELS[stat_name]


# ---------------------------------------------------------------- methods

@dataclass(frozen=True)
class Method:
    id: str
    context: str  # the cards `context`
    name: str
    description: str  # "{ci}": the confidence level, "{profile}": the convention profile
    operations: tuple[str, ...]  # ARD stat names, in order
    comparison: bool = False  # computed across the salvage groups (stored on the later-salvage row)


_KM = ("n", "events", "median", "median_lcl", "median_ucl")
_HR = ("hr", "hr_lcl", "hr_ucl", "p_value")
_OR = ("or", "or_lcl", "or_ucl", "p_value")
METHODS = {m.id: m for m in (
    Method("MTH_SUMMARY", "summary", "Continuous summary",
           "n (non-missing values), median, minimum and maximum.", ("n", "median", "min", "max")),
    Method("MTH_COUNT_PCT", "tabulate", "Subject count and percentage",
           "Subjects with the level and 100·n/N, N = the salvage group's subjects.", ("n", "pct")),
    Method("MTH_SUBJECT_COUNT", "tabulate", "Subject count", "Subjects in the population.", ("n",)),
    Method("MTH_TEAE_COUNT_PCT", "tabulate", "Subjects with a treatment-emergent adverse event",
           "Subjects with at least one TEAE of the kind (counted once), any grade and grade >=3; "
           "100·n/N, N = the salvage group's subjects.", ("n", "pct", "n_grade3", "pct_grade3")),
    Method("MTH_KM_MEDIAN", "survival_km_median", "Kaplan–Meier median with Brookmeyer–Crowley CI",
           "Subjects and events; Kaplan–Meier median survival time (months) with its {ci} confidence interval "
           "by Brookmeyer–Crowley on the log-log scale; not reached = NULL (NE). Corner cases per the convention "
           "profile {profile} (results.md 'Methods', 'Conventions').", _KM),
    Method("MTH_COX_HR_LOGRANK", "survival_cox_hr", "Cox hazard ratio and log-rank test",
           "Cox proportional hazards model, one binary covariate (second or later vs first salvage, reference), "
           "Efron ties; hazard ratio with Wald {ci} CI and Wald p-value; log-rank p-value.", (*_HR, "p_logrank"),
           comparison=True),
    Method("MTH_COX_HR", "survival_cox_hr", "Cox hazard ratio",
           "Cox proportional hazards model within the study, second or later vs first salvage (reference), "
           "Efron ties; hazard ratio with Wald {ci} CI and Wald p-value.", _HR, comparison=True),
    Method("MTH_COX_STRATIFIED", "survival_cox_stratified", "Cox hazard ratio stratified by study",
           "Cox model stratified by study (a baseline hazard per study, one HR), second or later vs first salvage "
           "(reference), Efron ties; Wald {ci} CI and p. R: coxph(Surv(time, event) ~ later + strata(study)).",
           _HR, comparison=True),
    Method("MTH_PROPORTION_CP", "proportion_ci", "Proportion with Clopper–Pearson CI",
           "n, N, 100·n/N and the exact Clopper–Pearson {ci} confidence interval, in percent.",
           ("n", "N", "pct", "ci_lower", "ci_upper")),
    Method("MTH_OR_WALD", "odds_ratio", "Odds ratio (Wald)",
           "Unadjusted 2×2 odds ratio, second or later vs first salvage (reference), Wald {ci} CI and p; "
           "NULL (NE) at a zero cell.", _OR, comparison=True),
    Method("MTH_META_FIXED_HR", "meta_analysis_fixed", "Meta-analysis of log hazard ratios, fixed effect",
           "Two-stage meta-analysis of the studies' log HRs and their Cox SEs, inverse-variance fixed effect; "
           "normal {ci} CI and z-test p, exponentiated.", _HR, comparison=True),
    Method("MTH_META_RANDOM_HR", "meta_analysis_random", "Meta-analysis of log hazard ratios, random effects (DL)",
           "Two-stage meta-analysis of the studies' log HRs, DerSimonian–Laird random effects (τ² truncated at "
           "0); normal {ci} CI and z-test p, exponentiated.", _HR, comparison=True),
    Method("MTH_META_FIXED_OR", "meta_analysis_fixed", "Meta-analysis of log odds ratios, fixed effect",
           "Two-stage meta-analysis of the studies' log ORs of remission (Wald SEs), inverse-variance fixed "
           "effect; normal {ci} CI and z-test p, exponentiated.", _OR, comparison=True),
    Method("MTH_META_RANDOM_OR", "meta_analysis_random", "Meta-analysis of log odds ratios, random effects (DL)",
           "Two-stage meta-analysis of the studies' log ORs of remission, DerSimonian–Laird random effects "
           "(τ² truncated at 0); normal {ci} CI and z-test p, exponentiated.", _OR, comparison=True),
    Method("MTH_META_HETEROGENEITY", "meta_analysis_heterogeneity", "Heterogeneity of the meta-analysis",
           "k = studies combined (estimable ratio); Cochran's Q and its χ²(k − 1) p; I² in percent; "
           "DerSimonian–Laird τ² on the log scale; NULL when k < 2.", ("k", "q", "q_p", "i2", "tau2"),
           comparison=True),
)}


def method_of(table_id: str, variable: str, variable_level: str | None, stat_name: str) -> Method:
    """The method that produced an ARD statistic (results.md 'Statistic names', 'Study-level results')."""
    if table_id == "table1":
        mid = "MTH_SUMMARY" if variable in ("AGE", "BMBLAST") else "MTH_COUNT_PCT"
    elif table_id == "table2":
        mid = "MTH_KM_MEDIAN" if stat_name in _KM else "MTH_COX_HR_LOGRANK"
    elif table_id == "table3":
        mid = "MTH_OR_WALD" if variable == "REMISSION" else "MTH_PROPORTION_CP"
    elif table_id == "table4":
        mid = "MTH_TEAE_COUNT_PCT"
    elif table_id == STUDIES_TABLE:
        ratio = stat_name in _HR or stat_name in _OR
        if variable == "PATIENTS":
            mid = "MTH_SUBJECT_COUNT"
        elif variable == "OS":
            mid = "MTH_COX_HR" if ratio else "MTH_KM_MEDIAN"
        elif variable == "REMISSION":
            mid = "MTH_OR_WALD" if ratio else "MTH_PROPORTION_CP"
        elif variable == "OS_STRATIFIED":
            mid = "MTH_COX_STRATIFIED"
        elif variable in ("OS_META", "REMISSION_META"):
            kind = "HR" if variable == "OS_META" else "OR"
            mid = {"FIXED": f"MTH_META_FIXED_{kind}", "RANDOM": f"MTH_META_RANDOM_{kind}",
                   None: "MTH_META_HETEROGENEITY"}.get(variable_level, "")
        else:
            mid = ""
    else:
        mid = ""
    method = METHODS.get(mid)
    if method is None or stat_name not in method.operations:
        raise ValueError(f"no method for {table_id}/{variable}/{variable_level}/{stat_name}")
    return method


def operation_id(method: Method, stat_name: str) -> str:
    return f"{method.id}_{stat_name}"


# ---------------------------------------------------------------- the population of a statistic

REMISSION_POPULATION = "REMISSION"


def population(table_id: str, variable: str, method: Method, groups: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The analysis set of a statistic as (variable, level) atoms, sorted: its groups (group1, group2),
    but not the salvage group of a comparison (it spans both groups; the ARD keeps it on the later-salvage
    row), plus the remission population for RFS and MRD (only subjects in remission count)."""
    atoms = {(g, lvl) for g, lvl in groups if not (method.comparison and g == SALVGRP and lvl == LATER)}
    if (table_id == "table2" and variable == "RFS") or (table_id == "table3" and variable == "MRD"):
        atoms.add((REMISSION_POPULATION, "Y"))
    return tuple(sorted(atoms))

