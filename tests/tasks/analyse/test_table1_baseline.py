"""Table 1 on the hand-made pool of tests/fixtures_pooled.py (expected values by hand)."""
from __future__ import annotations

import pandas as pd
import pytest

from repool.tasks.analyse.ard import ARD_COLUMNS, assert_ard
from repool.tasks.analyse.table1_baseline import compute_table1
from tests.fixtures_pooled import FIRST, LATER, make_adsl, only_first


def stat(ard, group, variable, stat_name, level=None):
    m = (ard["group1_level"] == group) & (ard["variable"] == variable) & (ard["stat_name"] == stat_name)
    m &= ard["variable_level"].isna() if level is None else ard["variable_level"] == level
    assert m.sum() == 1, (group, variable, stat_name, level)
    v = ard.loc[m, "stat"].item()
    return None if pd.isna(v) else v


def expected_keys():
    """The exact row set results.md asks for (group, variable, level, stat)."""
    levels = {"SEX": ["M", "F"], "ECOG": ["0", "1", "2", "Unknown"], "PRHSCT": ["Y", "N"],
              "BMBLCAT": ["<= 5%", "> 5% - < 10%", "10% - < 50%", ">= 50%", "Unknown"]}
    keys = set()
    for g in (FIRST, LATER):
        for var in ("AGE", "BMBLAST"):
            keys |= {(g, var, None, s) for s in ("n", "median", "min", "max")}
        for var, lv in levels.items():
            keys |= {(g, var, level, s) for level in lv for s in ("n", "pct")}
    return keys


def test_row_set_shape_and_determinism():
    ard = compute_table1(make_adsl())
    assert list(ard.columns) == ARD_COLUMNS
    assert_ard(ard)
    assert (ard["table_id"] == "table1").all() and (ard["group1"] == "SALVGRP").all()
    assert ard["group2"].isna().all() and ard["group2_level"].isna().all()
    got = {(r.group1_level, r.variable, r.variable_level, r.stat_name) for r in ard.itertuples()}
    assert got == expected_keys() and len(ard) == len(expected_keys())
    shuffled = make_adsl().sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(compute_table1(shuffled), ard, check_exact=True)


def test_continuous_by_hand():
    ard = compute_table1(make_adsl())
    # first: ages 40, 50, 60, 20 ; blasts 3, 80, 7 (F3 missing)
    assert [stat(ard, FIRST, "AGE", s) for s in ("n", "median", "min", "max")] == [4, 45, 20, 60]
    assert [stat(ard, FIRST, "BMBLAST", s) for s in ("n", "median", "min", "max")] == [3, 7, 3, 80]
    # later: ages 18, 30, 33, 77, 35, 34 ; blasts 10, 50, 100, 49.9, 5 (L6 missing)
    assert [stat(ard, LATER, "AGE", s) for s in ("n", "median", "min", "max")] == [6, 33.5, 18, 77]
    assert [stat(ard, LATER, "BMBLAST", s) for s in ("n", "median", "min", "max")] == [5, 49.9, 5, 100]


def test_categorical_by_hand_including_zero_levels():
    ard = compute_table1(make_adsl())
    expected = {
        FIRST: {"SEX": {"M": 3, "F": 1}, "ECOG": {"0": 1, "1": 2, "2": 1, "Unknown": 0},
                "PRHSCT": {"Y": 1, "N": 3},
                "BMBLCAT": {"<= 5%": 1, "> 5% - < 10%": 1, "10% - < 50%": 0, ">= 50%": 1, "Unknown": 1}},
        LATER: {"SEX": {"M": 2, "F": 4}, "ECOG": {"0": 2, "1": 2, "2": 1, "Unknown": 1},
                "PRHSCT": {"Y": 3, "N": 3},
                "BMBLCAT": {"<= 5%": 1, "> 5% - < 10%": 0, "10% - < 50%": 2, ">= 50%": 2, "Unknown": 1}},
    }
    for group, N in ((FIRST, 4), (LATER, 6)):
        for var, levels in expected[group].items():
            for level, n in levels.items():
                assert stat(ard, group, var, "n", level) == n
                assert stat(ard, group, var, "pct", level) == pytest.approx(100 * n / N)
    assert stat(ard, FIRST, "ECOG", "pct", "Unknown") == 0.0


def test_empty_group_still_emitted():
    ard = compute_table1(only_first(make_adsl()))
    assert len(ard) == len(expected_keys())
    assert stat(ard, LATER, "AGE", "n") == 0 and stat(ard, LATER, "AGE", "median") is None
    assert stat(ard, LATER, "SEX", "n", "M") == 0 and stat(ard, LATER, "SEX", "pct", "M") is None


def test_input_checks():
    with pytest.raises(ValueError, match="BMBLPCT"):
        compute_table1(make_adsl().drop(columns="BMBLPCT"))
    bad = make_adsl()
    bad.loc[0, "ECOG"] = "3"
    with pytest.raises(ValueError, match="ECOG"):
        compute_table1(bad)
    bad = make_adsl()
    bad.loc[0, "SALVGRP"] = "Third"
    with pytest.raises(ValueError, match="SALVGRP"):
        compute_table1(bad)


def test_fixtures_conform_to_pooled_contract():
    from repool.schemas.pooled import POOLED_MODELS
    from tests.fixtures_pooled import make_adae, make_adrs, make_adtte

    for name, make in {"adsl": make_adsl, "adtte": make_adtte, "adrs": make_adrs, "adae": make_adae}.items():
        POOLED_MODELS[name].validate(make())
