"""Text dates of the source contracts: a real calendar date in a year pandas cannot hold parses (and is
then implausible), a non-date does not parse; only the values pandas cannot parse take the slow path."""
from __future__ import annotations

import pandas as pd
import pytest

from repool.schemas import sources
from repool.schemas.sources import _date_check, _plausible_check


@pytest.mark.parametrize("kind, values, parses, plausible", [
    ("date_de", ["31.12.9999", "01.01.2012", "n.a.", "32.01.2012", None],
     [True, True, True, False, True], [False, True, True, True, True]),
    ("partial_date", ["0210-05-01", "2010-05-01", "2010-13-01", "2010-05", "0210"],
     [True, True, False, True, True], [False, True, True, True, False]),
    ("iso_date", ["0210-05-01", "2010-05-01", "2010-13-01", "2010-05", None],
     [True, True, False, False, True], [False, True, True, True, True]),
])
def test_text_dates(kind, values, parses, plausible):
    s = pd.Series(values, dtype=object)
    assert [bool(v) for v in _date_check(kind)(s)] == parses
    assert [bool(v) for v in _plausible_check(kind)(s)] == plausible


def test_only_what_pandas_cannot_parse_is_parsed_one_by_one(monkeypatch):
    seen = []
    real = sources.datetime

    class Spy:
        @staticmethod
        def strptime(value, fmt):
            seen.append(value)
            return real.strptime(value, fmt)

    monkeypatch.setattr(sources, "datetime", Spy)
    s = pd.Series(["01.01.2012"] * 1000 + ["31.12.9999", "32.01.2012"], dtype=object)
    _date_check("date_de")(s)
    _plausible_check("date_de")(s)
    assert sorted(set(seen)) == ["31.12.9999", "32.01.2012"]
