"""Survival, response, relapse, transplant and other therapy, in days from the first dose.

The OS and RFS models below serve the uncalibrated cohorts (scale mode, TOWER's SOC arm); the
calibrated default deliveries draw OS and RFS from knot curves instead (`curves.py`, `cohort.py`).

Models (per salvage group x prior-HSCT subgroup):
- OS: a two-component mixture (Weibull main component, a fraction of long survivors 20x longer),
  scaled by bisection so that the subgroup's KM median hits its target; censoring is
  administrative (data cut minus first dose) plus a little loss to follow-up. Integer days, so
  ties occur.
- Remission: exactly the target count per group, drawn with weights favouring longer survival.
- RFS (remission to relapse or death): a latent Weibull relapse time (never, for a fraction of
  patients) observed when it precedes death / last contact, scaled by bisection to hit the
  group's RFS median.
All draws use the generator passed in, so the result is a function of the seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from repool.schemas.pooled import SALVAGE_LEVELS
from repool.synth.stats import km_median

DAYS_PER_MONTH = 30.4375
LONG_SURVIVOR_FACTOR = 20.0
DEAD_CURE_FACTOR, ALIVE_CURE_FACTOR = 0.6, 1.5


@dataclass(frozen=True)
class OsShape:
    weibull_k: float
    long_fraction: float


OS_SHAPE = {SALVAGE_LEVELS[0]: OsShape(1.1, 0.33), SALVAGE_LEVELS[1]: OsShape(0.8, 0.17)}
OS_SHAPE_DEFAULT = OsShape(1.2, 0.2)


def os_base_times(rng: np.random.Generator, n: int, shape: OsShape) -> np.ndarray:
    """Unscaled survival times from the mixture model."""
    t = (-np.log(rng.random(n))) ** (1.0 / shape.weibull_k)
    long = rng.random(n) < shape.long_fraction
    return t * np.where(long, LONG_SURVIVOR_FACTOR, 1.0)


def observe(base: np.ndarray, scale: float, censor_days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observed integer days and event flags for times base*scale months under censoring."""
    t = np.maximum(1, np.round(base * scale * DAYS_PER_MONTH))
    obs = np.minimum(t, censor_days)
    return obs.astype(int), t <= censor_days


def fit_os(base: np.ndarray, censor_days: np.ndarray, target_months: float) -> tuple[np.ndarray, np.ndarray]:
    """Scale the base times so that the KM median (months) is as close to the target as possible."""
    lo, hi = 0.01, 200.0
    for _ in range(60):
        s = (lo * hi) ** 0.5
        obs, ev = observe(base, s, censor_days)
        m = km_median(obs / DAYS_PER_MONTH, ev)
        if np.isnan(m) or m > target_months:
            hi = s
        else:
            lo = s
    best = min((observe(base, s, censor_days) for s in (lo, hi)),
               key=lambda oe: abs(_median_or_inf(oe) - target_months))
    return best


def _median_or_inf(obs_ev: tuple[np.ndarray, np.ndarray]) -> float:
    m = km_median(obs_ev[0] / DAYS_PER_MONTH, obs_ev[1])
    return float("inf") if np.isnan(m) else m


def censor_days(rng: np.random.Generator, follow_up_days: np.ndarray) -> np.ndarray:
    """Administrative censoring at the data cut, and ~4% lost to follow-up earlier."""
    c = follow_up_days.astype(float).copy()
    lost = (rng.random(len(c)) < 0.04) & (c > 120)
    c[lost] = np.floor(rng.uniform(90, c[lost]))
    return c.astype(int)


def weighted_pick(rng: np.random.Generator, candidates: np.ndarray, weights: np.ndarray, k: int) -> np.ndarray:
    """k distinct candidates, sampled without replacement with the given weights (Gumbel top-k)."""
    k = min(k, len(candidates))
    if k <= 0:
        return candidates[:0]
    keys = np.log(np.maximum(weights, 1e-12)) + rng.gumbel(size=len(candidates))
    return candidates[np.argsort(-keys, kind="stable")[:k]]


@dataclass
class Response:
    bor: np.ndarray  # CR, CRh, CRi, BFHM, PR, NR, NE
    remission_day: np.ndarray  # -1 when not in remission
    a1: np.ndarray  # cycle-1 assessment day
    a2: np.ndarray  # cycle-2 assessment day (-1 = none)
    first_remission_cycle: np.ndarray  # 1, 2 or 0
    mrd: np.ndarray  # bool, MRD response


def draw_response(rng: np.random.Generator, obs: np.ndarray, remission: int,
                  bor_split: tuple[int, int, int], mrd: int, dead: np.ndarray | None = None,
                  power: float = 1.5, alive_weight: float = 1.0) -> Response:
    """Best response within two cycles with exactly `remission` remissions split CR/CRh/CRi,
    drawn with weights rank(obs)^power (times `alive_weight` for patients alive at last contact)."""
    n = len(obs)
    a1 = 28 + rng.integers(0, 7, n)
    a2 = 70 + rng.integers(0, 11, n)
    eligible = np.flatnonzero(obs >= a1 + 10)
    ranks = np.argsort(np.argsort(obs[eligible])) + 1.0
    weights = ranks ** power
    if dead is not None:
        weights = weights * np.where(dead[eligible], 1.0, alive_weight)
    responders = weighted_pick(rng, eligible, weights, remission)
    bor = np.full(n, "NR", dtype=object)
    bor[obs < a1] = "NE"
    others = np.setdiff1d(np.flatnonzero(obs >= a1), responders)
    nonresp_codes = rng.choice(["BFHM", "PR", "NR", "NE"], len(others), p=[0.05, 0.08, 0.82, 0.05])
    bor[others] = nonresp_codes
    split = np.concatenate([np.full(c, code, dtype=object) for code, c in zip(["CR", "CRh", "CRi"], bor_split)])
    bor[responders] = rng.permutation(split)[: len(responders)]
    cycle = np.zeros(n, dtype=int)
    cycle[responders] = np.where(rng.random(len(responders)) < 0.8, 1, 2)
    late_ok = obs > a2 + 10
    cycle[(cycle == 2) & ~late_ok] = 1
    remission_day = np.where(cycle == 1, a1, np.where(cycle == 2, a2, -1))
    has_a2 = (obs > a2) & ((cycle > 0) | (rng.random(n) < 0.3))
    a2 = np.where(has_a2 | (cycle == 2), a2, -1)
    mrd_flag = np.zeros(n, dtype=bool)
    mrd_flag[rng.permutation(responders)[:mrd]] = True
    return Response(bor, remission_day, a1, a2, cycle, mrd_flag)


@dataclass
class Rfs:
    relapse_day: np.ndarray  # -1 = none
    rfs_days: np.ndarray  # from remission, -1 = not in remission
    rfs_event: np.ndarray


def draw_rfs(rng: np.random.Generator, obs: np.ndarray, dead: np.ndarray, remission_day: np.ndarray,
             target_months: float | None, cure_fraction: float = 0.3, weibull_k: float = 1.3) -> Rfs:
    """Relapses among remission patients: a latent Weibull relapse time from the remission date
    (never, for a cured fraction), observed when it comes before death / last contact; its scale is fitted to the RFS median."""
    n = len(obs)
    idx = np.flatnonzero(remission_day >= 0)
    span = obs[idx] - remission_day[idx]
    latent = (-np.log(rng.random(len(idx)))) ** (1.0 / weibull_k)
    # never relapse; those alive at last contact are more often relapse-free than those who died
    cure_p = np.where(dead[idx], cure_fraction * DEAD_CURE_FACTOR, np.minimum(1.0, cure_fraction * ALIVE_CURE_FACTOR))
    latent[rng.random(len(idx)) < cure_p] = np.inf

    def build(scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rel_after = np.maximum(1, np.round(np.minimum(latent * scale, 1e6) * DAYS_PER_MONTH)).astype(int)
        has_rel = rel_after < span
        rfs = np.where(has_rel, rel_after, span)
        ev = has_rel | dead[idx]
        return rfs, ev, has_rel

    scale = 12.0
    if target_months is not None and len(idx):
        lo, hi = 0.5, 500.0
        for _ in range(50):
            scale = (lo * hi) ** 0.5
            rfs, ev, _ = build(scale)
            m = km_median(rfs / DAYS_PER_MONTH, ev)
            if np.isnan(m) or m > target_months:
                hi = scale
            else:
                lo = scale
        scale = min((lo, hi), key=lambda x: abs(_median_or_inf(build(x)[:2]) - target_months))
    rfs, ev, has_rel = build(scale)
    relapse_day = np.full(n, -1)
    relapse_day[idx[has_rel]] = remission_day[idx[has_rel]] + rfs[has_rel]
    rfs_days = np.full(n, -1)
    rfs_days[idx] = rfs
    rfs_event = np.zeros(n, dtype=bool)
    rfs_event[idx] = ev
    return Rfs(relapse_day, rfs_days, rfs_event)


@dataclass
class Transplants:
    hsct_day: np.ndarray  # -1 = none
    hsct_status: np.ndarray  # CR, RELAPSE, REFRACTORY, OTHER_TX, ""
    other_tx_day: np.ndarray  # first other anti-leukaemic therapy after first dose, -1 = none


def draw_transplants(rng: np.random.Generator, obs: np.ndarray, bor: np.ndarray, remission_day: np.ndarray,
                     relapse_day: np.ndarray, counts: dict[str, int]) -> Transplants:
    """HSCT in remission / after relapse / refractory / after other therapy, and other therapy,
    each with exactly the given number of patients (as far as eligibility allows)."""
    n = len(obs)
    hsct_day = np.full(n, -1)
    status = np.full(n, "", dtype=object)
    other = np.full(n, -1)
    taken = np.zeros(n, dtype=bool)
    in_rem = remission_day >= 0
    relapsed = relapse_day >= 0
    free_end = np.where(relapsed, relapse_day, obs)

    def pick(mask: np.ndarray, k: int, weight: np.ndarray | None = None) -> np.ndarray:
        cand = np.flatnonzero(mask & ~taken)
        w = np.ones(len(cand)) if weight is None else weight[cand]
        chosen = weighted_pick(rng, cand, w, k)
        taken[chosen] = True
        return chosen

    def day_between(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return (lo + np.floor(rng.random(len(lo)) * (hi - lo + 1))).astype(int)

    # in continuous remission: at least 3 weeks after remission, a week before relapse/death
    c = pick(in_rem & (free_end - remission_day >= 45), counts["hsct_cr"], (free_end - remission_day).astype(float))
    hsct_day[c] = day_between(remission_day[c] + 21, np.minimum(free_end[c] - 10, remission_day[c] + 150))
    status[c] = "CR"
    c = pick(relapsed & (obs - relapse_day >= 35), counts["hsct_relapse"])
    hsct_day[c] = day_between(relapse_day[c] + 14, np.minimum(obs[c] - 10, relapse_day[c] + 120))
    status[c] = "RELAPSE"
    refractory = np.isin(bor, ["NR", "PR", "BFHM"])
    c = pick(refractory & (obs >= 110), counts["hsct_refractory"])
    hsct_day[c] = day_between(np.full(len(c), 60), np.minimum(obs[c] - 14, 200))
    status[c] = "REFRACTORY"
    # other therapy: after non-response (from day ~40) or soon after relapse
    start = np.where(relapsed, relapse_day + 5, 42)
    c = pick((refractory | relapsed) & (obs - start >= 60), counts["hsct_other_tx"])
    other[c] = day_between(start[c], start[c] + 20)
    hsct_day[c] = day_between(other[c] + 35, np.minimum(obs[c] - 10, other[c] + 150))
    status[c] = "OTHER_TX"
    c = pick((refractory | relapsed) & (obs - start >= 5), counts["other_tx_only"])
    other[c] = day_between(start[c], np.minimum(start[c] + 30, obs[c] - 1))
    return Transplants(hsct_day, status, other)


def last_dose_day(rng: np.random.Generator, obs: np.ndarray, bor: np.ndarray, remission_day: np.ndarray,
                  relapse_day: np.ndarray, tx: Transplants, on_treatment_at_death: np.ndarray) -> np.ndarray:
    """Last infusion day: cycles of 28 days on / 14 off, stopped by relapse, transplant, other
    therapy, death or loss to follow-up; patients dying on treatment infuse until death."""
    n = len(obs)
    responder = remission_day >= 0
    cycles = np.where(responder, rng.choice([2, 3, 4, 5], n, p=[0.35, 0.3, 0.15, 0.2]),
                      rng.choice([1, 2], n, p=[0.7, 0.3]))
    end = 42 * (cycles - 1) + 27
    limits = [obs]
    for day, gap in ((relapse_day, 0), (tx.hsct_day, 14), (tx.other_tx_day, 1)):
        limits.append(np.where(day >= 0, day - gap, 10**6))
    stop = np.minimum(end, np.min(np.vstack(limits), axis=0))
    stop = np.where(on_treatment_at_death, obs, stop)
    return np.maximum(0, infusion_day_at_or_before(stop))


def infusion_day_at_or_before(day: np.ndarray) -> np.ndarray:
    """The latest infusion day (days 0-27 of each 42-day cycle) not after `day`."""
    day = np.asarray(day)
    cyc, pos = np.divmod(day, 42)
    return np.where(pos <= 27, day, 42 * cyc + 27)
