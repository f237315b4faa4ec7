"""great_expectations checkpoint over the pooled tables in DuckDB, with offline Data Docs.

GX runs against the database, not against pandas frames: a GX SQL datasource (SQLAlchemy through
`duckdb_engine`) whose connections are cursors of the caller's DuckDB connection, so the
expectations are SQL queries over `pooled.<name>` and the pool never enters Python. Two details
make GX 1.24 work on DuckDB (GX knows no DuckDB dialect; fivetran/great_expectations#10738, #11579):
the connection is read-only and transactionless (`_ReadOnlyDuckDB`: GX returns its connection to the
pool, which rolls back, before it fetches a metric's rows; a DuckDB rollback drops the pending
result), and the caller's connection is reused (`creator`), because DuckDB refuses a second
connection to the same file with another configuration in the same process.

The expectation suites are not written by hand: `repool.schemas.gx_suites.build_gx_suites()`
generates them at run time from the pandera models in `schemas/pooled.py`, so the pooled contract
has one home and GX cannot drift from it (a rule is changed in the pandera model; dataframe-level
custom checks, which GX cannot express, are listed in each suite's `meta["not_expressible"]`).
Each run uses an ephemeral GX context: nothing is written into the repo, only the Data Docs into
`docs_dir`.

Data Docs as GX builds them load bootstrap, jquery, font-awesome, vega... from public CDNs and
embed a tracking image (`https://great-expectations-web-assets...`). Clinical environments are
often air-gapped, so `make_docs_offline` rewrites every built page: CDN `<link>`/`<script>` tags
go, the vendored `gx_offline/datadocs.css` and `gx_offline/datadocs.js` (a tiny jQuery stand-in
that renders the index table) are inlined instead, external images/links/`url()` are stripped,
GX's own `static/` folder (fonts and SVG logos) is removed, and finally no `http://` or
`https://` may remain in any file under `docs_dir` (checked; a leftover raises).
"""
from __future__ import annotations

import repool  # noqa: F401  (analytics off before great_expectations is imported)
from repool.resources import package_dir
import datetime as dt
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from repool.schemas.gx_suites import SUITE_PREFIX, build_gx_suites
from repool.tasks.db import quote_ident
from repool.tasks.validate.pooled_sql import table_columns

OFFLINE_DIR = package_dir("repool.tasks.validate") / "gx_offline"
DOCS_SITE = "repool_docs"
MAX_EXAMPLES = 5  # example failing values kept per failed expectation in the summary

__all__ = ["run_gx_checkpoint", "build_gx_suites", "make_docs_offline", "external_urls"]


# ---------------------------------------------------------------------------------------------
# checkpoint


def run_gx_checkpoint(
    con: duckdb.DuckDBPyConnection,
    docs_dir: Path,
    run_name: str,
    datasets: list[str] | None = None,
    schema: str = "pooled",
) -> dict:
    """Validate each pooled table `<schema>.<name>` against its suite, build offline Data Docs into `docs_dir`.

    `datasets` names the tables (`adsl`, `adtte`, `adrs`, `adae`; any case; default: every suite of
    `build_gx_suites()`, one per pandera model in `POOLED_MODELS`); a name without a suite is an error.
    Returns a JSON-serialisable summary::

        {"success": bool, "run_name": str, "index_html": "<docs_dir>/index.html",
         "datasets": {name: {"success": bool, "evaluated": int, "failed": [
             {"expectation": type, "column": str | list | None, "unexpected_count": int | None,
              "partial_unexpected_list": [<= 5 example values], "observed_value": ...,
              "exception": str | None}, ...]}}}
    """
    suites = build_gx_suites()
    names = [n.lower() for n in (datasets if datasets is not None else list(suites))]
    unknown = sorted(set(names) - set(suites))
    if unknown:
        raise ValueError(f"no expectation suite for dataset(s) {unknown} (suites: {sorted(suites)})")
    if not names:
        raise ValueError("no datasets to validate")

    import great_expectations as gx  # ~3 s, hence lazy
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    docs_dir = Path(docs_dir).resolve()
    docs_dir.mkdir(parents=True, exist_ok=True)

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    ctx.add_data_docs_site(
        site_name=DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_cta_footer": False},
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
        },
    )
    cursors: list[duckdb.DuckDBPyConnection] = []
    source = ctx.data_sources.add_sql(name="pooled", connection_string="duckdb:///:memory:",
                                      kwargs=_engine_kwargs(con, cursors))
    run_id = RunIdentifier(run_name=run_name, run_time=dt.datetime.now(dt.timezone.utc))

    datasets_out: dict[str, dict] = {}
    try:
        for name in names:
            whole, keys, key_columns = split_key_suite(suites[name], table_columns(con, schema, name) or {})
            suite = ctx.suites.add(gx.ExpectationSuite(**_suite_kwargs(whole)))
            batch = source.add_table_asset(name=name, table_name=name, schema_name=schema) \
                .add_batch_definition_whole_table("whole")
            vds = [ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{name}_vd", data=batch, suite=suite))]
            if keys is not None:
                key_batch = source.add_query_asset(
                    name=f"{name}_key", query=f"SELECT {', '.join(quote_ident(c) for c in key_columns)} "
                                              f"FROM {quote_ident(schema)}.{quote_ident(name)}"
                ).add_batch_definition_whole_table("whole")
                key_suite = ctx.suites.add(gx.ExpectationSuite(**_suite_kwargs(keys)))
                vds.append(ctx.validation_definitions.add(
                    gx.ValidationDefinition(name=f"{name}_key_vd", data=key_batch, suite=key_suite)))
            checkpoint = ctx.checkpoints.add(
                gx.Checkpoint(name=f"{SUITE_PREFIX}{name}", validation_definitions=vds, result_format="SUMMARY")
            )
            result = checkpoint.run(run_id=run_id)
            datasets_out[name] = _merge_summaries([_summarise(v) for v in result.run_results.values()])
    finally:
        source.get_engine().dispose()
        for cursor in cursors:  # a cursor left open would hold the database file after `con` closes
            cursor.close()

    ctx.build_data_docs(site_names=[DOCS_SITE])
    make_docs_offline(docs_dir)

    return {
        "success": all(d["success"] for d in datasets_out.values()),
        "run_name": run_name,
        "datasets": datasets_out,
        "index_html": str(docs_dir / "index.html"),
    }


KEY_EXPECTATION = "expect_compound_columns_to_be_unique"


def split_key_suite(doc: dict, columns: dict) -> tuple[dict, dict | None, list[str]]:
    """(the suite without its key expectations, a suite of those alone or None, the key columns).

    GX checks a compound key by joining every row, with every column of the table, to its key's
    count: at 1M patients 8.5 of the checkpoint's 11 s went to pooled.adae's key. Validated on a batch
    of the key columns alone it is the same expectation over the same rows. A key naming a column the
    table lacks stays in the whole-table suite, where GX reports the missing column."""
    keys = [e for e in doc["expectations"]
            if e["type"] == KEY_EXPECTATION and all(c in columns for c in e["kwargs"]["column_list"])]
    if not keys:
        return doc, None, []
    key_columns = [c for c in columns if any(c in e["kwargs"]["column_list"] for e in keys)]
    whole = {**doc, "expectations": [e for e in doc["expectations"] if e not in keys]}
    return whole, {**doc, "name": f"{doc['name']}_key", "expectations": keys}, key_columns


def _merge_summaries(parts: list[dict]) -> dict:
    """One dataset's summary from its whole-table and key validations."""
    return {"success": all(p["success"] for p in parts), "evaluated": sum(p["evaluated"] for p in parts),
            "failed": [f for p in parts for f in p["failed"]]}


def _engine_kwargs(con: duckdb.DuckDBPyConnection, cursors: list) -> dict:
    """SQLAlchemy engine arguments: every connection a read-only cursor of `con` (same database),
    kept in `cursors` for the caller to close."""
    from duckdb_engine import ConnectionWrapper
    from sqlalchemy.pool import StaticPool

    class _ReadOnlyDuckDB(ConnectionWrapper):
        """No transactions: GX only reads, and a rollback would drop the result GX is about to fetch."""

        def begin(self) -> None:
            pass

        def commit(self) -> None:
            pass

        def rollback(self) -> None:
            pass

    def creator() -> _ReadOnlyDuckDB:
        cursors.append(con.cursor())
        return _ReadOnlyDuckDB(cursors[-1])

    return {"creator": creator, "poolclass": StaticPool}


def _suite_kwargs(doc: dict) -> dict:
    keep = ("name", "expectations", "meta", "notes", "suite_parameters")
    return {k: json.loads(json.dumps(doc[k])) for k in keep if k in doc}  # deep copy: GX mutates


def _summarise(validation: Any) -> dict:
    stats = validation.statistics
    failed = []
    for r in validation.results:
        if r.success:
            continue
        cfg = r.expectation_config
        kwargs = cfg.kwargs
        column = kwargs.get("column") or kwargs.get("column_list")
        if column is None and "column_A" in kwargs:
            column = [kwargs["column_A"], kwargs["column_B"]]
        res = r.result or {}
        failed.append(
            {
                "expectation": cfg.type,
                "column": _jsonable(column),
                "unexpected_count": _jsonable(res.get("unexpected_count")),
                "partial_unexpected_list": _jsonable(list(res.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]),
                "observed_value": _jsonable(res.get("observed_value")),
                "exception": _exception_message(r.exception_info),
            }
        )
    return {"success": bool(validation.success), "evaluated": int(stats["evaluated_expectations"]), "failed": failed}


def _exception_message(info: Any) -> str | None:
    """The error(s) an expectation raised (e.g. a missing column). GX gives either one flat
    {"raised_exception", "exception_message", ...} or one such dict per metric."""
    if not isinstance(info, dict):
        return None
    flat = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    messages = dict.fromkeys(str(d.get("exception_message")) for d in flat if d.get("raised_exception"))
    return "; ".join(messages) or None


def _jsonable(value: Any) -> Any:
    """Plain JSON types only (numpy scalars, timestamps, NaN/NaT -> None)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.datetime64):  # .item() would give nanoseconds as an int
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, np.timedelta64):
        return None if np.isnat(value) else str(pd.Timedelta(value))
    if hasattr(value, "item") and not isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        try:
            value = value.item()  # numpy scalar
        except (ValueError, TypeError):
            return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, int):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------------------------------------
# offline Data Docs

_EXT = r"(?:https?:)?//"  # absolute or protocol-relative URL
_ATTR_EXT = rf"""\b(?:src|href)\s*=\s*(?:\\?["'])?\s*{_EXT}"""
_RE_LINK = re.compile(r"<link\b[^>]*>", re.I)
_RE_SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc\s*=[^>]*>\s*</script\s*>", re.I)
_RE_IMG_EXT = re.compile(rf"<img\b[^>]*{_ATTR_EXT}[^>]*>", re.I | re.S)
_RE_ALT = re.compile(r"""\balt\s*=\s*["']([^"']*)["']""", re.I)
_RE_A_EXT = re.compile(rf"<a\b[^>]*{_ATTR_EXT}[^>]*>(.*?)</a\s*>", re.I | re.S)
_RE_CSS_URL = re.compile(rf"""url\(\s*["']?\s*{_EXT}[^)]*\)""", re.I)
_RE_XMLNS = re.compile(r"""\s+xmlns(?::\w+)?\s*=\s*["']https?://[^"']*["']""", re.I)
_RE_ANY_URL = re.compile(r"""https?://[^\s"'<>()\\]*""", re.I)
_RE_HEAD_END = re.compile(r"</head\s*>", re.I)
_TEXT_SUFFIXES = {".html", ".htm", ".css", ".js", ".json", ".svg", ".txt", ".xml", ".md"}


def make_docs_offline(docs_dir: Path, offline_dir: Path = OFFLINE_DIR) -> list[Path]:
    """Rewrite the Data Docs under `docs_dir` so they render offline and request nothing.

    Returns the HTML pages rewritten. Raises RuntimeError if any file still holds an http(s) URL.
    """
    docs_dir = Path(docs_dir)
    css = (Path(offline_dir) / "datadocs.css").read_text(encoding="utf-8")
    js = (Path(offline_dir) / "datadocs.js").read_text(encoding="utf-8")
    inline = f"<style>\n{css}</style>\n<script>\n{js}</script>\n"

    # GX copies fonts, logos (SVG with xmlns URLs) and a template stylesheet into static/; the pages
    # no longer reference any of it once the favicon <link> and CDN assets are gone.
    shutil.rmtree(docs_dir / "static", ignore_errors=True)

    pages = sorted(p for p in docs_dir.rglob("*") if p.is_file() and p.suffix.lower() in (".html", ".htm"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        text = _RE_LINK.sub("", text)  # CDN stylesheets and the favicon (static/ is gone)
        text = _RE_SCRIPT_SRC.sub("", text)  # CDN scripts
        text = _RE_IMG_EXT.sub(_img_to_text, text)  # the tracking logo
        text = _RE_A_EXT.sub(r"\1", text)  # links to greatexpectations.io docs, newsletter, ...
        text = _RE_CSS_URL.sub("none", text)  # background images in the inlined GX stylesheet
        text = _RE_XMLNS.sub("", text)  # namespace URIs on inline SVG (not needed in HTML)
        text = _RE_ANY_URL.sub("", text)  # whatever else (inline JSON/JS strings, text)
        text, n = _RE_HEAD_END.subn(lambda m: inline + m.group(0), text, count=1)
        if not n:
            text = inline + text
        page.write_text(text, encoding="utf-8")

    for path in docs_dir.rglob("*"):
        if not path.is_file() or path.suffix.lower() in (".html", ".htm"):
            continue
        if path.suffix.lower() in _TEXT_SUFFIXES:
            path.write_text(_RE_ANY_URL.sub("", path.read_text(encoding="utf-8", errors="replace")), encoding="utf-8")
        elif re.search(rb"https?://", path.read_bytes(), re.I):
            path.unlink()  # a binary asset carrying URLs (e.g. font metadata): not needed offline

    leftovers = external_urls(docs_dir)
    if leftovers:
        raise RuntimeError(f"Data Docs still reference external URLs: {leftovers[:5]}")
    return pages


def _img_to_text(match: re.Match) -> str:
    alt = _RE_ALT.search(match.group(0))
    return f'<span class="gx-offline-img">{alt.group(1) if alt else ""}</span>'


def external_urls(docs_dir: Path) -> list[tuple[str, str]]:
    """(relative path, url) for every `http://` / `https://` left in any file under `docs_dir`."""
    found = []
    for path in sorted(Path(docs_dir).rglob("*")):
        if path.is_file():
            text = path.read_bytes().decode("utf-8", errors="replace")
            for m in re.finditer(r"https?://\S{0,60}", text, re.I):
                found.append((str(path.relative_to(docs_dir)), m.group(0)))
    return found
