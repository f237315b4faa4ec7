"""great_expectations checkpoint over the pooled tables in DuckDB: suites generated from the pandera
models (every pandera constraint an expectation, deterministic), summary shape, failures named, Data
Docs built offline (no http(s) URL in any file). The fixture frames are written to a DuckDB database
(schema `pooled`, as tasks/harmonise.py builds it) and GX queries them there."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa
import pytest

from repool.schemas.gx_suites import build_gx_suites
from repool.schemas.pooled import POOLED_MODELS
from repool.tasks.validate import gx_checkpoint as gxc

from tests.paths import REPO_ROOT as REPO  # noqa: E402
DATASETS = ["adsl", "adtte", "adrs", "adae"]


def _valid_frames() -> dict[str, pd.DataFrame]:
    ts = pd.Timestamp
    adsl = pd.DataFrame(
        {
            "STUDYID": ["MT103-211", "MT103-211", "00103311"],
            "USUBJID": ["MT103-211-01-001", "MT103-211-01-002", "00103311-05-017"],
            "SUBJID": ["001", "002", "017"],
            "AGE": [34, 71, 18],
            "SEX": ["M", "F", "F"],
            "ECOGBL": [0.0, None, 2.0],
            "ECOG": ["0", "Unknown", "2"],
            "PRHSCT": ["N", "Y", "N"],
            "BMBLPCT": [78.5, None, 4.0],
            "BMBLCAT": [">= 50%", "Unknown", "<= 5%"],
            "SALVLINE": [1, 2, 3],
            "SALVGRP": ["First salvage", "Second or later salvage", "Second or later salvage"],
            "TRTSDT": [ts("2014-01-10"), ts("2014-03-02"), ts("2016-05-20")],
            "TRTEDT": [ts("2014-02-07"), ts("2014-03-02"), ts("2016-08-01")],
            "REMFL": ["Y", "N", "Y"],
            "HSCTDT": [ts("2014-06-01"), pd.NaT, pd.NaT],
            "HSCTSTAT": ["CR", None, None],
            "HSCTFL": ["Y", "N", "N"],
            "HSCTCRFL": ["Y", "N", "N"],
            "HSCTRRFL": ["N", "N", "N"],
            "OTHTXDT": [pd.NaT, ts("2014-05-01"), pd.NaT],
            "OTHTXFL": ["N", "Y", "N"],
        }
    )
    adtte = pd.DataFrame(
        {
            "STUDYID": ["MT103-211"] * 3 + ["00103311"] * 2,
            "USUBJID": ["MT103-211-01-001", "MT103-211-01-001", "MT103-211-01-002", "00103311-05-017", "00103311-05-017"],
            "PARAMCD": ["OS", "RFS", "OS", "OS", "RFS"],
            "AVAL": [12.3, 6.1, 2.0, 0.0, 3.4],
            "CNSR": [0, 1, 0, 1, 1],
        }
    )
    adrs = pd.DataFrame(
        {
            "STUDYID": ["MT103-211"] * 4 + ["00103311"] * 2,
            "USUBJID": ["MT103-211-01-001"] * 2 + ["MT103-211-01-002"] * 2 + ["00103311-05-017"] * 2,
            "PARAMCD": ["BOR", "MRD"] * 3,
            "AVALC": ["CR", "Y", "NR", "N", "CRh", "N"],
            "ADT": [ts("2014-02-01"), pd.NaT, pd.NaT, pd.NaT, ts("2016-06-15"), pd.NaT],
        }
    )
    adae = pd.DataFrame(
        {
            "STUDYID": ["MT103-211", "MT103-211", "00103311"],
            "USUBJID": ["MT103-211-01-001", "MT103-211-01-001", "00103311-05-017"],
            "AESEQ": [1, 2, 1],
            "AEDECOD": ["Cytokine release syndrome", "Pyrexia", "Tremor"],
            "AETOXGR": [3, 1, 5],
            "AESER": ["Y", "N", "Y"],
            "AREL": ["Y", "N", "Y"],
            "ASTDT": [ts("2014-01-11"), ts("2014-01-20"), ts("2016-06-01")],
            "ASTDTF": [None, "D", "M"],
            "AEOUT": ["RECOVERED/RESOLVED", None, "FATAL"],
            "AEFATFL": ["N", "N", "Y"],
            "AESICAT": ["CRS", None, "NEURO"],
            "TRTEMFL": ["Y", "Y", "Y"],
            "SRCTEMFL": ["Y", None, None],
        }
    )
    from tests.fixtures_pooled import with_source

    return {name: with_source(df, name) for name, df in {"adsl": adsl, "adtte": adtte, "adrs": adrs, "adae": adae}.items()}


def _pooled_db(frames: dict[str, pd.DataFrame], path: Path | None = None) -> duckdb.DuckDBPyConnection:
    """The frames as tables pooled.<name> of a DuckDB database (a file when `path` is given)."""
    con = duckdb.connect(str(path) if path else ":memory:")
    con.execute("CREATE SCHEMA IF NOT EXISTS pooled")
    for name, df in frames.items():
        con.register("_frame", df)
        con.execute(f"CREATE TABLE pooled.{name.lower()} AS SELECT * FROM _frame")
        con.unregister("_frame")
    return con


def _run(frames: dict[str, pd.DataFrame], docs: Path, run_name: str, path: Path | None = None) -> dict:
    con = _pooled_db(frames, path)
    try:
        return gxc.run_gx_checkpoint(con, docs, run_name=run_name, datasets=list(frames))
    finally:
        con.close()


# What GX would leave behind if it used a file context or wrote relative to the working directory.
GX_LITTER = ["great_expectations", "uncommitted", "gx/great_expectations.yml", "gx/uncommitted",
             "gx/validation_definitions", "gx/checkpoints", "gx/plugins", "expectations", "validations",
             "static", "index.html", "great_expectations.yml"]


def _snapshot() -> dict[str, int]:
    """The vendored offline Data Docs assets and the GX litter paths, with mtimes.
    (Not `git status`: other work happens in the same tree at the same time.)"""
    offline = REPO / "tasks" / "validate" / "gx_offline"
    snap = {str(p.relative_to(REPO)): p.stat().st_mtime_ns for p in offline.rglob("*")}
    snap.update({name: (REPO / name).stat().st_mtime_ns for name in GX_LITTER if (REPO / name).exists()})
    return snap


@pytest.fixture(scope="module")
def valid_run(tmp_path_factory):
    frames = _valid_frames()
    for name, df in frames.items():  # the fixture itself honours the pandera contract
        POOLED_MODELS[name].validate(df)
    before = _snapshot()
    docs = tmp_path_factory.mktemp("valid") / "gx_docs"
    cwd = os.getcwd()
    os.chdir(REPO)  # worst case for anything written relative to the working directory
    try:
        summary = _run(frames, docs, "v0001", docs.parent / "pool.duckdb")  # a database file, as in a run
    finally:
        os.chdir(cwd)
    return summary, docs, before, _snapshot()


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory):
    frames = _valid_frames()
    adsl = frames["adsl"]
    adsl.loc[0, "AGE"] = 12
    adsl.loc[2, "USUBJID"] = adsl.loc[1, "USUBJID"]
    frames["adtte"].loc[4, "CNSR"] = 2
    docs = tmp_path_factory.mktemp("broken") / "gx_docs"
    return _run(frames, docs, "v0002"), docs


def _by_type(doc: dict, gx_type: str) -> dict:
    """The kwargs of one suite's expectations of `gx_type`, keyed by column (or column list)."""
    out = {}
    for e in doc["expectations"]:
        if e["type"] == gx_type:
            kw = dict(e["kwargs"])
            key = kw.pop("column", None) or tuple(kw.get("column_list") or ())
            assert key not in out, (gx_type, key)  # one expectation per rule and column
            out[key] = kw
    return out


def test_generated_suites_cover_every_pooled_dataset_and_contract_column():
    suites = build_gx_suites()
    assert set(suites) == set(DATASETS)
    for name, doc in suites.items():
        assert doc["name"] == f"pooled_{name}"
        model = POOLED_MODELS[name]
        assert doc["meta"]["dataset"] == name
        assert doc["meta"]["generated_from"] == f"repool.schemas.pooled.{model.__name__}"
        types = [e["type"] for e in doc["expectations"]]
        assert "expect_table_row_count_to_be_between" in types
        assert _by_type(doc, "expect_table_row_count_to_be_between") == {(): {"min_value": 1}}
        (match,) = [e["kwargs"] for e in doc["expectations"] if e["type"] == "expect_table_columns_to_match_set"]
        assert match == {"column_set": list(model.to_schema().columns), "exact_match": False}  # extra columns allowed
        assert list(_by_type(doc, "expect_column_to_exist")) == list(model.to_schema().columns)
    compound = {
        name: [e["kwargs"]["column_list"] for e in doc["expectations"] if e["type"] == "expect_compound_columns_to_be_unique"]
        for name, doc in suites.items()
    }
    assert compound["adtte"] == [["USUBJID", "PARAMCD"]]
    assert compound["adrs"] == [["USUBJID", "PARAMCD"]]


def test_valid_frames_pass(valid_run):
    summary, docs, _, _ = valid_run
    json.dumps(summary, allow_nan=False)
    assert summary["success"] is True, summary
    assert set(summary["datasets"]) == set(DATASETS)
    suites = build_gx_suites()
    for name, ds in summary["datasets"].items():
        assert ds == {"success": True, "evaluated": len(suites[name]["expectations"]), "failed": []}
    assert summary["index_html"] == str(docs.resolve() / "index.html")


def test_broken_frames_fail_and_name_the_failures(broken_run):
    summary, _ = broken_run
    json.dumps(summary, allow_nan=False)
    assert summary["success"] is False
    adsl = summary["datasets"]["adsl"]
    assert adsl["success"] is False
    failed = {(f["expectation"], json.dumps(f["column"])): f for f in adsl["failed"]}
    age = failed[("expect_column_values_to_be_between", '"AGE"')]
    assert age["unexpected_count"] == 1 and age["partial_unexpected_list"] == [12]
    dup = failed[("expect_column_values_to_be_unique", '"USUBJID"')]
    assert dup["unexpected_count"] == 2 and dup["partial_unexpected_list"] == ["MT103-211-01-002"] * 2
    assert len(adsl["failed"]) == 2
    adtte = summary["datasets"]["adtte"]
    assert [(f["expectation"], f["column"], f["partial_unexpected_list"]) for f in adtte["failed"]] == [
        ("expect_column_values_to_be_in_set", "CNSR", [2])
    ]
    assert summary["datasets"]["adrs"]["success"] and summary["datasets"]["adae"]["success"]


def test_missing_column_and_empty_frame_fail(tmp_path):
    frames = _valid_frames()
    summary = _run({"ADRS": frames["adrs"].drop(columns=["AVALC"]), "adae": frames["adae"].iloc[0:0]},
                   tmp_path / "docs", "v0003")
    json.dumps(summary, allow_nan=False)
    assert summary["success"] is False and set(summary["datasets"]) == {"adrs", "adae"}
    adrs = {f["expectation"]: f for f in summary["datasets"]["adrs"]["failed"]}
    assert "AVALC" not in adrs["expect_table_columns_to_match_set"]["observed_value"]
    assert adrs["expect_column_to_exist"]["column"] == "AVALC"
    assert adrs["expect_column_values_to_be_in_set"]["exception"]  # column missing: raised, reported
    adae = {f["expectation"]: f for f in summary["datasets"]["adae"]["failed"]}
    assert adae["expect_table_row_count_to_be_between"]["observed_value"] == 0


CROSS_COLUMN_RULES = {  # pandera dataframe checks: no GX form, listed in the suite's meta
    "adsl": "last_dose_not_before_first_dose",
    "adrs": "avalc_fits_paramcd",
    "adae": "grade_5_is_fatal",  # came from the old hand-written ADAE suite; now in the pandera model
}


def test_cross_column_rules_are_pandera_rules_listed_as_not_expressible():
    frames = _valid_frames()
    frames["adsl"].loc[1, "TRTEDT"] = pd.Timestamp("2014-03-01")  # last dose before first dose
    frames["adrs"].loc[1, "AVALC"] = "CR"  # MRD takes Y/N only
    frames["adae"].loc[2, "AEFATFL"] = "N"  # grade 5 is fatal
    suites = build_gx_suites()
    for name, check in CROSS_COLUMN_RULES.items():
        with pytest.raises(pa.errors.SchemaErrors) as exc:
            POOLED_MODELS[name].validate(frames[name], lazy=True)
        assert set(exc.value.failure_cases["check"]) == {check}
        assert set(exc.value.failure_cases["index"]) == {1 if name != "adae" else 2}
        (listed,) = suites[name]["meta"]["not_expressible"]
        assert (listed["check"], listed["column"]) == (check, None) and listed["reason"]
    assert suites["adtte"]["meta"]["not_expressible"] == []
    for doc in suites.values():  # nothing invented for them
        assert not [e for e in doc["expectations"] if e["type"].startswith("expect_column_pair_")]


def test_every_pandera_constraint_is_an_expectation():
    suites = build_gx_suites()
    for name, model in POOLED_MODELS.items():
        schema, doc = model.to_schema(), suites[name]
        not_null = _by_type(doc, "expect_column_values_to_not_be_null")
        unique = _by_type(doc, "expect_column_values_to_be_unique")
        in_set = _by_type(doc, "expect_column_values_to_be_in_set")
        between = _by_type(doc, "expect_column_values_to_be_between")
        assert set(not_null) == {c for c, col in schema.columns.items() if not col.nullable}
        assert set(unique) == {c for c, col in schema.columns.items() if col.unique}
        for column, col in schema.columns.items():
            stats = {}
            for check in col.checks:
                assert check.name in {"isin", "greater_than_or_equal_to", "less_than_or_equal_to"}, check.name
                stats.update(check.statistics)
            if "allowed_values" in stats:
                assert in_set.pop(column) == {"value_set": list(stats["allowed_values"])}
            bounds = {k: stats[k] for k in ("min_value", "max_value") if k in stats}
            if bounds:
                assert between.pop(column) == bounds
        assert in_set == {} and between == {}  # nothing beyond the pandera model
        keys = _by_type(doc, "expect_compound_columns_to_be_unique")
        assert list(keys) == ([tuple(schema.unique)] if schema.unique else [])
        assert [d["check"] for d in doc["meta"]["not_expressible"]] == [c.name for c in schema.checks]

    adsl, adtte, adae = suites["adsl"], suites["adtte"], suites["adae"]
    assert _by_type(adsl, "expect_column_values_to_be_between")["AGE"] == {"min_value": 18, "max_value": 100}
    assert _by_type(adsl, "expect_column_values_to_be_in_set")["SEX"] == {"value_set": ["M", "F"]}
    assert _by_type(adsl, "expect_column_values_to_be_in_set")["ECOGBL"] == {"value_set": [0.0, 1.0, 2.0]}
    assert "ECOGBL" not in _by_type(adsl, "expect_column_values_to_not_be_null")  # nullable
    assert list(_by_type(adsl, "expect_column_values_to_be_unique")) == ["USUBJID"]
    assert list(_by_type(adtte, "expect_compound_columns_to_be_unique")) == [("USUBJID", "PARAMCD")]
    assert _by_type(adtte, "expect_column_values_to_be_in_set")["CNSR"] == {"value_set": [0, 1]}
    assert _by_type(adtte, "expect_column_values_to_be_between")["AVAL"] == {"min_value": 0}
    assert list(_by_type(adae, "expect_compound_columns_to_be_unique")) == [("STUDYID", "USUBJID", "AESEQ")]


@pytest.mark.filterwarnings("ignore:The behavior of DataFrame concatenation:FutureWarning")  # pandera, null case
def test_pandera_violations_fail_the_generated_expectations(tmp_path):
    """The same broken frames: each pandera failure has its GX failure on the same column(s)."""
    frames = _valid_frames()
    frames["adsl"].loc[1, "SEX"] = None
    frames["adsl"].loc[0, "BMBLPCT"] = 101.0
    frames["adtte"].loc[4, "PARAMCD"] = "OS"  # second OS row for 00103311-05-017
    frames["adae"].loc[0, "AETOXGR"] = 6
    frames["adae"].loc[1, "ASTDTF"] = "X"
    pandera_failed = set()
    for name, df in frames.items():
        try:
            POOLED_MODELS[name].validate(df, lazy=True)
        except pa.errors.SchemaErrors as exc:
            cases = exc.failure_cases
            pandera_failed |= {(name, str(c), str(k).split("(")[0]) for c, k in zip(cases["column"], cases["check"])}
    assert pandera_failed == {
        ("adsl", "SEX", "not_nullable"), ("adsl", "BMBLPCT", "less_than_or_equal_to"),
        ("adtte", "USUBJID", "multiple_fields_uniqueness"), ("adtte", "PARAMCD", "multiple_fields_uniqueness"),
        ("adae", "AETOXGR", "less_than_or_equal_to"), ("adae", "ASTDTF", "isin"),
    }
    summary = _run(frames, tmp_path / "docs", "v0004")
    json.dumps(summary, allow_nan=False)
    failed = {k: [(f["expectation"], f["column"], f["partial_unexpected_list"]) for f in v["failed"]]
              for k, v in summary["datasets"].items()}
    assert failed == {
        "adsl": [("expect_column_values_to_not_be_null", "SEX", [None]),
                 ("expect_column_values_to_be_between", "BMBLPCT", [101.0])],
        "adtte": [("expect_compound_columns_to_be_unique", ["USUBJID", "PARAMCD"],
                   [{"USUBJID": "00103311-05-017", "PARAMCD": "OS"}] * 2)],
        "adrs": [],
        "adae": [("expect_column_values_to_be_between", "AETOXGR", [6]),
                 ("expect_column_values_to_be_in_set", "ASTDTF", ["X"])],
    }
    gx_columns = {(k, c) for k, v in failed.items() for _, col, _ in v for c in ([col] if isinstance(col, str) else col)}
    assert {(name, column) for name, column, _ in pandera_failed} == gx_columns


def test_generated_suites_are_deterministic():
    first, second = build_gx_suites(), build_gx_suites()
    assert first == second and first is not second
    text = json.dumps(first, sort_keys=True, allow_nan=False)  # plain JSON types only
    assert json.dumps(second, sort_keys=True) == text
    # another process with another hash seed (set ordering) gives the same documents
    code = ("import json, repool; from repool.schemas.gx_suites import build_gx_suites; "
            "print(json.dumps(build_gx_suites(), sort_keys=True))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
                         env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert out.stdout.strip() == text


def test_unknown_dataset_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no expectation suite"):
        gxc.run_gx_checkpoint(duckdb.connect(), tmp_path / "docs", run_name="v", datasets=["adxx"])
    assert not (tmp_path / "docs").exists()


def test_docs_built_offline_without_any_url(valid_run, broken_run):
    for docs in (valid_run[1], broken_run[1]):
        index = docs / "index.html"
        assert index.is_file()
        files = [p for p in docs.rglob("*") if p.is_file()]
        pages = [p for p in files if p.suffix == ".html"]
        assert len(pages) >= 1 + 2 * len(DATASETS)  # index + one suite page + one validation page each
        for path in files:  # every file, whatever its type, read as text
            text = path.read_bytes().decode("utf-8", errors="replace").lower()
            assert "http://" not in text and "https://" not in text, path
            assert "great-expectations-web-assets" not in text, path
        assert gxc.external_urls(docs) == []
        html = index.read_text(encoding="utf-8")
        assert "<link" not in html and "<script src" not in html
        assert "window.$ = window.jQuery" in html  # the vendored offline shim is inlined
        assert "repool: offline stylesheet" in html
        for name in DATASETS:
            assert f"pooled_{name}" in html
    validation_pages = list((broken_run[1] / "validations" / "pooled_adsl").rglob("*.html"))
    assert len(validation_pages) == 1 and "v0002" in str(validation_pages[0])


def test_nothing_written_into_the_repo(valid_run):
    _, _, before, after = valid_run
    assert after == before


# Runs the index page's inline scripts (the vendored shim first) against a minimal fake DOM.
_NODE_RUNNER = r"""
const fs = require("fs"), vm = require("vm");
const html = fs.readFileSync(process.argv[2], "utf8");
const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(m => m[1]);
const tables = {};
const el = id => tables[id] || (tables[id] = {id, innerHTML: "", querySelectorAll: () => []});
const document = {readyState: "complete", addEventListener() {},
  querySelectorAll(sel) { const m = /^#([\w-]+)$/.exec(sel); return m ? [el(m[1])] : []; }};
const ctx = {document, console, Promise, localStorage: {getItem() { return null; }}};
ctx.window = ctx;
vm.createContext(ctx);
scripts.forEach(s => vm.runInContext(s, ctx));
process.stdout.write(JSON.stringify(Object.values(tables).map(t => t.innerHTML)));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's scripts")
def test_offline_index_still_lists_every_validation(broken_run, tmp_path):
    """Offline, the index's validation table (rows held in an inline script) is rendered by the shim."""
    runner = tmp_path / "run_index.js"
    runner.write_text(_NODE_RUNNER, encoding="utf-8")
    out = subprocess.run(["node", str(runner), str(broken_run[1] / "index.html")],
                         capture_output=True, text=True, check=True, timeout=30)
    validations, suites = json.loads(out.stdout)
    for name in DATASETS:
        assert f'<a href="validations/pooled_{name}/v0002/' in validations
        assert f'<a href="expectations/pooled_{name}.html">pooled_{name}</a>' in suites
    # adsl and adtte broken; the key suites (each dataset's compound key on its key columns) pass
    keyed = [n for n in DATASETS if f'<a href="validations/pooled_{n}_key/v0002/' in validations]
    assert keyed and all(f'<a href="expectations/pooled_{n}_key.html">pooled_{n}_key</a>' in suites for n in keyed)
    assert validations.count("Failed</a>") == 2 and validations.count("Success</a>") == 2 + len(keyed)


def test_failed_expectations_become_audit_records():
    from repool.tasks.validate.pooled import failures_from_gx

    summary = {"success": False, "datasets": {
        "adsl": {"success": False, "evaluated": 3, "failed": [
            {"expectation": "expect_column_values_to_be_between", "column": "AGE", "unexpected_count": 1,
             "partial_unexpected_list": [12]}]},
        "adtte": {"success": True, "evaluated": 2, "failed": []}}}
    (rec,) = failures_from_gx(summary)
    assert (rec["file"], rec["column"], rec["reason"], rec["check"], rec["value"]) == (
        "pooled.adsl", "AGE", "gx_expectation", "expect_column_values_to_be_between", "1")
    assert "e.g. 12" in rec["message"]
