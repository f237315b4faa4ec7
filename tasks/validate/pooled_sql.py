"""The pooled contract as SQL over the pooled tables in DuckDB (nothing of the pool is loaded into
pandas). The rules stay in the pandera models of `schemas/pooled.py`: this module translates each
model (`Model.to_schema()`) into SQL predicates, the dataframe-level checks through the SQL twins kept
beside them (`schemas.pooled.sql_twins`).

What is translated, as pandera does it on a frame:

- a required column absent from the table -> `column_in_dataframe` (row None);
- the column's dtype (the models coerce): a DuckDB type outside the dtype's family is cast with
  TRY_CAST; a value that does not cast -> `coerce_dtype('<dtype>')` on its row, and the checks below
  see the cast value;
- `nullable=False` -> `not_nullable` (NULL, and NaN in a float column, as pandas counts them);
- `isin` / `notin` / `equal_to` / `ge` / `gt` / `le` / `lt` / `in_range` -> the check's own error
  string (e.g. `greater_than_or_equal_to(18)`), nulls skipped (pandera's `ignore_na`);
- `unique=True` -> `field_uniqueness` on every row of a duplicated value; `Config.unique` ->
  `multiple_fields_uniqueness` on every row of a duplicated key, one record per key column (as
  pandera reports them);
- a dataframe check -> its twin; one record per failing row, naming the twin's columns (pandera
  names every column of the row).

Known differences from pandas: an integer column with NULLs is `not_nullable` only (pandas would
also fail the int64 coercion of its NaN); the row of a record is the table's row number (rowid + 1),
which is the pandas index the former frame validation gave (a pooled table is read in insertion
order). Cases are capped per table, column and check at MAX_CASES_PER_CHECK; one more record then
says how many were left out. One aggregate scan per table counts every row rule; failing rows are
only fetched for the rules that failed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from repool.schemas.gx_suites import unique_keys
from repool.schemas.audit import failure
from repool.tasks.db import quote_ident
from repool.tasks.validate.delivery import MAX_CASES_PER_CHECK

REASON = "pooled_contract"

# pandera dtype (str(col.dtype)) -> (DuckDB types that need no cast, the cast target)
_FAMILIES = {
    "str": ({"VARCHAR"}, "VARCHAR"),
    "int64": ({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
               "UINTEGER", "UBIGINT"}, "BIGINT"),
    "float64": ({"DOUBLE", "FLOAT", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
                 "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}, "DOUBLE"),
    "datetime64[ns]": ({"DATE", "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S",
                        "TIMESTAMP WITH TIME ZONE"}, "TIMESTAMP"),
}
_FLOATS = {"DOUBLE", "FLOAT"}


@dataclass(frozen=True)
class RowRule:
    """One rule checked row by row: `fails` is a SQL boolean over the table's row (never NULL)."""
    check: str
    column: str | None  # None: a dataframe check (its columns in `columns`)
    fails: str
    value: str  # SQL expression of the value reported
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class UniqueRule:
    check: str
    key: tuple[str, ...]


def literal(value) -> str:
    """A SQL literal of a model constant (a rule's bound or allowed value; never data)."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if hasattr(value, "isoformat"):
        return f"TIMESTAMP '{value.isoformat(sep=' ') if hasattr(value, 'hour') else value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def _base_type(duck_type: str) -> str:
    return re.sub(r"\(.*\)$", "", duck_type.upper()).strip()


def compile_rules(model: type, table_columns: dict[str, str]) -> tuple[list[dict], list[RowRule], list[UniqueRule]]:
    """The model's rules against a table with `table_columns` (name -> DuckDB type): the
    schema-level failures found from the columns alone, the row rules and the uniqueness rules."""
    from repool.schemas.pooled import sql_twins
    schema = model.to_schema()
    static: list[dict] = []
    rows: list[RowRule] = []
    uniques: list[UniqueRule] = []
    present = set(table_columns)
    for name, col in schema.columns.items():
        if col.regex:
            raise NotImplementedError(f"{model.__name__}.{name}: regex column names have no SQL translation")
        if name not in present:
            if col.required:
                static.append({"check": "column_in_dataframe", "column": name, "value": name})
            continue
        q = quote_ident(name)
        dtype = str(col.dtype)
        if dtype not in _FAMILIES:
            raise NotImplementedError(f"{model.__name__}.{name}: dtype {dtype} has no SQL translation")
        family, target = _FAMILIES[dtype]
        actual = _base_type(table_columns[name])
        v = q
        if actual not in family and not (dtype == "float64" and actual.startswith("DECIMAL")):
            v = f"TRY_CAST({q} AS {target})"
            rows.append(RowRule(f"coerce_dtype('{dtype}')", name, f"({q} IS NOT NULL AND {v} IS NULL)", q))
        is_null = f"({v} IS NULL OR isnan({v}))" if target == "DOUBLE" else f"({v} IS NULL)"
        if not col.nullable:
            rows.append(RowRule("not_nullable", name, is_null, v))
        for check in col.checks:
            fails = _check_fails(model, name, check, v)
            rows.append(RowRule(str(check.error or check.name), name, f"(NOT {is_null} AND ({fails}))", v))
        if col.unique:
            uniques.append(UniqueRule("field_uniqueness", (name,)))
    for key in unique_keys(schema.unique):
        if set(key) <= present:
            uniques.append(UniqueRule("multiple_fields_uniqueness", tuple(key)))
    for check_name, twin in sql_twins(model).items():
        if set(twin["columns"]) <= present:
            value = " || ', ' || ".join(f"'{c}=' || coalesce(CAST({quote_ident(c)} AS VARCHAR), 'NULL')"
                                        for c in twin["columns"])
            rows.append(RowRule(check_name, None, f"(NOT coalesce(({twin['passes']}), FALSE))", value,
                                tuple(twin["columns"])))
    return static, rows, uniques


def _check_fails(model: type, column: str, check, v: str) -> str:
    stats = check.statistics or {}
    name = check.name
    if name == "isin":
        return f"{v} NOT IN ({', '.join(literal(x) for x in stats['allowed_values'])})"
    if name == "notin":
        return f"{v} IN ({', '.join(literal(x) for x in stats['forbidden_values'])})"
    if name == "equal_to":
        return f"{v} <> {literal(stats['value'])}"
    if name == "not_equal_to":
        return f"{v} = {literal(stats['value'])}"
    if name == "greater_than_or_equal_to":
        return f"{v} < {literal(stats['min_value'])}"
    if name == "greater_than":
        return f"{v} <= {literal(stats['min_value'])}"
    if name == "less_than_or_equal_to":
        return f"{v} > {literal(stats['max_value'])}"
    if name == "less_than":
        return f"{v} >= {literal(stats['max_value'])}"
    if name == "in_range":
        lo = "<" if stats.get("include_min", True) else "<="
        hi = ">" if stats.get("include_max", True) else ">="
        return f"({v} {lo} {literal(stats['min_value'])} OR {v} {hi} {literal(stats['max_value'])})"
    raise NotImplementedError(f"{model.__name__}.{column}: check {name} has no SQL translation")


def table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str] | None:
    """name -> DuckDB type of a table or view, in column order; None if there is none."""
    found = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", [schema, table]).fetchall()
    return {name: kind for name, kind in found} or None


def numbered(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> str:
    """A FROM item whose `rowid` is the row's position from 0, as a pandas frame read of it would
    number it: the table itself (its rowid) or, for a view, the view numbered in scan order."""
    kind = con.execute("SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                       [schema, table]).fetchall()
    ref = f"{quote_ident(schema)}.{quote_ident(table)}"
    if kind and kind[0][0] == "BASE TABLE":
        return ref
    return f"(SELECT *, row_number() OVER () - 1 AS rowid FROM {ref})"


def _record(name: str, check: str, column: str | None, row, study, subject, value) -> dict:
    return failure(study, None, REASON,
                   f"pooled.{name} row {row} column {column}: {check} failed for {value!r}",
                   file=f"pooled.{name}", row=row, column=column, value=value, subject=subject, check=check)


def _more(name: str, check: str, column: str | None, more: int) -> dict:
    return failure(None, None, REASON, f"{more} more failures of {check} in pooled.{name} column {column}",
                   file=f"pooled.{name}", column=column, check=check)


def validate_pooled_table(con: duckdb.DuckDBPyConnection, name: str, model: type, schema: str = "pooled",
                          cap: int = MAX_CASES_PER_CHECK) -> list[dict]:
    """Audit records of one pooled table against its pandera model, computed in DuckDB."""
    cols = table_columns(con, schema, name)
    if cols is None:
        return [failure(None, None, REASON, f"pooled.{name} does not exist", file=f"pooled.{name}",
                        check="table_exists")]
    static, rules, uniques = compile_rules(model, cols)
    records = [failure(None, None, REASON, f"pooled.{name} lacks required column {s['column']}",
                       file=f"pooled.{name}", column=s["column"], value=s["value"], check=s["check"])
               for s in static]
    plain, src = f"{quote_ident(schema)}.{quote_ident(name)}", numbered(con, schema, name)  # counts need no row number
    ident = [c if c in cols else None for c in ("STUDYID", "USUBJID")]
    ident_sql = ", ".join(quote_ident(c) if c else "NULL" for c in ident)
    if rules:
        counts = con.execute(f"SELECT {', '.join(f'count_if({r.fails})' for r in rules)} FROM {plain}").fetchone()
        for rule, n in zip(rules, counts):
            if not n:
                continue
            hits = con.execute(f"SELECT rowid + 1, {ident_sql}, {rule.value} FROM {src} WHERE {rule.fails} "
                               f"ORDER BY rowid LIMIT {int(cap)}").fetchall()
            column = rule.column if rule.column else ", ".join(rule.columns)
            records += [_record(name, rule.check, column, row, study, subject, value)
                        for row, study, subject, value in hits]
            if n > cap:
                records.append(_more(name, rule.check, column, n - cap))
    for rule in uniques:
        key = ", ".join(quote_ident(c) for c in rule.key)
        on = " AND ".join(f"t.{quote_ident(c)} IS NOT DISTINCT FROM d.{quote_ident(c)}" for c in rule.key)
        dup = (f"FROM {src} t JOIN (SELECT {key} FROM {plain} GROUP BY ALL HAVING count(*) > 1) d ON {on}")
        (n,) = con.execute(f"SELECT count(*) FROM {plain} t JOIN (SELECT {key} FROM {plain} GROUP BY ALL "
                           f"HAVING count(*) > 1) d ON {on}").fetchone()
        if not n:
            continue
        t_ident = ", ".join(f"t.{quote_ident(c)}" if c else "NULL" for c in ident)
        hits = con.execute(f"SELECT t.rowid + 1, {t_ident}, {', '.join(f't.{quote_ident(c)}' for c in rule.key)} "
                           f"{dup} ORDER BY t.rowid LIMIT {int(cap)}").fetchall()
        for i, column in enumerate(rule.key):  # pandera: one case per key column and row
            records += [_record(name, rule.check, column, h[0], h[1], h[2], h[3 + i]) for h in hits]
            if n > cap:
                records.append(_more(name, rule.check, column, n - cap))
    return records


def validate_pooled_tables(con: duckdb.DuckDBPyConnection, schema: str = "pooled",
                           cap: int = MAX_CASES_PER_CHECK) -> list[dict]:
    """The pooled contract (every model of POOLED_MODELS) over the tables `<schema>.<name>`."""
    from repool.schemas.pooled import POOLED_MODELS  # pandera: imported when the contract is checked
    return [r for name, model in POOLED_MODELS.items() for r in validate_pooled_table(con, name, model, schema, cap)]
