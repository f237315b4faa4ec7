"""A plausible, complete ARD (every row results.md lists) and KM curve frame for tests.

Counts follow the publication's counts so that the reproduction checks have something real to
bite on; the percentages are recomputed from the counts (never copied), and all other values
(medians, CIs, HRs) are made up but plausible. Built with `ard_row` like a real analysis table.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import beta

from repool.tasks.analyse.ard import SALVGRP, ard_row, create_ard_frame

FIRST, LATER = "First salvage", "Second or later salvage"
GROUP_N = {FIRST: 165, LATER: 367}

TABLE1_LEVELS = {
    "SEX": {FIRST: {"M": 98, "F": 67}, LATER: {"M": 225, "F": 142}},
    "ECOG": {FIRST: {"0": 77, "1": 72, "2": 16, "Unknown": 0},
             LATER: {"0": 111, "1": 191, "2": 63, "Unknown": 2}},
    "PRHSCT": {FIRST: {"Y": 41, "N": 124}, LATER: {"Y": 141, "N": 226}},
    "BMBLCAT": {
        FIRST: {"<= 5%": 8, "> 5% - < 10%": 9, "10% - < 50%": 35, ">= 50%": 99, "Unknown": 14},
        LATER: {"<= 5%": 8, "> 5% - < 10%": 13, "10% - < 50%": 78, ">= 50%": 250, "Unknown": 18},
    },
}
TABLE1_CONTINUOUS = {  # n (non-missing), median, min, max
    "AGE": {FIRST: (165, 45, 19, 80), LATER: (367, 34, 18, 77)},
    "BMBLAST": {FIRST: (151, 78, 1, 100), LATER: (349, 81, 2, 100)},
}
# variable, group2_level -> group -> (n, events, median, lcl, ucl)
TABLE2_KM = {
    ("OS", None): {FIRST: (165, 112, 10.41, 8.28, 14.32), LATER: (367, 290, 5.68, 4.31, 7.07)},
    ("RFS", None): {FIRST: (89, 55, 10.12, 7.41, 18.03), LATER: (150, 101, 7.33, 5.69, 9.62)},
    ("OS", "Y"): {FIRST: (41, 25, 14.70, 8.31, 25.28), LATER: (141, 108, 7.42, 4.21, 9.01)},
    ("OS", "N"): {FIRST: (124, 87, 9.29, 7.71, 13.52), LATER: (226, 182, 4.93, 3.92, 6.71)},
}
TABLE2_HR = {"OS": (1.581, 1.262, 1.972, 0.00006, 0.00004), "RFS": (1.378, 0.981, 1.934, 0.0612, 0.0598)}
TABLE3_COUNTS = {  # variable, level -> group -> n (denominator: group N, MRD: remissions)
    ("BOR", "CR"): {FIRST: 70, LATER: 114},
    ("BOR", "CRh"): {FIRST: 15, LATER: 27},
    ("BOR", "CRi"): {FIRST: 4, LATER: 9},
    ("BOR", "CR/CRh/CRi"): {FIRST: 89, LATER: 150},
    ("MRD", None): {FIRST: 72, LATER: 118},
    ("HSCT", None): {FIRST: 60, LATER: 88},
    ("HSCT_CR", None): {FIRST: 33, LATER: 52},
    ("HSCT_RELREF", None): {FIRST: 4, LATER: 9},
    ("OTHER_TX", None): {FIRST: 42, LATER: 61},
}
TABLE3_OR = (0.5906, 0.4104, 0.8499, 0.0046)
TABLE4_COUNTS = {  # variable -> group -> (n, n_grade3 or None)
    "ANY_TEAE": {FIRST: (162, 133), LATER: (361, 310)},
    "SERIOUS_TEAE": {FIRST: (99, None), LATER: (239, None)},
    "FATAL_TEAE": {FIRST: (16, None), LATER: (76, None)},
    "FATAL_RELATED": {FIRST: (3, None), LATER: (10, None)},
    "CRS": {FIRST: (5, 1), LATER: (12, 3)},
    "NEURO": {FIRST: (80, 18), LATER: (190, 45)},
}


def _salv(group: str) -> dict:
    return {"group1": SALVGRP, "group1_level": group}


def _pct(n: int, N: int) -> float:
    return 100.0 * n / N


def _clopper_pearson(n: int, N: int) -> tuple[float, float]:
    lower = 0.0 if n == 0 else beta.ppf(0.025, n, N - n + 1)
    upper = 1.0 if n == N else beta.ppf(0.975, n + 1, N - n)
    return 100.0 * lower, 100.0 * upper


def build_table1_rows() -> list[dict]:
    rows = []
    for group in (FIRST, LATER):
        for var, by_group in TABLE1_CONTINUOUS.items():
            for name, value in zip(("n", "median", "min", "max"), by_group[group]):
                rows.append(ard_row("table1", var, name, value, **_salv(group)))
        for var, by_group in TABLE1_LEVELS.items():
            for level, n in by_group[group].items():
                rows.append(ard_row("table1", var, "n", n, variable_level=level, **_salv(group)))
                rows.append(ard_row("table1", var, "pct", _pct(n, GROUP_N[group]),
                                    variable_level=level, **_salv(group)))
    return rows


def build_table2_rows() -> list[dict]:
    rows = []
    for (var, prior), by_group in TABLE2_KM.items():
        g2 = {"group2": "PRHSCT", "group2_level": prior} if prior else {}
        for group, values in by_group.items():
            for name, value in zip(("n", "events", "median", "median_lcl", "median_ucl"), values):
                rows.append(ard_row("table2", var, name, value, **_salv(group), **g2))
    for var, values in TABLE2_HR.items():
        for name, value in zip(("hr", "hr_lcl", "hr_ucl", "p_value", "p_logrank"), values):
            rows.append(ard_row("table2", var, name, value, **_salv(LATER)))
    return rows


def build_table3_rows() -> list[dict]:
    rows = []
    for (var, level), by_group in TABLE3_COUNTS.items():
        for group, n in by_group.items():
            N = TABLE3_COUNTS[("BOR", "CR/CRh/CRi")][group] if var == "MRD" else GROUP_N[group]
            lo, hi = _clopper_pearson(n, N)
            for name, value in zip(("n", "N", "pct", "ci_lower", "ci_upper"), (n, N, _pct(n, N), lo, hi)):
                rows.append(ard_row("table3", var, name, value, variable_level=level, **_salv(group)))
    for name, value in zip(("or", "or_lcl", "or_ucl", "p_value"), TABLE3_OR):
        rows.append(ard_row("table3", "REMISSION", name, value, **_salv(LATER)))
    return rows


def build_table4_rows() -> list[dict]:
    rows = []
    for var, by_group in TABLE4_COUNTS.items():
        for group, (n, n3) in by_group.items():
            N = GROUP_N[group]
            rows.append(ard_row("table4", var, "n", n, **_salv(group)))
            rows.append(ard_row("table4", var, "pct", _pct(n, N), **_salv(group)))
            if n3 is not None:
                rows.append(ard_row("table4", var, "n_grade3", n3, **_salv(group)))
                rows.append(ard_row("table4", var, "pct_grade3", _pct(n3, N), **_salv(group)))
    return rows


def build_fixture_ard() -> pd.DataFrame:
    """A complete ARD of tables 1-4 (canonical columns, no result_version)."""
    rows = build_table1_rows() + build_table2_rows() + build_table3_rows() + build_table4_rows()
    return create_ard_frame(rows)


def set_stat(ard: pd.DataFrame, stat: float | None, **key) -> pd.DataFrame:
    """A copy of `ard` with the stat of the one row matching `key` (column=value) replaced."""
    out = ard.copy()
    mask = pd.Series(True, index=out.index)
    for col, value in key.items():
        mask &= out[col].isna() if value is None else out[col].eq(value)
    if mask.sum() != 1:
        raise KeyError(f"{key} matches {int(mask.sum())} rows")
    out.loc[mask, "stat"] = np.nan if stat is None else stat
    return out


def _km_steps(times: np.ndarray, events: np.ndarray) -> pd.DataFrame:
    """Product-limit step table, one row per distinct time (events and censor-only times)."""
    rows, surv = [], 1.0
    for t in np.unique(times):
        n_risk = int((times >= t).sum())
        d = int(((times == t) & (events == 1)).sum())
        c = int(((times == t) & (events == 0)).sum())
        surv *= 1.0 - d / n_risk
        half = 1.96 * np.sqrt(max(surv * (1 - surv), 1e-12) / n_risk)
        rows.append((float(t), surv, max(surv - half, 0.0), min(surv + half, 1.0), n_risk, d, c))
    return pd.DataFrame(rows, columns=["time", "surv", "surv_lcl", "surv_ucl", "n_risk", "n_event", "n_censor"])


def build_fixture_km(seed: int = 7) -> pd.DataFrame:
    """KM curve frame: OS and RFS per salvage group and OS per group x PRHSCT (synthetic)."""
    rng = np.random.default_rng(seed)
    frames = []
    for (var, prior), by_group in TABLE2_KM.items():
        for group, (n, events, median, *_ignored) in by_group.items():
            times = np.round(rng.exponential(median / np.log(2), n), 1) + 0.1
            status = np.zeros(n, dtype=int)
            status[rng.choice(n, events, replace=False)] = 1
            steps = _km_steps(times, status)
            steps.insert(0, "group2_level", prior)
            steps.insert(0, "group1_level", group)
            steps.insert(0, "variable", var)
            frames.append(steps)
    return pd.concat(frames, ignore_index=True)
