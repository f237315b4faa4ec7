"""Statistical methods of the analysis tables (results.md "Methods").

Pure functions on arrays / DataFrames; each returns one thing and is named by it. "Not estimable"
(NE) is ``None`` everywhere, never NaN or inf, so that `repool.tasks.analyse.ard.ard_row` stores NULL.

Convention profiles
    `Conventions`, `conventions_of(name)`: "sas" (the default) or "r" — whose rules the corner
    cases of the KM median and its CI follow, and the Cox tie method (results.md "Conventions").
Kaplan–Meier
    `compute_km` -> KM table; `compute_km_median` (SAS/R midpoint rule);
    `compute_km_median_ci` (Brookmeyer–Crowley, log-log, SAS PROC LIFETEST default);
    both with `conventions="r"`: R survival's `quantile.survfit` on the log-log band;
    `compute_km_pointwise_ci` (log-log pointwise band, for the figures).
Comparisons
    `compute_cox_hr` (Cox PH, Efron ties in both profiles, Wald CI and p), `compute_logrank_p`;
    `compute_cox_fit` (the same model, optionally stratified, with log HR and its SE).
Proportions
    `compute_proportion_ci` (Clopper–Pearson, percent), `compute_odds_ratio` (2x2, Wald),
    `compute_log_odds_ratio` (its log and SE).
Meta-analysis
    `compute_meta_analysis` (inverse-variance fixed effect and DerSimonian–Laird random effects,
    statsmodels `combine_effects`, with tau² truncated at 0 as metafor does).
Input checks shared by the tables
    `require_columns`, `require_levels`, `check_adsl`.

Where lifelines / statsmodels disagree with results.md, results.md wins; each function's
docstring says where and why.
"""
from __future__ import annotations

import math
import threading
import warnings
from fractions import Fraction
from typing import Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd

from repool.lazy import import_once

# scipy (about 1 s to import) is imported inside the functions that use it: a run that analyses
# nothing (an unchanged re-run) never pays for it.

KM_COLUMNS = ["time", "n_risk", "n_event", "n_censor", "surv", "greenwood", "var_surv"]
_HALF_TOL = 1e-9  # float S within this of 0.5 is re-checked exactly with Fractions


# --------------------------------------------------------------------------- conventions
class Conventions(NamedTuple):
    """A convention profile: whose rules the statistics follow where SAS and R differ.

    `km_quantile`: "sas" — the KM median by the midpoint rule with NE when S stays exactly 0.5 to
    the end, its CI by Brookmeyer–Crowley's "interval contains 0.5" rule (PROC LIFETEST);
    "r" — R survival's `quantile.survfit` (`findq`) applied to the curve and to its log-log
    band (`survfit(..., conf.type = "log-log")`). `cox_ties`: "efron" in both profiles (R
    `coxph`'s default; SAS PHREG's default is Breslow, so SAS users reproduce the numbers with
    `TIES=EFRON`). The rounding of displayed halves is the renderer's (tasks/render/display.py),
    by the same profile name.
    """
    name: str
    km_quantile: str
    cox_ties: str


CONVENTIONS = {
    "sas": Conventions("sas", km_quantile="sas", cox_ties="efron"),
    "r": Conventions("r", km_quantile="r", cox_ties="efron"),
}
DEFAULT_CONVENTIONS = "sas"


def conventions_of(conventions: "str | Conventions | None") -> Conventions:
    """The profile named `conventions` ("sas", "r"; None: the default); a `Conventions` as is."""
    if isinstance(conventions, Conventions):
        return conventions
    name = DEFAULT_CONVENTIONS if conventions is None else str(conventions).lower()
    if name not in CONVENTIONS:
        raise ValueError(f"unknown conventions {conventions!r}; expected one of {sorted(CONVENTIONS)}")
    return CONVENTIONS[name]


# --------------------------------------------------------------------------- input checks
def require_columns(df: pd.DataFrame, columns: Iterable[str], frame: str) -> None:
    """Raise ValueError naming the first required column missing from `frame`."""
    for c in columns:
        if c not in df.columns:
            raise ValueError(f"{frame}: required column {c!r} is missing")


def require_levels(df: pd.DataFrame, column: str, levels: Sequence[str], frame: str) -> None:
    """Raise ValueError if `column` holds a value outside `levels` (no silent drop of rows)."""
    bad = sorted(set(df[column].dropna().astype(str)) - set(levels))
    if bad or df[column].isna().any():
        shown = bad + (["<null>"] if df[column].isna().any() else [])
        raise ValueError(f"{frame}: column {column!r} has values outside {list(levels)}: {shown}")


# --------------------------------------------------------------------------- Kaplan–Meier
def _as_time_event(time, event) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError("time and event must be 1-d and of equal length")
    if t.size and (not np.all(np.isfinite(t)) or (t < 0).any()):
        raise ValueError("time must be finite and >= 0")
    if e.size and not np.isin(e, [0, 1]).all():
        raise ValueError("event must be 0 (censored) or 1 (event)")
    return t, e.astype(int)


def compute_km(time, event) -> pd.DataFrame:
    """Kaplan–Meier table, one row per distinct time (events and censorings), sorted.

    Columns: `time`, `n_risk` (at risk just before `time`), `n_event`, `n_censor`, `surv`
    (S(t) just after `time`), `greenwood` (cumulative Greenwood sum  Σ d/(n(n−d)), +inf once
    S reaches 0) and `var_surv` = S² · greenwood (Greenwood variance of S; 0 when S is 0).
    Censorings at an event time are at risk at that time (the usual convention).
    """
    t, e = _as_time_event(time, event)
    if t.size == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in KM_COLUMNS})
    df = pd.DataFrame({"time": t, "event": e})
    g = df.groupby("time", sort=True)["event"].agg(n_event="sum", n_total="size")
    times = g.index.to_numpy(dtype=float)
    n_event = g["n_event"].to_numpy(dtype=int)
    n_total = g["n_total"].to_numpy(dtype=int)
    n_censor = n_total - n_event
    n_risk = n_total[::-1].cumsum()[::-1]
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    term = np.where((n_event > 0) & (n_event == n_risk), np.inf, term)
    greenwood = np.cumsum(term)
    with np.errstate(invalid="ignore"):
        var_surv = np.where(surv > 0, surv**2 * greenwood, 0.0)
    return pd.DataFrame({
        "time": times, "n_risk": n_risk, "n_event": n_event, "n_censor": n_censor,
        "surv": surv, "greenwood": greenwood, "var_surv": var_surv,
    })


def _exact_surv(km: pd.DataFrame, upto: int) -> Fraction:
    """S(t) at row `upto` as an exact rational Π (n−d)/n, reduced at each step (a product of
    all terms reduced once at the end is far slower: 150 s instead of 1.5 s for 10^6 times).
    Only called where the float S is within 1e-9 of 0.5, i.e. practically where S is 0.5."""
    s = Fraction(1)
    for n, d in zip(km["n_risk"].iloc[: upto + 1].tolist(), km["n_event"].iloc[: upto + 1].tolist()):
        if d:
            s *= Fraction(int(n) - int(d), int(n))
    return s


def compute_km_median(km: pd.DataFrame, conventions: "str | Conventions | None" = None) -> float | None:
    """Median survival time: the smallest time with S(t) < 0.5, with the SAS/R midpoint rule.

    `conventions` "r": R survival's `quantile.survfit` instead (`_r_km_quantiles`); it differs
    from the rule below only where S stays 0.5 (within 1.5e-8) to the last follow-up time
    (see below) or lies within 1.5e-8 of 0.5 without being exactly 0.5.

    If S(t) is exactly 0.5 on [t_j, t_k), t_k the next event time (the next drop of S), the
    median is (t_j + t_k) / 2. "Exactly" is decided on the exact rational product Π (n−d)/n
    (`fractions.Fraction`), evaluated only where the float S is within 1e-9 of 0.5; a float
    tolerance alone could mistake 0.5 ± 1e-13 for 0.5 or miss an exact 0.5 that rounds.

    Not reached (S never < 0.5, including no events) -> None (NE).

    Flat at exactly 0.5 up to the end of follow-up (no later event time): None (NE). This is
    the spec's rule taken literally — no time with S(t) < 0.5 exists and the flat's end is
    unknown. SAS's definition needs t_{j+1}, which does not exist. R differs here (the "r"
    profile): `quantile.survfit` (survival:::findq) returns (t_j + last follow-up time) / 2, a
    value that depends on the last censoring time, while R's own `print(fit)` /
    `summary(fit)$table` (survival:::survmean) print t_j. Only this corner case is affected.

    lifelines (`median_survival_time_`) takes the first time with S <= 0.5 (t_j, no midpoint);
    statsmodels `SurvfuncRight.quantile(0.5)` the first with S < 0.5 (t_k, no midpoint).
    Both agree with this function whenever S is never exactly 0.5.
    """
    if conventions_of(conventions).km_quantile == "r":
        return _r_km_quantiles(km)[0]
    ev = km[km["n_event"] > 0]
    if ev.empty:
        return None
    surv = ev["surv"].to_numpy()
    times = ev["time"].to_numpy()
    below = np.flatnonzero(surv < 0.5 - _HALF_TOL)
    near = np.flatnonzero(np.abs(surv - 0.5) <= _HALF_TOL)
    # S is non-increasing, so every candidate near 0.5 precedes every clear "below" time.
    for j in near:  # candidates, checked exactly, in time order
        s = _exact_surv(km, km.index.get_loc(ev.index[j]))
        if s == Fraction(1, 2):
            return (float(times[j]) + float(times[j + 1])) / 2 if j + 1 < len(times) else None
        if s < Fraction(1, 2):
            return float(times[j])
    return float(times[below[0]]) if below.size else None


def _loglog_se(surv: np.ndarray, greenwood: np.ndarray) -> np.ndarray:
    """SE of log(−log S) = sqrt(greenwood) / |log S|; NaN where undefined (S = 0 or 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(greenwood) / np.abs(np.log(surv))
    return np.where((surv > 0) & (surv < 1) & np.isfinite(greenwood), se, np.nan)


def compute_km_pointwise_ci(km: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Pointwise log-log (complementary log-log) confidence band of S at each KM row.

    S^exp(±z·se), se = sqrt(greenwood)/|log S| (as SAS CONFTYPE=LOGLOG, lifelines, statsmodels
    "cloglog"). Returns columns `surv_lcl`, `surv_ucl` aligned with `km`. Where S = 1 (no event
    yet) the band is [1, 1] (zero variance); where S = 0 it is NaN (undefined on this scale).
    """
    stats = _scipy_stats()
    z = stats.norm.ppf(1 - alpha / 2)
    surv = km["surv"].to_numpy(dtype=float)
    se = _loglog_se(surv, km["greenwood"].to_numpy(dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        lcl = surv ** np.exp(z * se)
        ucl = surv ** np.exp(-z * se)
    lcl = np.where(surv == 1, 1.0, lcl)
    ucl = np.where(surv == 1, 1.0, ucl)
    return pd.DataFrame({"surv_lcl": lcl, "surv_ucl": ucl}, index=km.index)


def compute_km_median_ci(km: pd.DataFrame, alpha: float = 0.05,
                         conventions: "str | Conventions | None" = None) -> tuple[float | None, float | None]:
    """Brookmeyer–Crowley CI of the median on the log-log scale (SAS PROC LIFETEST default).

    `conventions` "r": R survival's `quantile.survfit` on the log-log band instead
    (`_r_km_quantiles`): lower = the median of the lower band, upper = that of the upper band.
    The two rules differ where (a) S drops to 0 at the event time after the last one whose
    interval contains 0.5: SAS (and "sas") report that time as the upper limit, R's band is NA
    at S = 0, so R's upper limit is NA; (b) no interval contains 0.5 because S jumps across 0.5
    in one (tied) step with a narrow band: "sas" gives (None, None), R the crossing time t for
    both limits (t–t); (c) the log-log band is not monotone or touches 0.5 (within 1.5e-8).

    At each event time t_j with 0 < S(t_j) < 1 the pointwise log-log interval contains 0.5 iff
    |log(−log S(t_j)) − log(−log 0.5)| <= z · sqrt(greenwood_j) / |log S(t_j)|.
    lower = the first event time whose interval contains 0.5; upper = the event time after the
    last one whose interval contains 0.5, None (NE) when there is none; (None, None) when no
    interval contains 0.5 (e.g. no events). Only event times count: the band is constant
    between them (censorings do not move it), tied times are one row of the KM table, and at
    S = 1 or S = 0 the interval is undefined and never "contains" 0.5 (S = 0 can still be
    the upper limit, as the event time after the last containing one).

    statsmodels `SurvfuncRight(...).quantile_ci(0.5, method="cloglog")` implements exactly this
    rule (it cites the SAS documentation) and returns inf for NE; tests check equality.
    lifelines `median_survival_times(kmf.confidence_interval_)` takes the first time each
    band is <= 0.5 (a `searchsorted` over the band, which assumes a monotone band). In 5,400
    random small tied/censored samples it agreed with this rule except when no interval
    contains 0.5 — S jumps from above 0.5 straight to 0 (the last subject at risk dies; e.g.
    times [1+, 5]): lifelines then reports (5, 5) from its [0, 0] band at S = 0, SAS's
    confidence set is empty and this function (like statsmodels) gives (None, None). It could
    also differ where the log-log upper band is not monotone (it can rise as the variance
    grows) or touches 0.5 exactly. The spec is SAS's rule, so this function follows it.
    """
    if conventions_of(conventions).km_quantile == "r":
        return _r_km_quantiles(km, alpha)[1:]
    ev = km[km["n_event"] > 0]
    if ev.empty:
        return None, None
    stats = _scipy_stats()
    z = stats.norm.ppf(1 - alpha / 2)
    surv = ev["surv"].to_numpy(dtype=float)
    se = _loglog_se(surv, ev["greenwood"].to_numpy(dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log(-np.log(surv))
    contains = np.isfinite(se) & (np.abs(g - math.log(-math.log(0.5))) <= z * se)
    idx = np.flatnonzero(contains)
    if idx.size == 0:
        return None, None
    times = ev["time"].to_numpy(dtype=float)
    lower = float(times[idx[0]])
    upper = float(times[idx[-1] + 1]) if idx[-1] + 1 < len(times) else None
    return lower, upper


# R survival 3.5: quantile.survfit -> doquant -> findq, with survfit_confint(conf.type = "log-log")
_R_TOL = math.sqrt(np.finfo(float).eps)  # quantile.survfit's default tolerance


def _r_loglog_band(km: pd.DataFrame, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """survival:::survfit_confint(conf.type = "log-log") at each KM row: NaN where S is 0 or 1
    (R's NA; our figure band is [1, 1] at S = 1 instead). std.err = sqrt(Greenwood sum)."""
    stats = _scipy_stats()
    z = stats.norm.ppf(1 - alpha / 2)
    surv = km["surv"].to_numpy(dtype=float)
    se = np.sqrt(km["greenwood"].to_numpy(dtype=float))
    xx = np.where((surv == 0) | (surv == 1), np.nan, surv)
    with np.errstate(divide="ignore", invalid="ignore"):
        se2 = z * se / np.log(xx)
        lower = np.exp(-np.exp(np.log(-np.log(xx)) - se2))
        upper = np.exp(-np.exp(np.log(-np.log(xx)) + se2))
    return lower, upper


def _r_approx_constant_right(xs: np.ndarray, ids: np.ndarray, v: float) -> float:
    """R `approx(xs, ids, v, method = "constant", f = 1)` (rule = 1, na.rm = TRUE): drop the NA
    pairs, sort by xs, then the id of the smallest xs >= v; NaN when v lies outside [min, max]."""
    ok = ~np.isnan(xs)
    xs, ids = xs[ok], ids[ok]
    if xs.size == 0:
        return math.nan
    order = np.argsort(xs, kind="stable")
    xs, ids = xs[order], ids[order]
    if v < xs[0] or v > xs[-1]:
        return math.nan
    return float(ids[int(np.searchsorted(xs, v, side="left"))])


def _r_findq(x: np.ndarray, y: np.ndarray, p: float = 0.5, tol: float = _R_TOL) -> float | None:
    """survival:::findq(x, y, p, tol) for one p, line by line; y = 1 - curve (may hold NaN).

    The first time with y >= p, or the midpoint of the flat where y is within `tol` of p, or
    (t_j + the last time) / 2 when that flat runs to the end; NA (None) when y never reaches p.
    """
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return None
    xmax = float(x[-1])
    keep = ~pd.Series(y).duplicated(keep="first").to_numpy()  # R duplicated(y): NA equals NA
    x, y = x[keep], y[keep]  # so no two y (hence no two y ± tol) are equal: approx's `ties` never apply
    n = len(y)
    ids = np.arange(1, n + 1, dtype=float)
    i1 = _r_approx_constant_right(y + tol, ids, p)
    i2 = _r_approx_constant_right(y - tol, ids, p)
    xq = lambda i: math.nan if math.isnan(i) else float(x[int(i) - 1])  # noqa: E731
    quant = (xq(i1) + xq(i2)) / 2
    if p == 0:
        quant = float(x[0])
    if not math.isnan(y[-1]) and abs(p - y[-1]) < tol:
        quant = (xq(i1) + xmax) / 2
    return _finite_or_none(quant)


def _r_km_quantiles(km: pd.DataFrame, alpha: float = 0.05) -> tuple[float | None, float | None, float | None]:
    """(median, lower, upper) as R's `quantile(survfit(..., conf.type = "log-log"), 0.5)`:
    `findq` on c(0, times) against c(0, 1 - S), c(0, 1 - lower band), c(0, 1 - upper band),
    every KM row (censoring times too: the last one is R's `xmax`)."""
    if km.empty:
        return None, None, None
    x = np.concatenate([[0.0], km["time"].to_numpy(dtype=float)])
    lower, upper = _r_loglog_band(km, alpha)
    curves = (km["surv"].to_numpy(dtype=float), lower, upper)
    median, lcl, ucl = (_r_findq(x, np.concatenate([[0.0], 1 - c])) for c in curves)
    return median, lcl, ucl


# --------------------------------------------------------------------------- comparisons
class HazardRatio(NamedTuple):
    hr: float | None
    hr_lcl: float | None
    hr_ucl: float | None
    p_value: float | None


# lifelines' warnings that the Newton-Raphson estimate is not a proper MLE (separation)
_NO_CONVERGENCE = ("failed to converge", "norm(delta) is still high")


def _finite_or_none(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _require_efron(ties: str) -> None:
    if ties != "efron":  # lifelines implements Efron only; both profiles use it (`Conventions`)
        raise ValueError(f"Cox ties {ties!r} not implemented; only 'efron'")


def compute_cox_hr(time, event, x, alpha: float = 0.05, ties: str = "efron") -> HazardRatio:
    """Cox PH hazard ratio of x = 1 vs x = 0 (one binary covariate), Efron ties, Wald CI and p.

    lifelines `CoxPHFitter` (Efron is its only tie method; statsmodels PHReg ties="efron" gives
    the same numbers, checked in the tests). Degenerate data return all None instead of an
    infinite/unstable estimate: an empty group, no events, all events in one group (the
    partial likelihood is monotone in beta, the MLE is ±inf), a fit that fails, does not
    converge (lifelines warns) or has a non-finite estimate or limit (e.g. separation: every
    event of one group happens while no subject of the other group is at risk). R `coxph`
    instead warns ("coefficient may be infinite") and reports the estimate where it stopped
    (e.g. HR 1e-9, CI 0–Inf); both profiles keep NE here.
    """
    fit = compute_cox_fit(time, event, x, None, alpha=alpha, ties=ties)
    return HazardRatio(fit.hr, fit.hr_lcl, fit.hr_ucl, fit.p_value)


def compute_logrank_p(time, event, group) -> float | None:
    """Two-sample log-rank p-value (lifelines `logrank_test`; = statsmodels `survdiff`).

    `group` has two distinct values; fewer (an empty group) or no events at all -> None.
    """
    t, e = _as_time_event(time, event)
    gv = np.asarray(group)
    levels = pd.unique(gv)
    if len(levels) > 2:
        raise ValueError(f"log-rank test needs two groups, got {list(levels)}")
    if len(levels) < 2 or e.sum() == 0:
        return None
    import_dependencies()
    from lifelines.statistics import logrank_test

    a, b = gv == levels[0], gv == levels[1]
    res = logrank_test(t[a], t[b], event_observed_A=e[a], event_observed_B=e[b])
    return _finite_or_none(res.p_value)


class CoxFit(NamedTuple):
    log_hr: float | None
    se: float | None
    hr: float | None
    hr_lcl: float | None
    hr_ucl: float | None
    p_value: float | None


_NO_COX_FIT = CoxFit(None, None, None, None, None, None)
_COX_LOCK = threading.Lock()


def _scipy_stats():
    """scipy.stats, imported under repool.lazy's lock (a caller in a thread may be the first)."""
    return import_once("scipy.stats")


def import_dependencies() -> None:
    """scipy.stats and lifelines, imported once (repool.lazy.import_once) before any use: they are imported
    lazily, so that an unchanged run never loads them, and a caller may analyse tables in threads."""
    import_once("lifelines", "lifelines.exceptions", "lifelines.fitters.coxph_fitter", "lifelines.statistics",
                "scipy.stats")


def _running(values: np.ndarray) -> np.ndarray:
    """Row i: 0 + values[n-1] + ... + values[i], added in that order (lifelines' risk-set sums).
    `np.cumsum` (an accumulate) adds strictly in sequence, unlike `np.sum` (pairwise)."""
    start = np.zeros((1, *values.shape[1:]))
    return np.cumsum(np.concatenate((start, values[::-1])), axis=0)[:0:-1]


def _in_sequence(values: np.ndarray):
    """0 + values[0] + values[1] + ..., added in that order (lifelines' tie sums)."""
    start = np.zeros((1, *values.shape[1:]))
    return np.cumsum(np.concatenate((start, values)), axis=0)[-1]


def efron_values_single(X: pd.DataFrame, T: pd.Series, E: pd.Series, weights: pd.Series, beta: np.ndarray):
    """lifelines `SemiParametricPHFitter._get_efron_values_single` (0.30): the Hessian, gradient and
    log partial likelihood (Efron ties) at `beta`, computed with the same floating-point operations
    in the same order, so the results are equal to the last bit (tests/tasks/analyse/test_statistics.py
    compares the two on tied, censored, weighted and stratified data, and the fits they give).

    lifelines walks the rows (sorted on T) from the last to the first in Python, adding each row to
    the running risk-set sums and, if an event, to the tie sums of its time; at the first row of a
    time with events it adds that time's terms to the gradient, log-likelihood and Hessian. Here:
    the running sums are `np.cumsum` (sequential, each started from 0 as the loop does); the tie sums
    are added in the loop's order, one vectorised step per rank within a time; the terms of a time
    with one event (no reduction in them) are computed for all such times at once, and those of the
    times with tied events by lifelines' own reductions (`einsum`, a vector dot product, `sum`), one
    Python iteration per number of tied events: the times with that many, stacked as rows, each row
    reduced as lifelines reduces that time's own array (at 1M patients: 50 iterations a fit step
    instead of 700, `analyse[studies]` 22.5 -> 17.7 s); the terms are then added in the loop's
    order by `np.cumsum` (x - y is x + (-y) in IEEE arithmetic). One covariate only (the tables'
    models); several: `_efron_values_by_time` (a Python iteration per event time).
    """
    Xv, Tv, Ev, Wv = X.values, T.values, E.values, weights.values
    n, d = Xv.shape
    if d != 1 or n == 0:
        return _efron_values_by_time(Xv, Tv, Ev, Wv, beta)
    from numpy import arange, dot, einsum, exp, log, multiply  # noqa: F401  (lifelines' names)

    scores = Wv * exp(dot(Xv, beta))
    phi_x_is = scores[:, None] * Xv
    x, phi_x, phi_x_x = Xv[:, 0], phi_x_is[:, 0], Xv[:, 0] * phi_x_is[:, 0]  # d = 1: outer(x_i, phi_x_i)
    risk_phis, risk_phi_xs, risk_phi_x_xs = _running(scores), _running(phi_x), _running(phi_x_x)

    death = Ev.astype(bool)
    firsts = np.flatnonzero(np.concatenate(([True], Tv[1:] != Tv[:-1])))  # first row of each distinct time
    deaths_before = np.concatenate(([0], np.cumsum(death)))
    per_time = deaths_before[np.append(firsts[1:], n)] - deaths_before[firsts]
    with_deaths = per_time > 0
    lo, m = firsts[with_deaths][::-1], per_time[with_deaths][::-1]  # the times with events, in the loop's order
    G = len(lo)
    if G == 0:
        return np.zeros((1, 1)), np.zeros((1,)), 0

    # tie sums: the death rows from the last (the loop's order), rank k within their time added at step k
    rows = np.flatnonzero(death)[::-1]
    group = np.repeat(np.arange(G), m)
    rank = np.arange(len(rows)) - np.repeat(np.cumsum(m) - m, m)
    values = np.column_stack([Wv, Wv * x, scores, phi_x, phi_x_x])[rows]
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(np.bincount(rank))))
    ties = np.zeros((G, 5))
    for k in range(len(bounds) - 1):
        sel = by_rank[bounds[k]:bounds[k + 1]]
        g = group[sel]
        ties[g] = ties[g] + values[sel]
    weight_count, x_death_sum, tie_phi, tie_phi_x, tie_phi_x_x = ties.T
    risk_phi, risk_phi_x, risk_phi_x_x = risk_phis[lo], risk_phi_xs[lo], risk_phi_x_xs[lo]
    weighted_average = weight_count / m

    grad_term = np.empty(G)  # weighted_average * summand.sum(0)
    ll_term = np.empty(G)  # weighted_average * log(denom).sum()
    hess_term = np.empty(G)  # weighted_average * (a2 - a1)
    one = m == 1
    denom1 = 1.0 / risk_phi[one]
    summand1 = risk_phi_x[one] * denom1
    grad_term[one] = weighted_average[one] * summand1
    ll_term[one] = weighted_average[one] * log(denom1)
    hess_term[one] = weighted_average[one] * (summand1 * summand1 - risk_phi_x_x[one] * denom1)
    tied = np.flatnonzero(~one)
    if tied.size:
        # lifelines' statements for a time with tied events: the elementwise ones for all such times at
        # once, the reductions (`einsum`, `dot`, `sum`) per time on fresh arrays of lifelines' shapes
        size = m[tied]
        starts = np.cumsum(size) - size
        at = np.arange(size.sum()) - np.repeat(starts, size)
        increasing_proportion = at / np.repeat(size, size)  # arange(tied_death_counts) / tied_death_counts
        denoms = 1.0 / (np.repeat(risk_phi[tied], size) - increasing_proportion * np.repeat(tie_phi[tied], size))
        numers = np.repeat(risk_phi_x[tied], size) - increasing_proportion * np.repeat(tie_phi_x[tied], size)
        summands = (numers * denoms)[:, None]  # numer * denom[:, None], (count, 1)
        proportion_denoms = increasing_proportion * denoms
        risk_xx, tie_xx = risk_phi_x_x[tied], tie_phi_x_x[tied]
        a2s, a1s, sums, logs = (np.empty(len(tied)) for _ in range(4))
        # the times with the same number of tied events together: one (times, size) array per size,
        # each row reduced as lifelines reduces that time's fresh (size,) or (size, 1) array
        for count in np.unique(size).tolist():
            which = np.flatnonzero(size == count)
            cells = (starts[which][:, None] + np.arange(count)).ravel()
            denom = denoms[cells].reshape(-1, count)
            summand = summands[cells, 0].reshape(-1, count)
            a1s[which] = (einsum("gab,gi->gab", risk_xx[which][:, None, None], denom)
                          - einsum("gab,gi->gab", tie_xx[which][:, None, None],
                                   proportion_denoms[cells].reshape(-1, count)))[:, 0, 0]
            a2s[which] = np.matmul(summand[:, None, :], summand[:, :, None])[:, 0, 0]
            sums[which] = summand.sum(1)
            logs[which] = log(denom).sum(1)
        wa = weighted_average[tied]
        grad_term[tied] = wa * sums
        ll_term[tied] = wa * logs
        hess_term[tied] = wa * (a2s - a1s)

    def added(*terms: np.ndarray) -> np.float64:
        """0 + t1[0] + t2[0] + t1[1] + t2[1] + ...: the loop's running total, in its order."""
        return np.cumsum(np.concatenate(([0.0], np.column_stack(terms).ravel())))[-1]

    gradient = np.array([added(x_death_sum, -grad_term)])
    log_lik = added(x_death_sum * beta[0], ll_term)  # dot(x_death_sum, beta) of (1,)-vectors
    hessian = np.array([[added(hess_term)]])
    return hessian, gradient, log_lik


def _efron_values_by_time(X: np.ndarray, T: np.ndarray, E: np.ndarray, weights: np.ndarray, beta: np.ndarray):
    """`efron_values_single` for any number of covariates: the running sums by `np.cumsum`, the
    terms of each event time by lifelines' own statements (one Python iteration per event time)."""
    from numpy import arange, dot, einsum, exp, log, multiply, zeros

    n, d = X.shape
    hessian, gradient, log_lik = zeros((d, d)), zeros((d,)), 0
    scores = weights * exp(dot(X, beta))
    phi_x_is = scores[:, None] * X
    if n == 0:
        return hessian, gradient, log_lik
    phi_x_x_is = X[:, :, None] * phi_x_is[:, None, :]  # row i: multiply.outer(X[i], phi_x_is[i])
    risk_phis, risk_phi_xs, risk_phi_x_xs = _running(scores), _running(phi_x_is), _running(phi_x_x_is)
    death = E.astype(bool)
    firsts = np.flatnonzero(np.concatenate(([True], T[1:] != T[:-1])))  # first row of each distinct time
    ends = np.append(firsts[1:], n)
    deaths_before = np.concatenate(([0], np.cumsum(death)))
    for lo, hi in zip(firsts[::-1].tolist(), ends[::-1].tolist()):
        if deaths_before[hi] == deaths_before[lo]:
            continue  # only censored at this time
        rows = (lo + np.flatnonzero(death[lo:hi]))[::-1]  # the loop meets them from the last
        tied_death_counts = len(rows)
        weight_count = _in_sequence(weights[rows])
        x_death_sum = _in_sequence(weights[rows, None] * X[rows])
        tie_phi = _in_sequence(scores[rows])
        tie_phi_x = _in_sequence(phi_x_is[rows])
        tie_phi_x_x = _in_sequence(phi_x_x_is[rows])
        risk_phi, risk_phi_x, risk_phi_x_x = risk_phis[lo], risk_phi_xs[lo].copy(), risk_phi_x_xs[lo].copy()

        # from here on lifelines' statements, unchanged
        weighted_average = weight_count / tied_death_counts
        if tied_death_counts > 1:
            increasing_proportion = arange(tied_death_counts) / tied_death_counts
            denom = 1.0 / (risk_phi - increasing_proportion * tie_phi)
            numer = risk_phi_x - multiply.outer(increasing_proportion, tie_phi_x)
            a1 = einsum("ab,i->ab", risk_phi_x_x, denom) - einsum("ab,i->ab", tie_phi_x_x, increasing_proportion * denom)
        else:
            denom = 1.0 / np.array([risk_phi])
            numer = risk_phi_x
            a1 = risk_phi_x_x * denom
        summand = numer * denom[:, None]
        a2 = summand.T.dot(summand)
        gradient = gradient + x_death_sum - weighted_average * summand.sum(0)
        log_lik = log_lik + dot(x_death_sum, beta) + weighted_average * log(denom).sum()
        hessian = hessian + weighted_average * (a2 - a1)
    return hessian, gradient, log_lik


def _cox_fitter(alpha: float, strata: "list[str] | None"):
    """lifelines' semi-parametric Cox fitter (what `CoxPHFitter` fits with its default Breslow
    baseline) with `efron_values_single` in place of its row-by-row loop: the same fit, faster.

    The fitter is used for its coefficient, SE, CI and p, which lifelines computes from the Newton
    steps and the Hessian alone; what `fit` computes besides for prediction and plots (the data's
    central values by `describe`, the baseline hazards and survival, every subject's partial hazard)
    is skipped: a third of a 10,000-subject fit's time. Not a fitter to predict with."""
    import_dependencies()
    import pandas as pd
    from lifelines.fitters.coxph_fitter import SemiParametricPHFitter

    class _Fitter(SemiParametricPHFitter):
        def _get_efron_values_single(self, X, T, E, weights, entries, beta):
            return efron_values_single(X, T, E, weights, beta)

        def _compute_central_values_of_raw_training_data(self, df, strata=None, name="baseline"):
            return None

        def _compute_baseline_hazards(self, predicted_partial_hazards_):
            return pd.DataFrame(index=pd.Index([], dtype=float))

        def _compute_baseline_survival(self):
            return pd.DataFrame(index=pd.Index([], dtype=float))

        def predict_partial_hazard(self, X):
            return pd.Series(dtype=float)

    return _Fitter(alpha=alpha, strata=strata)


def compute_cox_fit(time, event, x, strata=None, alpha: float = 0.05, ties: str = "efron") -> CoxFit:
    """The Cox model of `compute_cox_hr` (x = 1 vs 0, Efron ties, Wald CI and p), optionally
    stratified, also giving the log HR (coef) and its SE (the inputs of a meta-analysis).

    `strata`: None, or one label per subject (e.g. the study): lifelines
    `CoxPHFitter(strata=[...])`, a baseline hazard per stratum and one common HR (R's
    `coxph(Surv(time, event) ~ x + strata(s), ties = "efron")`). Unstratified, the numbers are
    those of `compute_cox_hr` (the same fit; tests check equality).

    All None under the rules of `compute_cox_hr` (an empty group, no events in a group, a
    failed, non-converging or non-finite fit) and, stratified, when no stratum holds both
    groups (the HR has no information then).
    """
    _require_efron(ties)
    t, e = _as_time_event(time, event)
    xv = np.asarray(x, dtype=float)
    if xv.shape != t.shape or (xv.size and not np.isin(xv, [0, 1]).all()):
        raise ValueError("x must be 0/1 and as long as time")
    df = pd.DataFrame({"time": t, "event": e, "x": xv})
    if strata is not None:
        sv = np.asarray(strata, dtype=object)
        if sv.shape != t.shape or pd.isna(sv).any():
            raise ValueError("strata must be non-missing and as long as time")
        df["stratum"] = sv.astype(str)
        if not (df.groupby("stratum")["x"].nunique() == 2).any():
            return _NO_COX_FIT
    if (xv == 1).sum() == 0 or (xv == 0).sum() == 0:
        return _NO_COX_FIT
    if e[xv == 1].sum() == 0 or e[xv == 0].sum() == 0:
        return _NO_COX_FIT
    import_dependencies()
    from lifelines.exceptions import ConvergenceError

    try:
        # catch_warnings swaps process-wide state: one fit at a time, or a fit running in another thread
        # (a caller analysing tables concurrently) would see this fit's convergence warnings as its own
        with _COX_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cph = _cox_fitter(alpha, None if strata is None else ["stratum"])
            cph.fit(df, duration_col="time", event_col="event")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError):
        return _NO_COX_FIT
    if any(m in str(w.message) for w in caught for m in _NO_CONVERGENCE):
        return _NO_COX_FIT
    s = cph.summary.loc["x"]
    # lifelines names the limits by the level ("exp(coef) lower 95%", "... 97.5%"): take them by prefix
    lower = next(c for c in s.index if c.startswith("exp(coef) lower"))
    upper = next(c for c in s.index if c.startswith("exp(coef) upper"))
    out = CoxFit(
        _finite_or_none(s["coef"]),
        _finite_or_none(s["se(coef)"]),
        _finite_or_none(s["exp(coef)"]),
        _finite_or_none(s[lower]),
        _finite_or_none(s[upper]),
        _finite_or_none(s["p"]),
    )
    return out if None not in out else _NO_COX_FIT


# --------------------------------------------------------------------------- proportions
def compute_proportion_ci(k: int, n: int, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Clopper–Pearson exact CI of k/n in percent (0–100); n = 0 -> (None, None).

    Beta quantiles: lower = B(α/2; k, n−k+1) (0 when k = 0), upper = B(1−α/2; k+1, n−k)
    (100 when k = n). Same as scipy `binomtest(k, n).proportion_ci("exact")` and statsmodels
    `proportion_confint(k, n, method="beta")`.
    """
    k, n = int(k), int(n)
    if n == 0:
        return None, None
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    stats = _scipy_stats()
    lower = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return 100 * lower, 100 * upper


class OddsRatio(NamedTuple):
    odds_ratio: float | None
    lcl: float | None
    ucl: float | None
    p_value: float | None


def compute_odds_ratio(a: int, b: int, c: int, d: int, alpha: float = 0.05) -> OddsRatio:
    """Unadjusted 2×2 odds ratio (a/b)/(c/d) with Wald CI and Wald p.

    a, b = responders, non-responders of the comparison group (here "Second or later
    salvage"); c, d = of the reference group ("First salvage"). log OR ± z·SE,
    SE = sqrt(1/a + 1/b + 1/c + 1/d), p = 2(1 − Φ(|log OR| / SE)).
    A zero cell makes log OR or its SE infinite: all None (no continuity correction — the
    spec asks for the plain Wald OR, and a corrected one would be a different estimator).
    Check (publication): 150/367 vs 89/165 -> 0.59 (0.41–0.85), p = 0.005.
    """
    cells = [int(v) for v in (a, b, c, d)]
    if min(cells) < 0:
        raise ValueError(f"negative cell count: {cells}")
    if min(cells) == 0:
        return OddsRatio(None, None, None, None)
    a, b, c, d = cells
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    stats = _scipy_stats()
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(abs(log_or) / se)
    return OddsRatio(math.exp(log_or), math.exp(log_or - z * se), math.exp(log_or + z * se), float(p))


class LogEffect(NamedTuple):
    estimate: float | None
    se: float | None


def compute_log_odds_ratio(a: int, b: int, c: int, d: int) -> LogEffect:
    """log OR and its Wald SE of the 2×2 table of `compute_odds_ratio` (same cells, same order):
    log((a·d)/(b·c)), sqrt(1/a + 1/b + 1/c + 1/d). A zero cell: (None, None), no continuity
    correction (metafor's `escalc` would add 1/2 to every cell of such a table)."""
    cells = [int(v) for v in (a, b, c, d)]
    if min(cells) < 0:
        raise ValueError(f"negative cell count: {cells}")
    if min(cells) == 0:
        return LogEffect(None, None)
    a, b, c, d = cells
    return LogEffect(math.log(a * d / (b * c)), math.sqrt(1 / a + 1 / b + 1 / c + 1 / d))


# --------------------------------------------------------------------------- meta-analysis
class MetaAnalysis(NamedTuple):
    k: int
    fixed: float | None
    fixed_lcl: float | None
    fixed_ucl: float | None
    fixed_p: float | None
    random: float | None
    random_lcl: float | None
    random_ucl: float | None
    random_p: float | None
    q: float | None
    q_p: float | None
    i2: float | None
    tau2: float | None


def compute_meta_analysis(estimates, std_errors, alpha: float = 0.05) -> MetaAnalysis:
    """Two-stage meta-analysis of per-study estimates (e.g. log HRs) with their SEs.

    statsmodels `combine_effects(estimates, se², method_re="dl", use_t=False)`: fixed effect =
    inverse-variance weighted mean; random effects = DerSimonian–Laird; normal (z) CIs at level
    1 - alpha and two-sided z-test p-values (est / SE); Cochran's Q with its chi² (k − 1) p;
    I² in percent (0–100); tau². All on the scale of the input (exponentiate for HR / OR).

    Where statsmodels differs from metafor `rma(method = "DL")` (and from DerSimonian & Laird,
    1986), metafor wins: when Q < k − 1 statsmodels 0.15 returns a negative tau² (and I² < 0) and
    weighs the studies with it; here tau² and I² are truncated at 0 and the random-effects
    estimate is then the fixed-effect one (tau² = 0 gives the fixed-effect weights), as in metafor.

    None entries (studies whose effect is not estimable) are left out; `k` counts the studies
    combined. Fewer than two: every statistic None (nothing to pool, no heterogeneity).
    """
    est = np.array([np.nan if v is None else float(v) for v in estimates], dtype=float)
    se = np.array([np.nan if v is None else float(v) for v in std_errors], dtype=float)
    if est.shape != se.shape or est.ndim != 1:
        raise ValueError("estimates and std_errors must be 1-d and of equal length")
    keep = np.isfinite(est) & np.isfinite(se)
    if (se[keep] <= 0).any():
        raise ValueError("standard errors must be > 0")
    est, se = est[keep], se[keep]
    k = int(est.size)
    if k < 2:
        return MetaAnalysis(k, *([None] * 12))
    stats = _scipy_stats()
    from statsmodels.stats.meta_analysis import combine_effects

    with np.errstate(divide="ignore", invalid="ignore"):
        res = combine_effects(est, se**2, method_re="dl", use_t=False, alpha=alpha)
        ci_fe, ci_re, _, _ = res.conf_int(alpha=alpha, use_t=False)
    fixed, sd_fixed = float(res.mean_effect_fe), float(res.sd_eff_w_fe)
    tau2 = float(res.tau2)
    if tau2 > 0:
        random, sd_random, ci_re = float(res.mean_effect_re), float(res.sd_eff_w_re), ci_re
    else:  # DL truncated at 0: random effects = fixed effect
        tau2, random, sd_random, ci_re = 0.0, fixed, sd_fixed, ci_fe
    i2 = float(res.i2) if np.isfinite(res.i2) else 0.0
    homogeneity = res.test_homogeneity()
    return MetaAnalysis(
        k,
        _finite_or_none(fixed), _finite_or_none(ci_fe[0]), _finite_or_none(ci_fe[1]),
        _finite_or_none(2 * stats.norm.sf(abs(fixed) / sd_fixed)),
        _finite_or_none(random), _finite_or_none(ci_re[0]), _finite_or_none(ci_re[1]),
        _finite_or_none(2 * stats.norm.sf(abs(random) / sd_random)),
        _finite_or_none(res.q), _finite_or_none(homogeneity.pvalue),
        100 * max(0.0, i2), tau2,
    )


def check_adsl(adsl: pd.DataFrame, columns: Iterable[str]) -> None:
    """The checks every table makes on ADSL: USUBJID, SALVGRP and `columns` present, USUBJID
    unique, SALVGRP within the two salvage levels (a subject is never silently dropped)."""
    from repool.schemas.pooled import SALVAGE_LEVELS

    require_columns(adsl, ["USUBJID", "SALVGRP", *columns], "adsl")
    dup = adsl["USUBJID"][adsl["USUBJID"].duplicated()]
    if not dup.empty:
        raise ValueError(f"adsl: duplicate USUBJID {sorted(dup.astype(str).unique())[:5]}")
    require_levels(adsl, "SALVGRP", SALVAGE_LEVELS, "adsl")
