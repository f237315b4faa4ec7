"""great-expectations suites for the pooled datasets, generated from the pandera models in
`schemas/pooled.py` (`POOLED_MODELS`): the pooled contract has one home, the suites follow it.

`build_gx_suites()` returns, per dataset, a suite document in the dict shape GX takes::

    {"name": "pooled_<ds>", "notes": "...",
     "meta": {"dataset": ds, "generated_from": "repool.schemas.pooled.<Model>",
              "not_expressible": [{"check": ..., "column": ... | None, "reason": ...}, ...]},
     "expectations": [{"type": ..., "kwargs": {...}, "notes"?: ...}, ...]}

What is translated (from `Model.to_schema()`):

- the table: `expect_table_row_count_to_be_between` (min 1: a pooled dataset is never empty, a
  rule of this generator, not of pandera) and `expect_table_columns_to_match_set` over the
  model's columns (`exact_match` = the schema's `strict`: the pooled frames may carry more
  columns while `strict=False`);
- `Config.unique` -> `expect_compound_columns_to_be_unique`;
- per column, in model order: `expect_column_to_exist`; `nullable=False` ->
  `expect_column_values_to_not_be_null`; `unique=True` -> `expect_column_values_to_be_unique`;
  `isin` / `notin` / `equal_to` -> `expect_column_values_to_(not_)be_in_set`; `ge` / `gt` / `le` /
  `lt` / `in_range` (all bounds of a column merged into one) -> `expect_column_values_to_be_between`
  (`strict_min` / `strict_max` for exclusive bounds); `str_matches` -> `expect_column_values_to_match_regex`.
  GX's column-value expectations skip nulls, as pandera's built-in checks do (`ignore_na`).

Anything else, notably dataframe-level checks (`@pa.dataframe_check`: a Python function, no
declarative form), is not invented as an expectation: it is listed in the suite's
`meta["not_expressible"]` and enforced by the pandera model alone (`tasks/validate/pooled.py`).

The output is deterministic: model order for columns and value sets (sets are sorted), no
timestamps, plain JSON types only.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = ["build_gx_suites", "SUITE_PREFIX"]

SUITE_PREFIX = "pooled_"

_SET_CHECKS = {  # pandera check name -> (GX type, statistic holding the values)
    "isin": ("expect_column_values_to_be_in_set", "allowed_values"),
    "notin": ("expect_column_values_to_not_be_in_set", "forbidden_values"),
    "equal_to": ("expect_column_values_to_be_in_set", "value"),
}
_BOUND_CHECKS = {  # pandera check name -> [(statistic, side, strict)]
    "greater_than_or_equal_to": [("min_value", "min", False)],
    "greater_than": [("min_value", "min", True)],
    "less_than_or_equal_to": [("max_value", "max", False)],
    "less_than": [("max_value", "max", True)],
    "in_range": [("min_value", "min", None), ("max_value", "max", None)],  # include_min/include_max
}


def build_gx_suites() -> dict[str, dict]:
    """One GX suite document per pooled dataset (`adsl`, `adtte`, `adrs`, `adae`), keyed by name."""
    from repool.schemas.pooled import POOLED_MODELS  # pandera: imported when a suite is built
    return {name: _suite(name, model) for name, model in POOLED_MODELS.items()}


def _suite(dataset: str, model: type) -> dict:
    schema = model.to_schema()
    expectations: list[dict] = []
    not_expressible: list[dict] = []

    required = [name for name, col in schema.columns.items() if col.required and not col.regex]
    strict = schema.strict is True
    expectations.append(_exp("expect_table_row_count_to_be_between", {"min_value": 1},
                             "A pooled dataset is never empty."))
    expectations.append(_exp(
        "expect_table_columns_to_match_set", {"column_set": required, "exact_match": strict},
        "Exactly the contract columns (strict=True)." if strict
        else "Every contract column is present; extra columns are allowed (strict=False)."))
    for key in unique_keys(schema.unique):
        expectations.append(_exp("expect_compound_columns_to_be_unique", {"column_list": key},
                                 f"One row per {', '.join(key)} (Config.unique)."))

    for name, col in schema.columns.items():
        if col.regex or not col.required:
            for rule in _column_rules(col):
                why = "regex column name" if col.regex else "optional column (required=False)"
                not_expressible.append({"check": rule, "column": name,
                                        "reason": f"{why}: GX cannot make a rule depend on which columns exist"})
            continue
        expectations.extend(_column_expectations(name, col, not_expressible))

    for check in schema.checks:
        not_expressible.append({
            "check": check.name,
            "column": None,
            "reason": "dataframe-level custom check (a Python function): no GX expectation; "
                      "enforced by the pandera model only",
        })
    not_expressible.sort(key=lambda d: (d["column"] or "", d["check"]))

    return {
        "name": f"{SUITE_PREFIX}{dataset}",
        "notes": f"Generated from {model.__module__}.{model.__qualname__} by repool.schemas.gx_suites; edit the "
                 "pandera model, not this suite.",
        "meta": {
            "dataset": dataset,
            "generated_from": f"{model.__module__}.{model.__qualname__}",
            "not_expressible": not_expressible,
        },
        "expectations": expectations,
    }


def _column_expectations(name: str, col: Any, not_expressible: list[dict]) -> list[dict]:
    nullable_note = "Nullable: nulls pass." if col.nullable else None
    out = [_exp("expect_column_to_exist", {"column": name})]
    if not col.nullable:
        out.append(_exp("expect_column_values_to_not_be_null", {"column": name}))
    if col.unique:
        out.append(_exp("expect_column_values_to_be_unique", {"column": name}, "Field(unique=True)."))

    lower: list[tuple[Any, bool]] = []  # (value, strict)
    upper: list[tuple[Any, bool]] = []
    for check in col.checks:
        stats = check.statistics or {}
        if check.name in _SET_CHECKS:
            gx_type, stat = _SET_CHECKS[check.name]
            values = stats[stat] if stat != "value" else [stats[stat]]
            out.append(_exp(gx_type, {"column": name, "value_set": _plain_values(values)}, nullable_note))
        elif check.name in _BOUND_CHECKS:
            for stat, side, strict in _BOUND_CHECKS[check.name]:
                value = stats.get(stat)
                if value is None:
                    continue
                if strict is None:  # in_range
                    strict = not stats.get("include_min" if side == "min" else "include_max", True)
                (lower if side == "min" else upper).append((_plain(value), bool(strict)))
        elif check.name == "str_matches":
            out.append(_exp("expect_column_values_to_match_regex",
                            {"column": name, "regex": _regex(stats["pattern"])}, nullable_note))
        else:
            not_expressible.append({"check": check.name or repr(check), "column": name,
                                    "reason": "column check without a GX translation in this generator"})

    if lower or upper:
        kwargs: dict[str, Any] = {"column": name}
        if lower:  # the tightest bound wins; at a tie the exclusive one
            value, strict = max(lower, key=lambda b: (b[0], b[1]))
            kwargs["min_value"] = value
            if strict:
                kwargs["strict_min"] = True
        if upper:
            value, strict = min(upper, key=lambda b: (b[0], not b[1]))
            kwargs["max_value"] = value
            if strict:
                kwargs["strict_max"] = True
        out.append(_exp("expect_column_values_to_be_between", kwargs, nullable_note))
    return out


def _column_rules(col: Any) -> list[str]:
    rules = [] if col.nullable else ["not_nullable"]
    rules += ["field_uniqueness"] if col.unique else []
    return rules + [c.name or repr(c) for c in col.checks]


def unique_keys(unique: Any) -> list[list[str]]:
    """Config.unique: None, one key (list of names) or several keys (list of lists)."""
    if not unique:
        return []
    if isinstance(unique, str):
        return [[unique]]
    if all(isinstance(u, str) for u in unique):
        return [list(unique)]
    return [[u] if isinstance(u, str) else list(u) for u in unique]


def _exp(gx_type: str, kwargs: dict, notes: str | None = None) -> dict:
    doc: dict[str, Any] = {"type": gx_type, "kwargs": kwargs}
    if notes:
        doc["notes"] = notes
    return doc


def _regex(pattern: Any) -> str:
    return pattern if isinstance(pattern, str) else pattern.pattern  # re.Pattern


def _plain_values(values: Any) -> list:
    if isinstance(values, (set, frozenset)):
        return sorted((_plain(v) for v in values), key=lambda v: (type(v).__name__, v))
    return [_plain(v) for v in values]


def _plain(value: Any) -> Any:
    """A plain JSON value (numpy scalars unwrapped; timestamps as ISO strings)."""
    if hasattr(value, "item") and not hasattr(value, "isoformat"):
        value = value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        raise ValueError(f"bound or value {value!r} has no JSON form")
    return value
