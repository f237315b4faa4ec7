"""Table 3 — response within two cycles, MRD, transplant and other therapy.

Proportion rows (`n`, `N`, `pct`, `ci_lower`, `ci_upper`; Clopper–Pearson 95%, percent):
- `BOR` levels `CR`, `CRh`, `CRi` and `CR/CRh/CRi` (remission) from ADRS PARAMCD = 'BOR'
  AVALC; N = the salvage group's N (a subject without a BOR row counts as non-response).
- `MRD`: ADRS PARAMCD = 'MRD' AVALC = 'Y' among the subjects in remission (BOR CR/CRh/CRi);
  N = the number in remission; not assessed (no MRD row) counts as no response.
- `HSCT`, `HSCT_CR`, `HSCT_RELREF`, `OTHER_TX`: ADSL HSCTFL, HSCTCRFL, HSCTRRFL, OTHTXFL = 'Y'.
Odds ratio row `REMISSION` (group1_level `Second or later salvage`, reference first salvage):
`or`, `or_lcl`, `or_ucl`, `p_value` (unadjusted 2×2, Wald).

Remission is taken from the ADRS BOR rows — the same rows that give the CR/CRh/CRi counts —
so the MRD denominator and the odds ratio always agree with the `CR/CRh/CRi` row (ADSL REMFL
is the same derivation upstream and is not read here). Only ADRS rows of ADSL subjects count.

Membership (`with_subjects=True`): a BOR `n` counts subjects through their ADSL and ADRS BOR
records, `N` the salvage group (ADSL); MRD `n` through ADRS BOR and MRD, its `N` those in remission
(ADRS BOR); the flag rows through ADSL; pct and CI are taken over the `N` subjects, the odds ratio
over both groups.
"""
from __future__ import annotations

import pandas as pd

from repool.schemas.pooled import BOR_LEVELS, SALVAGE_LEVELS, YN
from repool.tasks.analyse.ard import SALVGRP, ard_result, ard_row, combine_members, members
from repool.tasks.analyse.statistics import (
    check_adsl,
    compute_odds_ratio,
    compute_proportion_ci,
    require_columns,
    require_levels,
)

TABLE_ID = "table3"
REMISSION = ["CR", "CRh", "CRi"]
BOR_ROWS = {"CR": ["CR"], "CRh": ["CRh"], "CRi": ["CRi"], "CR/CRh/CRi": REMISSION}
FLAG_ROWS = {"HSCT": "HSCTFL", "HSCT_CR": "HSCTCRFL", "HSCT_RELREF": "HSCTRRFL", "OTHER_TX": "OTHTXFL"}
_FIRST, _LATER = SALVAGE_LEVELS


def _param(adrs: pd.DataFrame, adsl: pd.DataFrame, paramcd: str, codes: list[str]) -> pd.Series:
    """USUBJID -> AVALC of one ADRS parameter, for ADSL subjects; one row per subject."""
    rows = adrs[(adrs["PARAMCD"] == paramcd) & adrs["USUBJID"].isin(adsl["USUBJID"])]
    require_levels(rows, "AVALC", codes, f"adrs {paramcd}")
    dup = rows["USUBJID"][rows["USUBJID"].duplicated()]
    if not dup.empty:
        raise ValueError(f"adrs: more than one {paramcd} row for {sorted(dup.unique())[:5]}")
    return rows.set_index("USUBJID")["AVALC"].astype(str)


def _proportion_rows(variable: str, level: str | None, group: str, n: int, N: int, alpha: float,
                     counted: pd.DataFrame | None = None, population: pd.DataFrame | None = None) -> list[dict]:
    """n, N, pct and the CI; `counted`/`population`: the members behind n and N (ard.members)."""
    lo, hi = compute_proportion_ci(n, N, alpha=alpha)
    key = {"variable_level": level, "group1": SALVGRP, "group1_level": group}
    values = {"n": n, "N": N, "pct": 100 * n / N if N else None, "ci_lower": lo, "ci_upper": hi}
    return [ard_row(TABLE_ID, variable, name, v, subjects=counted if name == "n" else population, **key)
            for name, v in values.items()]


def compute_table3(adsl: pd.DataFrame, adrs: pd.DataFrame, alpha: float = 0.05, with_subjects: bool = False):
    """ADSL + ADRS -> the table3 ARD frame; intervals at confidence level 1 - alpha."""
    check_adsl(adsl, list(FLAG_ROWS.values()))
    require_columns(adrs, ["USUBJID", "PARAMCD", "AVALC"], "adrs")
    for flag in FLAG_ROWS.values():
        require_levels(adsl, flag, YN, "adsl")
    bor = adsl["USUBJID"].map(_param(adrs, adsl, "BOR", BOR_LEVELS))
    mrd = adsl["USUBJID"].map(_param(adrs, adsl, "MRD", YN))
    in_remission = bor.isin(REMISSION)
    def via_adsl(mask):
        return members(adsl[mask], "adsl")

    def via_adrs(mask, *params):
        return combine_members(*(members(adsl[mask], "adrs", p) for p in params))

    rows, remission = [], {}
    for group in SALVAGE_LEVELS:
        g = adsl["SALVGRP"] == group
        N = int(g.sum())
        for level, codes in BOR_ROWS.items():
            m = g & bor.isin(codes)
            rows += _proportion_rows("BOR", level, group, int(m.sum()), N, alpha,
                                     combine_members(via_adsl(m), via_adrs(m, "BOR")), via_adsl(g))
        n_rem = int((g & in_remission).sum())
        remission[group] = (n_rem, N - n_rem)
        m = g & in_remission & mrd.eq("Y")
        rows += _proportion_rows("MRD", None, group, int(m.sum()), n_rem, alpha,
                                 via_adrs(m, "BOR", "MRD"), via_adrs(g & in_remission, "BOR"))
        for variable, flag in FLAG_ROWS.items():
            m = g & adsl[flag].eq("Y")
            rows += _proportion_rows(variable, None, group, int(m.sum()), N, alpha, via_adsl(m), via_adsl(g))
    odds = compute_odds_ratio(*remission[_LATER], *remission[_FIRST], alpha=alpha)
    key = {"group1": SALVGRP, "group1_level": _LATER}
    both = adsl["SALVGRP"].isin(SALVAGE_LEVELS)
    population = combine_members(via_adsl(both), via_adrs(both & bor.notna(), "BOR"))
    for name, v in zip(("or", "or_lcl", "or_ucl", "p_value"), odds):
        rows.append(ard_row(TABLE_ID, "REMISSION", name, v, subjects=population, **key))
    return ard_result(rows, with_subjects)
