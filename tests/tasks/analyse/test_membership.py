"""Membership (issue 11, part 3): every table names the subjects behind each ARD row, on the hand-made
pool of tests/fixtures_pooled.py (the subject sets below are read off its docstring table by hand).

A count row (n, N, events, n_grade3) lists exactly `stat` distinct subjects; every other row links to
the population it was computed on; asking for membership never changes the ARD.
"""
from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
import pytest

from repool.schemas.ard import ARD_KEY, COUNT_STATS, SUBJECT_COLUMNS
from repool.tasks.analyse import TABLES
from tests.fixtures_pooled import FIRST, LATER, make_adae, make_adrs, make_adsl, make_adtte, only_first

FRAMES = {"adsl": make_adsl, "adrs": make_adrs, "adtte": make_adtte, "adae": make_adae}


def _run(table_id: str, frames: dict | None = None):
    frames = frames or {k: f() for k, f in FRAMES.items()}
    fn, inputs, _ = TABLES[table_id]
    plain = fn(*(frames[i] for i in inputs))
    ard, subjects = fn(*(frames[i] for i in inputs), with_subjects=True)
    return plain, ard, subjects


def _members(subjects: pd.DataFrame, variable: str, stat_name: str, group: str, level=None, group2=None):
    m = (subjects["variable"] == variable) & (subjects["stat_name"] == stat_name)
    m &= (subjects["group1_level"] == group) if group2 is None else (
        (subjects["group1_level"] == group) & (subjects["group2_level"] == group2))
    if group2 is None:
        m &= subjects["group2_level"].isna()
    m &= subjects["variable_level"].isna() if level is None else subjects["variable_level"] == level
    return subjects[m]


def _ids(sub: pd.DataFrame) -> set[str]:
    return set(sub["USUBJID"])


def _check_every_count_row(ard: pd.DataFrame, subjects: pd.DataFrame) -> int:
    """For every count row: distinct (STUDYID, USUBJID) listed == stat; returns how many were checked."""
    distinct = subjects.drop_duplicates([*ARD_KEY, "STUDYID", "USUBJID"])
    key = distinct[ARD_KEY].astype(object).where(distinct[ARD_KEY].notna(), "<null>")
    listed = key.groupby(ARD_KEY, dropna=False).size()
    checked = 0
    for row in ard[ard["stat_name"].isin(COUNT_STATS)].itertuples(index=False):
        k = tuple("<null>" if pd.isna(getattr(row, c)) else getattr(row, c) for c in ARD_KEY)
        assert int(listed.get(k, 0)) == int(row.stat), (k, listed.get(k, 0), row.stat)
        checked += 1
    return checked


@pytest.mark.parametrize("table_id", list(TABLES))
def test_membership_leaves_the_ard_unchanged_and_every_count_row_lists_n_subjects(table_id):
    plain, ard, subjects = _run(table_id)
    pdt.assert_frame_equal(plain, ard)
    assert list(subjects.columns) == SUBJECT_COLUMNS
    assert set(subjects["role"]) <= {"counted", "population"}
    assert (subjects["role"] == "counted").eq(subjects["stat_name"].isin(COUNT_STATS)).all()
    assert _check_every_count_row(ard, subjects) > 0
    # every membership row belongs to an ARD row of the table
    keys = set(map(tuple, ard[ARD_KEY].astype(object).where(ard[ARD_KEY].notna(), None).values.tolist()))
    assert set(map(tuple, subjects[ARD_KEY].values.tolist())) <= keys


@pytest.mark.parametrize("table_id", list(TABLES))
def test_an_empty_salvage_group_counts_nobody(table_id):
    frames = {k: only_first(f()) for k, f in FRAMES.items()}
    _, ard, subjects = _run(table_id, frames)
    _check_every_count_row(ard, subjects)
    assert not subjects["USUBJID"].str.startswith("L").any()


def test_table1_by_hand():
    _, _, s = _run("table1")
    assert _ids(_members(s, "BMBLAST", "n", FIRST)) == {"F1", "F2", "F4"}  # F3 has no blast count
    assert _ids(_members(s, "BMBLAST", "median", FIRST)) == {"F1", "F2", "F4"}  # computed on the same
    assert _ids(_members(s, "SEX", "n", LATER, "F")) == {"L1", "L3", "L4", "L6"}
    assert _ids(_members(s, "SEX", "pct", LATER, "F")) == {f"L{i}" for i in range(1, 7)}  # over the group
    assert set(s["dataset"]) == {"adsl"} and set(s["record"]) == {""}


def test_table2_by_hand():
    _, _, s = _run("table2")
    assert _ids(_members(s, "OS", "events", FIRST)) == {"F1", "F2", "F4"}  # F3 censored
    assert _ids(_members(s, "OS", "n", FIRST)) == {"F1", "F2", "F3", "F4"}
    assert _ids(_members(s, "RFS", "events", LATER)) == {"L1", "L2"}  # L5 censored
    assert _ids(_members(s, "OS", "n", LATER, group2="Y")) == {"L1", "L2", "L5"}
    assert _ids(_members(s, "OS", "median", LATER, group2="N")) == {"L3", "L4", "L6"}
    assert _ids(_members(s, "RFS", "hr", LATER)) == {"F1", "F2", "L1", "L2", "L5"}  # both groups
    rfs = _members(s, "RFS", "n", FIRST)
    assert set(zip(rfs["dataset"], rfs["record"])) == {("adtte", "RFS")}


def test_table3_by_hand():
    _, _, s = _run("table3")
    hsct = _members(s, "HSCT", "n", FIRST)
    assert _ids(hsct) == {"F1", "F3"} and set(hsct["dataset"]) == {"adsl"}
    assert _ids(_members(s, "HSCT", "N", FIRST)) == {"F1", "F2", "F3", "F4"}
    assert _ids(_members(s, "HSCT", "pct", FIRST)) == {"F1", "F2", "F3", "F4"}
    mrd = _members(s, "MRD", "n", LATER)  # L3 is MRD-negative but not in remission
    assert _ids(mrd) == {"L1", "L5"}
    assert set(zip(mrd["USUBJID"], mrd["record"])) == {("L1", "BOR"), ("L1", "MRD"), ("L5", "BOR"), ("L5", "MRD")}
    assert _ids(_members(s, "MRD", "N", LATER)) == {"L1", "L2", "L5"}
    rem = _members(s, "BOR", "n", LATER, "CR/CRh/CRi")
    assert _ids(rem) == {"L1", "L2", "L5"} and set(rem["dataset"]) == {"adsl", "adrs"}
    assert len(_ids(_members(s, "REMISSION", "or", LATER))) == 10


def test_table4_by_hand():
    _, _, s = _run("table4")
    crs = _members(s, "CRS", "n", FIRST)
    assert set(zip(crs["USUBJID"], crs["dataset"], crs["record"])) == {("F1", "adae", "2")}  # F1's 2nd AE
    later = _members(s, "CRS", "n", LATER)  # L3 twice (one subject), X99 not in ADSL
    assert set(zip(later["USUBJID"], later["record"])) == {("L3", "1"), ("L3", "2")}
    assert _ids(_members(s, "FATAL_TEAE", "n", FIRST)) == {"F4"}  # F2's fatal AE is not treatment-emergent
    assert _ids(_members(s, "ANY_TEAE", "n_grade3", LATER)) == {"L1", "L2", "L4"}
    assert _ids(_members(s, "ANY_TEAE", "pct", LATER)) == {f"L{i}" for i in range(1, 7)}
    assert "X99" not in set(s["USUBJID"])


def test_table5_by_hand():
    _, _, s = _run("studies")

    def get(variable, stat_name, study, group=None):
        m = (s["variable"] == variable) & (s["stat_name"] == stat_name) & (s["group1_level"] == study)
        m &= s["group2_level"].isna() if group is None else s["group2_level"] == group
        return _ids(s[m])

    # fixtures: F* in MT103-211, L* in 00103311
    assert get("PATIENTS", "n", "MT103-211") == {"F1", "F2", "F3", "F4"}
    assert get("REMISSION", "n", "00103311") == {"L1", "L2", "L5"}
    assert get("OS", "events", "00103311", LATER) == {"L1", "L2", "L4", "L5"}
    assert len(_ids(s[(s["variable"] == "OS_STRATIFIED") & (s["stat_name"] == "hr")])) == 10
