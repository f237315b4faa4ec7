"""Table 3 on the hand-made pool of tests/fixtures_pooled.py (expected values by hand).

BOR first: F1 CR, F2 CRh, F3 NR, F4 NE      -> CR 1, CRh 1, CRi 0, CR/CRh/CRi 2 of 4
BOR later: L1 CR, L2 CRi, L3 PR, L4 NR, L5 CR, L6 BFHM -> CR 2, CRh 0, CRi 1, remission 3 of 6
MRD first: F1 Y, F2 N                        -> 1 of 2 in remission
MRD later: L1 Y, L2 not assessed, L5 Y (L3 Y but not in remission) -> 2 of 3
HSCT first 2/4, HSCT_CR 1/4, HSCT_RELREF 1/4, OTHER_TX 1/4; later 1/6, 1/6, 0/6, 0/6
REMISSION OR later vs first: (3/3)/(2/2) = 1, p = 1.
"""
from __future__ import annotations

import pandas as pd
import pytest

from repool.tasks.analyse.ard import ARD_COLUMNS, assert_ard
from repool.tasks.analyse.statistics import compute_odds_ratio, compute_proportion_ci
from repool.tasks.analyse.table3_response import compute_table3
from tests.fixtures_pooled import FIRST, LATER, make_adrs, make_adsl, only_first

PROP_STATS = ("n", "N", "pct", "ci_lower", "ci_upper")
VARIABLES = [("BOR", "CR"), ("BOR", "CRh"), ("BOR", "CRi"), ("BOR", "CR/CRh/CRi"), ("MRD", None),
             ("HSCT", None), ("HSCT_CR", None), ("HSCT_RELREF", None), ("OTHER_TX", None)]
EXPECTED = {  # (variable, level) -> group -> (n, N)
    ("BOR", "CR"): {FIRST: (1, 4), LATER: (2, 6)},
    ("BOR", "CRh"): {FIRST: (1, 4), LATER: (0, 6)},
    ("BOR", "CRi"): {FIRST: (0, 4), LATER: (1, 6)},
    ("BOR", "CR/CRh/CRi"): {FIRST: (2, 4), LATER: (3, 6)},
    ("MRD", None): {FIRST: (1, 2), LATER: (2, 3)},
    ("HSCT", None): {FIRST: (2, 4), LATER: (1, 6)},
    ("HSCT_CR", None): {FIRST: (1, 4), LATER: (1, 6)},
    ("HSCT_RELREF", None): {FIRST: (1, 4), LATER: (0, 6)},
    ("OTHER_TX", None): {FIRST: (1, 4), LATER: (0, 6)},
}


def get(ard, variable, group, stat_name, level=None):
    m = (ard["variable"] == variable) & (ard["group1_level"] == group) & (ard["stat_name"] == stat_name)
    m &= ard["variable_level"].isna() if level is None else ard["variable_level"] == level
    assert m.sum() == 1
    v = ard.loc[m, "stat"].item()
    return None if pd.isna(v) else v


def test_row_set_and_shape():
    ard = compute_table3(make_adsl(), make_adrs())
    assert list(ard.columns) == ARD_COLUMNS
    assert_ard(ard)
    assert (ard["table_id"] == "table3").all() and (ard["group1"] == "SALVGRP").all()
    assert ard["group2"].isna().all() and ard["group2_level"].isna().all()
    expected = {(v, lv, g, s) for v, lv in VARIABLES for g in (FIRST, LATER) for s in PROP_STATS}
    expected |= {("REMISSION", None, LATER, s) for s in ("or", "or_lcl", "or_ucl", "p_value")}
    got = {(r.variable, r.variable_level, r.group1_level, r.stat_name) for r in ard.itertuples()}
    assert got == expected and len(ard) == len(expected)


def test_proportions_by_hand():
    ard = compute_table3(make_adsl(), make_adrs())
    for (var, level), by_group in EXPECTED.items():
        for group, (n, N) in by_group.items():
            lo, hi = compute_proportion_ci(n, N)
            got = tuple(get(ard, var, group, s, level) for s in PROP_STATS)
            assert got == pytest.approx((n, N, 100 * n / N, lo, hi)), (var, level, group)
    # 0 of 6: exact lower 0, upper 100·(1 − 0.025^(1/6)) = 45.93
    assert get(ard, "OTHER_TX", LATER, "ci_lower") == 0.0
    assert get(ard, "OTHER_TX", LATER, "ci_upper") == pytest.approx(100 * (1 - 0.025 ** (1 / 6)))


def test_order_is_deterministic():
    ard = compute_table3(make_adsl(), make_adrs())
    shuffled = compute_table3(make_adsl().sample(frac=1, random_state=4), make_adrs().sample(frac=1, random_state=6))
    pd.testing.assert_frame_equal(ard, shuffled, check_exact=True)


def test_remission_odds_ratio():
    ard = compute_table3(make_adsl(), make_adrs())
    ref = compute_odds_ratio(3, 3, 2, 2)
    got = tuple(get(ard, "REMISSION", LATER, s) for s in ("or", "or_lcl", "or_ucl", "p_value"))
    assert got == pytest.approx(tuple(ref))
    assert got[0] == pytest.approx(1.0) and got[3] == pytest.approx(1.0)


def test_odds_ratio_orientation_later_vs_first():
    adrs = make_adrs()
    adrs.loc[(adrs["PARAMCD"] == "BOR") & (adrs["USUBJID"] == "L3"), "AVALC"] = "CR"  # later 4/6
    ard = compute_table3(make_adsl(), adrs)
    assert get(ard, "REMISSION", LATER, "or") == pytest.approx((4 / 2) / (2 / 2))


def test_empty_group_and_zero_cell():
    ard = compute_table3(only_first(make_adsl()), only_first(make_adrs()))
    assert len(ard) == 94
    assert tuple(get(ard, "HSCT", LATER, s) for s in PROP_STATS) == (0, 0, None, None, None)
    assert tuple(get(ard, "MRD", LATER, s) for s in PROP_STATS) == (0, 0, None, None, None)
    assert all(get(ard, "REMISSION", LATER, s) is None for s in ("or", "or_lcl", "or_ucl", "p_value"))


def test_subject_without_bor_row_is_non_response():
    adrs = make_adrs()
    adrs = adrs[~((adrs["USUBJID"] == "F4") & (adrs["PARAMCD"] == "BOR"))]
    ard = compute_table3(make_adsl(), adrs)
    assert (get(ard, "BOR", FIRST, "n", "CR/CRh/CRi"), get(ard, "BOR", FIRST, "N", "CR/CRh/CRi")) == (2, 4)


def test_input_checks():
    with pytest.raises(ValueError, match="HSCTRRFL"):
        compute_table3(make_adsl().drop(columns="HSCTRRFL"), make_adrs())
    with pytest.raises(ValueError, match="AVALC"):
        compute_table3(make_adsl(), make_adrs().drop(columns="AVALC"))
    dup = pd.concat([make_adrs(), make_adrs().iloc[[0]]])
    with pytest.raises(ValueError, match="BOR"):
        compute_table3(make_adsl(), dup)
    bad = make_adrs()
    bad.loc[0, "AVALC"] = "XX"
    with pytest.raises(ValueError, match="AVALC"):
        compute_table3(make_adsl(), bad)
