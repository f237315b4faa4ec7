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

# Membership (issue 11, part 3): per ARD row, the subjects behind it and the pooled records through
# which they count. role "counted" on a row whose statistic counts subjects (COUNT_STATS: the
# subjects listed are exactly `stat` many), "population" on every other row (a median, rate, CI,
# ratio or test: the analysis population it was computed on). dataset/record name the pooled
# record: dataset adsl (record ""), adrs/adtte (record = PARAMCD), adae (record = AESEQ).
COUNT_STATS = ("n", "N", "events", "n_grade3")
SUBJECT_COLUMNS = [*ARD_KEY, "role", "STUDYID", "USUBJID", "dataset", "record"]
# Where the records came from, kept with a version (pooled.* is rebuilt by later runs): one row per
# pooled record and delivered row it was derived from (SRCROWS exploded); primary = its own row.
SOURCE_COLUMNS = ["dataset", "STUDYID", "USUBJID", "record", "SRCDLV", "SRCFILE", "SRCSHA", "SRCROW", "primary"]
