"""Small numpy statistics used by the generator's calibration (no lifelines needed at generation).

`km_median` follows the SAS/R rule of results.md; `cox_binary_efron` fits a one-covariate Cox
model with Efron ties. The independent checker (`repool.synth.check`) uses lifelines instead.
"""
from __future__ import annotations

import math

import numpy as np


def _km_steps(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct event times, deaths and numbers at risk there."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    uniq, inverse = np.unique(time, return_inverse=True)
    n_at = np.bincount(inverse, minlength=len(uniq))
    d_at = np.bincount(inverse, weights=event, minlength=len(uniq))
    at_risk = len(time) - np.concatenate([[0], np.cumsum(n_at)[:-1]])
    has_event = d_at > 0
    return uniq[has_event], d_at[has_event], at_risk[has_event]


def km_curve(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct event times and the Kaplan-Meier survival just after each."""
    t, d, r = _km_steps(time, event)
    return t, np.cumprod(1.0 - d / r)


def km_median(time: np.ndarray, event: np.ndarray) -> float:
    """KM median: smallest t with S(t) < 0.5; midpoint rule where S is exactly 0.5; NaN if not reached."""
    ev_times, surv = km_curve(time, event)
    for j, s in enumerate(surv):
        if abs(s - 0.5) < 1e-12:
            return (ev_times[j] + ev_times[j + 1]) / 2 if j + 1 < len(ev_times) else float(ev_times[j])
        if s < 0.5:
            return float(ev_times[j])
    return float("nan")


def cox_binary_efron(time: np.ndarray, event: np.ndarray, x: np.ndarray) -> dict:
    """Cox PH with one binary covariate, Efron ties: hr, Wald 95% CI and p."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=bool)
    x = np.asarray(x, dtype=float)
    ev_times = np.unique(time[event])
    order = np.sort
    t1, t0 = order(time[x == 1]), order(time[x == 0])
    n1 = (len(t1) - np.searchsorted(t1, ev_times, side="left")).astype(float)
    n0 = (len(t0) - np.searchsorted(t0, ev_times, side="left")).astype(float)
    idx = np.searchsorted(ev_times, time[event])
    d1 = np.bincount(idx, weights=(x[event] == 1), minlength=len(ev_times))
    d0 = np.bincount(idx, weights=(x[event] == 0), minlength=len(ev_times))
    beta = 0.0
    info = 1.0
    for _ in range(50):
        r = math.exp(beta)
        score, info = 0.0, 0.0
        for j in range(len(ev_times)):
            d = int(d0[j] + d1[j])
            s0, s1 = n0[j] + n1[j] * r, n1[j] * r
            e0, e1 = d0[j] + d1[j] * r, d1[j] * r
            score += d1[j]
            for l in range(d):
                a0 = s0 - l / d * e0
                a1 = s1 - l / d * e1
                m = a1 / a0
                score -= m
                info += m - m * m
        step = score / info
        beta += step
        if abs(step) < 1e-10:
            break
    se = 1.0 / math.sqrt(info)
    z = beta / se
    p = math.erfc(abs(z) / math.sqrt(2))
    return {"hr": math.exp(beta), "lcl": math.exp(beta - 1.959964 * se),
            "ucl": math.exp(beta + 1.959964 * se), "p": p}


def km_median_ci(time: np.ndarray, event: np.ndarray, z: float = 1.959964) -> tuple[float, float]:
    """Brookmeyer-Crowley 95% CI of the KM median on the log-log scale: lower = the first event
    time whose pointwise interval contains 0.5, upper = the event time after the last one whose
    interval contains 0.5 (inf when there is none, i.e. not estimable)."""
    t, d, r = _km_steps(time, event)
    surv = np.cumprod(1.0 - d / r)
    greenwood = np.cumsum(d / (r * np.maximum(r - d, 1e-12)))
    with np.errstate(divide="ignore", invalid="ignore"):
        loglog = np.log(-np.log(surv))
        se = np.sqrt(greenwood) / np.abs(np.log(surv))
        lower_s = np.exp(-np.exp(loglog + z * se))
        upper_s = np.exp(-np.exp(loglog - z * se))
    inside = np.flatnonzero((lower_s <= 0.5) & (upper_s >= 0.5))
    if len(inside) == 0:
        return float("nan"), float("nan")
    after = inside[-1] + 1
    return float(t[inside[0]]), float(t[after]) if after < len(t) else float("inf")
