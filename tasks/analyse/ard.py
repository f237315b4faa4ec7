"""The Analysis Results Dataset (ARD) row shape of results.md, shared by every analysis table.

An analysis table is a pure function `pooled frames -> ARD frame` with exactly the columns
`ARD_COLUMNS` (no `result_version`; publish adds it). The renderer, the diff, the reproduction
report and the CLI read these rows; none recomputes a statistic.
"""
from __future__ import annotations

import math
from typing import Iterable

import pandas as pd

from repool.schemas.ard import ARD_COLUMNS, ARD_KEY, SALVGRP  # noqa: F401  (re-exported for the tables)


def ard_row(
    table_id: str,
    variable: str,
    stat_name: str,
    stat: float | None,
    *,
    variable_level: str | None = None,
    group1: str | None = None,
    group1_level: str | None = None,
    group2: str | None = None,
    group2_level: str | None = None,
) -> dict:
    """One ARD row; NaN/inf statistics (not estimable) are stored as NULL."""
    if stat is not None:
        stat = float(stat)
        if math.isnan(stat) or math.isinf(stat):
            stat = None
    return {
        "table_id": table_id,
        "group1": group1,
        "group1_level": group1_level,
        "group2": group2,
        "group2_level": group2_level,
        "variable": variable,
        "variable_level": variable_level,
        "stat_name": stat_name,
        "stat": stat,
    }


def create_ard_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """ARD rows -> a frame with the canonical columns and dtypes (text columns as object, stat float)."""
    df = pd.DataFrame(list(rows), columns=ARD_COLUMNS)
    for c in ARD_KEY:
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    df["stat"] = pd.to_numeric(df["stat"], errors="coerce").astype("float64")
    return df


def assert_ard(df: pd.DataFrame) -> None:
    """Raise if a frame is not a well-formed ARD: canonical columns, unique keys."""
    if list(df.columns) != ARD_COLUMNS:
        raise ValueError(f"ARD columns {list(df.columns)} != {ARD_COLUMNS}")
    dup = df.duplicated(ARD_KEY, keep=False)
    if dup.any():
        raise ValueError(f"duplicate ARD keys:\n{df.loc[dup, ARD_KEY].head(10)}")
