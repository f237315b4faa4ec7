"""Survival curves pinned at published points, and the fit of their knots to Kaplan–Meier figures.

A `KnotCurve` is a survival function through knots (t_k, S_k): log S is linear in t between knots
(piecewise exponential), and after the last knot S falls exponentially (hazard `tail_hazard`)
towards a plateau `floor` (patients who never have the event). Times are drawn by the inverse of
S from stratified uniforms (one uniform in each of n equal slices of (0, 1), in random order), so
the sample's Kaplan–Meier curve follows S closely and the knots steer the figures it yields.

`fit_knots` moves the knots' S values (a damped Newton step per figure, deterministic) until the
Kaplan–Meier median and Brookmeyer–Crowley limits of each curve — and of pooled curves made of
several — land on their targets. The figures are those of `repool.synth.stats` (the pipeline's
rules: SAS median, log-log Brookmeyer–Crowley limits), on integer days as the deliveries hold them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from repool.synth.outcomes import DAYS_PER_MONTH
from repool.synth.stats import km_median, km_median_ci

MIN_GAP = 0.004  # smallest drop of S between neighbouring knots
COX_MARGIN, P_MARGIN = 0.0002, 0.00002  # keep polished Cox figures this far inside their printed boxes
FIT_TOL = 0.1  # months: the knot fit stops once every figure is this close (snapping does the rest)


@dataclass
class KnotCurve:
    times: np.ndarray  # knot times in months, increasing, > 0
    surv: np.ndarray  # S at the knots, decreasing, in (floor, 1)
    tail_hazard: float = 0.08  # per month, after the last knot
    floor: float = 0.0  # plateau S never falls below (a cured fraction)

    def inverse(self, u: np.ndarray) -> np.ndarray:
        """Times (months) at which S falls to u; inf where u <= floor."""
        t = np.concatenate([[0.0], self.times])
        log_s = np.log(np.concatenate([[1.0], self.surv]))
        lu = np.log(np.clip(u, 1e-12, 1.0))
        out = np.empty(len(u))
        body = lu >= log_s[-1]
        # np.interp needs increasing x: interpolate t against -log S
        out[body] = np.interp(-lu[body], -log_s, t)
        tail = ~body
        s_last = self.surv[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[tail] = self.times[-1] + np.log((s_last - self.floor) / (u[tail] - self.floor)) / self.tail_hazard
        out[tail & (u <= self.floor)] = np.inf
        return out


def stratified_uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniforms, one in each slice [i/n, (i+1)/n), in random order."""
    return (rng.permutation(n) + rng.random(n)) / n


def to_days(months: np.ndarray) -> np.ndarray:
    """Integer days >= 1 (a large number for inf)."""
    return np.maximum(1, np.round(np.minimum(months, 1e5) * DAYS_PER_MONTH)).astype(int)


def km_figures(days: np.ndarray, event: np.ndarray) -> tuple[float, float, float]:
    """Median, lower and upper 95% limit in months (nan = not estimable)."""
    m = days / DAYS_PER_MONTH
    med = km_median(m, event)
    lo, hi = km_median_ci(m, event)
    return med, lo, (float("nan") if np.isinf(hi) else hi)


@dataclass(frozen=True)
class Figure:
    """A target: stat ('median', 'lcl', 'ucl') of curve `curve` ('pool' = all curves together)
    at `value` months; `knot` = the curve whose knot at that time moves when it misses."""

    curve: str
    stat: str
    value: float
    knot: str


@dataclass
class FitResult:
    curves: dict[str, KnotCurve]
    figures: dict[tuple[str, str], float] = field(default_factory=dict)
    worst: float = float("inf")  # largest miss in months


STAT_INDEX = {"median": 0, "lcl": 1, "ucl": 2}


def initial_knots(targets: dict[str, tuple[float, float, float]], n: dict[str, int], pool_knots: dict[str, list],
                  ) -> dict[str, KnotCurve]:
    """Knots at a curve's own published median and limits (S = 0.5 and 0.5 +- ~1.96 SE) and at
    the pooled figures it carries (S interpolated)."""
    curves = {}
    for name, (med, lcl, ucl) in targets.items():
        half = 1.96 * 0.5 / np.sqrt(max(n[name], 4) * 0.8)
        pts = {lcl: min(0.5 + half, 0.95), med: 0.5, ucl: max(0.5 - 1.1 * half, 0.05)}
        for t in pool_knots.get(name, []):
            if all(abs(t - k) > 0.05 for k in pts):
                pts[t] = float(np.interp(t, sorted(pts), [pts[k] for k in sorted(pts)]))
        ts = np.array(sorted(pts))
        curves[name] = KnotCurve(ts, np.array([pts[t] for t in ts]))
        _monotone(curves[name])
    return curves


def _monotone(c: KnotCurve) -> None:
    s = np.clip(c.surv, c.floor + 0.02, 0.985)
    for i in range(1, len(s)):
        s[i] = min(s[i], s[i - 1] - MIN_GAP)
    c.surv = np.maximum(s, c.floor + 0.01)


def nudge(c: KnotCurve, t: float, miss: float) -> None:
    """Move S at knot t so that the figure there moves by -miss months (miss = achieved - target):
    a figure that came too early means S is too low there."""
    k = int(np.argmin(np.abs(c.times - t)))
    t_all = np.concatenate([[0.0], c.times])
    s_all = np.concatenate([[1.0], c.surv])
    j = k + 1
    lo, hi = max(j - 1, 0), min(j + 1, len(s_all) - 1)
    slope = (s_all[lo] - s_all[hi]) / max(t_all[hi] - t_all[lo], 1e-6) if hi > lo else 0.03
    slope = max(slope, 0.01)
    step = float(np.clip(-miss * slope * 0.7, -0.04, 0.04))
    c.surv[k] += step
    _monotone(c)


def observe(curve: KnotCurve, u: np.ndarray, censor: np.ndarray,
            terminal: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Observed integer days and event flags of the times S^-1(u) under censoring at `censor` days.
    `terminal`: where the censoring time is itself an event (a death ends relapse-free survival),
    the time counts when it comes strictly before it, else the patient has the event then."""
    t = to_days(curve.inverse(u))
    if terminal is None:
        return np.minimum(t, censor), t <= censor
    return np.minimum(t, censor), (t < censor) | terminal


def fit_knots(curves: dict[str, KnotCurve], figures: list[Figure], u: dict[str, np.ndarray],
              censor: dict[str, np.ndarray], iterations: int = 40, tol: float = FIT_TOL,
              terminal: dict[str, np.ndarray] | None = None) -> FitResult:
    """Move the knots until every figure is within `tol` months (or the iterations run out);
    returns the best state seen (smallest largest miss). Deterministic: no random draws."""
    best = FitResult({k: _copy(c) for k, c in curves.items()})
    for _ in range(iterations):
        obs = {k: observe(c, u[k], censor[k], None if terminal is None else terminal[k]) for k, c in curves.items()}
        got = {k: km_figures(*oe) for k, oe in obs.items()}
        got["pool"] = km_figures(np.concatenate([o for o, _ in obs.values()]),
                                 np.concatenate([e for _, e in obs.values()]))
        misses = []
        for f in figures:
            a = got[f.curve][STAT_INDEX[f.stat]]
            miss = 5.0 if np.isnan(a) else a - f.value
            misses.append(miss)
        worst = max(abs(m) for m in misses)
        if worst < best.worst:
            best = FitResult({k: _copy(c) for k, c in curves.items()},
                             {(f.curve, f.stat): got[f.curve][STAT_INDEX[f.stat]] for f in figures}, worst)
        if worst <= tol:
            break
        for f, miss in zip(figures, misses):
            if abs(miss) > 0.02:
                nudge(curves[f.knot], f.value, miss)
    return best


def _copy(c: KnotCurve) -> KnotCurve:
    return KnotCurve(c.times.copy(), c.surv.copy(), c.tail_hazard, c.floor)


@dataclass
class GroupFit:
    """A salvage group's curves fitted to its figures: per subgroup the uniforms, censoring, mask."""

    fit: FitResult
    u: dict[str, np.ndarray]
    censor: dict[str, np.ndarray]
    masks: dict[str, np.ndarray]
    figures: list[Figure]
    terminal: dict[str, np.ndarray] | None = None

    def observed(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        obs, ev = np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
        for k, c in self.fit.curves.items():
            term = None if self.terminal is None else self.terminal[k]
            obs[self.masks[k]], ev[self.masks[k]] = observe(c, self.u[k], self.censor[k], term)
        return obs, ev

    def refit(self, tail_hazard: float, floor: float, iterations: int = 60, early: float | None = None,
              late: float | None = None) -> None:
        """Refit the knots under a new tail; `early` (with an early knot, see `group_fit`) sets S
        there to S(next knot)^(early/2): above 1, events come earlier before the first limit;
        `late` (with a late knot) is the hazard per month between the last figure and the late knot
        (below the tail's: events come later)."""
        for c in self.fit.curves.values():
            c.tail_hazard, c.floor = tail_hazard, floor
            if early is not None:
                c.surv[0] = min(0.985, c.surv[1] ** (early * c.times[0] / c.times[1]))
            if late is not None:
                gap = c.times[-1] - c.times[-2]
                c.surv[-1] = floor + (c.surv[-2] - floor) * np.exp(-late * gap)
            _monotone(c)
        self.fit = fit_knots(self.fit.curves, self.figures, self.u, self.censor, iterations, terminal=self.terminal)


def group_fit(rng: np.random.Generator, masks: dict[str, np.ndarray], censor: np.ndarray,
              sub_targets: dict[str, tuple[float, float, float]], pool_target: tuple[float, float, float] | None,
              pool_knot: str, terminal: np.ndarray | None = None, early_knot: bool = False,
              late_knot: float | None = None) -> GroupFit:
    """Stratified uniforms per subgroup and initial knots at the published figures; the pooled
    figures (if any) move the knots of subgroup `pool_knot`."""
    u = {k: stratified_uniforms(rng, int(m.sum())) for k, m in masks.items()}
    cen = {k: censor[m] for k, m in masks.items()}
    n = {k: int(m.sum()) for k, m in masks.items()}
    pool_knots = {pool_knot: list(pool_target)} if pool_target is not None else {}
    curves = initial_knots(sub_targets, n, pool_knots)
    if early_knot:  # halfway to the first knot, on the log-linear curve (no change until moved)
        for c in curves.values():
            c.times = np.concatenate([[c.times[0] / 2], c.times])
            c.surv = np.concatenate([[c.surv[0] ** 0.5], c.surv])
    if late_knot is not None:  # `late_knot` months after the last figure (moved by `refit(late=...)`)
        for c in curves.values():
            c.times = np.append(c.times, c.times[-1] + late_knot)
            c.surv = np.append(c.surv, c.surv[-1] * 0.9)
    figs = [Figure(k, s, v, k) for k, t in sub_targets.items() for s, v in zip(("median", "lcl", "ucl"), t)]
    if pool_target is not None:
        figs += [Figure("pool", s, v, pool_knot) for s, v in zip(("median", "lcl", "ucl"), pool_target)]
    term = None if terminal is None else {k: terminal[m] for k, m in masks.items()}
    return GroupFit(FitResult(curves), u, cen, dict(masks), figs, term)


# --------------------------------------------------------------------------- to the printed digit
# The coarse fit above lands each figure within a few days. Two exact moves then bring the figures
# to the printed digit without changing any Kaplan–Meier table: an event time can move anywhere
# strictly between the neighbouring observed times of its salvage group (the KM steps, at-risk
# numbers and Greenwood sums of the group and of its subgroups stay the same, only the time label
# changes). `snap_figures` moves the event that defines a figure onto the printed value;
# `polish_cox` moves other events across the other group's times, which changes only the Cox fit
# (it depends on the order of the two groups' times), until the HR, its limits and p print as
# published.


def half_up(x: float, decimals: int) -> Decimal:
    """Rounding as printed tables round (0.5 away from zero, on the decimal value)."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def prints_as(x: float | None, printed: float, decimals: int) -> bool:
    return x is not None and np.isfinite(x) and half_up(x, decimals) == Decimal(repr(float(printed))).quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Pin:
    """A Kaplan–Meier figure to print as published: `stat` of the curve of the patients in `mask`,
    whose salvage group is `group` (the patients whose times bound a move)."""

    mask: np.ndarray
    group: np.ndarray
    stat: str
    printed: float


def pin_value(obs: np.ndarray, ev: np.ndarray, pin: Pin) -> float:
    return km_figures(obs[pin.mask], ev[pin.mask])[STAT_INDEX[pin.stat]]


def snap_figures(obs: np.ndarray, ev: np.ndarray, pins: list[Pin], movable: np.ndarray,
                 latest: np.ndarray) -> int:
    """Move (in place) the event defining each pinned figure onto its printed value when that day lies
    strictly between its group's neighbouring times; `movable` patients may move, to at most
    `latest` days. Returns the number of pinned figures that still do not print as published."""
    for pin in pins:
        v = pin_value(obs, ev, pin)
        if prints_as(v, pin.printed, 1):
            continue
        if not np.isfinite(v) or abs(v * DAYS_PER_MONTH - round(v * DAYS_PER_MONTH)) > 1e-6:
            continue  # not estimable, or a midpoint median
        d, target = int(round(v * DAYS_PER_MONTH)), int(round(pin.printed * DAYS_PER_MONTH))
        at = pin.group & (obs == d)
        if (at & ~ev).any() or not movable[at].all() or (latest[at] < target).any():
            continue
        others = obs[pin.group & ~at]
        prev = others[others < d].max(initial=0)
        nxt = others[others > d].min(initial=np.iinfo(np.int64).max)
        if prev < target < nxt:
            obs[at] = target
    return sum(not prints_as(pin_value(obs, ev, p), p.printed, 1) for p in pins)


@dataclass(frozen=True)
class CoxTarget:
    """The printed HR, limits (2 decimals) and p (printed, decimals; None for a '<' bound)."""

    hr: float
    lcl: float
    ucl: float
    p: float | None = None
    p_decimals: int = 3
    p_below: float | None = None  # printed '<bound'

    def miss(self, cox: dict) -> float:
        """0 when everything prints as published; else the summed distance to the printed boxes
        (on the log scale for the HR and limits, in units of the last printed digit for p)."""
        out = 0.0
        for key, printed in (("hr", self.hr), ("lcl", self.lcl), ("ucl", self.ucl)):
            lo, hi = np.log(printed - 0.005 + COX_MARGIN), np.log(printed + 0.005 - COX_MARGIN)
            x = np.log(cox[key])
            out += max(lo - x, x - hi, 0.0)
        if self.p is not None:
            half = 10.0 ** -self.p_decimals / 2 - P_MARGIN
            out += max(abs(cox["p"] - self.p) - half, 0.0) * 10.0 ** self.p_decimals * 0.01
        if self.p_below is not None and not cox["p"] < self.p_below:
            out += 1.0
        return out

    def misses(self, cox: dict) -> int:
        """How many of the HR, its limits and p do not print as published."""
        out = sum(not prints_as(cox[k], v, 2) for k, v in (("hr", self.hr), ("lcl", self.lcl), ("ucl", self.ucl)))
        if self.p is not None:
            out += not prints_as(cox["p"], self.p, self.p_decimals)
        if self.p_below is not None:
            out += not cox["p"] < self.p_below
        return int(out)

    def se_window(self, z: float = 1.959964) -> tuple[float, float]:
        """The SEs of log HR for which some log HR puts every figure inside its box (the polish
        moves the log HR, hardly the SE)."""
        from scipy.stats import norm

        def b_range(se: float) -> tuple[float, float]:
            lo, hi = [], []
            for printed, shift in ((self.hr, 0.0), (self.lcl, z * se), (self.ucl, -z * se)):
                lo.append(np.log(printed - 0.005 + COX_MARGIN) + shift)
                hi.append(np.log(printed + 0.005 - COX_MARGIN) + shift)
            if self.p is not None:
                half = 10.0 ** -self.p_decimals / 2 - P_MARGIN
                lo.append(norm.isf((self.p + half) / 2) * se)
                hi.append(norm.isf((self.p - half) / 2) * se)
            if self.p_below is not None:
                lo.append(norm.isf(self.p_below / 2) * se)
            return max(lo), min(hi)

        centre = np.log((self.ucl) / (self.lcl)) / (2 * z)
        ok = [se for se in np.linspace(0.9 * centre, 1.1 * centre, 4001) if b_range(se)[0] <= b_range(se)[1]]
        return (min(ok), max(ok)) if ok else (centre, centre)

    def rise(self, cox: dict) -> bool:
        """Whether the log HR should rise (the figures that miss mostly sit below their boxes)."""
        need = 0.0
        for key, printed in (("hr", self.hr), ("lcl", self.lcl), ("ucl", self.ucl)):
            if abs(cox[key] - printed) > 0.005 - COX_MARGIN:
                need += np.log(printed) - np.log(cox[key])
        if self.p is not None and abs(cox["p"] - self.p) > 10.0 ** -self.p_decimals / 2 - P_MARGIN:
            need += (cox["p"] - self.p) * np.sign(np.log(cox["hr"])) * 0.1
        return need >= 0


def polish_cox(obs: np.ndarray, ev: np.ndarray, x: np.ndarray, sel: np.ndarray, target: CoxTarget,
               fixed: np.ndarray, latest: np.ndarray, rng: np.random.Generator, cox, max_evals: int = 1500,
               ) -> tuple[bool, dict]:
    """Greedy moves (in place) of single untied events of either group (x = 1 / 0 within `sel`) to
    the edge of their gap between the neighbouring times of their own group, accepted when they bring
    the Cox figures closer to the printed ones. `fixed` patients stay; moves stay within [1, latest].
    Deterministic given `rng`. Returns (every Cox figure prints as published, the last fit)."""
    idx_all = np.flatnonzero(sel)
    fit = cox(obs[sel], ev[sel], x[sel])
    best = target.miss(fit)
    evals = 0
    while best > 0 and evals < max_evals:
        improved = False
        up = target.rise(fit)  # the HR must rise: events of group 1 earlier, of group 0 later
        cand = idx_all[ev[idx_all] & ~fixed[idx_all]]
        for i in cand[rng.permutation(len(cand))]:
            grp = idx_all[x[idx_all] == x[i]]
            times = obs[grp]
            d = obs[i]
            if (times == d).sum() != 1:
                continue
            prev = times[times < d].max(initial=0)
            nxt = times[times > d].min(initial=np.iinfo(np.int64).max)
            earlier = bool(x[i]) == up
            edge = max(prev + 1, 1) if earlier else min(nxt - 1, latest[i])
            if edge == d or not prev < edge < nxt:
                continue
            other = obs[idx_all[x[idx_all] != x[i]]]  # just past the nearest time of the other group
            step = other[(other < d) & (other >= edge)].max(initial=edge) - 1 if earlier else \
                other[(other > d) & (other <= edge)].min(initial=edge) + 1
            accepted = False
            for new in dict.fromkeys((int(np.clip(step, min(d, edge), max(d, edge))), int(edge))):
                if new == d:
                    continue
                obs[i] = new
                evals += 1
                trial = cox(obs[sel], ev[sel], x[sel])
                m = target.miss(trial)
                if m < best:
                    best, fit, improved, accepted = m, trial, True, True
                    break
                obs[i] = d
            if accepted and (best == 0 or target.rise(fit) != up):
                break
            if evals >= max_evals:
                break
        if not improved:
            break
    return best == 0, fit
