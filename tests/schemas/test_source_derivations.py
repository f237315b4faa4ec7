"""schemas/sources.py `shared_derivations`: inside one validation a column's stripped text (and so its
null mask, numbers and dates) is computed once for all of the column's checks, and the failures are
those of a validation without it."""
from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
import pytest

from repool.schemas import sources
from repool.schemas.sources import CSV_LEGACY, build_source_schema, shared_derivations

PATIENTS = CSV_LEGACY["patients.csv"]


def _frame() -> pd.DataFrame:
    rows = {"PATNR": ["1", "2", "2", " 4 ", "x"], "SEX": ["1", "2", "3", None, "1"],
            "AGE": ["30", "17", "n.a.", "101", "40"], "ECOG": ["0", None, "5", "1", "2"],
            "PRIOR_SCT": ["J", "N", "?", "J", "N"], "BM_BLASTS": ["10,5", "x", "101", None, "0"],
            "SALVAGE_NR": ["1", "2", "0", "1", "1"],
            "FIRST_DOSE": ["01.02.2012", "31.12.9999", "32.01.2012", None, "01.01.1850"],
            "LAST_DOSE": ["01.03.2012", "01.03.2012", "n.a.", "01.03.2099", "01.03.2012"]}
    df = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in rows.items()})
    df.index = range(1, len(df) + 1)
    return df


def _failures(df: pd.DataFrame) -> pd.DataFrame:
    with pytest.raises(pa.errors.SchemaErrors) as exc:
        build_source_schema(PATIENTS, data_cut="2016-01-01").validate(df, lazy=True)
    cases = exc.value.failure_cases.astype(str)
    return cases.sort_values(list(cases.columns)).reset_index(drop=True)


def test_each_column_is_stripped_once_and_the_failures_do_not_change(monkeypatch):
    assert set(_frame().columns) == {c.name for c in PATIENTS.columns}
    alone = _failures(_frame())
    stripped = []
    real = sources._stripped_text
    monkeypatch.setattr(sources, "_stripped_text", lambda s: stripped.append(s.name) or real(s))
    with shared_derivations():
        shared = _failures(_frame())
    pd.testing.assert_frame_equal(shared, alone)
    per_column = pd.Series(stripped).value_counts()
    # once per column, plus beyond_pandas's parts of the date columns (the values pandas cannot parse)
    assert per_column.drop(["FIRST_DOSE", "LAST_DOSE"]).eq(1).all(), per_column
    assert len(alone) > 10  # the frame breaks many rules: the comparison means something
    stripped.clear()
    _failures(_frame())
    assert pd.Series(stripped).value_counts()["AGE"] > 1  # outside, every check strips again
