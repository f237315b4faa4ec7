"""Table 2 — overall and relapse-free survival (results.md "Statistic names", "Methods").

Rows (all group1 = SALVGRP):
- OS and RFS per salvage group, and OS per salvage group × PRHSCT (group2 = PRHSCT, Y then N):
  `n` (subjects with the parameter), `events` (CNSR = 0), `median`, `median_lcl`, `median_ucl`
  (KM median, SAS/R midpoint rule; Brookmeyer–Crowley log-log 95% CI; NE -> NULL; under the
  "r" convention profile R survival's `quantile.survfit` on the log-log band instead).
- OS and RFS, group1_level `Second or later salvage` (reference first salvage), variable_level
  NULL: `hr`, `hr_lcl`, `hr_ucl`, `p_value` (Cox, Efron ties in both profiles, Wald) and `p_logrank`.

RFS uses the ADTTE RFS rows (only subjects in remission have them). Only ADTTE rows of subjects
in ADSL count (the subject's SALVGRP / PRHSCT come from ADSL). Both salvage groups are always
emitted; an empty one gets n = 0, events = 0 and NULL statistics.

`compute_km_curves` gives the step data the report draws (one row per distinct time).

Membership (`with_subjects=True`, ADTTE records of the parameter): `n` counts the subset's subjects,
`events` those with CNSR = 0; the median and its CI are computed on the subset, the HR and log-rank
rows on both salvage groups.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from repool.schemas.pooled import SALVAGE_LEVELS, YN
from repool.schemas.ard import KM_CURVE_COLUMNS
from repool.tasks.analyse.ard import SALVGRP, ard_result, ard_row, members
from repool.tasks.analyse.statistics import (
    Conventions,
    check_adsl,
    compute_cox_hr,
    compute_km,
    compute_km_median,
    compute_km_median_ci,
    compute_km_pointwise_ci,
    compute_logrank_p,
    conventions_of,
    require_columns,
    require_levels,
)

TABLE_ID = "table2"
PARAMS = ["OS", "RFS"]
KM_STATS = ["n", "events", "median", "median_lcl", "median_ucl"]
CURVE_COLUMNS = KM_CURVE_COLUMNS
_LATER = SALVAGE_LEVELS[1]


def _survival_data(adsl: pd.DataFrame, adtte: pd.DataFrame) -> pd.DataFrame:
    """ADTTE rows of ADSL subjects with `time`, `event` and the subject's SALVGRP, PRHSCT."""
    check_adsl(adsl, ["PRHSCT"])
    require_levels(adsl, "PRHSCT", YN, "adsl")
    require_columns(adtte, ["USUBJID", "PARAMCD", "AVAL", "CNSR"], "adtte")
    if not pd.to_numeric(adtte["CNSR"], errors="coerce").isin([0, 1]).all():
        raise ValueError("adtte: column 'CNSR' must be 0 or 1")
    aval = pd.to_numeric(adtte["AVAL"], errors="coerce")
    if aval.isna().any() or (aval < 0).any():
        raise ValueError("adtte: column 'AVAL' must be a non-missing time >= 0")
    dup = adtte.duplicated(["USUBJID", "PARAMCD"])
    if dup.any():
        raise ValueError(f"adtte: more than one row per USUBJID and PARAMCD, e.g. {adtte.loc[dup].iloc[0].to_dict()}")
    # many to one: check_adsl above has refused a duplicate USUBJID (merge's validate= would sort it again)
    tte = adtte[adtte["PARAMCD"].isin(PARAMS)].merge(
        adsl[["USUBJID", "SALVGRP", "PRHSCT"]], on="USUBJID", how="inner")
    tte = tte.assign(time=tte["AVAL"].astype(float), event=1 - tte["CNSR"].astype(int))
    return tte.sort_values(["PARAMCD", "USUBJID"], kind="mergesort").reset_index(drop=True)


def _km_stats(sub: pd.DataFrame, alpha: float, conventions: Conventions) -> dict[str, float | None]:
    km = compute_km(sub["time"], sub["event"])
    lcl, ucl = compute_km_median_ci(km, alpha=alpha, conventions=conventions)
    return {"n": len(sub), "events": int(sub["event"].sum()), "median": compute_km_median(km, conventions),
            "median_lcl": lcl, "median_ucl": ucl}


def _subsets(tte: pd.DataFrame):
    """(variable, group1_level, group2_level, rows) in the fixed table order."""
    for var in PARAMS:
        for group in SALVAGE_LEVELS:
            yield var, group, None, tte[(tte["PARAMCD"] == var) & (tte["SALVGRP"] == group)]
    for group in SALVAGE_LEVELS:
        for prior in YN:
            m = (tte["PARAMCD"] == "OS") & (tte["SALVGRP"] == group) & (tte["PRHSCT"] == prior)
            yield "OS", group, prior, tte[m]


def compute_table2(adsl: pd.DataFrame, adtte: pd.DataFrame, alpha: float = 0.05,
                   conventions: str | Conventions | None = None, with_subjects: bool = False):
    """ADSL + ADTTE -> the table2 ARD frame; intervals at confidence level 1 - alpha; the corner
    cases of medians, CIs and Cox ties per the convention profile ("sas" default, or "r")."""
    conv = conventions_of(conventions)
    tte = _survival_data(adsl, adtte)
    rows = []
    for var, group, prior, sub in _subsets(tte):
        key = {"group1": SALVGRP, "group1_level": group}
        if prior is not None:
            key |= {"group2": "PRHSCT", "group2_level": prior}
        population = members(sub, "adtte", var)
        counted = {"n": population, "events": members(sub[sub["event"] == 1], "adtte", var)}
        for name, value in _km_stats(sub, alpha, conv).items():
            rows.append(ard_row(TABLE_ID, var, name, value, subjects=counted.get(name, population), **key))
    for var in PARAMS:
        sub = tte[tte["PARAMCD"] == var]
        later = (sub["SALVGRP"] == _LATER).astype(int)
        hr = compute_cox_hr(sub["time"], sub["event"], later, alpha=alpha, ties=conv.cox_ties)
        p_lr = compute_logrank_p(sub["time"], sub["event"], later)
        key = {"group1": SALVGRP, "group1_level": _LATER}
        population = members(sub, "adtte", var)
        for name, value in (("hr", hr.hr), ("hr_lcl", hr.hr_lcl), ("hr_ucl", hr.hr_ucl),
                            ("p_value", hr.p_value), ("p_logrank", p_lr)):
            rows.append(ard_row(TABLE_ID, var, name, value, subjects=population, **key))
    return ard_result(rows, with_subjects)


def compute_km_curves(adsl: pd.DataFrame, adtte: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """KM step data for the figures: one row per distinct time (events and censorings).

    Columns `CURVE_COLUMNS`; time in months; `surv` just after `time`, log-log pointwise
    (1 - alpha) band (`surv_lcl`/`surv_ucl`; [1, 1] before the first event, NULL where S = 0), `n_risk`
    just before `time`. No time-0 row (the curve starts at S = 1). Curves: OS and RFS per
    salvage group (group2_level None), then OS per salvage group × PRHSCT (Y, N); an empty
    subset has no rows. Sorted in that order, then by time.
    """
    tte = _survival_data(adsl, adtte)
    frames = []
    for var, group, prior, sub in _subsets(tte):
        km = compute_km(sub["time"], sub["event"])
        if km.empty:
            continue
        band = compute_km_pointwise_ci(km, alpha=alpha)
        frames.append(pd.DataFrame({
            "variable": var, "group1_level": group, "group2_level": prior,
            "time": km["time"], "surv": km["surv"],
            "surv_lcl": band["surv_lcl"], "surv_ucl": band["surv_ucl"],
            "n_risk": km["n_risk"], "n_event": km["n_event"], "n_censor": km["n_censor"],
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in CURVE_COLUMNS})
    out = pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]
    out["group2_level"] = out["group2_level"].astype(object).where(out["group2_level"].notna(), None)
    for c in ("n_risk", "n_event", "n_censor"):
        out[c] = out[c].astype(np.int64)
    return out
