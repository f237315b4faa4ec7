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

import numpy as np
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
    """ADSL + ADAE -> the table4 ARD frame.

    Counted on integer codes: each TEAE row's ADSL row (one `get_indexer`, USUBJID being unique in
    ADSL) and salvage group; `n` = the distinct ADSL rows among the qualifying TEAE rows of the group."""
    check_adsl(adsl, [])
    require_columns(adae, ADAE_COLUMNS, "adae")
    grade = pd.to_numeric(adae["AETOXGR"], errors="coerce")
    if grade.isna().any() or not grade.between(1, 5).all():
        raise ValueError("adae: column 'AETOXGR' must be a grade 1-5")
    subject_row = pd.Index(adsl["USUBJID"]).get_indexer(adae["USUBJID"])  # -1: not in ADSL
    is_teae = adae["TRTEMFL"].eq("Y").to_numpy() & (subject_row >= 0)
    teae = adae[is_teae]
    teae_row = subject_row[is_teae]
    group_code = pd.Categorical(adsl["SALVGRP"], categories=SALVAGE_LEVELS).codes  # check_adsl: all valid
    teae_group = group_code[teae_row]
    grade3 = grade.to_numpy()[is_teae] >= 3
    in_group = {group: teae_group == code for code, group in enumerate(SALVAGE_LEVELS)}
    population = {group: members(adsl[group_code == code], "adsl") if with_subjects else None
                  for code, group in enumerate(SALVAGE_LEVELS)}
    rows = []
    for variable, mask in _categories(teae).items():
        masks = {"": mask.to_numpy()}
        if variable in GRADE3_VARIABLES:
            masks["_grade3"] = masks[""] & grade3
        for code, group in enumerate(SALVAGE_LEVELS):
            N = int((group_code == code).sum())
            key = {"group1": SALVGRP, "group1_level": group}
            for suffix, qualifies in masks.items():
                selected = qualifies & in_group[group]
                n = int(np.count_nonzero(np.bincount(teae_row[selected], minlength=1)))
                counted = None
                if with_subjects:
                    events = teae[selected]
                    counted = members(events, "adae", events["AESEQ"] if "AESEQ" in events else "")
                rows.append(ard_row(TABLE_ID, variable, f"n{suffix}", n, subjects=counted, **key))
                rows.append(ard_row(TABLE_ID, variable, f"pct{suffix}", 100 * n / N if N else None,
                                    subjects=population[group], **key))
    return ard_result(rows, with_subjects)
