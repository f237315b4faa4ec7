"""Convention profiles in the renderers: every footnote names the version's profile, and displayed
halves round per profile — "sas": half away from zero on the decimal value (`round_half_up`, as
today); "r": R's `round()` (`round_r`).

R 4.2.2, run once (the suite needs no R):

    x <- c(0.125, 2.5, 0.5, 1.5, 10.45, 0.15, 2.675, 0.35, 1.005, 5.45, 3.5, -2.5, 0.0005, 12.25, 2.345)
    d <- c(2, 0, 0, 0, 1, 1, 2, 1, 2, 1, 0, 0, 3, 1, 2)
    out <- data.frame(x = sprintf("%.17g", x), digits = d,
                      round = mapply(function(v, k) format(round(v, k), nsmall = k), x, d),
                      sprintf = mapply(function(v, k) sprintf(paste0("%.", k, "f"), v), x, d),
                      formatC = mapply(function(v, k) formatC(v, format = "f", digits = k), x, d))
    print(out, row.names = FALSE)
                          x digits round sprintf formatC
                      0.125      2  0.12    0.12    0.12
                        2.5      0     2       2       2
                        0.5      0     0       0       0
                        1.5      0     2       2       2
         10.449999999999999      1  10.4    10.4    10.4
        0.14999999999999999      1   0.1     0.1     0.1
         2.6749999999999998      2  2.67    2.67    2.67
        0.34999999999999998      1   0.3     0.3     0.3
         1.0049999999999999      2  1.00    1.00    1.00
         5.4500000000000002      1   5.4     5.5     5.5
                        3.5      0     4       4       4
                       -2.5      0    -2      -2      -2
     0.00050000000000000001      3 0.000   0.001   0.001
                      12.25      1  12.2    12.2    12.2
         2.3450000000000002      2  2.35    2.35    2.35

R's `round()` (R >= 4.0.0, src/nmath/fround.c) is neither half-to-even on the binary value
(that is sprintf's, and Python's `round`/format: 5.45 -> 5.5, 0.0005 -> 0.001) nor half-to-even
on the decimal string (2.345 -> 2.35). `round_r` ports fround.c; the decimal halves (k + 0.5)/10^d,
k = 0..199, d = 1..3, with 1 = R rounds up:

    k <- 0:199
    for (d in 1:3) {
      up <- as.integer(round((k + 0.5) / 10^d, d) > (k + 0.25) / 10^d)
      cat(sprintf("d=%d k=%3d..%3d %s", d, c(0, 100), c(99, 199),
                  c(paste(up[1:100], collapse = ""), paste(up[101:200], collapse = ""))), sep = "\\n")
    }

(output in R_HALVES below; 4,010 further random values checked once, all equal).
"""
from __future__ import annotations

import pytest

from repool.tasks.analyse.statistics import CONVENTIONS as ANALYSIS_CONVENTIONS
from repool.tasks.render.display import (
    CONVENTION_LABELS,
    ROUNDING,
    TABLE_NOTES,
    conventions_of,
    create_display_table,
    display_conventions,
    format_number,
    format_p,
    render_text,
    round_half_up,
    round_r,
    table_note,
)
from repool.tasks.render.report import render_report
from tests.fixtures_ard import FIRST, build_fixture_ard, set_stat

R_HALVES = """\
d=1 k=  0.. 99 0000011100000101011100011001110001100111010001110101000111010100011101010001110111000111001100011100
d=1 k=100..199 1100011100110001110011000111001100011100110001110011000111000001010111000101011100010101110001010111
d=2 k=  0.. 99 0011010011010101000101000101010101010101110101110101010101010101010111010101010100010101010101010101
d=2 k=100..199 0000000000000111111111111000000000000111111111111100000000000001111111111110000000000001111111111111
d=3 k=  0.. 99 0101000011111111010100010001000101000101011101010111010101110101010101010101010101010101010101010101
d=3 k=100..199 0101010101010101000101010101010101010101110101010101010101010101010101010101010101010101010101010101"""

# (x, digits, R round(), round_half_up)
CASES = [
    (0.125, 2, "0.12", "0.13"), (2.5, 0, "2", "3"), (0.5, 0, "0", "1"), (1.5, 0, "2", "2"),
    (10.45, 1, "10.4", "10.5"), (0.15, 1, "0.1", "0.2"), (2.675, 2, "2.67", "2.68"), (0.35, 1, "0.3", "0.4"),
    (1.005, 2, "1.00", "1.01"), (5.45, 1, "5.4", "5.5"), (3.5, 0, "4", "4"), (-2.5, 0, "-2", "-3"),
    (0.0005, 3, "0.000", "0.001"), (12.25, 1, "12.2", "12.3"), (2.345, 2, "2.35", "2.35"),
]


@pytest.mark.parametrize("x, digits, r, sas", CASES)
def test_halves_round_per_profile(x, digits, r, sas):
    assert str(round_r(x, digits)) == r
    assert str(round_half_up(x, digits)) == sas
    with display_conventions("r"):
        assert format_number(x, digits) == r
    with display_conventions("sas"):
        assert format_number(x, digits) == sas
    assert format_number(x, digits) == sas  # default: sas


def test_round_r_equals_r_on_decimal_halves():
    for line in R_HALVES.splitlines():
        d, start, bits = int(line[2]), int(line.split("k=")[1].split("..")[0]), line.split()[-1]
        for i, bit in enumerate(bits):
            k = start + i
            assert round_r((k + 0.5) / 10**d, d) == (round_r((k + 1) / 10**d, d) if bit == "1"
                                                     else round_r(k / 10**d, d)), (d, k)


def test_p_values_round_per_profile():
    with display_conventions("r"):  # R: round(0.0025, 3) = 0.002 (R_HALVES d=3, k=2)
        assert format_p(0.0025) == "0.002" and format_p(0.0004) == "<0.001"
    assert format_p(0.0025) == "0.003"


def test_profile_names_agree_and_come_from_the_version_parameters():
    assert set(CONVENTION_LABELS) == set(ROUNDING) == set(ANALYSIS_CONVENTIONS)
    assert conventions_of(None) == conventions_of({"alpha": 0.05}) == "sas"  # versions before the profiles
    assert conventions_of({"alpha": 0.05, "conventions": "r"}) == "r"
    assert conventions_of('{"conventions": "r"}') == "r"
    with pytest.raises(ValueError, match="unknown conventions"):
        conventions_of({"conventions": "stata"})
    with pytest.raises(ValueError, match="unknown conventions"):
        with display_conventions("stata"):
            pass


def test_every_footnote_names_the_profile():
    for tid in TABLE_NOTES:
        assert table_note(tid).endswith("Conventions: SAS (PROC LIFETEST/PHREG).")
        assert table_note(tid, 0.9, "r").endswith("Conventions: R (survival).")
        assert "90%" in table_note(tid, 0.9, "r") or "{ci}" not in TABLE_NOTES[tid]
    ard = build_fixture_ard()
    sas, r = render_text(ard), render_text(ard, conventions="r")
    assert sas.count("Conventions: SAS (PROC LIFETEST/PHREG).") == 4 and "R (survival)" not in sas
    assert r.count("Conventions: R (survival).") == 4 and "SAS (PROC" not in r


def _ard_with_halves():
    ard = build_fixture_ard()
    ard = set_stat(ard, 10.45, table_id="table2", variable="OS", stat_name="median", group1_level=FIRST,
                   group2_level=None)
    return set_stat(ard, 2.5, table_id="table1", variable="ECOG", stat_name="pct", group1_level=FIRST,
                    variable_level="2")


def _cell(df, label):
    col = next(c for c in df.columns if c.startswith(FIRST))
    return df.loc[df["Characteristic"] == label, col].item()


def test_tables_round_halves_per_profile():
    ard = _ard_with_halves()
    t2_sas, t2_r = (create_display_table(ard, "table2", conventions=c) for c in ("sas", "r"))
    assert _cell(t2_sas, "Median OS (95% CI)").startswith("10.5 (")
    assert _cell(t2_r, "Median OS (95% CI)").startswith("10.4 (")
    assert _cell(create_display_table(ard, "table2"), "Median OS (95% CI)").startswith("10.5 (")  # default
    t1_sas, t1_r = (create_display_table(ard, "table1", conventions=c) for c in ("sas", "r"))
    assert _cell(t1_sas, "ECOG 2").endswith("(3)") and _cell(t1_r, "ECOG 2").endswith("(2)")
    text = render_text(ard, 2, conventions="r")
    assert "10.4 (" in text and "10.5 (" not in text


def test_report_rounds_and_footnotes_per_the_version_profile(tmp_path):
    ard = _ard_with_halves()
    meta = {"result_version": "v1", "created": "2026-01-01T00:00:00Z", "code_version": "c", "deliveries": [],
            "parameters": {"alpha": 0.05, "conventions": "r"}}
    text = render_report(ard, None, meta, tmp_path / "r").read_text(encoding="utf-8")
    assert text.count("Conventions: R (survival).") == 4 and "SAS (PROC" not in text
    assert "10.4 (" in text and "10.5 (" not in text
    meta["parameters"] = {"alpha": 0.05}  # a version published before the profiles: sas
    text = render_report(ard, None, meta, tmp_path / "sas").read_text(encoding="utf-8")
    assert text.count("Conventions: SAS (PROC LIFETEST/PHREG).") == 4
    assert "10.5 (" in text
    assert format_number(0.125, 2) == "0.13"  # the report's profile does not leak out
