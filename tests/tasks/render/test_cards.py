"""ard_cards.parquet / .csv: the ARD in the columns of the pharmaverse `cards` package, one row per ARD row.

Reference for the columns: cards' ARD structure (`ard_summary()` / `ard_tabulate()` output: group1,
group1_level, ..., variable, variable_level, context, stat_name, stat_label, stat, fmt_fun, warning,
error; `apply_fmt_fun()` adds stat_fmt; cards >= 0.6.1 names the format column `fmt_fun`, earlier
releases `fmt_fn` — NEWS.md of insightsengineering/cards 0.6.1).
"""
from __future__ import annotations

import math

import pandas as pd
import pyarrow.parquet as pq
import pytest

from repool.schemas.ard import ARD_COLUMNS, ARD_KEY
from repool.tasks.render.cards import CARDS_COLUMNS, CARDS_CSV, CARDS_PARQUET, create_cards_ard, write_cards_ard
from repool.tasks.render.display import create_display_table
from tests.fixtures_ard import FIRST, LATER, build_fixture_ard, set_stat
from tests.fixtures_studies_ard import build_fixture_ard_with_studies

PARAMETERS = {"alpha": 0.05, "conventions": "sas"}
FIXTURES = {"tables1-4": build_fixture_ard, "with-studies": build_fixture_ard_with_studies}
CARDS_CORE = ["group1", "group1_level", "group2", "group2_level", "variable", "variable_level", "context",
              "stat_name", "stat_label", "stat", "fmt_fun", "warning", "error"]


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def written(request, tmp_path_factory):
    ard = set_stat(FIXTURES[request.param](), None, table_id="table2", variable="OS", stat_name="median_ucl",
                   group1_level=LATER, group2_level="Y")
    folder = tmp_path_factory.mktemp(request.param)
    paths = write_cards_ard(ard, {"result_version": "v0123456789ab", "parameters": PARAMETERS}, folder)
    return ard, folder, paths


def test_columns_are_cards_columns(written):
    _, folder, paths = written
    assert paths == [folder / CARDS_PARQUET, folder / CARDS_CSV]
    parquet = pq.read_table(folder / CARDS_PARQUET).to_pandas()
    csv = pd.read_csv(folder / CARDS_CSV, keep_default_na=False, na_values=[""], dtype=str)
    assert list(parquet.columns) == list(csv.columns) == CARDS_COLUMNS
    assert [c for c in CARDS_COLUMNS if c in CARDS_CORE] == CARDS_CORE  # cards' own order
    assert parquet["warning"].isna().all() and parquet["error"].isna().all()


def test_one_row_per_ard_value_with_the_same_coordinates_and_value(written):
    ard, folder, _ = written
    cards = pq.read_table(folder / CARDS_PARQUET).to_pandas()
    assert len(cards) == len(ard)
    left = ard[ARD_COLUMNS].astype(object).where(ard[ARD_COLUMNS].notna(), None)
    right = cards[ARD_COLUMNS].astype(object).where(cards[ARD_COLUMNS].notna(), None)
    assert left[ARD_KEY].values.tolist() == right[ARD_KEY].values.tolist()  # same rows, same order
    for a, b in zip(left["stat"], right["stat"]):
        assert (a is None and b is None) or a == b
    csv = pd.read_csv(folder / CARDS_CSV, keep_default_na=False, na_values=[""], float_precision="round_trip")
    assert len(csv) == len(ard)
    for a, b in zip(ard["stat"], csv["stat"]):
        assert (math.isnan(a) and math.isnan(b)) or a == b  # the CSV round-trips the doubles


def test_formatted_values_labels_and_digits(written):
    ard, folder, _ = written
    cards = pq.read_table(folder / CARDS_PARQUET).to_pandas().set_index(
        ["table_id", "variable", "variable_level", "group1_level", "group2_level", "stat_name"])

    def get(col, *k):
        return cards.loc[k, col]

    null = get("stat_fmt", "table2", "OS", None, LATER, "Y", "median_ucl")
    assert null == "NE" and pd.isna(get("fmt_fun", "table2", "OS", None, LATER, "Y", "median_ucl"))
    t1 = create_display_table(ard, "table1").set_index("Characteristic")
    first = [c for c in t1.columns if c.startswith(FIRST)][0]
    n, pct = (get("stat_fmt", "table1", "SEX", "M", FIRST, None, s) for s in ("n", "pct"))
    assert t1.loc["Men", first] == f"{n} ({pct})" == "98 (59)"
    assert get("stat_label", "table1", "SEX", "M", FIRST, None, "pct") == "%"
    assert get("context", "table1", "SEX", "M", FIRST, None, "pct") == "tabulate"
    assert get("fmt_fun", "table1", "SEX", "M", FIRST, None, "pct") == 0
    assert get("stat_fmt", "table2", "OS", None, FIRST, None, "median") == "10.4"
    assert get("fmt_fun", "table2", "OS", None, FIRST, None, "median") == 1
    assert get("context", "table2", "OS", None, LATER, None, "hr") == "survival_cox_hr"
    assert get("stat_fmt", "table2", "OS", None, LATER, None, "hr") == "1.58"
    assert get("stat_fmt", "table2", "OS", None, LATER, None, "p_value") == "<0.001"
    assert get("context", "table3", "BOR", "CR", FIRST, None, "ci_lower") == "proportion_ci"


def test_byte_reproducible(tmp_path):
    ard = build_fixture_ard_with_studies()
    meta = {"result_version": "v0123456789ab", "parameters": PARAMETERS}
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_cards_ard(ard, meta, a)
    write_cards_ard(ard.copy(), meta, b)
    for name in (CARDS_PARQUET, CARDS_CSV):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_the_r_profile_rounds_halves_to_even():
    ard = set_stat(build_fixture_ard(), 2.5, table_id="table1", variable="SEX", stat_name="pct",
                   variable_level="F", group1_level=LATER)
    for conventions, expected in (("sas", "3"), ("r", "2")):
        cards = create_cards_ard(ard, {"conventions": conventions})
        row = cards[(cards["variable"] == "SEX") & (cards["variable_level"] == "F")
                    & (cards["group1_level"] == LATER) & (cards["stat_name"] == "pct")]
        assert row["stat_fmt"].tolist() == [expected]
