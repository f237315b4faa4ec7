"""Stage 5, analyse: the pure statistics and the analysis tables (pooled frames in, ARD rows out).

`statistics.py` holds the methods, `table<N>_*.py` one table each, `ard.py` the row shape. The
tables know neither Prefect nor DuckDB; the two tasks below are their only Prefect face.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from prefect import task
from prefect.cache_policies import NO_CACHE

from repool.schemas.ard import TABLE_IDS
from repool.lazy import import_once

if TYPE_CHECKING:  # annotations only: pandas is imported by the functions that use it
    import pandas as pd


def _table(module: str, name: str):
    """The table function `name` of `repool.tasks.analyse.<module>`, imported on its first call: an
    unchanged run, which analyses nothing, never imports the tables, pandas or the statistics. The
    tables may run in threads (the flow runs them one at a time; a caller may not): one thread imports
    (the table and the statistics' scipy and lifelines), the others wait, so that none meets a module
    half-initialised."""
    def compute(*args, **kwargs):
        table = import_once(f"repool.tasks.analyse.{module}")
        import_once("repool.tasks.analyse.statistics").import_dependencies()
        return getattr(table, name)(*args, **kwargs)

    compute.__name__ = compute.__qualname__ = name
    return compute


compute_table1 = _table("table1_baseline", "compute_table1")
compute_table2 = _table("table2_survival", "compute_table2")
compute_km_curves = _table("table2_survival", "compute_km_curves")
compute_table3 = _table("table3_response", "compute_table3")
compute_table4 = _table("table4_adverse_events", "compute_table4")
compute_studies = _table("table5_studies", "compute_studies")

# table id -> (function, pooled datasets it reads, the analysis parameters it takes)
TABLES = {
    "table1": (compute_table1, ("adsl",), ()),
    "table2": (compute_table2, ("adsl", "adtte"), ("alpha", "conventions")),
    "table3": (compute_table3, ("adsl", "adrs"), ("alpha",)),
    "table4": (compute_table4, ("adsl", "adae"), ()),
    "studies": (compute_studies, ("adsl", "adtte", "adrs"), ("alpha", "conventions")),
}
assert tuple(TABLES) == TABLE_IDS

# The columns of each pooled dataset the tables and the KM curves read: nothing else leaves DuckDB.
POOLED_COLUMNS = {
    "adsl": ("STUDYID", "USUBJID", "AGE", "SEX", "ECOG", "PRHSCT", "BMBLPCT", "BMBLCAT", "SALVGRP",
             "HSCTFL", "HSCTCRFL", "HSCTRRFL", "OTHTXFL"),
    "adrs": ("STUDYID", "USUBJID", "PARAMCD", "AVALC"),
    "adtte": ("STUDYID", "USUBJID", "PARAMCD", "AVAL", "CNSR"),
    "adae": ("STUDYID", "USUBJID", "AESEQ", "TRTEMFL", "AESER", "AEFATFL", "AREL", "AESICAT", "AETOXGR"),
}


@task(name="analyse", cache_policy=NO_CACHE)
def analyse_table(table_id: str, frames: dict[str, pd.DataFrame], alpha: float,
                  conventions: str = "sas", with_subjects: bool = False):
    """One analysis table's ARD rows from the pooled frames (a pure function of them); intervals at
    level 1 - alpha, corner cases per the convention profile ("sas" or "r", statistics.Conventions).
    With `with_subjects`, (ARD, membership): the subjects and pooled records behind every row
    (ard.create_subjects_frame), for publish to store with the version; never logged."""
    fn, inputs, takes = TABLES[table_id]
    parameters = {"alpha": alpha, "conventions": conventions}
    return fn(*(frames[i] for i in inputs), **{k: parameters[k] for k in takes}, with_subjects=with_subjects)


@task(name="km-curves", cache_policy=NO_CACHE)
def derive_km_curves(frames: dict[str, pd.DataFrame], alpha: float) -> pd.DataFrame:
    """KM step data (with the pointwise band at level 1 - alpha) for the report's figures."""
    return compute_km_curves(frames["adsl"], frames["adtte"], alpha=alpha)
