"""Table 1 — baseline characteristics by salvage group (results.md "Statistic names").

AGE and BMBLAST (from ADSL BMBLPCT): `n`, `median`, `min`, `max` over non-missing values.
SEX, ECOG, PRHSCT, BMBLCAT: `n` and `pct` = 100·n/N per level, N = the salvage group's N;
every level is emitted, with 0 when absent. Both salvage groups are always emitted; an empty
group gets n = 0 and NULL median/min/max/pct. Row order: group, then variable, then level,
then statistic, all in the fixed orders below.

Membership (`with_subjects=True`): a continuous variable's `n` counts, and its median/min/max are
computed on, the group's subjects with a value; a level's `n` counts the subjects at that level,
its `pct` is taken over the group (its ADSL records).
"""
from __future__ import annotations

import pandas as pd

from repool.schemas.pooled import BMBLCAT_LEVELS, ECOG_LEVELS, SALVAGE_LEVELS, YN
from repool.tasks.analyse.ard import SALVGRP, ard_result, ard_row, members
from repool.tasks.analyse.statistics import check_adsl, require_levels

TABLE_ID = "table1"
CONTINUOUS = {"AGE": "AGE", "BMBLAST": "BMBLPCT"}  # ARD variable -> ADSL column
CATEGORICAL = {"SEX": ["M", "F"], "ECOG": ECOG_LEVELS, "PRHSCT": YN, "BMBLCAT": BMBLCAT_LEVELS}


def _continuous_stats(values: pd.Series) -> dict[str, float | None]:
    v = pd.to_numeric(values, errors="raise").dropna()
    if v.empty:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {"n": len(v), "median": float(v.median()), "min": float(v.min()), "max": float(v.max())}


def compute_table1(adsl: pd.DataFrame, with_subjects: bool = False):
    """ADSL -> the table1 ARD frame (and, `with_subjects`, its membership: ard.create_subjects_frame)."""
    check_adsl(adsl, [*CONTINUOUS.values(), *CATEGORICAL])
    for var, levels in CATEGORICAL.items():
        require_levels(adsl, var, levels, "adsl")
    rows = []
    for group in SALVAGE_LEVELS:
        g = adsl[adsl["SALVGRP"] == group]
        N = len(g)
        key = {"group1": SALVGRP, "group1_level": group}
        everyone = members(g, "adsl")
        for var, col in CONTINUOUS.items():
            with_value = members(g[pd.to_numeric(g[col], errors="raise").notna()], "adsl")
            for name, value in _continuous_stats(g[col]).items():
                rows.append(ard_row(TABLE_ID, var, name, value, subjects=with_value, **key))
        for var, levels in CATEGORICAL.items():
            text = g[var].astype(str)
            counts = text.value_counts()
            for level in levels:
                n = int(counts.get(level, 0))
                rows.append(ard_row(TABLE_ID, var, "n", n, variable_level=level,
                                    subjects=members(g[text == level], "adsl"), **key))
                rows.append(ard_row(TABLE_ID, var, "pct", 100 * n / N if N else None,
                                    variable_level=level, subjects=everyone, **key))
    return ard_result(rows, with_subjects)
