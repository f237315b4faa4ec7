"""The Analysis Results Dataset contract (docs/spec/results.md): its columns, tables and KM curves.

One home for these facts: the analyses write them, publish stores them, the renderers read them.
"""
from __future__ import annotations

ARD_COLUMNS = ["table_id", "group1", "group1_level", "group2", "group2_level", "variable", "variable_level",
               "stat_name", "stat"]
ARD_KEY = [c for c in ARD_COLUMNS if c != "stat"]
SALVGRP = "SALVGRP"  # group1 of every grouped row; its levels are schemas.pooled.SALVAGE_LEVELS

TABLE_IDS = ("table1", "table2", "table3", "table4", "studies")  # studies: table 5, results by study

# KM step data behind the figures: one row per curve and distinct time
KM_CURVE_COLUMNS = ["variable", "group1_level", "group2_level", "time", "surv", "surv_lcl", "surv_ucl",
                    "n_risk", "n_event", "n_censor"]
