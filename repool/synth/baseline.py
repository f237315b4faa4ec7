"""Baseline characteristics with exact counts (Table 1) for one salvage group."""
from __future__ import annotations

import numpy as np
import pandas as pd

from repool.synth.targets import GroupTargets

# Salvage lines of the later group: 2, 3, 4, 5, 6, 7 (5+ = TOWER's FIFTH_OR_LATER).
LATER_LINES = np.array([2, 3, 4, 5, 6, 7])
LATER_LINE_P = np.array([0.46, 0.30, 0.14, 0.06, 0.03, 0.01])


def _values_around_median(rng: np.random.Generator, n: int, median: float, lo: float, hi: float,
                          step: float) -> np.ndarray:
    """n sorted values with exactly this median, minimum `lo` and maximum `hi`: the lower half
    in [lo, median], the upper half in [median, hi]."""
    m_lo, m_hi = (n - 1) // 2, n // 2
    below = np.sort(_grid(rng, m_lo, lo, median, step))
    above = np.sort(_grid(rng, n - m_hi - 1, median, hi, step))
    if m_lo > 0:
        below[0] = lo
    if n - m_hi - 1 > 0:
        above[-1] = hi
    middle = np.full(m_hi - m_lo + 1, float(median))
    return np.concatenate([below, middle, above])


def _grid(rng: np.random.Generator, n: int, lo: float, hi: float, step: float) -> np.ndarray:
    """n values on a grid of `step` within [lo, hi] (mostly whole numbers)."""
    if n <= 0:
        return np.empty(0)
    k = int(round((hi - lo) / step))
    vals = lo + step * rng.integers(0, k + 1, n)
    whole = rng.random(n) < 0.75
    vals[whole] = np.clip(np.round(vals[whole]), lo, hi)
    return vals


def ages(rng: np.random.Generator, t: GroupTargets) -> np.ndarray:
    """Integer ages with the exact median, min and max of the group (shuffled)."""
    median, lo, hi = t.age
    vals = _values_around_median(rng, t.n, median, lo, hi, 1.0)
    return rng.permutation(vals.astype(int))


def blasts(rng: np.random.Generator, t: GroupTargets) -> np.ndarray:
    """Bone-marrow blasts (%) in the exact categories, with the exact median/min/max of the
    non-missing values; NaN = unknown (shuffled)."""
    c1, c2, c3, c4, unknown = t.blast_cats
    median, lo, hi = t.blasts
    k = c1 + c2 + c3 + c4
    v1 = np.sort(_grid(rng, c1, lo, 5.0, 0.5))
    if c1:
        v1[0] = lo
    v2 = _grid(rng, c2, 5.5, 9.5, 0.5)
    v3 = _grid(rng, c3, 10.0, 49.5, 0.5)
    # the median falls in the >= 50 block: position of the median inside that block
    pos = (k - 1) // 2 - (c1 + c2 + c3)
    if c4 and 0 <= pos < c4:
        m_lo, m_hi = pos, (k // 2) - (c1 + c2 + c3)
        below = _grid(rng, m_lo, 50.0, median, 0.5)
        above = np.sort(_grid(rng, c4 - m_hi - 1, median, hi, 0.5))
        if len(above):
            above[-1] = hi
        v4 = np.concatenate([below, np.full(m_hi - m_lo + 1, float(median)), above])
    else:  # scaled groups too small to place the median: just plausible values
        v4 = _grid(rng, c4, 50.0, hi, 0.5)
    vals = np.concatenate([v1, v2, v3, v4, np.full(unknown, np.nan)])
    return rng.permutation(vals)


def shuffled_counts(rng: np.random.Generator, values: list, counts: tuple[int, ...] | list[int]) -> np.ndarray:
    """An array holding each value exactly `count` times, in random order."""
    out = np.concatenate([np.full(c, v, dtype=object) for v, c in zip(values, counts)])
    return rng.permutation(out)


def baseline(rng: np.random.Generator, t: GroupTargets, group: str, first: bool) -> pd.DataFrame:
    """One row per patient of the group: SEX, AGE, ECOG, PRHSCT, BLASTS, SALVLINE."""
    n = t.n
    lines = np.ones(n, dtype=int) if first else rng.choice(LATER_LINES, n, p=LATER_LINE_P)
    return pd.DataFrame({
        "group": group,
        "sex": shuffled_counts(rng, ["M", "F"], [t.men, n - t.men]),
        "age": ages(rng, t),
        "ecog": shuffled_counts(rng, [0, 1, 2, -1], t.ecog).astype(int),  # -1 = unknown
        "prhsct": shuffled_counts(rng, [True, False], [t.prior_hsct, n - t.prior_hsct]).astype(bool),
        "blasts": blasts(rng, t),
        "line": lines,
    })
