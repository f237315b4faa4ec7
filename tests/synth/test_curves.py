"""The generator's calibration moves (repool/synth/curves.py): knot curves, snapping a figure onto its
printed value and polishing a Cox fit, each without changing any Kaplan–Meier table.

The KM tables are compared with the pipeline's own `compute_km` (not the generator's numpy version),
and the Cox fits with the generator's Efron fit, whose agreement with the pipeline the calibration
tests check on the bundled data.
"""
from __future__ import annotations

import numpy as np
import pytest

from repool.synth import curves
from repool.synth.outcomes import DAYS_PER_MONTH
from repool.synth.stats import cox_binary_efron
from repool.tasks.analyse.statistics import compute_km

KM_SHAPE = ["n_risk", "n_event", "n_censor", "surv", "greenwood"]


def _km_shape(days: np.ndarray, event: np.ndarray) -> np.ndarray:
    """The KM table without its time column: what a move within a gap must not change."""
    return compute_km(days / DAYS_PER_MONTH, event.astype(int))[KM_SHAPE].to_numpy()


def test_knot_curve_inverse_passes_through_its_knots_tail_and_floor():
    c = curves.KnotCurve(np.array([4.0, 8.0]), np.array([0.6, 0.4]), tail_hazard=0.1, floor=0.2)
    assert c.inverse(np.array([0.6, 0.4])) == pytest.approx([4.0, 8.0])
    # log S linear between knots: halfway in log S is halfway in time
    assert c.inverse(np.array([np.sqrt(0.6 * 0.4)])) == pytest.approx([6.0])
    # tail: S(t) = floor + (S_last - floor) exp(-h (t - t_last))
    u = 0.2 + 0.2 * np.exp(-0.1 * 5.0)
    assert c.inverse(np.array([u])) == pytest.approx([13.0])
    assert np.isinf(c.inverse(np.array([0.19, 0.2]))).all()


def test_stratified_uniforms_one_per_slice():
    u = curves.stratified_uniforms(np.random.default_rng(1), 50)
    assert sorted(np.floor(u * 50).astype(int)) == list(range(50))


def _sample(seed: int = 3, n: int = 120):
    """Two groups with censoring, in integer days, from knot curves."""
    rng = np.random.default_rng(seed)
    first = curves.KnotCurve(np.array([8.0, 10.4, 14.3]), np.array([0.6, 0.5, 0.42]), 0.1, 0.1)
    later = curves.KnotCurve(np.array([4.3, 5.7, 7.1]), np.array([0.6, 0.5, 0.4]), 0.15, 0.1)
    x = np.arange(2 * n) >= n
    censor = rng.integers(60, 900, 2 * n)
    obs, ev = np.zeros(2 * n, dtype=int), np.zeros(2 * n, dtype=bool)
    for mask, c in ((~x, first), (x, later)):
        obs[mask], ev[mask] = curves.observe(c, curves.stratified_uniforms(rng, n), censor[mask])
    return obs, ev, x, censor


def _snappable(seed: int):
    """A sample and a printed median (0.1 months) that the group's median does not print as, but
    whose day lies strictly between the median event's neighbouring times."""
    obs, ev, x, censor = _sample(seed)
    group = ~x
    median = curves.km_figures(obs[group], ev[group])[0]
    d = int(round(median * DAYS_PER_MONTH))
    others = obs[group & (obs != d)]
    prev, nxt = others[others < d].max(), others[others > d].min()
    for printed in np.round(median + np.arange(-5, 6) * 0.1, 1):
        if prev < int(round(printed * DAYS_PER_MONTH)) < nxt and not curves.prints_as(median, printed, 1):
            return obs, ev, x, censor, float(printed)
    return None


def test_snap_moves_the_defining_event_onto_the_printed_value_and_keeps_the_km_table():
    obs, ev, x, censor, printed = next(s for s in map(_snappable, range(3, 60)) if s is not None)
    group = ~x
    sub = group & (np.arange(len(obs)) % 3 == 0)  # a subgroup of the group
    before = {k: _km_shape(obs[m], ev[m]) for k, m in (("group", group), ("sub", sub))}
    pins = [curves.Pin(group, group, "median", printed)]
    missing = curves.snap_figures(obs, ev, pins, np.ones(len(obs), dtype=bool), censor + 10_000)
    assert missing == 0
    assert curves.prints_as(curves.km_figures(obs[group], ev[group])[0], printed, 1)
    for k, m in (("group", group), ("sub", sub)):
        np.testing.assert_array_equal(_km_shape(obs[m], ev[m]), before[k])


def test_snap_leaves_a_figure_it_cannot_reach():
    obs, ev, x, censor = _sample()
    group = ~x
    kept = obs.copy()
    pins = [curves.Pin(group, group, "median", 99.9)]  # far beyond the neighbouring times
    assert curves.snap_figures(obs, ev, pins, np.ones(len(obs), dtype=bool), censor) == 1
    np.testing.assert_array_equal(obs, kept)


def test_polish_moves_the_cox_fit_towards_the_target_without_changing_either_km_table():
    obs, ev, x, censor = _sample()
    start = cox_binary_efron(obs, ev, x)
    goal = float(np.round(start["hr"] * 1.04, 2))  # a nearby HR the moves can reach
    target = curves.CoxTarget(goal, float(np.round(start["lcl"] * 1.04, 2)), float(np.round(start["ucl"] * 1.04, 2)))
    before = [_km_shape(obs[m], ev[m]) for m in (~x, x)]
    fixed = np.zeros(len(obs), dtype=bool)
    fixed[:5] = True
    kept = obs[:5].copy()
    _, fit = curves.polish_cox(obs, ev, x, np.ones(len(obs), dtype=bool), target, fixed, censor,
                               np.random.default_rng(0), cox_binary_efron, max_evals=400)
    assert target.miss(fit) < target.miss(start)
    assert fit == cox_binary_efron(obs, ev, x)  # the returned fit is the data's
    assert (obs <= np.maximum(censor, obs)).all() and (obs >= 1).all()
    np.testing.assert_array_equal(obs[:5], kept)
    for m, b in zip((~x, x), before):
        np.testing.assert_array_equal(_km_shape(obs[m], ev[m]), b)


def test_cox_target_misses_and_se_window():
    """The published OS figures 1.58 (1.26-1.97): the SEs of log HR that can print both limits lie
    around log(1.97/1.26)/3.92 = 0.1140."""
    t = curves.CoxTarget(1.58, 1.26, 1.97, p_below=0.001)
    lo, hi = t.se_window()
    assert lo < np.log(1.97 / 1.26) / (2 * 1.959964) < hi and hi - lo < 0.005
    assert t.misses({"hr": 1.5761, "lcl": 1.2579, "ucl": 1.9747, "p": 0.0001}) == 0
    assert t.misses({"hr": 1.5849, "lcl": 1.2579, "ucl": 1.9851, "p": 0.002}) == 2
    assert t.miss({"hr": 1.5761, "lcl": 1.2579, "ucl": 1.9747, "p": 0.0001}) == 0
