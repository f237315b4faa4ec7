"""Convention profiles (`repool run --conventions sas|r`; statistics.Conventions): under "r" every
table-2 statistic equals R survival, under "sas" (the default) the numbers are today's.

R survival 3.5-3 (R 4.2.2), run once; the suite needs no R. Edge samples, two groups each
(later = 0: first salvage, 1: second or later salvage; SAMPLES below):

    library(survival)
    options(digits = 12, width = 110)
    mk <- function(t1, e1, t2, e2) data.frame(time = c(t1, t2), event = c(e1, e2),
                                              later = rep(0:1, c(length(t1), length(t2))))
    samples <- list(
      plateau_end = mk(c(1, 2, 3, 4, 5, 6), c(1, 1, 1, 0, 0, 0),
                       c(1, 1.5, 2, 2.5, 3, 3.5, 4, 8), c(1, 1, 0, 1, 1, 0, 1, 0)),
      heavy_ties = mk(c(rep(1, 60), rep(2:5, each = 10)), rep(1:0, c(60, 40)),
                      rep(1:4, c(5, 6, 5, 4)), c(1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0)),
      drops_to_zero = mk(1:5, rep(1, 5), c(0.5, 1, 2, 2, 3, 6, 7), c(1, 0, 1, 1, 0, 1, 1)),
      no_events_group = mk(1:8, c(1, 0, 1, 1, 0, 1, 0, 1), c(2, 3, 5, 9), c(0, 0, 0, 0)),
      plateau_inside = mk(1:6, c(1, 1, 1, 0, 1, 0), c(1, 2, 2, 3, 4, 4, 5, 7, 9), c(1, 1, 1, 0, 1, 1, 0, 1, 0)))
    for (name in names(samples)) {
      d <- samples[[name]]
      fit <- survfit(Surv(time, event) ~ later, data = d, conf.type = "log-log")
      q <- quantile(fit, 0.5)
      cat("##", name, "\\n")
      print(cbind(q$quantile, q$lower, q$upper, summary(fit)$table[, c("median", "0.95LCL", "0.95UCL")]))
      cx <- withCallingHandlers(coxph(Surv(time, event) ~ later, data = d, ties = "efron"),
                                warning = function(w) { cat("warning:", conditionMessage(w), "\\n"); invokeRestart("muffleWarning") })
      s <- summary(cx)
      cat("HR", s$conf.int[1, c(1, 3, 4)], "p", s$coefficients[1, 5],
          "logrank p", pchisq(survdiff(Surv(time, event) ~ later, data = d)$chisq, 1, lower.tail = FALSE), "\\n")
    }

    ## plateau_end
             50 50 50 median 0.95LCL 0.95UCL
    later=0 4.5  1 NA      3       1      NA
    later=1 3.0  1 NA      3       1      NA
    HR 1.49129743956 0.353029675484 6.2996631946 p 0.586694365369 logrank p 0.570810420199
    ## heavy_ties
            50 50 50 median 0.95LCL 0.95UCL
    later=0  1  1  1      1       1       1
    later=1  3  2  4      3       2       4
    HR 0.727007110874 0.390350385287 1.35401259787 p 0.314995317371 logrank p 0.796405140205
    ## drops_to_zero
            50  50 50 median 0.95LCL 0.95UCL
    later=0  3 1.0 NA      3     1.0      NA
    later=1  6 0.5 NA      6     0.5      NA
    HR 0.483029490983 0.114543027516 2.03694187433 p 0.321669700749 logrank p 0.271602123785
    ## no_events_group
            50 50 50 median 0.95LCL 0.95UCL
    later=0  6  1 NA      6       1      NA
    later=1 NA NA NA     NA      NA      NA
    warning: Loglik converged before variable  1 ; coefficient may be infinite.
    HR 9.59815347284e-10 0 Inf p 0.99915141177 logrank p 0.102350060061
    ## plateau_inside
            50 50 50 median 0.95LCL 0.95UCL
    later=0  4  1 NA      4       1      NA
    later=1  4  1 NA      4       1      NA
    HR 0.819353520906 0.219902566228 3.05289839831 p 0.766554046736 logrank p 0.720237553741

What the samples show (first three columns: `quantile(fit, 0.5)`, the "r" profile):
- plateau_end, first salvage: S = 0.5 from t = 3 to the last follow-up (6). SAS's rule (and "sas")
  has no later event time: NE. `quantile.survfit` gives (3 + 6) / 2 = 4.5. R is not consistent
  with itself here: `print(fit)` / `summary(fit)$table` (survival:::survmean) print 3. The "r"
  profile follows `quantile.survfit`, the documented quantile function.
- heavy_ties, first salvage: 60 of 100 die at t = 1, S jumps from 1 to 0.4 and the log-log
  interval at t = 1 lies wholly below 0.5; no interval contains 0.5, so Brookmeyer–Crowley's
  confidence set is empty: "sas" NE–NE (statsmodels too); R's bands both cross 0.5 at t = 1: 1–1.
- drops_to_zero: the event time after the last interval containing 0.5 is where S reaches 0;
  "sas" reports it (5 and 7; statsmodels too), R's log-log band is NA at S = 0: upper NA.
- no_events_group: R's coxph warns and reports where it stopped (HR 1e-9, CI 0–Inf); both
  profiles report NE (a group without events; statistics.compute_cox_hr). KM rows agree.
- Cox: Efron ties in both profiles (lifelines), equal to R coxph(ties = "efron") at rel 1e-4, as
  in test_table5_studies: lifelines stops its Newton–Raphson a step earlier than R (heavy_ties:
  coef −0.3188166 vs R −0.3188190, p 0.3149986 vs 0.3149953; lifelines with
  fit_options={"precision": 1e-12} and statsmodels PHReg(ties="efron") give R's −0.3188190).

Forty generated samples (GENERATED below; one group each), "r" against R exactly:

    gen <- function(k) {
      n <- 4 + (k * 7) %% 23
      i <- 1:n
      data.frame(time = (i * i * 31 + k * 17) %% 11 + 1, event = as.integer((i * (k + 2) + k) %% 4 != 0))
    }
    out <- t(sapply(1:40, function(k) {
      q <- quantile(survfit(Surv(time, event) ~ 1, data = gen(k), conf.type = "log-log"), 0.5)
      c(q$quantile, q$lower, q$upper)
    }))
    cat(sprintf("%d: %s %s %s", 1:40, out[, 1], out[, 2], out[, 3]), fill = 80)
    1: 8 5 NA 2: 6 3 7 3: 9 6 9 4: 7 1 NA 5: 7 2 NA 6: 7 4 8 7: 11 2 NA 8: 9 6 NA
    9: 4 3 9 10: 9 4 NA 11: 5 2 10 12: 10 7 11 13: 6 5 11 14: 6 1 9 15: 7 4 8
    16: 9 3 10 17: 8 5 9 18: 4 2 8 19: 9 6 9 20: 7 4 NA 21: 10 6 11 22: 5 2 6
    23: 10 8 NA 24: 7 3 NA 25: 9 2 9 26: 6 4 7 27: 10 1 NA 28: 8 5 NA 29: 8 3 NA
    30: 8 3 NA 31: 5 3 9 32: 10 7 NA 33: 5 2 NA 34: 7.5 1 10 35: 6 3 11 36: 9 6 NA
    37: 7 1 8 38: 3 2 7 39: 7 5 8 40: 8 3 NA

And alpha reaches R's band (conf.int = 0.90):

    d <- data.frame(time = c(rep(1:4, c(5, 6, 5, 4)), 0.5, 1, 2, 2, 3, 6, 7, 9, 11, 12),
                    event = c(1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0))
    for (level in c(0.95, 0.90)) {
      q <- quantile(survfit(Surv(time, event) ~ 1, data = d, conf.type = "log-log", conf.int = level), 0.5)
      cat(level, ":", q$quantile, q$lower, q$upper, "\\n")
    }
    0.95 : 4 2 7
    0.9 : 4 2 6
"""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest

from repool.schemas.pooled import SALVAGE_LEVELS
from repool.settings import CONVENTIONS as SETTINGS_CONVENTIONS
from repool.settings import Settings
from repool.tasks.analyse.statistics import (
    CONVENTIONS,
    Conventions,
    compute_cox_hr,
    compute_km,
    compute_km_median,
    compute_km_median_ci,
    conventions_of,
)
from repool.tasks.analyse.table2_survival import compute_table2
from repool.tasks.analyse.table5_studies import compute_studies

FIRST, LATER = SALVAGE_LEVELS
NA = None


def _mk(t1, e1, t2, e2):
    return (np.array(t1 + t2, dtype=float), np.array(e1 + e2), np.array([0] * len(t1) + [1] * len(t2)))


SAMPLES = {
    "plateau_end": _mk([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 0, 0],
                       [1, 1.5, 2, 2.5, 3, 3.5, 4, 8], [1, 1, 0, 1, 1, 0, 1, 0]),
    "heavy_ties": _mk([1] * 60 + [2] * 10 + [3] * 10 + [4] * 10 + [5] * 10, [1] * 60 + [0] * 40,
                      [1] * 5 + [2] * 6 + [3] * 5 + [4] * 4,
                      [1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0]),
    "drops_to_zero": _mk([1, 2, 3, 4, 5], [1] * 5, [0.5, 1, 2, 2, 3, 6, 7], [1, 0, 1, 1, 0, 1, 1]),
    "no_events_group": _mk([1, 2, 3, 4, 5, 6, 7, 8], [1, 0, 1, 1, 0, 1, 0, 1], [2, 3, 5, 9], [0, 0, 0, 0]),
    "plateau_inside": _mk([1, 2, 3, 4, 5, 6], [1, 1, 1, 0, 1, 0],
                          [1, 2, 2, 3, 4, 4, 5, 7, 9], [1, 1, 1, 0, 1, 1, 0, 1, 0]),
}

# R: quantile(survfit(..., conf.type = "log-log"), 0.5) per group: (median, lower, upper)
R_KM = {
    "plateau_end": {FIRST: (4.5, 1, NA), LATER: (3, 1, NA)},
    "heavy_ties": {FIRST: (1, 1, 1), LATER: (3, 2, 4)},
    "drops_to_zero": {FIRST: (3, 1, NA), LATER: (6, 0.5, NA)},
    "no_events_group": {FIRST: (6, 1, NA), LATER: (NA, NA, NA)},
    "plateau_inside": {FIRST: (4, 1, NA), LATER: (4, 1, NA)},
}
# R: coxph(ties = "efron") HR, lower, upper, Wald p; survdiff p. None: NE (R warns, see the docstring)
R_COX = {
    "plateau_end": ((1.49129743956, 0.353029675484, 6.2996631946, 0.586694365369), 0.570810420199),
    "heavy_ties": ((0.727007110874, 0.390350385287, 1.35401259787, 0.314995317371), 0.796405140205),
    "drops_to_zero": ((0.483029490983, 0.114543027516, 2.03694187433, 0.321669700749), 0.271602123785),
    "no_events_group": ((NA, NA, NA, NA), 0.102350060061),
    "plateau_inside": ((0.819353520906, 0.219902566228, 3.05289839831, 0.766554046736), 0.720237553741),
}
# today's rules ("sas"): where they differ from R's
SAS_KM = {
    "plateau_end": {FIRST: (NA, 1, NA), LATER: (3, 1, NA)},
    "heavy_ties": {FIRST: (1, NA, NA), LATER: (3, 2, 4)},
    "drops_to_zero": {FIRST: (3, 1, 5), LATER: (6, 0.5, 7)},
    "no_events_group": {FIRST: (6, 1, 8), LATER: (NA, NA, NA)},
    "plateau_inside": {FIRST: (4, 1, NA), LATER: (4, 1, NA)},
}

GENERATED = """1: 8 5 NA 2: 6 3 7 3: 9 6 9 4: 7 1 NA 5: 7 2 NA 6: 7 4 8 7: 11 2 NA 8: 9 6 NA
9: 4 3 9 10: 9 4 NA 11: 5 2 10 12: 10 7 11 13: 6 5 11 14: 6 1 9 15: 7 4 8
16: 9 3 10 17: 8 5 9 18: 4 2 8 19: 9 6 9 20: 7 4 NA 21: 10 6 11 22: 5 2 6
23: 10 8 NA 24: 7 3 NA 25: 9 2 9 26: 6 4 7 27: 10 1 NA 28: 8 5 NA 29: 8 3 NA
30: 8 3 NA 31: 5 3 9 32: 10 7 NA 33: 5 2 NA 34: 7.5 1 10 35: 6 3 11 36: 9 6 NA
37: 7 1 8 38: 3 2 7 39: 7 5 8 40: 8 3 NA"""


def _generated() -> dict[int, tuple]:
    tokens = GENERATED.split()
    out = {}
    for i in range(0, len(tokens), 4):
        k = int(tokens[i].rstrip(":"))
        out[k] = tuple(None if v == "NA" else float(v) for v in tokens[i + 1:i + 4])
    return out


def _gen(k: int):
    n = 4 + (k * 7) % 23
    i = np.arange(1, n + 1)
    return (i * i * 31 + k * 17) % 11 + 1, ((i * (k + 2) + k) % 4 != 0).astype(int)


def _frames(name: str):
    """ADSL + ADTTE (OS only) of a sample; PRHSCT all 'N'."""
    t, e, x = SAMPLES[name]
    ids = [f"S-{i:03d}" for i in range(len(t))]
    adsl = pd.DataFrame({"USUBJID": ids, "SALVGRP": [LATER if v else FIRST for v in x], "PRHSCT": "N",
                         "STUDYID": "STUDY-A"})
    adtte = pd.DataFrame({"USUBJID": ids, "PARAMCD": "OS", "AVAL": t, "CNSR": 1 - e})
    return adsl, adtte


def _stats(ard: pd.DataFrame, group: str, names=("median", "median_lcl", "median_ucl"), variable="OS",
           group2_level=None) -> tuple:
    rows = ard[(ard["variable"] == variable) & (ard["group1_level"] == group)]
    rows = rows[rows["group2_level"].isna()] if group2_level is None else rows[rows["group2_level"] == group2_level]
    got = rows.set_index("stat_name")["stat"]
    return tuple(None if pd.isna(got[n]) else float(got[n]) for n in names)


def _equal(got, expected, rel=0.0):
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        if e is None:
            assert g is None, (got, expected)
        else:
            assert g == pytest.approx(e, rel=rel, abs=0 if rel == 0 else 1e-12), (got, expected)


# ------------------------------------------------------------------ the "r" profile equals R survival
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_r_profile_table2_equals_r_survival(name):
    adsl, adtte = _frames(name)
    ard = compute_table2(adsl, adtte, conventions="r")
    t, e, x = SAMPLES[name]
    for g, group in enumerate((FIRST, LATER)):
        _equal(_stats(ard, group, ("n", "events")), (float((x == g).sum()), float(e[x == g].sum())))
        _equal(_stats(ard, group), R_KM[name][group])
        _equal(_stats(ard, group, group2_level="N"), R_KM[name][group])  # every patient has PRHSCT N
    (hr, p_logrank) = R_COX[name]
    _equal(_stats(ard, LATER, ("hr", "hr_lcl", "hr_ucl", "p_value")), hr, rel=1e-4)
    _equal(_stats(ard, LATER, ("p_logrank",)), (p_logrank,), rel=1e-9)


def test_r_profile_equals_r_on_forty_generated_samples():
    expected = _generated()
    assert len(expected) == 40
    for k, r in expected.items():
        km = compute_km(*_gen(k))
        got = (compute_km_median(km, "r"), *compute_km_median_ci(km, conventions="r"))
        assert got == r, k


def test_r_profile_follows_alpha_like_r():
    t = [1] * 5 + [2] * 6 + [3] * 5 + [4] * 4 + [0.5, 1, 2, 2, 3, 6, 7, 9, 11, 12]
    e = [1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
    km = compute_km(t, e)
    assert compute_km_median(km, "r") == 4
    assert compute_km_median_ci(km, 0.05, "r") == (2, 7)
    assert compute_km_median_ci(km, 0.10, "r") == (2, 6)


# ------------------------------------------------------------------ the "sas" profile keeps today's numbers
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sas_profile_is_the_default_and_todays_rule(name):
    adsl, adtte = _frames(name)
    default, sas = compute_table2(adsl, adtte), compute_table2(adsl, adtte, conventions="sas")
    pd.testing.assert_frame_equal(default, sas)
    for group in (FIRST, LATER):
        _equal(_stats(sas, group), SAS_KM[name][group])
    # Cox: Efron in both profiles, the same numbers
    r = compute_table2(adsl, adtte, conventions="r")
    names = ("hr", "hr_lcl", "hr_ucl", "p_value", "p_logrank")
    assert _stats(sas, LATER, names) == _stats(r, LATER, names)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sas_profile_ci_equals_statsmodels_cloglog(name):
    """statsmodels SurvfuncRight.quantile_ci(0.5, method="cloglog") implements the SAS rule
    (nan/inf = NE); its median is not the midpoint rule, so only the CI is compared."""
    from statsmodels.duration.survfunc import SurvfuncRight

    t, e, x = SAMPLES[name]
    for g, group in enumerate((FIRST, LATER)):
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            lo, hi = SurvfuncRight(t[x == g], e[x == g]).quantile_ci(0.5, method="cloglog")
        ref = tuple(None if not np.isfinite(v) else float(v) for v in (lo, hi))
        assert compute_km_median_ci(compute_km(t[x == g], e[x == g])) == ref == SAS_KM[name][group][1:]


def test_the_profiles_differ_only_in_the_documented_corner_cases():
    """On 1,000 small random tied samples the two profiles agree except: the median where S stays
    exactly 0.5 to the last follow-up (sas NE, r the midpoint with the last time), and the upper
    limit where S drops to 0 (sas that event time, r NE)."""
    seen = set()
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(2, 40))
        t = np.round(rng.exponential(10, n))
        e = (rng.random(n) < rng.random()).astype(int)
        km = compute_km(t, e)
        sas = (compute_km_median(km, "sas"), *compute_km_median_ci(km, conventions="sas"))
        r = (compute_km_median(km, "r"), *compute_km_median_ci(km, conventions="r"))
        assert sas[1] == r[1], seed
        ev = km[km["n_event"] > 0]
        if sas[0] != r[0]:
            last = ev.iloc[-1]
            j = ev.index[np.isclose(ev["surv"], 0.5)][0]
            assert sas[0] is None and abs(last["surv"] - 0.5) < 1e-12, seed
            assert r[0] == (km.loc[j, "time"] + km["time"].iloc[-1]) / 2, seed
            seen.add("median")
        if sas[2] != r[2]:
            assert r[2] is None and sas[2] == ev.loc[ev["surv"] == 0, "time"].iloc[0], seed
            seen.add("upper")
    assert seen == {"median", "upper"}


# ------------------------------------------------------------------ the profile object and its plumbing
def test_conventions_by_name():
    assert tuple(CONVENTIONS) == SETTINGS_CONVENTIONS == ("sas", "r")
    assert conventions_of(None) is conventions_of("sas") is conventions_of("SAS") is CONVENTIONS["sas"]
    assert conventions_of(CONVENTIONS["r"]) is CONVENTIONS["r"]
    assert {c.cox_ties for c in CONVENTIONS.values()} == {"efron"}  # SAS users: PHREG TIES=EFRON
    assert isinstance(conventions_of("r"), Conventions) and conventions_of("r").km_quantile == "r"
    with pytest.raises(ValueError, match="unknown conventions"):
        conventions_of("stata")
    with pytest.raises(ValueError, match="ties"):
        compute_cox_hr([1, 2], [1, 1], [0, 1], ties="breslow")


def test_settings_field_env_and_version_parameters():
    assert Settings().conventions == "sas"
    assert Settings().analysis_parameters()["conventions"] == "sas"
    r = Settings.from_env({"REPOOL_CONVENTIONS": "R"})
    assert r.conventions == "r" and r.analysis_parameters()["conventions"] == "r"
    assert Settings().with_overrides(conventions=None).conventions == "sas"
    assert Settings().with_overrides(conventions="r").conventions == "r"
    with pytest.raises(ValueError, match="conventions"):
        Settings(conventions="spss")


def test_cli_flag_and_flow_parameter():
    from repool.cli import _build_parser
    from repool.flows.repool_flow import repool

    parser = _build_parser()
    assert parser.parse_args(["run"]).conventions is None
    assert parser.parse_args(["run", "--conventions", "r"]).conventions == "r"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--conventions", "stata"])
    assert inspect.signature(repool.fn).parameters["conventions"].default is None


def test_analyse_table_passes_the_profile_to_table2_and_table5():
    from repool.tasks.analyse import analyse_table

    adsl, adtte = _frames("plateau_end")
    frames = {"adsl": adsl, "adtte": adtte, "adrs": pd.DataFrame(columns=["USUBJID", "PARAMCD", "AVALC"])}
    t2_sas, t2_r = (analyse_table.fn("table2", frames, 0.05, c) for c in ("sas", "r"))
    assert _stats(t2_sas, FIRST)[0] is None and _stats(t2_r, FIRST)[0] == 4.5
    pd.testing.assert_frame_equal(analyse_table.fn("table2", frames, 0.05), t2_sas)  # default: sas
    s_sas, s_r = (analyse_table.fn("studies", frames, 0.05, c) for c in ("sas", "r"))
    pd.testing.assert_frame_equal(s_sas, compute_studies(adsl, adtte, frames["adrs"]))

    def median(ard):
        row = ard[(ard["variable"] == "OS") & (ard["stat_name"] == "median") & (ard["group2_level"] == FIRST)]
        return row["stat"].item()

    assert pd.isna(median(s_sas)) and median(s_r) == 4.5
