"""Table 2 and the KM curve frame on the hand-made pool of tests/fixtures_pooled.py.

Hand computation (months; + = censored):
  OS first   5, 8, 10, 20+      S = .75, .50, .25, .25  -> median (8 + 10)/2 = 9 (exact 0.5)
             log-log intervals at 5, 8, 10 all contain 0.5 (as for 1,2,3,4 in test_statistics)
             -> CI (5, NE): no event time after 10.
  OS later   1, 2, 3, 4+, 6, 12+  S = 5/6, 4/6, 3/6, ., 1/4 -> median (3 + 6)/2 = 4.5
  RFS first  5, 7+               S = .5 then flat to the end -> median NE (flat-at-end rule)
  RFS later  3, 4, 10+           S = 2/3, 1/3 -> median 4
  OS first × Y   F1: 10          S 1 -> 0: median 10, no interval contains .5 -> CI (NE, NE)
  OS first × N   5, 8, 20+       S = 2/3, 1/3 -> median 8
  OS later × Y   1, 2, 3         S = 2/3, 1/3, 0 -> median 2
  OS later × N   4+, 6, 12+      S = 1/2 at 6, flat to the end -> median NE, CI (6, NE)
CIs are also checked against statsmodels quantile_ci(method="cloglog"), HR/p against
statsmodels PHReg(ties="efron") and survdiff on the same rows.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from repool.tasks.analyse.ard import ARD_COLUMNS, assert_ard
from repool.tasks.analyse.table2_survival import CURVE_COLUMNS, compute_km_curves, compute_table2
from tests.fixtures_pooled import FIRST, LATER, make_adsl, make_adtte, only_first

KM_STATS = ("n", "events", "median", "median_lcl", "median_ucl")
HR_STATS = ("hr", "hr_lcl", "hr_ucl", "p_value", "p_logrank")
SUBSETS = [("OS", g, None) for g in (FIRST, LATER)] + [("RFS", g, None) for g in (FIRST, LATER)] + [
    ("OS", g, p) for g in (FIRST, LATER) for p in ("Y", "N")]


def get(ard, variable, group, stat_name, prior=None):
    m = (ard["variable"] == variable) & (ard["group1_level"] == group) & (ard["stat_name"] == stat_name)
    m &= ard["group2_level"].isna() if prior is None else ard["group2_level"] == prior
    assert m.sum() == 1
    v = ard.loc[m, "stat"].item()
    return None if pd.isna(v) else v


def km_row(ard, variable, group, prior=None):
    return tuple(get(ard, variable, group, s, prior) for s in KM_STATS)


def test_row_set_and_shape():
    ard = compute_table2(make_adsl(), make_adtte())
    assert list(ard.columns) == ARD_COLUMNS
    assert_ard(ard)
    assert (ard["table_id"] == "table2").all() and (ard["group1"] == "SALVGRP").all()
    assert ard["variable_level"].isna().all()
    expected = {(v, g, p, s) for v, g, p in SUBSETS for s in KM_STATS}
    expected |= {(v, LATER, None, s) for v in ("OS", "RFS") for s in HR_STATS}
    got = {(r.variable, r.group1_level, r.group2_level, r.stat_name) for r in ard.itertuples()}
    assert got == expected and len(ard) == len(expected)
    assert set(ard.loc[ard["group2_level"].notna(), "group2"]) == {"PRHSCT"}
    assert ard.loc[ard["group2_level"].isna(), "group2"].isna().all()


def test_km_rows_by_hand():
    ard = compute_table2(make_adsl(), make_adtte())
    assert km_row(ard, "OS", FIRST) == (4, 3, 9.0, 5.0, None)
    assert km_row(ard, "OS", LATER)[:3] == (6, 4, 4.5)
    assert km_row(ard, "RFS", FIRST)[:3] == (2, 1, None)
    assert km_row(ard, "RFS", LATER)[:3] == (3, 2, 4.0)
    assert km_row(ard, "OS", FIRST, "Y") == (1, 1, 10.0, None, None)
    assert km_row(ard, "OS", FIRST, "N")[:3] == (3, 2, 8.0)
    assert km_row(ard, "OS", LATER, "Y")[:3] == (3, 3, 2.0)
    assert km_row(ard, "OS", LATER, "N") == (3, 1, None, 6.0, None)


def _rows(variable, group=None, prior=None):
    adsl, tte = make_adsl(), make_adtte()
    d = tte[tte["PARAMCD"] == variable].merge(adsl[["USUBJID", "SALVGRP", "PRHSCT"]], on="USUBJID")
    if group:
        d = d[d["SALVGRP"] == group]
    if prior:
        d = d[d["PRHSCT"] == prior]
    return d["AVAL"].to_numpy(float), 1 - d["CNSR"].to_numpy(int), (d["SALVGRP"] == LATER).to_numpy(int)


def test_median_ci_equals_statsmodels_cloglog():
    from statsmodels.duration.survfunc import SurvfuncRight

    ard = compute_table2(make_adsl(), make_adtte())
    for var, group, prior in SUBSETS:
        t, e, _ = _rows(var, group, prior)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = SurvfuncRight(t, e).quantile_ci(0.5, method="cloglog")
        ref = tuple(None if not np.isfinite(v) else float(v) for v in ref)
        assert km_row(ard, var, group, prior)[3:] == ref, (var, group, prior)


def test_hr_and_logrank_equal_statsmodels():
    import statsmodels.api as sm
    from statsmodels.duration.survfunc import survdiff

    ard = compute_table2(make_adsl(), make_adtte())
    for var in ("OS", "RFS"):
        t, e, x = _rows(var)
        ref = sm.PHReg(t, x[:, None].astype(float), status=e, ties="efron").fit()
        assert np.log(get(ard, var, LATER, "hr")) == pytest.approx(ref.params[0], rel=1e-4)
        lcl, ucl = np.exp(ref.conf_int()[0])
        assert get(ard, var, LATER, "hr_lcl") == pytest.approx(lcl, rel=1e-4)
        assert get(ard, var, LATER, "hr_ucl") == pytest.approx(ucl, rel=1e-4)
        assert get(ard, var, LATER, "p_value") == pytest.approx(ref.pvalues[0], rel=1e-4)
        assert get(ard, var, LATER, "p_logrank") == pytest.approx(survdiff(t, e, x)[1], rel=1e-8)


def test_empty_group_rows_emitted_with_null_stats():
    ard = compute_table2(only_first(make_adsl()), only_first(make_adtte()))
    assert len(ard) == 50
    for var, group, prior in SUBSETS:
        if group == LATER:
            assert km_row(ard, var, group, prior) == (0, 0, None, None, None)
    assert all(get(ard, v, LATER, s) is None for v in ("OS", "RFS") for s in HR_STATS)
    assert km_row(ard, "OS", FIRST) == (4, 3, 9.0, 5.0, None)


def test_rows_of_subjects_not_in_adsl_are_ignored_and_order_is_stable():
    tte = pd.concat([make_adtte(), pd.DataFrame(
        [{"STUDYID": "X", "USUBJID": "X99", "PARAMCD": "OS", "AVAL": 0.5, "CNSR": 0}])])
    ard = compute_table2(make_adsl(), tte.sample(frac=1, random_state=1))
    pd.testing.assert_frame_equal(ard, compute_table2(make_adsl(), make_adtte()), check_exact=True)


def test_input_checks():
    with pytest.raises(ValueError, match="CNSR"):
        compute_table2(make_adsl(), make_adtte().drop(columns="CNSR"))
    with pytest.raises(ValueError, match="PRHSCT"):
        compute_table2(make_adsl().drop(columns="PRHSCT"), make_adtte())
    with pytest.raises(ValueError, match="more than one row"):
        compute_table2(make_adsl(), pd.concat([make_adtte(), make_adtte().iloc[[0]]]))
    bad = make_adtte()
    bad.loc[0, "CNSR"] = 2
    with pytest.raises(ValueError, match="CNSR"):
        compute_table2(make_adsl(), bad)


def test_km_curves_by_hand():
    curves = compute_km_curves(make_adsl(), make_adtte())
    assert list(curves.columns) == CURVE_COLUMNS
    keys = list(dict.fromkeys(zip(curves["variable"], curves["group1_level"], curves["group2_level"])))
    assert keys == SUBSETS
    os_first = curves[(curves["variable"] == "OS") & (curves["group1_level"] == FIRST)
                      & curves["group2_level"].isna()]
    assert os_first["time"].tolist() == [5, 8, 10, 20]
    assert os_first["surv"].tolist() == [0.75, 0.5, 0.25, 0.25]
    assert os_first["n_risk"].tolist() == [4, 3, 2, 1]
    assert os_first["n_event"].tolist() == [1, 1, 1, 0]
    assert os_first["n_censor"].tolist() == [0, 0, 0, 1]
    # S = .75, n = 4: log-log band .75^exp(±1.96·sqrt(1/12)/|log .75|)
    se = np.sqrt(1 / 12) / abs(np.log(0.75))
    assert os_first["surv_lcl"].iloc[0] == pytest.approx(0.75 ** np.exp(1.959964 * se))
    assert os_first["surv_ucl"].iloc[0] == pytest.approx(0.75 ** np.exp(-1.959964 * se))
    later_y = curves[(curves["group1_level"] == LATER) & (curves["group2_level"] == "Y")]
    assert later_y["surv"].iloc[-1] == 0 and later_y[["surv_lcl", "surv_ucl"]].iloc[-1].isna().all()
    assert len(curves) == 25
    # empty subsets have no rows
    empty = compute_km_curves(only_first(make_adsl()), only_first(make_adtte()))
    assert set(empty["group1_level"]) == {FIRST}
