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


# ---------------------------------------------------------------- table 5: results by study

def test_table5_rows_per_study_then_pooled():
    from repool.tasks.render.display import HETEROGENEITY_LABEL
    from tests.fixtures_studies_ard import build_fixture_ard_with_studies

    t5 = create_display_table(build_fixture_ard_with_studies(), "studies")
    assert list(t5.columns) == ["Study", "Patients (first / later)", "CR/CRh/CRi, n (%) [95% CI]",
                                "Median OS, months (95% CI)", "OS hazard ratio (95% CI)", "OS HR p-value",
                                "Odds ratio, CR/CRh/CRi (95% CI)", "OR p-value"]
    assert t5["Study"].tolist() == ["A", "B", "All studies, Cox model stratified by study",
                                    "All studies, meta-analysis: fixed effect",
                                    "All studies, meta-analysis: random effects (DL)", HETEROGENEITY_LABEL]
    a, b, strat, fixed, random, het = (r[1:] for r in t5.itertuples(index=False, name=None))
    assert list(a) == ["60 (20 / 40)", "30 (50) [37–63]", "8.3 (6.1–11.0)", "1.50 (1.10–2.05)", "0.011",
                       "0.50 (0.17–1.50)", "0.220"]
    assert b[2:5] == ("6.0 (3.2–NE)", "NE (NE–NE)", "NE")  # NULL = not estimable
    assert strat == ("", "", "", "1.45 (1.08–1.95)", "0.013", "", "")
    assert fixed[3:] == ("1.40 (1.05–1.87)", "0.022", "0.60 (0.25–1.44)", "0.250")
    assert random[3:5] == ("1.42 (1.00–2.02)", "0.050")
    assert het[3] == "2; 1.23 (0.267); 19%; 0.012" and het[5] == "2; 0.40 (0.530); 0%; 0.000"


def test_table5_in_render_text_only_where_the_version_has_it(ard):
    from repool.tasks.render.display import normalize_table_id
    from tests.fixtures_studies_ard import build_fixture_ard_with_studies

    assert [normalize_table_id(t) for t in (5, "5", "table5", "studies")] == ["studies"] * 4
    full = build_fixture_ard_with_studies()
    text = render_text(full)
    assert "Table 5. Results by study" in text and text.index("Table 4.") < text.index("Table 5.")
    assert "Wald 95% CI" in text.split("Table 5.")[1]
    at90 = render_text(full, "studies", confidence_level=0.9)
    assert at90.count("Table ") == 1 and "90% CI" in at90 and "95%" not in at90
    assert "Table 5." not in render_text(ard)  # a version published before table 5
