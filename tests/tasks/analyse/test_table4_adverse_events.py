"""Table 4 on the hand-made pool of tests/fixtures_pooled.py (expected values by hand).

TEAE rows (F2's grade-5 non-TEAE and X99, not in ADSL, are ignored):
  first (N=4): F1 gr2; F1 gr3 serious related CRS; F2 gr1 NEURO; F4 gr5 serious related fatal
  later (N=6): L1 gr4 serious; L2 gr5 serious fatal unrelated; L3 gr2 + gr1 CRS; L4 gr3 NEURO
                 first            later
  ANY_TEAE       3 (75)  g3 2     4 (66.7)  g3 3 (L1, L2, L4)
  SERIOUS_TEAE   2 (50)           2 (33.3)
  FATAL_TEAE     1 (25)           1 (16.7)
  FATAL_RELATED  1 (25)           0 (0)
  CRS            1 (25)  g3 1     1 (16.7)  g3 0  (L3 twice: counted once)
  NEURO          1 (25)  g3 0     1 (16.7)  g3 1
"""
from __future__ import annotations

import pandas as pd
import pytest

from repool.tasks.analyse.ard import ARD_COLUMNS, assert_ard
from repool.tasks.analyse.table4_adverse_events import compute_table4
from tests.fixtures_pooled import FIRST, LATER, make_adae, make_adsl, only_first

EXPECTED = {  # variable -> group -> (n, n_grade3 or None)
    "ANY_TEAE": {FIRST: (3, 2), LATER: (4, 3)},
    "SERIOUS_TEAE": {FIRST: (2, None), LATER: (2, None)},
    "FATAL_TEAE": {FIRST: (1, None), LATER: (1, None)},
    "FATAL_RELATED": {FIRST: (1, None), LATER: (0, None)},
    "CRS": {FIRST: (1, 1), LATER: (1, 0)},
    "NEURO": {FIRST: (1, 0), LATER: (1, 1)},
}
GROUP_N = {FIRST: 4, LATER: 6}


def get(ard, variable, group, stat_name):
    m = (ard["variable"] == variable) & (ard["group1_level"] == group) & (ard["stat_name"] == stat_name)
    assert m.sum() == 1
    v = ard.loc[m, "stat"].item()
    return None if pd.isna(v) else v


def test_row_set_and_shape():
    ard = compute_table4(make_adsl(), make_adae())
    assert list(ard.columns) == ARD_COLUMNS
    assert_ard(ard)
    assert (ard["table_id"] == "table4").all() and (ard["group1"] == "SALVGRP").all()
    assert ard["variable_level"].isna().all() and ard["group2"].isna().all()
    expected = set()
    for var, by_group in EXPECTED.items():
        stats = ("n", "pct", "n_grade3", "pct_grade3") if by_group[FIRST][1] is not None else ("n", "pct")
        expected |= {(var, g, s) for g in (FIRST, LATER) for s in stats}
    got = {(r.variable, r.group1_level, r.stat_name) for r in ard.itertuples()}
    assert got == expected and len(ard) == len(expected)


def test_counts_by_hand():
    ard = compute_table4(make_adsl(), make_adae())
    for var, by_group in EXPECTED.items():
        for group, (n, n3) in by_group.items():
            N = GROUP_N[group]
            assert get(ard, var, group, "n") == n, (var, group)
            assert get(ard, var, group, "pct") == pytest.approx(100 * n / N)
            if n3 is not None:
                assert get(ard, var, group, "n_grade3") == n3, (var, group)
                assert get(ard, var, group, "pct_grade3") == pytest.approx(100 * n3 / N)


def test_order_is_deterministic():
    ard = compute_table4(make_adsl(), make_adae())
    shuffled = compute_table4(make_adsl().sample(frac=1, random_state=2), make_adae().sample(frac=1, random_state=5))
    pd.testing.assert_frame_equal(ard, shuffled, check_exact=True)


def test_empty_group():
    ard = compute_table4(only_first(make_adsl()), make_adae())  # later subjects' AEs not in ADSL
    assert len(ard) == 36
    assert get(ard, "ANY_TEAE", LATER, "n") == 0 and get(ard, "ANY_TEAE", LATER, "pct") is None
    assert get(ard, "ANY_TEAE", FIRST, "n") == 3


def test_input_checks():
    with pytest.raises(ValueError, match="AESICAT"):
        compute_table4(make_adsl(), make_adae().drop(columns="AESICAT"))
    bad = make_adae()
    bad.loc[0, "AETOXGR"] = 6
    with pytest.raises(ValueError, match="AETOXGR"):
        compute_table4(make_adsl(), bad)
