"""Table 5 (`studies`) — results by study, the stratified HR and the two-stage meta-analysis
(results.md "Study-level results").

Per study (group1 = STUDYID, group1_level = the study; studies in sorted order), for all its
patients (group2 NULL) and per salvage group (group2 = SALVGRP, group2_level = the group):
- `PATIENTS`: `n` (ADSL subjects);
- `REMISSION`: `n`, `N`, `pct`, `ci_lower`, `ci_upper` (CR/CRh/CRi from the ADRS BOR rows as in
  table3; N = the subjects; Clopper–Pearson, percent);
- `OS`: `n`, `events`, `median`, `median_lcl`, `median_ucl` (KM, Brookmeyer–Crowley, as table2).
Per study, group2_level `Second or later salvage` (reference first salvage):
- `OS`: `hr`, `hr_lcl`, `hr_ucl`, `p_value` (Cox within the study, Efron, Wald; as table2);
- `REMISSION`: `or`, `or_lcl`, `or_ucl`, `p_value` (unadjusted 2×2, Wald; as table3).
  NULL (NE) where not estimable: a group without patients or events, a zero cell.
Across studies (group1 = SALVGRP, group1_level `Second or later salvage`):
- `OS_STRATIFIED`: `hr`, `hr_lcl`, `hr_ucl`, `p_value` (Cox stratified by study, Efron, Wald);
- `OS_META` (per-study log HRs) and `REMISSION_META` (per-study log ORs), two-stage
  meta-analysis: variable_level `FIXED` (inverse variance) and `RANDOM` (DerSimonian–Laird)
  with `hr`/`or`, `_lcl`, `_ucl`, `p_value`; variable_level NULL with `k` (studies combined:
  those with an estimable effect), `q`, `q_p`, `i2` (percent), `tau2`. NULL when k < 2.

Every interval at level 1 - alpha; medians and their CIs, and the Cox tie method, per the convention
profile (`conventions`, as table2). Only rows of ADSL subjects count; a subject's study and
salvage group come from ADSL.

Membership (`with_subjects=True`): PATIENTS `n` and REMISSION `N` count ADSL records, REMISSION `n`
ADSL and ADRS BOR records, OS `n`/`events` ADTTE OS records (events: CNSR = 0); every other
statistic is linked to the subjects it was computed on (the per-study or pooled population).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from repool.schemas.pooled import BOR_LEVELS, SALVAGE_LEVELS
from repool.tasks.analyse.ard import SALVGRP, ard_result, ard_row, combine_members, members, text_of
from repool.tasks.analyse.statistics import (
    Conventions,
    compute_cox_fit,
    compute_km,
    compute_km_median,
    compute_km_median_ci,
    compute_log_odds_ratio,
    compute_meta_analysis,
    compute_odds_ratio,
    compute_proportion_ci,
    conventions_of,
    require_columns,
)
# the same remission and survival rows as tables 2 and 3 (one definition each)
from repool.tasks.analyse.table2_survival import _survival_data
from repool.tasks.analyse.table3_response import REMISSION, _param

TABLE_ID = "studies"
STUDY = "STUDYID"
FIXED, RANDOM = "FIXED", "RANDOM"
HETEROGENEITY = ("k", "q", "q_p", "i2", "tau2")
_FIRST, _LATER = SALVAGE_LEVELS


def _exp(x: float | None) -> float | None:
    return None if x is None else math.exp(x)


def _study_rows(study: str, group: str | None, subjects: pd.DataFrame, os_rows: pd.DataFrame,
                alpha: float, conv: Conventions) -> list[dict]:
    key = {"group1": STUDY, "group1_level": study}
    if group is not None:
        key |= {"group2": SALVGRP, "group2_level": group}
    N, n_rem = len(subjects), int(subjects["remission"].sum())
    lo, hi = compute_proportion_ci(n_rem, N, alpha=alpha)
    km = compute_km(os_rows["time"], os_rows["event"])
    m_lcl, m_ucl = compute_km_median_ci(km, alpha=alpha, conventions=conv)
    everyone, in_remission = members(subjects, "adsl"), _remission_members(subjects[subjects["remission"]])
    os_all, os_events = members(os_rows, "adtte", "OS"), members(os_rows[os_rows["event"] == 1], "adtte", "OS")
    rows = [ard_row(TABLE_ID, "PATIENTS", "n", N, subjects=everyone, **key)]
    rows += [ard_row(TABLE_ID, "REMISSION", name, v, subjects=in_remission if name == "n" else everyone, **key)
             for name, v in (("n", n_rem), ("N", N), ("pct", 100 * n_rem / N if N else None),
                             ("ci_lower", lo), ("ci_upper", hi))]
    rows += [ard_row(TABLE_ID, "OS", name, v, subjects=os_events if name == "events" else os_all, **key)
             for name, v in (("n", len(os_rows)), ("events", int(os_rows["event"].sum())),
                             ("median", compute_km_median(km, conv)), ("median_lcl", m_lcl), ("median_ucl", m_ucl))]
    return rows


def _remission_members(subjects: pd.DataFrame) -> pd.DataFrame:
    """Subjects in remission through their ADSL and ADRS BOR records."""
    return combine_members(members(subjects, "adsl"), members(subjects, "adrs", "BOR"))


def _population(subjects: pd.DataFrame, with_bor: bool) -> pd.DataFrame:
    """Members behind a ratio over `subjects`: ADSL records, and ADRS BOR records of those with one."""
    base = members(subjects, "adsl")
    return combine_members(base, members(subjects[subjects["has_bor"]], "adrs", "BOR")) if with_bor else base


def _meta_rows(variable: str, ratio: str, effects: list[tuple], alpha: float,
               population: pd.DataFrame | None = None) -> list[dict]:
    """Meta-analysis rows of per-study (log ratio, SE) pairs; ratios exponentiated back."""
    meta = compute_meta_analysis([e for e, _ in effects], [se for _, se in effects], alpha=alpha)
    key = {"group1": SALVGRP, "group1_level": _LATER}
    rows = []
    for level, (est, lcl, ucl, p) in ((FIXED, meta[1:5]), (RANDOM, meta[5:9])):
        rows += [ard_row(TABLE_ID, variable, name, v, variable_level=level, subjects=population, **key)
                 for name, v in ((ratio, _exp(est)), (f"{ratio}_lcl", _exp(lcl)), (f"{ratio}_ucl", _exp(ucl)),
                                 ("p_value", p))]
    rows += [ard_row(TABLE_ID, variable, name, getattr(meta, name), subjects=population, **key)
             for name in HETEROGENEITY]
    return rows


def compute_studies(adsl: pd.DataFrame, adtte: pd.DataFrame, adrs: pd.DataFrame,
                    alpha: float = 0.05, conventions: str | Conventions | None = None, with_subjects: bool = False):
    """ADSL + ADTTE + ADRS -> the `studies` ARD frame; intervals at confidence level 1 - alpha;
    medians, their CIs and Cox ties per the convention profile ("sas" default, or "r")."""
    conv = conventions_of(conventions)
    require_columns(adsl, [STUDY], "adsl")
    if adsl[STUDY].isna().any():
        raise ValueError("adsl: column 'STUDYID' has missing values")
    tte = _survival_data(adsl, adtte)  # checks ADSL (USUBJID, SALVGRP) and ADTTE
    require_columns(adrs, ["USUBJID", "PARAMCD", "AVALC"], "adrs")
    study_of = adsl.set_index("USUBJID")[STUDY].astype(str)
    bor = adsl["USUBJID"].map(_param(adrs, adsl, "BOR", BOR_LEVELS))
    subjects = pd.DataFrame({
        "study": text_of(adsl[STUDY]),
        "group": adsl["SALVGRP"].to_numpy(),
        "remission": bor.isin(REMISSION).to_numpy(),
        "has_bor": bor.notna().to_numpy(),  # membership only: whose ADRS BOR record a ratio read
        "STUDYID": text_of(adsl[STUDY]),
        "USUBJID": text_of(adsl["USUBJID"]),
    })
    os_all = tte[tte["PARAMCD"] == "OS"].assign(study=lambda d: d["USUBJID"].map(study_of).to_numpy())
    studies = sorted(subjects["study"].unique())

    # each study's rows, in frame order: positions found once (not one comparison of every row per study)
    subjects_at = subjects.groupby("study", sort=False).indices
    os_at = os_all.groupby("study", sort=False).indices
    none = np.array([], dtype=np.intp)

    rows, log_hr, log_or = [], [], []  # per study (estimate, SE), None where not estimable
    for study in studies:
        subj, os_study = subjects.iloc[subjects_at[study]], os_all.iloc[os_at.get(study, none)]
        rows += _study_rows(study, None, subj, os_study, alpha, conv)
        for group in SALVAGE_LEVELS:
            rows += _study_rows(study, group, subj[subj["group"] == group], os_study[os_study["SALVGRP"] == group],
                                alpha, conv)
        key = {"group1": STUDY, "group1_level": study, "group2": SALVGRP, "group2_level": _LATER}
        cox = compute_cox_fit(os_study["time"], os_study["event"], (os_study["SALVGRP"] == _LATER).astype(int),
                              alpha=alpha, ties=conv.cox_ties)
        os_population = members(os_study, "adtte", "OS")
        rows += [ard_row(TABLE_ID, "OS", name, getattr(cox, name), subjects=os_population, **key)
                 for name in ("hr", "hr_lcl", "hr_ucl", "p_value")]
        log_hr.append((cox.log_hr, cox.se))
        cells = []
        for group in (_LATER, _FIRST):
            g = subj["group"] == group
            n_rem = int((g & subj["remission"]).sum())
            cells += [n_rem, int(g.sum()) - n_rem]
        odds = compute_odds_ratio(*cells, alpha=alpha)
        study_population = _population(subj, with_bor=True)
        rows += [ard_row(TABLE_ID, "REMISSION", name, v, subjects=study_population, **key)
                 for name, v in zip(("or", "or_lcl", "or_ucl", "p_value"), odds)]
        log_or.append(tuple(compute_log_odds_ratio(*cells)))

    strat = compute_cox_fit(os_all["time"], os_all["event"], (os_all["SALVGRP"] == _LATER).astype(int),
                            strata=os_all["study"], alpha=alpha, ties=conv.cox_ties)
    os_population = members(os_all, "adtte", "OS")
    rows += [ard_row(TABLE_ID, "OS_STRATIFIED", name, getattr(strat, name), group1=SALVGRP, group1_level=_LATER,
                     subjects=os_population) for name in ("hr", "hr_lcl", "hr_ucl", "p_value")]
    rows += _meta_rows("OS_META", "hr", log_hr, alpha, os_population)
    rows += _meta_rows("REMISSION_META", "or", log_or, alpha, _population(subjects, with_bor=True))
    return ard_result(rows, with_subjects)
