"""The publication's printed figures for tests, read from `data/reference/topp2021_published.json`.

Tests take every expected published number from here, never from `repool.synth` (the generator's
targets are what is being tested) and never typed in. A figure is addressed by its ARD coordinates.
"""
from __future__ import annotations

import json
from functools import lru_cache

from repool.resources import reference_file


@lru_cache(maxsize=1)
def _document() -> dict:
    return json.loads(reference_file().read_text(encoding="utf-8"))


def printed(table_id: str, variable: str, stat_name: str, group1_level: str | None = None,
            variable_level: str | None = None, group2_level: str | None = None) -> str:
    """The figure's text exactly as printed (a number, or a p-value bound such as '<0.01');
    exactly one figure must match."""
    key = (table_id, variable, stat_name, group1_level, variable_level, group2_level)
    hits = [f for f in _document()["figures"]
            if (f["table_id"], f["variable"], f["stat_name"], f["group1_level"], f["variable_level"],
                f["group2_level"]) == key]
    assert len(hits) == 1, (key, len(hits))
    return hits[0]["printed"]


def published(table_id: str, variable: str, stat_name: str, group1_level: str | None = None,
              variable_level: str | None = None, group2_level: str | None = None) -> int | float:
    """The figure as a number: int when printed without decimals ('12'), else float ('12.5')."""
    text = printed(table_id, variable, stat_name, group1_level, variable_level, group2_level)
    return float(text) if "." in text else int(text)


def p_bound(table_id: str, variable: str, stat_name: str, group1_level: str | None = None) -> float:
    """A p-value printed as a bound ('<0.01') as the bound (0.01)."""
    return float(printed(table_id, variable, stat_name, group1_level).lstrip("<").strip())


def group_n(group: str) -> int:
    """The published number of patients of a salvage group."""
    return int(_document()["group_n"][group])
