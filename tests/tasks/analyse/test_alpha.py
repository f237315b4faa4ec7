"""`alpha` (Settings.alpha, `repool run --alpha`) reaches every interval, and the renderers state the level."""
from __future__ import annotations

import pandas as pd
import pytest

from repool.schemas.ard import ARD_KEY, TABLE_IDS
from repool.settings import Settings
from repool.tasks.analyse import analyse_table, derive_km_curves
from repool.tasks.harmonise import read_pooled
from repool.tasks.render.display import format_level, level_of, render_text
from repool.tasks.render.report import render_report
from tests.chain import pool_bundled

INTERVALS = {"median_lcl", "median_ucl", "hr_lcl", "hr_ucl", "or_lcl", "or_ucl", "ci_lower", "ci_upper"}


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    s, _ = pool_bundled(tmp_path_factory.mktemp("alpha"))
    return read_pooled.fn(s)


def _ard(frames, alpha):
    return pd.concat([analyse_table.fn(t, frames, alpha) for t in TABLE_IDS], ignore_index=True)


def test_alpha_changes_every_interval_and_nothing_else(frames):
    a95, a90 = _ard(frames, 0.05), _ard(frames, 0.10)
    both = a95.merge(a90, on=ARD_KEY, suffixes=("_95", "_90"), validate="one_to_one")
    assert len(both) == len(a95) == len(a90)
    interval = both["stat_name"].isin(INTERVALS)
    same = both.loc[~interval]
    assert ((same["stat_95"] == same["stat_90"]) | (same["stat_95"].isna() & same["stat_90"].isna())).all()
    moved = both.loc[interval].dropna(subset=["stat_95", "stat_90"])
    for stat_name in INTERVALS:  # each kind of interval moves somewhere
        rows = moved[moved["stat_name"] == stat_name]
        assert (rows["stat_95"] != rows["stat_90"]).any(), stat_name
    lower = moved["stat_name"].str.endswith(("_lcl", "ci_lower"))
    assert (moved.loc[lower, "stat_90"] >= moved.loc[lower, "stat_95"]).all()  # a 90% interval is narrower
    assert (moved.loc[~lower, "stat_90"] <= moved.loc[~lower, "stat_95"]).all()


def test_the_km_band_follows_alpha(frames):
    k95, k90 = derive_km_curves.fn(frames, 0.05), derive_km_curves.fn(frames, 0.10)
    assert (k95["surv"].values == k90["surv"].values).all()
    assert (k90["surv_lcl"].fillna(0) >= k95["surv_lcl"].fillna(0)).all()
    assert (k90["surv_lcl"] != k95["surv_lcl"]).any()


def test_footnotes_and_labels_state_the_level(frames, tmp_path):
    ard = _ard(frames, 0.10)
    text = render_text(ard, confidence_level=level_of({"alpha": 0.10}))
    assert "Median OS (90% CI)" in text and "Wald 90% CI" in text and "90% exact Clopper–Pearson" in text
    assert "95%" not in text
    default = render_text(_ard(frames, 0.05))
    assert "Median OS (95% CI)" in default and "90%" not in default
    meta = {"result_version": "vtest", "parameters": {"alpha": 0.1}, "deliveries": []}
    html = render_report(ard, None, meta, tmp_path).read_text(encoding="utf-8")
    assert "Every interval is a 90% interval" in html and "Median OS (90% CI)" in html and "95% CI" not in html


@pytest.mark.parametrize("level, text", [(0.95, "95%"), (0.9, "90%"), (0.975, "97.5%"), (0.99, "99%")])
def test_format_level(level, text):
    assert format_level(level) == text


def test_settings_refuse_an_alpha_outside_zero_one():
    with pytest.raises(ValueError, match="alpha"):
        Settings(alpha=1.5)
    assert Settings(alpha=0.1).confidence_level == 0.9
