"""Tests of tasks/analyse/statistics.py against independent references.

Reference 1 — R survival, data `aml` (Miller 1981), values as printed by R (survival 3.x):

    library(survival)
    summary(survfit(Surv(time, status) ~ 1, data = aml, subset = x == "Maintained"))
    #  time n.risk n.event survival std.err
    #     9     11       1    0.909  0.0867
    #    13     10       1    0.818  0.1163
    #    18      8       1    0.716  0.1397
    #    23      7       1    0.614  0.1526
    #    31      5       1    0.491  0.1642
    #    34      4       1    0.368  0.1627
    #    48      2       1    0.184  0.1535
    survfit(Surv(time, status) ~ x, data = aml)      # median: Maintained 31, Nonmaintained 23
    survdiff(Surv(time, status) ~ x, data = aml)     # Chisq = 3.4 on 1 df, p = 0.0653
    coxph(Surv(time, status) ~ x, data = aml)        # Efron (default):
    #                  coef exp(coef) se(coef)     z      p
    # xNonmaintained 0.9155    2.4981   0.5119 1.788 0.0737

Reference 2 — statsmodels / lifelines where they implement the same definition (computed in
the test): SurvfuncRight.quantile_ci(method="cloglog") is the SAS Brookmeyer–Crowley rule;
PHReg(ties="efron"); survdiff; scipy binomtest(...).proportion_ci("exact").

Reference 3 — hand computation on tiny data (in each test).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from repool.tasks.analyse.statistics import (
    compute_cox_hr,
    compute_km,
    compute_km_median,
    compute_km_median_ci,
    compute_km_pointwise_ci,
    compute_logrank_p,
    compute_odds_ratio,
    compute_proportion_ci,
    require_columns,
    require_levels,
)

AML_MAINT_T = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
AML_MAINT_E = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
AML_NON_T = [5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
AML_NON_E = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]


def aml():
    t = np.array(AML_MAINT_T + AML_NON_T, dtype=float)
    e = np.array(AML_MAINT_E + AML_NON_E)
    x = np.array([0] * 11 + [1] * 12)  # 1 = Nonmaintained, 0 = Maintained (R's reference)
    return t, e, x


def random_tied(seed, n_max=40):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, n_max))
    t = np.round(rng.exponential(10, n))  # rounding -> many ties
    e = (rng.random(n) < rng.random()).astype(int)
    return t, e


def ne(v):
    """statsmodels/lifelines NE (nan/inf) -> None, like ours."""
    return None if v is None or not np.isfinite(v) else float(v)


# ------------------------------------------------------------------------------ KM table
def test_km_table_matches_r_aml_maintained():
    km = compute_km(AML_MAINT_T, AML_MAINT_E)
    assert km["time"].tolist() == [9, 13, 18, 23, 28, 31, 34, 45, 48, 161]
    assert km["n_risk"].tolist() == [11, 10, 8, 7, 6, 5, 4, 3, 2, 1]
    assert km["n_event"].tolist() == [1, 1, 1, 1, 0, 1, 1, 0, 1, 0]
    assert km["n_censor"].tolist() == [0, 1, 0, 0, 1, 0, 0, 1, 0, 1]  # 13: event and censor tied
    ev = km[km["n_event"] > 0]
    np.testing.assert_allclose(ev["surv"], [0.909, 0.818, 0.716, 0.614, 0.491, 0.368, 0.184], atol=5e-4)
    np.testing.assert_allclose(
        np.sqrt(ev["var_surv"]), [0.0867, 0.1163, 0.1397, 0.1526, 0.1642, 0.1627, 0.1535], atol=5e-5
    )
    assert km["surv"].iloc[-1] == km["surv"].iloc[-2]  # censored last time: curve stays flat


def test_km_table_ties_and_drop_to_zero_by_hand():
    # times 2,2,2(censor),5 ; at 2: n=4, d=2 -> S=1/2 ; at 5: n=1, d=1 -> S=0
    km = compute_km([2, 2, 2, 5], [1, 1, 0, 1])
    assert km[["time", "n_risk", "n_event", "n_censor"]].values.tolist() == [[2, 4, 2, 1], [5, 1, 1, 0]]
    assert km["surv"].tolist() == [0.5, 0.0]
    assert km["greenwood"].iloc[0] == pytest.approx(2 / (4 * 2))
    assert np.isinf(km["greenwood"].iloc[1]) and km["var_surv"].iloc[1] == 0.0


def test_km_empty_and_bad_input():
    assert compute_km([], []).empty
    with pytest.raises(ValueError):
        compute_km([1, -1], [1, 1])
    with pytest.raises(ValueError):
        compute_km([1, 2], [1, 2])


def test_pointwise_loglog_band_matches_lifelines():
    from lifelines import KaplanMeierFitter

    km = compute_km(AML_NON_T, AML_NON_E)
    band = compute_km_pointwise_ci(km)
    ci = KaplanMeierFitter().fit(AML_NON_T, AML_NON_E).confidence_interval_
    ref = ci.loc[km["time"].iloc[:-1]].to_numpy()  # lifelines: [0, 0] at S = 0, ours NaN
    np.testing.assert_allclose(band[["surv_lcl", "surv_ucl"]].iloc[:-1], ref, rtol=1e-10)
    assert band.iloc[-1].isna().all()
    # before the first event (S = 1) the band is [1, 1]
    assert compute_km_pointwise_ci(compute_km([1, 3], [0, 1])).iloc[0].tolist() == [1.0, 1.0]


# ------------------------------------------------------------------------------ median
def test_median_matches_r_aml():
    assert compute_km_median(compute_km(AML_MAINT_T, AML_MAINT_E)) == 31
    assert compute_km_median(compute_km(AML_NON_T, AML_NON_E)) == 23


def test_median_exactly_half_uses_midpoint_where_libraries_differ():
    # 1,2,3,4 all events: S = .75, .5, .25, 0 -> R/SAS median (2 + 3)/2 = 2.5 (R: 2.5)
    from lifelines import KaplanMeierFitter
    from statsmodels.duration.survfunc import SurvfuncRight

    t, e = [1, 2, 3, 4], [1, 1, 1, 1]
    assert compute_km_median(compute_km(t, e)) == 2.5
    assert KaplanMeierFitter().fit(t, e).median_survival_time_ == 2  # first S <= .5
    assert SurvfuncRight(np.array(t, float), np.array(e)).quantile(0.5) == 3  # first S < .5


def test_median_exact_half_not_exact_in_floating_point():
    # n=12: t=1 one event (S=11/12); t=2 five of 11 (S=11/12*6/11 = 1/2 exactly, but in
    # floats (1-1/12)*(1-5/11) != 0.5); censor at 3; next event at 7 -> median (2 + 7)/2 = 4.5
    t = [1, 2, 2, 2, 2, 2, 3, 7, 8, 9, 10, 11]
    e = [1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0]
    km = compute_km(t, e)
    assert km.loc[km["time"] == 2, "surv"].item() != 0.5  # the float product misses 0.5
    assert compute_km_median(km) == 4.5  # midpoint with the next EVENT time, not the censor at 3


def test_median_close_to_but_not_half():
    # S = 1 - 1/3 * ... : 3 at risk, 1 event -> 2/3; then 2 at risk with 1 event -> 1/3 < .5
    assert compute_km_median(compute_km([1, 2, 3], [1, 1, 0])) == 2


def test_median_flat_half_at_end_is_ne():
    # S = .75, .5 then only censorings: R's findq would give (2 + 4)/2 = 3 (midpoint to the
    # last follow-up); the spec's "smallest time with S < 0.5" does not exist -> NE.
    assert compute_km_median(compute_km([1, 2, 3, 4], [1, 1, 0, 0])) is None


def test_median_not_reached_and_no_events():
    km = compute_km([1, 2, 3, 4, 5], [1, 0, 0, 0, 0])
    assert compute_km_median(km) is None
    assert compute_km_median(compute_km([1, 2], [0, 0])) is None
    assert compute_km_median(compute_km([], [])) is None


# ------------------------------------------------------------------------------ median CI
def test_median_ci_aml_by_hand_and_statsmodels():
    from statsmodels.duration.survfunc import SurvfuncRight

    for t, e, expected in [(AML_MAINT_T, AML_MAINT_E, (13.0, None)), (AML_NON_T, AML_NON_E, (5.0, 33.0))]:
        ci = compute_km_median_ci(compute_km(t, e))
        assert ci == expected
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = SurvfuncRight(np.array(t, float), np.array(e)).quantile_ci(0.5, method="cloglog")
        assert ci == tuple(ne(v) for v in ref)


def test_median_ci_by_hand_tiny():
    # 1,2,3,4 all events: intervals at S=.75 (t=1): g=log(-log .75)=-1.2459, se=sqrt(1/12)/0.2877
    # = 1.0034 -> |g - g(.5)| = 0.879 <= 1.96*1.0034 contains; t=2 (S=.5) contains; t=3: S=.25,
    # se = sqrt(.75)/1.386 = .6247, |0.3266-(-0.3665)| = .693 <= 1.224 contains; t=4: S=0 undefined.
    # lower = 1, upper = the event time after t=3 -> 4.
    assert compute_km_median_ci(compute_km([1, 2, 3, 4], [1, 1, 1, 1])) == (1.0, 4.0)


def test_median_ci_upper_ne_when_last_event_interval_contains_half():
    km = compute_km([1, 2, 3, 4, 5, 6], [1, 1, 0, 0, 0, 0])  # S = 5/6, 4/6 then flat
    lo, up = compute_km_median_ci(km)
    assert lo == 1.0 and up is None
    assert compute_km_median(km) is None


def test_median_ci_none_without_events_or_containing_interval():
    assert compute_km_median_ci(compute_km([1, 2], [0, 0])) == (None, None)
    # censor at 1, death at 5 of the last subject: S 1 -> 0, no interval contains 0.5.
    # lifelines reports (5, 5) here from its [0, 0] band; SAS / statsmodels / spec: NE.
    assert compute_km_median_ci(compute_km([1, 5], [0, 1])) == (None, None)
    assert compute_km_median(compute_km([1, 5], [0, 1])) == 5.0


@pytest.mark.parametrize("seed", range(60))
def test_median_ci_equals_statsmodels_cloglog_random_tied(seed):
    from statsmodels.duration.survfunc import SurvfuncRight

    t, e = random_tied(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SurvfuncRight(t, e).quantile_ci(0.5, method="cloglog") if e.any() else (np.nan, np.nan)
    assert compute_km_median_ci(compute_km(t, e)) == tuple(ne(v) for v in ref)


@pytest.mark.parametrize("seed", range(30))
def test_median_equals_libraries_when_s_never_exactly_half(seed):
    from lifelines import KaplanMeierFitter

    t, e = random_tied(seed)
    km = compute_km(t, e)
    if (km["surv"] == 0.5).any():
        pytest.skip("exact 0.5: covered by the midpoint tests")
    ref = KaplanMeierFitter().fit(t, e).median_survival_time_
    assert compute_km_median(km) == ne(ref)


# ------------------------------------------------------------------------------ Cox, log-rank
def test_cox_matches_r_aml_and_statsmodels_efron():
    import statsmodels.api as sm

    t, e, x = aml()
    hr = compute_cox_hr(t, e, x)
    assert hr.hr == pytest.approx(2.4981, abs=1e-4)
    assert np.log(hr.hr) == pytest.approx(0.9155, abs=1e-4)
    assert hr.p_value == pytest.approx(0.0737, abs=1e-4)
    se = 0.5119
    assert hr.hr_lcl == pytest.approx(np.exp(0.9155 - 1.959964 * se), rel=1e-3)
    assert hr.hr_ucl == pytest.approx(np.exp(0.9155 + 1.959964 * se), rel=1e-3)
    ref = sm.PHReg(t, x[:, None], status=e, ties="efron").fit()
    assert np.log(hr.hr) == pytest.approx(ref.params[0], rel=1e-5)
    assert hr.p_value == pytest.approx(ref.pvalues[0], rel=1e-5)


@pytest.mark.parametrize("seed", range(5))
def test_cox_equals_statsmodels_efron_random_tied(seed):
    import statsmodels.api as sm

    rng = np.random.default_rng(100 + seed)
    n = 80
    x = rng.integers(0, 2, n)
    t = np.round(rng.exponential(10 / np.where(x == 1, 1.5, 1.0)))  # heavy ties
    e = (rng.random(n) < 0.7).astype(int)
    hr = compute_cox_hr(t, e, x)
    ref = sm.PHReg(t, x[:, None].astype(float), status=e, ties="efron").fit()
    assert np.log(hr.hr) == pytest.approx(ref.params[0], rel=1e-5)
    lcl, ucl = np.exp(ref.conf_int()[0])
    assert (hr.hr_lcl, hr.hr_ucl) == (pytest.approx(lcl, rel=1e-5), pytest.approx(ucl, rel=1e-5))
    assert hr.p_value == pytest.approx(ref.pvalues[0], rel=1e-4)


@pytest.mark.parametrize(
    "t,e,x",
    [
        ([1, 2, 3], [1, 0, 1], [0, 0, 0]),  # empty comparison group
        ([1, 2, 3, 4], [0, 0, 0, 0], [0, 1, 0, 1]),  # no events
        ([1, 2, 3, 4], [1, 0, 1, 0], [1, 0, 1, 0]),  # all events in one group
        ([1, 2, 3, 4], [1, 1, 1, 1], [0, 0, 1, 1]),  # separation: MLE -inf despite events in both
        ([], [], []),
    ],
)
def test_cox_degenerate_returns_none(t, e, x):
    assert tuple(compute_cox_hr(t, e, x)) == (None, None, None, None)


def test_logrank_matches_r_aml_and_survdiff():
    from statsmodels.duration.survfunc import survdiff

    t, e, x = aml()
    p = compute_logrank_p(t, e, x)
    assert p == pytest.approx(0.0653, abs=1e-4)
    assert p == pytest.approx(survdiff(t, e, x)[1], rel=1e-10)


def test_logrank_degenerate():
    assert compute_logrank_p([1, 2], [1, 1], [0, 0]) is None  # one group only
    assert compute_logrank_p([1, 2], [0, 0], [0, 1]) is None  # no events
    assert compute_logrank_p([], [], []) is None
    with pytest.raises(ValueError):
        compute_logrank_p([1, 2, 3], [1, 1, 1], [0, 1, 2])


# ------------------------------------------------------------------------------ proportions
@pytest.mark.parametrize("k,n", [(0, 10), (1, 10), (5, 10), (10, 10), (60, 165), (88, 367), (0, 1), (1, 1)])
def test_clopper_pearson_equals_scipy_exact(k, n):
    from scipy.stats import binomtest

    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, up = compute_proportion_ci(k, n)
    assert lo == pytest.approx(100 * ref.low, abs=1e-9)
    assert up == pytest.approx(100 * ref.high, abs=1e-9)


def test_clopper_pearson_edges_and_published():
    assert compute_proportion_ci(0, 0) == (None, None)
    assert compute_proportion_ci(0, 10)[0] == 0.0
    assert compute_proportion_ci(10, 10)[1] == 100.0
    # publication Table 3: HSCT 60/165 [29-44], 88/367 [20-29], 4/165 [1-6], 42/165 [19-33]
    for (k, n), (lo, up) in {(60, 165): (29, 44), (88, 367): (20, 29), (4, 165): (1, 6), (42, 165): (19, 33)}.items():
        ci = compute_proportion_ci(k, n)
        assert (round(ci[0]), round(ci[1])) == (lo, up)
    with pytest.raises(ValueError):
        compute_proportion_ci(3, 2)


def test_odds_ratio_published_and_by_hand():
    # later 150/367 in remission vs first 89/165: OR = (150/217)/(89/76) = 0.59 (0.41-0.85), p=0.005
    r = compute_odds_ratio(150, 217, 89, 76)
    assert r.odds_ratio == pytest.approx(150 * 76 / (217 * 89), rel=1e-12)
    assert (round(r.odds_ratio, 2), round(r.lcl, 2), round(r.ucl, 2), round(r.p_value, 3)) == (0.59, 0.41, 0.85, 0.005)
    se = np.sqrt(1 / 150 + 1 / 217 + 1 / 89 + 1 / 76)
    assert r.lcl == pytest.approx(r.odds_ratio * np.exp(-1.959963985 * se), rel=1e-9)


def test_odds_ratio_zero_cell_is_none():
    for cells in [(0, 5, 3, 4), (5, 0, 3, 4), (5, 5, 0, 4), (5, 5, 3, 0)]:
        assert tuple(compute_odds_ratio(*cells)) == (None, None, None, None)


# ------------------------------------------------------------------------------ input checks
def test_require_columns_and_levels():
    import pandas as pd

    df = pd.DataFrame({"A": ["x", "y"]})
    require_columns(df, ["A"], "adsl")
    with pytest.raises(ValueError, match="'B'"):
        require_columns(df, ["A", "B"], "adsl")
    require_levels(df, "A", ["x", "y"], "adsl")
    with pytest.raises(ValueError, match="'y'"):
        require_levels(df, "A", ["x"], "adsl")


def test_median_ci_lifelines_agrees_except_documented_case():
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    def lifelines_ci(t, e):
        ci = KaplanMeierFitter().fit(t, e).confidence_interval_
        return tuple(ne(v) for v in median_survival_times(ci).iloc[0])

    for t, e in [(AML_MAINT_T, AML_MAINT_E), (AML_NON_T, AML_NON_E), *(random_tied(s) for s in range(20))]:
        ours = compute_km_median_ci(compute_km(t, e))
        if ours != (None, None):
            assert lifelines_ci(t, e) == ours
    # S jumps from 1 to 0 at 5: no pointwise interval contains 0.5 -> spec NE; lifelines (5, 5)
    assert lifelines_ci([1, 5], [0, 1]) == (5.0, 5.0)
    assert compute_km_median_ci(compute_km([1, 5], [0, 1])) == (None, None)


# ------------------------------------------------------------------------------ Cox: the exact Efron loop
def _bits(a):
    return np.asarray(a, dtype=float).view(np.int64).tolist()


def _efron_case(rng, n, d, weighted):
    """lifelines' inputs at one Newton step: rows sorted on T (heavy ties), events anywhere within a time."""
    import pandas as pd

    t = np.sort(rng.integers(0, int(rng.integers(1, 40)), n)).astype(float)
    e = rng.random(n) < rng.random()
    x = rng.normal(size=(n, d)) if d > 1 or rng.random() < 0.5 else (rng.random((n, 1)) < 0.5) / 0.49
    w = rng.random(n) + 0.5 if weighted else np.ones(n)
    return pd.DataFrame(x), pd.Series(t), pd.Series(e), pd.Series(w), rng.normal(size=d) * 0.7


@pytest.mark.parametrize("seed", range(4))
def test_efron_values_equal_lifelines_loop_to_the_bit(seed):
    """`efron_values_single` (the vectorised loop) against lifelines' own
    `SemiParametricPHFitter._get_efron_values_single` on the same inputs: Hessian, gradient and log
    likelihood identical bit for bit (no tolerance) — one event per time, tied events, no events,
    times with censorings only, weights, one and two covariates."""
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter

    from repool.tasks.analyse.statistics import efron_values_single

    rng = np.random.default_rng(7000 + seed)
    for trial in range(150):
        n = int(rng.integers(1, 12)) if trial % 4 == 0 else int(rng.integers(12, 600))
        case = _efron_case(rng, n, d=2 if trial % 7 == 0 else 1, weighted=trial % 5 == 0)
        X, T, E, W, beta = case
        ours = efron_values_single(X, T, E, W, beta)
        theirs = SemiParametricPHFitter._get_efron_values_single(None, X, T, E, W, None, beta)
        for a, b in zip(ours, theirs):
            assert np.shape(a) == np.shape(b) and _bits(a) == _bits(b), (trial, a, b)


def test_efron_values_equal_lifelines_loop_with_many_times_of_each_tie_size():
    """Many times with the same number of tied events (2 to 300: within and past numpy's pairwise
    block of 128) reduced together as rows: still lifelines' numbers to the bit."""
    import pandas as pd
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter

    from repool.tasks.analyse.statistics import efron_values_single

    rng = np.random.default_rng(7100)
    sizes = np.concatenate([np.repeat([2, 3, 7, 8, 9, 16, 17, 129, 300], 3), rng.integers(1, 40, 60)])
    rng.shuffle(sizes)
    t = np.repeat(np.arange(len(sizes), dtype=float), sizes)
    n = len(t)
    e = rng.random(n) < 0.8
    for x in (rng.normal(size=(n, 1)), (rng.random((n, 1)) < 0.5) / 0.49):
        X, T, E, W, beta = pd.DataFrame(x), pd.Series(t), pd.Series(e), pd.Series(np.ones(n)), np.array([0.3])
        ours = efron_values_single(X, T, E, W, beta)
        theirs = SemiParametricPHFitter._get_efron_values_single(None, X, T, E, W, None, beta)
        for a, b in zip(ours, theirs):
            assert np.shape(a) == np.shape(b) and _bits(a) == _bits(b)


@pytest.mark.parametrize("strata", [False, True])
def test_cox_fit_equals_lifelines_coxphfitter_to_the_bit(strata):
    """`compute_cox_fit` (lifelines' fitter with the vectorised Efron loop) gives exactly the numbers
    of lifelines `CoxPHFitter` (its row-by-row loop), unstratified and stratified, on tied data."""
    import pandas as pd
    from lifelines import CoxPHFitter

    from repool.tasks.analyse.statistics import compute_cox_fit

    rng = np.random.default_rng(11 if strata else 12)
    n = 3000
    x = rng.integers(0, 2, n)
    s = rng.choice(["A", "B", "C", "D"], n)
    t = np.round(rng.exponential(30 / np.where(x == 1, 1.4, 1.0)))  # times in whole days: ties
    e = (rng.random(n) < 0.75).astype(int)
    ours = compute_cox_fit(t, e, x, s if strata else None, alpha=0.1)
    df = pd.DataFrame({"time": t, "event": e, "x": x.astype(float)})
    if strata:
        df["stratum"] = s
    ref = CoxPHFitter(alpha=0.1, strata=["stratum"] if strata else None).fit(df, "time", "event").summary.loc["x"]
    expected = (ref["coef"], ref["se(coef)"], ref["exp(coef)"], ref["exp(coef) lower 90%"],
                ref["exp(coef) upper 90%"], ref["p"])
    assert _bits(tuple(ours)) == _bits(expected)
