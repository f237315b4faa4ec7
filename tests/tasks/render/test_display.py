import pytest

from repool.tasks.render.display import (
    ABSENT,
    create_display_table,
    format_estimate_ci,
    format_n_pct,
    format_p,
    group_sizes,
    render_text,
    round_half_up,
)
from tests.fixtures_ard import FIRST, LATER, build_fixture_ard, set_stat


@pytest.fixture(scope="module")
def ard():
    return build_fixture_ard()


def _cell(df, label, column_prefix):
    col = next(c for c in df.columns if c.startswith(column_prefix))
    return df.loc[df["Characteristic"] == label, col].item()


def test_round_half_up_rounds_like_printed_tables():
    assert round_half_up(5.45) == 5  # 9/165: not 6
    assert round_half_up(2.5) == 3  # not banker's 2
    assert round_half_up(98.18) == 98
    assert str(round_half_up(10.45, 1)) == "10.5"


def test_p_formatting():
    assert format_p(0.0004) == "<0.001"
    assert format_p(0.061234) == "0.061"
    assert format_p(0.0046) == "0.005"
    assert format_p(None) == "NE"
    assert format_p(ABSENT) == "—"


def test_ne_and_absent():
    assert format_estimate_ci(10.41, 8.28, None) == "10.4 (8.3–NE)"
    assert format_estimate_ci(None, None, None) == "NE (NE–NE)"
    assert format_n_pct(ABSENT, ABSENT) == "—"


def test_group_sizes_from_sex_counts(ard):
    assert group_sizes(ard) == {FIRST: 165, LATER: 367}


def test_table1_layout_and_rounding(ard):
    t1 = create_display_table(ard, "table1")
    assert list(t1.columns) == ["Characteristic", "First salvage (N=165)", "Second or later salvage (N=367)"]
    assert _cell(t1, "Age, years, median (range)", FIRST) == "45 (19–80)"
    assert _cell(t1, "Men", FIRST) == "98 (59)"
    assert _cell(t1, "Bone marrow blasts >5% to <10%", FIRST) == "9 (5)"  # 5.45 -> 5


def test_table2_ne_hr_and_p(ard):
    ard = set_stat(ard, None, table_id="table2", variable="OS", stat_name="median_ucl",
                   group1_level=FIRST, group2_level=None)
    t2 = create_display_table(ard, 2)
    assert _cell(t2, "Median OS (95% CI)", FIRST) == "10.4 (8.3–NE)"
    assert _cell(t2, "OS hazard ratio (95% CI)", LATER) == "1.58 (1.26–1.97)"
    assert _cell(t2, "OS p-value (Wald)", LATER) == "<0.001"
    assert _cell(t2, "RFS p-value (Wald)", LATER) == "0.061"
    assert _cell(t2, "Median OS, prior allo-HSCT (95% CI)", LATER) == "7.4 (4.2–9.0)"


def test_table3_n_pct_ci_and_or(ard):
    t3 = create_display_table(ard, "table3")
    assert _cell(t3, "Allo-HSCT", FIRST) == "60 (36) [29–44]"
    assert _cell(t3, "MRD response among remissions, n/N", FIRST).startswith("72/89 (81)")
    assert _cell(t3, "Odds ratio, CR/CRh/CRi (95% CI)", LATER) == "0.59 (0.41–0.85)"


def test_table4_grade_columns(ard):
    t4 = create_display_table(ard, "table4")
    assert _cell(t4, "Any TEAE", "First salvage (N=165): any grade") == "162 (98)"
    assert _cell(t4, "Any TEAE", "Second or later salvage (N=367): grade ≥3") == "310 (84)"
    assert _cell(t4, "Serious TEAE", "First salvage (N=165): grade ≥3") == "—"


def test_render_text_shows_all_tables(ard):
    text = render_text(ard)
    for title in ("Table 1.", "Table 2.", "Table 3.", "Table 4."):
        assert title in text
    assert render_text(ard, 3).count("Table ") == 1


def test_reads_stored_ard_with_version_column_and_nan_labels(ard):
    stored = ard.copy()
    stored.insert(0, "result_version", "v1")
    for col in ("group2", "group2_level", "variable_level"):
        stored[col] = stored[col].astype(object).where(stored[col].notna(), float("nan"))
    assert render_text(stored) == render_text(ard)
