"""The Analysis Results Dataset (ARD) row shape of results.md, shared by every analysis table.

An analysis table is a pure function `pooled frames -> ARD frame` with exactly the columns
`ARD_COLUMNS` (no `result_version`; publish adds it). The renderer, the diff, the reproduction
report and the CLI read these rows; none recomputes a statistic.
"""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd

from repool.schemas.ard import (  # noqa: F401  (re-exported for the tables)
    ARD_COLUMNS,
    ARD_KEY,
    COUNT_STATS,
    SALVGRP,
    SUBJECT_COLUMNS,
)

MEMBER_COLUMNS = ["STUDYID", "USUBJID", "dataset", "record"]


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
    subjects: "Members | pd.DataFrame | None" = None,
) -> dict:
    """One ARD row; NaN/inf statistics (not estimable) are stored as NULL. `subjects` (frame of
    `members`): the subjects the row counts (a count statistic) or was computed on (any other);
    kept beside the row for `create_subjects_frame`, never an ARD column."""
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
        "_subjects": subjects,
    }


class Members:
    """The pooled records behind an ARD row, kept as references (frame, dataset, record) and turned
    into a frame of MEMBER_COLUMNS only when the drill-down is stored (`create_subjects_frame`): a
    run without it (pools above `Settings.drill_down_max_subjects`) pays nothing for them."""

    __slots__ = ("parts",)

    def __init__(self, parts: tuple) -> None:
        self.parts = parts

    def frame(self) -> pd.DataFrame:
        frames = [_member_frame(*part) for part in self.parts]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)[MEMBER_COLUMNS]


def text_of(values: pd.Series) -> np.ndarray:
    """`values.astype(str)` as an object array. A Categorical (the lean pooled frames of
    harmonise.read_pooled_frames) is taken through its codes: its strings as they are, in time and
    memory of the rows, not of the categories (`Categorical.astype` copies every category, a
    million USUBJIDs, on each call)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        categories = values.cat.categories.to_numpy()
        taken = categories.take(np.maximum(codes, 0)) if len(categories) else np.full(len(codes), np.nan, dtype=object)
        values = pd.Series(np.where(codes >= 0, taken, np.nan), index=values.index, dtype=object)
    return values.astype(str).to_numpy()


def _member_frame(frame: pd.DataFrame, dataset: str, record: "str | pd.Series") -> pd.DataFrame:
    rec = record.astype("int64").astype(str) if isinstance(record, pd.Series) else record
    study = text_of(frame["STUDYID"]) if "STUDYID" in frame else None
    return pd.DataFrame({"STUDYID": study,
                         "USUBJID": text_of(frame["USUBJID"]),
                         "dataset": dataset,
                         "record": rec.to_numpy() if isinstance(rec, pd.Series) else rec},
                        columns=MEMBER_COLUMNS)


def members(frame: pd.DataFrame, dataset: str, record: "str | pd.Series" = "") -> Members:
    """The pooled records of `frame` (rows of pooled `dataset`, with STUDYID and USUBJID) as members:
    record "" for adsl, the PARAMCD for adrs/adtte, the AESEQ for adae (a Series aligned to `frame`)."""
    return Members(((frame, dataset, record),))


def combine_members(*sets: "Members | None") -> Members:
    """Members of several record sets (e.g. the ADSL row and the ADRS BOR row of each subject)."""
    return Members(tuple(part for m in sets if m is not None for part in m.parts))


def create_subjects_frame(rows: Iterable[dict]) -> pd.DataFrame:
    """The membership of ARD rows built with `subjects=`: one row per ARD row, subject and pooled
    record (SUBJECT_COLUMNS), role "counted" for COUNT_STATS else "population"; in ARD row order,
    then by study, subject, dataset and record. A count row's distinct subjects are its `stat`.

    Rows sharing one members frame (a count and its percentage, a population's statistics) share
    its sorted copy; the ARD keys are repeated by position, not assigned frame by frame."""
    rows = [r for r in rows if r.get("_subjects") is not None]
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SUBJECT_COLUMNS})
    sorted_members: dict[int, pd.DataFrame] = {}  # id() of a frame the rows keep alive
    parts, lengths = [], []
    for row in rows:
        sub = row["_subjects"]
        if id(sub) not in sorted_members:
            frame = sub.frame() if isinstance(sub, Members) else sub
            sorted_members[id(sub)] = frame.drop_duplicates().sort_values(MEMBER_COLUMNS, kind="mergesort")[MEMBER_COLUMNS]
        parts.append(sorted_members[id(sub)])
        lengths.append(len(parts[-1]))
    keys = pd.DataFrame([{**{c: r[c] for c in ARD_KEY},
                          "role": "counted" if r["stat_name"] in COUNT_STATS else "population"} for r in rows])
    keys = keys.iloc[np.repeat(np.arange(len(rows)), lengths)].reset_index(drop=True)
    members = pd.concat(parts, ignore_index=True)
    out = pd.concat([keys, members], axis=1)[SUBJECT_COLUMNS]
    for c in SUBJECT_COLUMNS:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def ard_result(rows: list[dict], with_subjects: bool) -> "pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]":
    """A table function's return: the ARD frame, and with `with_subjects` its membership too."""
    ard = create_ard_frame(rows)
    return (ard, create_subjects_frame(rows)) if with_subjects else ard


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
