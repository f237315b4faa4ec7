import json

import pytest

from repool.tasks.analyse.ard import ARD_COLUMNS
from repool.tasks.render.reproduce import (
    COLUMNS,
    DEFAULT_REFERENCE,
    compare_with_publication,
    explain_limit,
    explain_percentage,
    load_published,
    render_reproduction_html,
    render_reproduction_text,
)
from tests.fixtures_ard import FIRST, GROUP_N, LATER, TABLE3_OR, TABLE4_COUNTS, build_fixture_ard, set_stat
from tests.reference import published


@pytest.fixture(scope="module")
def ard():
    return build_fixture_ard()


@pytest.fixture(scope="module")
def comparison(ard):
    return compare_with_publication(ard)


def _row(df, label, group, statistic):
    hit = df[(df["label"] == label) & (df["group"] == group) & (df["statistic"] == statistic)]
    assert len(hit) == 1, (label, group, statistic, len(hit))
    return hit.iloc[0]


def test_reference_covers_the_publication_with_ard_coordinates():
    ref = load_published()
    keys = {"table_id", "group1", "group1_level", "group2", "group2_level", "variable", "variable_level", "stat_name"}
    assert all(keys <= set(f) for f in ref["figures"])
    assert set(ARD_COLUMNS) - {"stat"} == keys
    printed = {(f["variable"], f["group1_level"], f["stat_name"]): f["printed"] for f in ref["figures"]
               if f["group2_level"] is None and f["variable_level"] in (None, "CR/CRh/CRi")}
    # This test checks the reference file itself (the one home of the published figures), so these
    # printed strings are its independent expectation; reading them from the file would be circular.
    assert printed[("BOR", FIRST, "n")] == "89" and printed[("BOR", LATER, "n")] == "150"
    assert printed[("REMISSION", LATER, "or")] == "0.59" and printed[("REMISSION", LATER, "p_value")] == "0.005"
    assert printed[("OS", LATER, "p_value")] == "<0.001"
    assert len(ref["figures"]) > 140


def test_columns(comparison):
    assert list(comparison.columns) == COLUMNS


def test_flags_percentages_that_do_not_follow_from_counts(comparison):
    n, N = TABLE4_COUNTS["ANY_TEAE"][FIRST][0], GROUP_N[FIRST]  # our n/N rounds below the printed pct
    teae = _row(comparison, "Any TEAE", FIRST, "pct")
    assert not teae["agrees"]
    assert teae["ours"] == pytest.approx(100 * n / N)
    assert f"{n}/{N}" in teae["note"] and "rounded up" in teae["note"]
    blasts = _row(comparison, "BM blasts >5–<10%", FIRST, "pct")  # its n/N = 5.45%, printed rounded up
    assert not blasts["agrees"]
    assert str(N - 2) in blasts["note"]  # the nearby denominator N-2 gives 5.52% -> printed
    assert "rounded twice" in blasts["note"]


def test_passes_percentages_that_follow(comparison):
    men = _row(comparison, "Men", FIRST, "pct")  # n/N rounds to the printed pct
    assert men["agrees"] and men["note"] == ""
    assert _row(comparison, "Men", FIRST, "n")["agrees"]


def test_estimates_and_p_values(comparison):
    assert _row(comparison, "Median OS (95% CI)", FIRST, "median")["agrees"]
    assert _row(comparison, "OS HR later vs first (95% CI); p", LATER, "p_value")["agrees"]  # printed '<' bound
    orow = _row(comparison, "Odds ratio later vs first (95% CI); p", LATER, "or")
    assert orow["agrees"] and orow["difference"] == pytest.approx(
        TABLE3_OR[0] - published("table3", "REMISSION", "or", LATER))
    assert _row(comparison, "Patients (N)", FIRST, "N")["agrees"]


def test_reads_our_values_from_the_ard(ard):
    changed = set_stat(ard, 100, table_id="table4", variable="ANY_TEAE", stat_name="n", group1_level=FIRST)
    changed = set_stat(changed, None, table_id="table2", variable="OS", stat_name="median",
                       group1_level=LATER, group2_level=None)
    changed = set_stat(changed, 0.2, table_id="table2", variable="OS", stat_name="p_value", group1_level=LATER)
    df = compare_with_publication(changed)
    count = _row(df, "Any TEAE", FIRST, "n")
    assert count["ours"] == 100 and not count["agrees"]
    assert count["difference"] == 100 - published("table4", "ANY_TEAE", "n", FIRST)
    assert _row(df, "Any TEAE", FIRST, "pct")["ours"] == pytest.approx(100 * 100 / GROUP_N[FIRST])
    median = _row(df, "Median OS (95% CI)", LATER, "median")
    assert not median["agrees"] and "NE" in median["note"]
    assert not _row(df, "OS HR later vs first (95% CI); p", LATER, "p_value")["agrees"]


def test_missing_ard_rows_are_flagged(ard):
    df = compare_with_publication(ard[ard["table_id"] != "table4"])
    t4 = df[df["table"] == "Table 4"]
    assert not t4["agrees"].any() and (t4["note"] == "not in our ARD").all()


def test_explain_percentage_without_reason():
    assert "no nearby denominator" in explain_percentage(10, 100, 50)


def test_renderers(comparison):
    text = render_reproduction_text(comparison)
    assert "Flagged:" in text and f"{TABLE4_COUNTS['ANY_TEAE'][FIRST][0]}/{GROUP_N[FIRST]}" in text
    fragment = render_reproduction_html(comparison)
    assert fragment.count('class="flag"') == int((~comparison["agrees"]).sum())
    assert "http" not in fragment


def test_reference_file_is_valid_json():
    json.loads(DEFAULT_REFERENCE.read_text(encoding="utf-8"))


def test_a_ci_limit_of_a_matching_count_is_explained(comparison):
    """HSCT after relapse/refractory, later salvage: the published count (9 of 367) is ours, the
    printed upper limit 4 is not the rounding of its Clopper-Pearson limit, 4.60%:
    R 4.x `print(binom.test(9, 367)$conf.int, digits = 7)` -> 0.01127349 0.04604070
    (scipy `binomtest(9, 367).proportion_ci(method="exact")` agrees)."""
    row = _row(comparison, "Transplanted after relapse and/or refractory post-blinatumomab", LATER, "ci_upper")
    assert not row["agrees"]
    assert row["ours"] == pytest.approx(4.604070, abs=5e-6)
    assert "9/367 equals the published count" in row["note"] and "truncated (4.60 → 4)" in row["note"]


def test_explain_limit_reasons():
    assert "rounded up (4.20 → 5)" in explain_limit("5", 4.2, 9, 367, "9")
    assert "rounded twice (4.46 → 4.5 → 5)" in explain_limit("5", 4.46, 9, 367, "9")
    assert "another CI method or denominator" in explain_limit("7", 4.2, 9, 367, "9")
    assert explain_limit("5", 4.2, 8, 367, "9") == "ours rounds to 4"  # our count differs: no excuse
