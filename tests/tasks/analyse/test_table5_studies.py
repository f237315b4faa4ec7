"""Table 5 (`studies`): results by study, the Cox model stratified by study and the two-stage
meta-analysis, against R (survival 3.5-3, metafor 3.8-1, R 4.2.2), run once; the suite needs no R.

The data set (DATA below: 3 studies × 20 subjects, 9 first and 11 later salvage each, integer
months with many ties):

    library(survival); library(metafor)
    options(digits = 10, width = 110)
    d <- data.frame(
      study = rep(c("S1", "S2", "S3"), each = 20),
      later = rep(rep(c(0, 1), c(9, 11)), 3),
      time = c(20, 5, 5, 11, 3, 21, 5, 1, 4, 1, 15, 14, 9, 8, 17, 4, 2, 14, 7, 22,
               9, 15, 9, 14, 7, 25, 17, 9, 14, 4, 3, 3, 3, 7, 3, 2, 5, 1, 5, 3,
               14, 17, 4, 2, 1, 10, 17, 6, 8, 7, 3, 1, 13, 9, 8, 8, 3, 22, 5, 1),
      event = c(1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0,
                1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1,
                1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      rem = c(0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0,
              1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1,
              0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1))
    # 1. Cox stratified by study (Efron)
    strat <- coxph(Surv(time, event) ~ later + strata(study), data = d, ties = "efron")
    print(summary(strat)$coefficients); print(summary(strat)$conf.int)
    #               coef   exp(coef)     se(coef)           z     Pr(>|z|)
    # later 0.5300189496 1.698964503 0.3320528417 1.596188567 0.1104466994
    #         exp(coef)   exp(-coef)   lower .95  upper .95
    # later 1.698964503 0.5885938159 0.886217688 3.25707828
    # 2. per-study Cox (Efron) -> log HR, SE
    fits <- lapply(split(d, d$study), function(s) coxph(Surv(time, event) ~ later, data = s, ties = "efron"))
    hr <- t(sapply(fits, function(f) { s <- summary(f); c(s$coefficients[1, c(1, 3, 5)], s$conf.int[1, c(1, 3, 4)]) }))
    print(hr)
    #             coef     se(coef)       Pr(>|z|)     exp(coef)    lower .95     upper .95
    # S1 -0.5141134337 0.5683574212 0.365698492586  0.5980305534 0.1963073944   1.821839386
    # S2  2.9192617251 1.0947020437 0.007659589552 18.5276039441 2.1677399901 158.354834752
    # S3  0.3395988275 0.4823118195 0.481366529477  1.4043840773 0.5456841404   3.614352132
    # 3. per-study remission 2x2, later vs first (log OR, Wald SE; no zero cells)
    tab <- t(sapply(split(d, d$study), function(s) c(ai = sum(s$later == 1 & s$rem == 1), bi = sum(s$later == 1 & s$rem == 0),
                                                     ci = sum(s$later == 0 & s$rem == 1), di = sum(s$later == 0 & s$rem == 0))))
    or <- escalc(measure = "OR", ai = tab[, "ai"], bi = tab[, "bi"], ci = tab[, "ci"], di = tab[, "di"])
    print(cbind(tab, yi = or$yi, sei = sqrt(or$vi)))
    #    ai bi ci di             yi          sei
    # S1  4  7  4  5 -0.33647223662 0.9180725150
    # S2  4  7  6  3 -1.25276296850 0.9449111825
    # S3  5  6  4  5  0.04082199452 0.9036961141
    # 4. meta-analyses: fixed effect (inverse variance) and DerSimonian-Laird
    for (m in list(list("OS", hr[, "coef"], hr[, "se(coef)"]), list("REMISSION", or$yi, sqrt(or$vi)))) {
      for (method in c("FE", "DL")) {
        r <- rma(yi = m[[2]], sei = m[[3]], method = method)
        cat(m[[1]], method, ": est", exp(r$b), "ci", exp(r$ci.lb), exp(r$ci.ub), "p", r$pval,
            "Q", r$QE, "Qp", r$QEp, "I2", r$I2, "tau2", r$tau2, "\\n")
      }
    }
    # OS FE : est 1.323169571 ci 0.6681682695 2.620264676 p 0.4218031574 Q 7.780094122 Qp 0.02044438388 I2 74.29337012 tau2 0
    # OS DL : est 1.883463869 ci 0.4278765369 8.290793814 p 0.4024347794 Q 7.780094122 Qp 0.02044438388 I2 74.29337012 tau2 1.220962064
    # REMISSION FE : est 0.6087941589 ci 0.2145266775 1.727665445 p 0.3510580013 Q 1.024477444 Qp 0.5991527399 I2 0 tau2 0
    # REMISSION DL : est 0.6087941589 ci 0.2145266775 1.727665445 p 0.3510580013 Q 1.024477444 Qp 0.5991527399 I2 0 tau2 0
    r90 <- rma(yi = hr[, "coef"], sei = hr[, "se(coef)"], method = "DL", level = 90)
    cat("OS DL 90%: ci", exp(r90$ci.lb), exp(r90$ci.ub), "\\n")
    # OS DL 90%: ci 0.5429984214 6.533050568
    s90 <- summary(coxph(Surv(time, event) ~ later + strata(study), data = d), conf.int = 0.90)$conf.int
    cat("OS stratified 90%:", s90[1, 3:4], "\\n")
    # OS stratified 90%: 0.9839704908 2.933502996
    # 5. per-study remission (Clopper-Pearson) and OS KM median
    for (s in split(d, d$study)) print(binom.test(sum(s$rem), nrow(s))$conf.int[1:2] * 100)
    # [1] 19.11900607 63.94574127
    # [1] 27.19578496 72.80421504
    # [1] 23.05778968 68.47218670
    print(survfit(Surv(time, event) ~ study, data = d, conf.type = "log-log"))
    #           n events median 0.95LCL 0.95UCL
    # study=S1 20     13     11       4      21
    # study=S2 20     14      7       3      17
    # study=S3 20     19      8       3      10

Tolerance: lifelines stops its Newton–Raphson a little earlier than R (S2, HR 18.5: lifelines
coef 2.919234, R 2.919262, R with eps = 1e-14 also 2.919262); per-study and pooled HRs are
compared at rel 1e-4. Remission (Q 1.02 < k − 1 = 2) is the case where statsmodels' DL tau²
would be negative: metafor (and this code) truncate it at 0, so DL = FE.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from repool.schemas.ard import ARD_COLUMNS
from repool.tasks.analyse.ard import assert_ard
from repool.tasks.analyse.statistics import (
    compute_cox_fit,
    compute_cox_hr,
    compute_log_odds_ratio,
    compute_meta_analysis,
    compute_odds_ratio,
)
from repool.tasks.analyse.table5_studies import compute_studies

FIRST, LATER = "First salvage", "Second or later salvage"
STUDIES = ["S1", "S2", "S3"]
LATER_FLAG = [0] * 9 + [1] * 11
DATA = {  # study -> (time, event, remission), subjects 1-9 first salvage, 10-20 later
    "S1": ([20, 5, 5, 11, 3, 21, 5, 1, 4, 1, 15, 14, 9, 8, 17, 4, 2, 14, 7, 22],
           [1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0],
           [0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0]),
    "S2": ([9, 15, 9, 14, 7, 25, 17, 9, 14, 4, 3, 3, 3, 7, 3, 2, 5, 1, 5, 3],
           [1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1],
           [1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1]),
    "S3": ([14, 17, 4, 2, 1, 10, 17, 6, 8, 7, 3, 1, 13, 9, 8, 8, 3, 22, 5, 1],
           [1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
           [0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1]),
}
# R, per study: (coef, se, p, HR, lcl, ucl) of coxph(Surv(time, event) ~ later), Efron
R_COX = {"S1": (-0.5141134337, 0.5683574212, 0.365698492586, 0.5980305534, 0.1963073944, 1.821839386),
         "S2": (2.9192617251, 1.0947020437, 0.007659589552, 18.5276039441, 2.1677399901, 158.354834752),
         "S3": (0.3395988275, 0.4823118195, 0.481366529477, 1.4043840773, 0.5456841404, 3.614352132)}
R_OR_CELLS = {"S1": (4, 7, 4, 5), "S2": (4, 7, 6, 3), "S3": (5, 6, 4, 5)}  # later rem/non, first rem/non
R_LOG_OR = {"S1": (-0.33647223662, 0.9180725150), "S2": (-1.25276296850, 0.9449111825),
            "S3": (0.04082199452, 0.9036961141)}
R_STRATIFIED = (1.698964503, 0.886217688, 3.25707828, 0.1104466994)
R_STRATIFIED_90 = (0.9839704908, 2.933502996)
# metafor rma: (estimate, lcl, ucl, p) FE and DL, then Q, Q p, I² (%), tau² (DL)
R_OS_FE = (1.323169571, 0.6681682695, 2.620264676, 0.4218031574)
R_OS_DL = (1.883463869, 0.4278765369, 8.290793814, 0.4024347794)
R_OS_HET = (7.780094122, 0.02044438388, 74.29337012, 1.220962064)
R_OS_DL_90 = (0.5429984214, 6.533050568)
R_REM_FE = R_REM_DL = (0.6087941589, 0.2145266775, 1.727665445, 0.3510580013)
R_REM_HET = (1.024477444, 0.5991527399, 0.0, 0.0)
R_REMISSION_CI = {"S1": (19.11900607, 63.94574127), "S2": (27.19578496, 72.80421504), "S3": (23.05778968, 68.47218670)}
R_OS_MEDIAN = {"S1": (11, 4, 21), "S2": (7, 3, 17), "S3": (8, 3, 10)}  # survfit, conf.type = "log-log"

HR_TOL = dict(rel=1e-4)
EXACT = dict(rel=1e-9)


def pooled(data=DATA):
    """adsl, adtte, adrs in the pooled shape from `data`."""
    adsl, adtte, adrs = [], [], []
    for study, (time, event, rem) in data.items():
        for i, (t, e, r, later) in enumerate(zip(time, event, rem, LATER_FLAG), start=1):
            uid = f"{study}-{i:02d}"
            adsl.append({"STUDYID": study, "USUBJID": uid, "SALVGRP": LATER if later else FIRST, "PRHSCT": "N"})
            adtte.append({"STUDYID": study, "USUBJID": uid, "PARAMCD": "OS", "AVAL": float(t), "CNSR": 1 - e})
            adrs.append({"STUDYID": study, "USUBJID": uid, "PARAMCD": "BOR", "AVALC": "CR" if r else "NR"})
    return pd.DataFrame(adsl), pd.DataFrame(adtte), pd.DataFrame(adrs)


def get(ard, variable, stat_name, group1_level=LATER, group2_level=None, level=None):
    m = (ard["variable"] == variable) & (ard["stat_name"] == stat_name) & (ard["group1_level"] == group1_level)
    m &= ard["group2_level"].isna() if group2_level is None else ard["group2_level"] == group2_level
    m &= ard["variable_level"].isna() if level is None else ard["variable_level"] == level
    assert m.sum() == 1, (variable, stat_name, group1_level, group2_level, level)
    v = ard.loc[m, "stat"].item()
    return None if pd.isna(v) else v


@pytest.fixture(scope="module")
def ard():
    return compute_studies(*pooled(), alpha=0.05)


def test_shape_keys_and_table_id(ard):
    assert list(ard.columns) == ARD_COLUMNS
    assert_ard(ard)
    assert set(ard["table_id"]) == {"studies"}
    per_study = ard[ard["group1"] == "STUDYID"]
    assert list(dict.fromkeys(per_study["group1_level"])) == STUDIES
    assert set(per_study["group2"].dropna()) == {"SALVGRP"}
    assert set(ard.loc[ard["group1"] == "SALVGRP", "group1_level"]) == {LATER}
    assert set(ard.loc[ard["group1"] == "SALVGRP", "variable"]) == {"OS_STRATIFIED", "OS_META", "REMISSION_META"}


@pytest.mark.parametrize("study", STUDIES)
def test_per_study_counts_remission_and_km_median_match_r(ard, study):
    time, event, rem = DATA[study]
    assert get(ard, "PATIENTS", "n", study) == 20
    assert get(ard, "PATIENTS", "n", study, FIRST) == 9 and get(ard, "PATIENTS", "n", study, LATER) == 11
    assert get(ard, "REMISSION", "n", study) == sum(rem) and get(ard, "REMISSION", "N", study) == 20
    assert get(ard, "REMISSION", "pct", study) == pytest.approx(100 * sum(rem) / 20)
    assert get(ard, "REMISSION", "ci_lower", study) == pytest.approx(R_REMISSION_CI[study][0], rel=1e-8)
    assert get(ard, "REMISSION", "ci_upper", study) == pytest.approx(R_REMISSION_CI[study][1], rel=1e-8)
    assert get(ard, "REMISSION", "n", study, LATER) == R_OR_CELLS[study][0]
    assert get(ard, "REMISSION", "N", study, LATER) == 11
    assert get(ard, "OS", "n", study) == 20 and get(ard, "OS", "events", study) == sum(event)
    assert get(ard, "OS", "events", study, FIRST) == sum(event[:9])
    median = tuple(get(ard, "OS", k, study) for k in ("median", "median_lcl", "median_ucl"))
    assert median == R_OS_MEDIAN[study]


@pytest.mark.parametrize("study", STUDIES)
def test_per_study_hr_and_or_match_r_and_tables_2_3(ard, study):
    coef, se, p, hr, lcl, ucl = R_COX[study]
    got = tuple(get(ard, "OS", k, study, LATER) for k in ("hr", "hr_lcl", "hr_ucl", "p_value"))
    assert got == pytest.approx((hr, lcl, ucl, p), **HR_TOL)
    time, event, _ = DATA[study]
    assert got == tuple(compute_cox_hr(time, event, LATER_FLAG))  # table2's method, exactly
    fit = compute_cox_fit(time, event, LATER_FLAG)
    assert (fit.log_hr, fit.se) == pytest.approx((coef, se), abs=5e-5)
    cells = R_OR_CELLS[study]
    got_or = tuple(get(ard, "REMISSION", k, study, LATER) for k in ("or", "or_lcl", "or_ucl", "p_value"))
    assert got_or == tuple(compute_odds_ratio(*cells))  # table3's method
    assert got_or[0] == pytest.approx(np.exp(R_LOG_OR[study][0]), **EXACT)
    assert tuple(compute_log_odds_ratio(*cells)) == pytest.approx(R_LOG_OR[study], rel=1e-9)
    # no comparison row on the reference group
    assert not ((ard["group1_level"] == study) & (ard["group2_level"] == FIRST) & (ard["stat_name"] == "hr")).any()


def test_stratified_cox_matches_r(ard):
    got = tuple(get(ard, "OS_STRATIFIED", k) for k in ("hr", "hr_lcl", "hr_ucl", "p_value"))
    assert got == pytest.approx(R_STRATIFIED, rel=1e-5)
    at90 = compute_studies(*pooled(), alpha=0.10)
    assert (get(at90, "OS_STRATIFIED", "hr_lcl"), get(at90, "OS_STRATIFIED", "hr_ucl")) == pytest.approx(
        R_STRATIFIED_90, rel=1e-6)


def test_os_meta_analysis_matches_metafor(ard):
    for level, ref in (("FIXED", R_OS_FE), ("RANDOM", R_OS_DL)):
        got = tuple(get(ard, "OS_META", k, level=level) for k in ("hr", "hr_lcl", "hr_ucl", "p_value"))
        assert got == pytest.approx(ref, **HR_TOL), level
    het = tuple(get(ard, "OS_META", k) for k in ("q", "q_p", "i2", "tau2"))
    assert het == pytest.approx(R_OS_HET, **HR_TOL)
    assert get(ard, "OS_META", "k") == 3
    at90 = compute_studies(*pooled(), alpha=0.10)
    assert (get(at90, "OS_META", "hr_lcl", level="RANDOM"), get(at90, "OS_META", "hr_ucl", level="RANDOM")) == \
        pytest.approx(R_OS_DL_90, **HR_TOL)
    assert get(at90, "OS_META", "tau2") == get(ard, "OS_META", "tau2")


def test_remission_meta_analysis_matches_metafor_with_tau2_truncated(ard):
    for level, ref in (("FIXED", R_REM_FE), ("RANDOM", R_REM_DL)):
        got = tuple(get(ard, "REMISSION_META", k, level=level) for k in ("or", "or_lcl", "or_ucl", "p_value"))
        assert got == pytest.approx(ref, rel=1e-8), level
    het = tuple(get(ard, "REMISSION_META", k) for k in ("q", "q_p", "i2", "tau2"))
    assert het == pytest.approx(R_REM_HET, rel=1e-8, abs=1e-12)
    assert get(ard, "REMISSION_META", "k") == 3


def test_meta_analysis_from_r_inputs_exactly():
    """Fed R's own per-study log HRs, the pooled numbers agree with metafor to 1e-8."""
    coef = [R_COX[s][0] for s in STUDIES]
    se = [R_COX[s][1] for s in STUDIES]
    m = compute_meta_analysis(coef, se)
    assert np.exp([m.fixed, m.fixed_lcl, m.fixed_ucl]).tolist() == pytest.approx(R_OS_FE[:3], rel=1e-8)
    assert np.exp([m.random, m.random_lcl, m.random_ucl]).tolist() == pytest.approx(R_OS_DL[:3], rel=1e-8)
    assert (m.fixed_p, m.random_p) == pytest.approx((R_OS_FE[3], R_OS_DL[3]), rel=1e-8)
    assert (m.q, m.q_p, m.i2, m.tau2) == pytest.approx(R_OS_HET, rel=1e-8)
    m90 = compute_meta_analysis(coef, se, alpha=0.10)
    assert np.exp([m90.random_lcl, m90.random_ucl]).tolist() == pytest.approx(R_OS_DL_90, rel=1e-8)


def test_meta_analysis_degenerate_cases():
    assert compute_meta_analysis([], []).k == 0
    one = compute_meta_analysis([0.3, None], [0.2, None])
    assert one.k == 1 and set(one[1:]) == {None}
    # identical estimates: Q = 0, I² = 0 (statsmodels: 1 - 1/0), tau² = 0, DL = FE
    same = compute_meta_analysis([0.2, 0.2, 0.2], [0.1, 0.2, 0.3])
    assert same.q == pytest.approx(0, abs=1e-12) and same.i2 == 0 and same.tau2 == 0
    assert same.random == same.fixed and same.random_lcl == same.fixed_lcl
    with pytest.raises(ValueError):
        compute_meta_analysis([0.1, 0.2], [0.1, 0.0])


def _without_events(data, study, later: bool):
    time, event, rem = data[study]
    lo, hi = (9, 20) if later else (0, 9)
    event = [0 if lo <= i < hi else e for i, e in enumerate(event)]
    return {**data, study: (time, event, rem)}


def test_a_study_whose_group_has_no_events_gives_nulls_not_a_crash():
    data = _without_events(DATA, "S2", later=True)
    ard = compute_studies(*pooled(data), alpha=0.05)
    assert_ard(ard)
    for k in ("hr", "hr_lcl", "hr_ucl", "p_value"):
        assert get(ard, "OS", k, "S2", LATER) is None
    assert get(ard, "OS", "events", "S2", LATER) == 0
    assert get(ard, "OS", "median", "S2", LATER) is None  # not reached
    assert get(ard, "OS_META", "k") == 2  # S2 left out of the meta-analysis
    assert get(ard, "OS_META", "hr", level="RANDOM") is not None
    assert get(ard, "OS_STRATIFIED", "hr") is not None  # S2 still contributes its first-salvage risk sets
    # no events anywhere in two studies: one study left, nothing to pool
    data = _without_events(data, "S3", later=False)
    ard = compute_studies(*pooled(data), alpha=0.05)
    assert get(ard, "OS_META", "k") == 1
    for k in ("hr", "hr_lcl", "hr_ucl", "p_value"):
        assert get(ard, "OS_META", k, level="FIXED") is None and get(ard, "OS_META", k, level="RANDOM") is None
    for k in ("q", "q_p", "i2", "tau2"):
        assert get(ard, "OS_META", k) is None


def test_zero_remission_cell_and_a_single_group_study():
    time, event, rem = DATA["S1"]
    data = {**DATA, "S1": (time, event, [0] * 9 + rem[9:])}  # no remission in first salvage
    ard = compute_studies(*pooled(data), alpha=0.05)
    assert get(ard, "REMISSION", "or", "S1", LATER) is None and get(ard, "REMISSION_META", "k") == 2
    adsl, adtte, adrs = pooled()
    adsl.loc[adsl["STUDYID"] == "S3", "SALVGRP"] = FIRST  # S3: first salvage only
    ard = compute_studies(adsl, adtte, adrs, alpha=0.05)
    assert get(ard, "PATIENTS", "n", "S3", LATER) == 0 and get(ard, "REMISSION", "pct", "S3", LATER) is None
    assert get(ard, "OS", "hr", "S3", LATER) is None and get(ard, "REMISSION", "or", "S3", LATER) is None
    assert get(ard, "OS_META", "k") == 2 and get(ard, "OS_STRATIFIED", "hr") is not None


def test_subjects_outside_adsl_are_ignored_and_study_comes_from_adsl():
    adsl, adtte, adrs = pooled()
    extra = adtte.iloc[:1].assign(USUBJID="ZZ-01", STUDYID="S9")
    ard_extra = compute_studies(adsl, pd.concat([adtte, extra]), adrs, alpha=0.05)
    pd.testing.assert_frame_equal(ard_extra, compute_studies(adsl, adtte, adrs, alpha=0.05))
    with pytest.raises(ValueError, match="STUDYID"):
        compute_studies(adsl.drop(columns="STUDYID"), adtte, adrs)


# ------------------------------------------------------------------ the bundled deliveries

@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    from repool.tasks.analyse import analyse_table
    from repool.tasks.harmonise import read_pooled
    from tests.chain import pool_bundled

    s, _ = pool_bundled(tmp_path_factory.mktemp("studies"))
    frames = read_pooled.fn(s)
    return frames, {t: analyse_table.fn(t, frames, s.alpha) for t in ("table2", "table3", "studies")}


def test_bundled_data_gives_rows_for_all_three_studies(bundled):
    frames, ards = bundled
    ard = ards["studies"]
    assert_ard(ard)
    studies = sorted(frames["adsl"]["STUDYID"].unique())
    assert len(studies) == 3
    assert sorted(ard.loc[ard["group1"] == "STUDYID", "group1_level"].unique()) == studies
    for study in studies:
        n = int((frames["adsl"]["STUDYID"] == study).sum())
        assert get(ard, "PATIENTS", "n", study) == n
        for k in ("median", "hr"):
            assert k in set(ard.loc[ard["group1_level"] == study, "stat_name"])
        assert get(ard, "OS", "hr", study, LATER) is not None
    # the per-study counts add up to tables 2 and 3
    t2, t3 = ards["table2"], ards["table3"]
    for group in (FIRST, LATER):
        per_study = sum(get(ard, "REMISSION", "n", s, group) for s in studies)
        assert per_study == get(t3, "BOR", "n", group, level="CR/CRh/CRi")
        assert sum(get(ard, "OS", "events", s, group) for s in studies) == get(t2, "OS", "events", group)
    for variable in ("OS_META", "REMISSION_META"):
        assert get(ard, variable, "k") == 3
    hr = get(ard, "OS_STRATIFIED", "hr")
    assert hr is not None and get(ard, "OS_STRATIFIED", "hr_lcl") < hr < get(ard, "OS_STRATIFIED", "hr_ucl")
