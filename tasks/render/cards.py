"""The ARD with the column names of the pharmaverse `cards` package: `ard_cards.parquet` and `ard_cards.csv`.

One row per ARD row, in the ARD's order: the cards columns `group1`, `group1_level`, `group2`,
`group2_level`, `variable`, `variable_level`, `context` (the method), `stat_name`, `stat_label`,
`stat` (the raw value, NULL = not estimable), `fmt_fun` (decimal places of the displayed value, the
integer form cards accepts), `warning`, `error` (always NULL: a failed statistic is stored as NULL,
not as a condition), plus `stat_fmt` (the value exactly as the report shows it, display.py's
formatting under the version's convention profile, as cards' `apply_fmt_fun()` would add) and, first,
our `table_id` (the ARD key needs it). The format column is `fmt_fun`, its name since cards 0.6.1
(earlier releases called it `fmt_fn`).

In R the level, stat and format columns are list columns; after reading, e.g.
  ard <- arrow::read_parquet("ard_cards.parquet") |>
    dplyr::mutate(dplyr::across(c(group1_level, group2_level, variable_level, stat, fmt_fun, warning, error),
                                as.list)) |> cards::as_card()
Reads the ARD and the version's parameters only; computes nothing.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from repool.schemas.ard import ARD_COLUMNS
from repool.tasks.render.ard_meta import method_of, stat_format, stat_label
from repool.tasks.render.display import conventions_of, display_conventions

CARDS_PARQUET, CARDS_CSV = "ard_cards.parquet", "ard_cards.csv"
CARDS_COLUMNS = ["table_id", "group1", "group1_level", "group2", "group2_level", "variable", "variable_level",
                 "context", "stat_name", "stat_label", "stat", "stat_fmt", "fmt_fun", "warning", "error"]
_TEXT = [c for c in CARDS_COLUMNS if c not in ("stat", "fmt_fun")]
CARDS_SCHEMA = pa.schema([(c, pa.float64() if c == "stat" else pa.int32() if c == "fmt_fun" else pa.string())
                          for c in CARDS_COLUMNS])


def _label(v) -> str | None:
    return None if v is None or (isinstance(v, float) and v != v) or v is pd.NA else str(v)


def _stat(v) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def create_cards_ard(ard: pd.DataFrame, parameters: dict | str | None) -> pd.DataFrame:
    """The ARD (canonical columns, `result_version` optional) as a cards-style frame (`CARDS_COLUMNS`)."""
    rows = []
    with display_conventions(conventions_of(parameters)):
        for r in ard[ARD_COLUMNS].itertuples(index=False):
            key = {c: _label(getattr(r, c)) for c in ARD_COLUMNS if c != "stat"}
            stat = _stat(r.stat)
            fmt = stat_format(key["table_id"], key["stat_name"])
            method = method_of(key["table_id"], key["variable"], key["variable_level"], key["stat_name"])
            rows.append({**key, "context": method.context, "stat_label": stat_label(key["stat_name"]),
                         "stat": stat, "stat_fmt": fmt.format(stat), "fmt_fun": fmt.digits(stat),
                         "warning": None, "error": None})
    out = pd.DataFrame(rows, columns=CARDS_COLUMNS)
    for c in _TEXT:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    out["stat"] = pd.to_numeric(out["stat"]).astype("float64")
    out["fmt_fun"] = pd.array(out["fmt_fun"], dtype="Int32")
    return out


def write_cards_ard(ard: pd.DataFrame, meta: dict, folder: Path) -> list[Path]:
    """Write `ard_cards.parquet` and `ard_cards.csv` into the version folder; byte-reproducible."""
    frame = create_cards_ard(ard, meta.get("parameters"))
    folder = Path(folder)
    parquet, csv = folder / CARDS_PARQUET, folder / CARDS_CSV
    table = pa.Table.from_pandas(frame, schema=CARDS_SCHEMA, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, parquet)
    frame.to_csv(csv, index=False, lineterminator="\n")
    return [parquet, csv]
