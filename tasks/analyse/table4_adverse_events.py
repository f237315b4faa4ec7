"""Table 4 — treatment-emergent adverse events: subjects with at least one TEAE of a kind.

Only ADAE rows with TRTEMFL = 'Y' of subjects in ADSL count; a subject counts once per row.
- `ANY_TEAE` any TEAE; `SERIOUS_TEAE` AESER = 'Y'; `FATAL_TEAE` AEFATFL = 'Y';
  `FATAL_RELATED` AEFATFL = 'Y' and AREL = 'Y' (on the same event); `CRS` AESICAT = 'CRS';
  `NEURO` AESICAT = 'NEURO': `n`, `pct` (100·n/N, N = the salvage group's N from ADSL).
- `n_grade3`, `pct_grade3`: subjects with such a TEAE of AETOXGR >= 3, for ANY_TEAE, CRS, NEURO.
variable_level is NULL on every row. Both salvage groups are always emitted (pct NULL if N = 0).

Membership (`with_subjects=True`): `n`/`n_grade3` count the group's subjects through the ADAE
records (AESEQ) that qualify; `pct`/`pct_grade3` are taken over the salvage group (ADSL).
"""
from __future__ import annotations

import pandas as pd

from repool.schemas.pooled import SALVAGE_LEVELS
from repool.tasks.analyse.ard import SALVGRP, ard_result, ard_row, members
from repool.tasks.analyse.statistics import check_adsl, require_columns

TABLE_ID = "table4"
GRADE3_VARIABLES = ("ANY_TEAE", "CRS", "NEURO")
ADAE_COLUMNS = ["USUBJID", "TRTEMFL", "AESER", "AEFATFL", "AREL", "AESICAT", "AETOXGR"]


def _categories(teae: pd.DataFrame) -> dict[str, pd.Series]:
    """ARD variable -> boolean mask over the TEAE rows, in table order."""
    return {
        "ANY_TEAE": pd.Series(True, index=teae.index),
        "SERIOUS_TEAE": teae["AESER"].eq("Y"),
        "FATAL_TEAE": teae["AEFATFL"].eq("Y"),
        "FATAL_RELATED": teae["AEFATFL"].eq("Y") & teae["AREL"].eq("Y"),
        "CRS": teae["AESICAT"].eq("CRS"),
        "NEURO": teae["AESICAT"].eq("NEURO"),
    }


def compute_table4(adsl: pd.DataFrame, adae: pd.DataFrame, with_subjects: bool = False):
    """ADSL + ADAE -> the table4 ARD frame."""
    check_adsl(adsl, [])
    require_columns(adae, ADAE_COLUMNS, "adae")
    grade = pd.to_numeric(adae["AETOXGR"], errors="coerce")
    if grade.isna().any() or not grade.between(1, 5).all():
        raise ValueError("adae: column 'AETOXGR' must be a grade 1-5")
    teae = adae[adae["TRTEMFL"].eq("Y") & adae["USUBJID"].isin(adsl["USUBJID"])]
    teae = teae.assign(grade3=grade.loc[teae.index] >= 3)
    group_of = adsl.set_index("USUBJID")["SALVGRP"]
    rows = []
    teae_group = teae["USUBJID"].map(group_of)
    for variable, mask in _categories(teae).items():
        subjects = teae.loc[mask, "USUBJID"]
        subjects_g3 = teae.loc[mask & teae["grade3"], "USUBJID"]
        masks = {"": mask, "_grade3": mask & teae["grade3"]}
        for group in SALVAGE_LEVELS:
            N = int((adsl["SALVGRP"] == group).sum())
            key = {"group1": SALVGRP, "group1_level": group}
            population = members(adsl[adsl["SALVGRP"] == group], "adsl")
            counts = {"": subjects}
            if variable in GRADE3_VARIABLES:
                counts["_grade3"] = subjects_g3
            for suffix, subj in counts.items():
                n = int((group_of.loc[subj.unique()] == group).sum())
                events = teae[masks[suffix] & (teae_group == group)]
                counted = members(events, "adae", events["AESEQ"] if "AESEQ" in events else "")
                rows.append(ard_row(TABLE_ID, variable, f"n{suffix}", n, subjects=counted, **key))
                rows.append(ard_row(TABLE_ID, variable, f"pct{suffix}", 100 * n / N if N else None,
                                    subjects=population, **key))
    return ard_result(rows, with_subjects)
