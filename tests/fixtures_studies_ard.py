"""A small hand-made ARD of table 5 (`studies`) for the renderer tests: two studies (B's HR not
estimable), the stratified HR, the meta-analysis rows. Values are made up; built with `ard_row`
like tasks/analyse/table5_studies.py."""
from __future__ import annotations

import pandas as pd

from repool.tasks.analyse.ard import ard_row, create_ard_frame
from tests.fixtures_ard import FIRST, LATER, build_fixture_ard

T = "studies"
# study -> patients (all, first, later), remission (n, N, pct, lcl, ucl), OS (n, events, median, lcl, ucl),
#          HR (hr, lcl, ucl, p), OR (or, lcl, ucl, p)
STUDIES = {
    "A": ((60, 20, 40), (30, 60, 50.0, 36.8, 63.2), (60, 45, 8.25, 6.1, 11.0),
          (1.5, 1.1, 2.05, 0.011), (0.5, 0.17, 1.5, 0.22)),
    "B": ((30, 10, 20), (12, 30, 40.0, 22.7, 59.4), (30, 20, 6.0, 3.2, None),
          (None, None, None, None), (0.8, 0.17, 3.7, 0.77)),
}
STRATIFIED = (1.45, 1.08, 1.95, 0.013)
META = {  # variable -> (FIXED (est, lcl, ucl, p), RANDOM (...), (k, q, q_p, i2, tau2))
    "OS_META": ((1.4, 1.05, 1.87, 0.022), (1.42, 1.0, 2.02, 0.05), (2, 1.23, 0.267, 18.7, 0.0123)),
    "REMISSION_META": ((0.6, 0.25, 1.44, 0.25), (0.6, 0.25, 1.44, 0.25), (2, 0.4, 0.53, 0.0, 0.0)),
}


def build_studies_rows() -> list[dict]:
    rows = []
    for study, (patients, remission, os, hr, odds) in STUDIES.items():
        key = {"group1": "STUDYID", "group1_level": study}
        later = key | {"group2": "SALVGRP", "group2_level": LATER}
        for group, n in zip((None, FIRST, LATER), patients):
            k = key if group is None else key | {"group2": "SALVGRP", "group2_level": group}
            rows.append(ard_row(T, "PATIENTS", "n", n, **k))
        rows += [ard_row(T, "REMISSION", s, v, **key) for s, v in zip(("n", "N", "pct", "ci_lower", "ci_upper"),
                                                                       remission)]
        rows += [ard_row(T, "OS", s, v, **key) for s, v in zip(("n", "events", "median", "median_lcl", "median_ucl"),
                                                                os)]
        rows += [ard_row(T, "OS", s, v, **later) for s, v in zip(("hr", "hr_lcl", "hr_ucl", "p_value"), hr)]
        rows += [ard_row(T, "REMISSION", s, v, **later) for s, v in zip(("or", "or_lcl", "or_ucl", "p_value"), odds)]
    pooled = {"group1": "SALVGRP", "group1_level": LATER}
    rows += [ard_row(T, "OS_STRATIFIED", s, v, **pooled) for s, v in zip(("hr", "hr_lcl", "hr_ucl", "p_value"),
                                                                         STRATIFIED)]
    for variable, (fixed, random, het) in META.items():
        ratio = "hr" if variable == "OS_META" else "or"
        for level, values in (("FIXED", fixed), ("RANDOM", random)):
            rows += [ard_row(T, variable, s, v, variable_level=level, **pooled)
                     for s, v in zip((ratio, f"{ratio}_lcl", f"{ratio}_ucl", "p_value"), values)]
        rows += [ard_row(T, variable, s, v, **pooled) for s, v in zip(("k", "q", "q_p", "i2", "tau2"), het)]
    return rows


def build_fixture_ard_with_studies() -> pd.DataFrame:
    """Tables 1-4 of tests/fixtures_ard.py plus the table 5 rows above."""
    return pd.concat([build_fixture_ard(), create_ard_frame(build_studies_rows())], ignore_index=True)
