"""The publication's printed figures, read from their one home `data/reference/topp2021_published.json`.

The generator's targets (`targets.py`) and the independent check (`check.py`) take every published
figure from here; nothing in `repool.synth` types a published number in. A figure is addressed by
its ARD coordinates (table_id, variable, stat_name, group1_level, variable_level, group2_level),
exactly as the reproduction report addresses it. Only json and the standard library are needed.
"""
from __future__ import annotations

import json
from functools import lru_cache

from repool.resources import reference_file


@lru_cache(maxsize=1)
def document() -> dict:
    """The reference document ({'source', 'group_n', 'figures': [...]}), read once."""
    return json.loads(reference_file().read_text(encoding="utf-8"))


def printed(table_id: str, variable: str, stat_name: str, group1_level: str | None = None,
            variable_level: str | None = None, group2_level: str | None = None) -> str:
    """The figure's text exactly as printed (a number, or a p-value bound such as '<0.01');
    exactly one figure must match."""
    hits = [f for f in document()["figures"]
            if (f["table_id"], f["variable"], f["stat_name"], f["group1_level"], f["variable_level"],
                f["group2_level"]) == (table_id, variable, stat_name, group1_level, variable_level, group2_level)]
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} published figures at {(table_id, variable, stat_name, group1_level, variable_level, group2_level)}")
    return hits[0]["printed"]


def number(text: str) -> int | float:
    """A printed number as Python would read the same literal: '12' -> 12, '12.5' -> 12.5."""
    return float(text) if "." in text else int(text)


def published(table_id: str, variable: str, stat_name: str, group1_level: str | None = None,
              variable_level: str | None = None, group2_level: str | None = None) -> int | float:
    """A published figure as a number (int when printed without decimals, else float)."""
    return number(printed(table_id, variable, stat_name, group1_level, variable_level, group2_level))


def p_bound(table_id: str, variable: str, stat_name: str, group1_level: str | None = None) -> float:
    """A p-value printed as a bound ('<0.01') as the bound (0.01); a plain printed p as its value."""
    return float(printed(table_id, variable, stat_name, group1_level).lstrip("<").strip())


def group_n(group: str) -> int:
    """The published number of patients of a salvage group."""
    return int(document()["group_n"][group])
