"""great_expectations checkpoint over the pooled datasets: suites from gx/expectations/*.json,
summary shape, failures named, Data Docs built offline (no http(s) URL in any file)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from repool.schemas.pooled import POOLED_MODELS
from repool.tasks.validate import gx_checkpoint as gxc

REPO = Path(__file__).resolve().parents[1]
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
    return {"adsl": adsl, "adtte": adtte, "adrs": adrs, "adae": adae}


# What GX would leave behind if it used a file context or wrote relative to the working directory.
GX_LITTER = ["great_expectations", "uncommitted", "gx/great_expectations.yml", "gx/uncommitted",
             "gx/validation_definitions", "gx/checkpoints", "gx/plugins", "expectations", "validations",
             "static", "index.html", "great_expectations.yml"]


def _snapshot() -> dict[str, int]:
    """The repo's own gx/ tree (suites, vendored assets) and the GX litter paths, with mtimes.
    (Not `git status`: other work happens in the same tree at the same time.)"""
    snap = {str(p.relative_to(REPO)): p.stat().st_mtime_ns for p in (REPO / "gx").rglob("*")}
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
        summary = gxc.run_gx_checkpoint(frames, docs, run_name="v0001")
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
    return gxc.run_gx_checkpoint(frames, docs, run_name="v0002"), docs


def test_suites_in_repo_cover_every_pooled_dataset_and_contract_column():
    suites = gxc.load_suites()
    assert set(suites) == set(DATASETS)
    for name, doc in suites.items():
        assert doc["name"] == f"pooled_{name}"
        types = [e["type"] for e in doc["expectations"]]
        assert "expect_table_row_count_to_be_between" in types
        (cols,) = [e["kwargs"]["column_set"] for e in doc["expectations"] if e["type"] == "expect_table_columns_to_match_set"]
        assert cols == list(POOLED_MODELS[name].to_schema().columns)
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
    suites = gxc.load_suites()
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
    summary = gxc.run_gx_checkpoint(
        {"ADRS": frames["adrs"].drop(columns=["AVALC"]), "adae": frames["adae"].iloc[0:0]},
        tmp_path / "docs",
        run_name="v0003",
    )
    json.dumps(summary, allow_nan=False)
    assert summary["success"] is False and set(summary["datasets"]) == {"adrs", "adae"}
    adrs = {f["expectation"]: f for f in summary["datasets"]["adrs"]["failed"]}
    assert "AVALC" not in adrs["expect_table_columns_to_match_set"]["observed_value"]
    assert adrs["expect_column_values_to_be_in_set"]["exception"]  # column missing: raised, reported
    adae = {f["expectation"]: f for f in summary["datasets"]["adae"]["failed"]}
    assert adae["expect_table_row_count_to_be_between"]["observed_value"] == 0


def test_cross_column_rules_fail_with_readable_examples(tmp_path):
    frames = _valid_frames()
    frames["adsl"].loc[1, "TRTEDT"] = pd.Timestamp("2014-03-01")  # last dose before first dose
    frames["adrs"].loc[1, "AVALC"] = "CR"  # MRD takes Y/N only
    frames["adae"].loc[2, "AEFATFL"] = "N"  # grade 5 is fatal
    summary = gxc.run_gx_checkpoint(
        {k: frames[k] for k in ("adsl", "adrs", "adae")}, tmp_path / "docs", run_name="v0004"
    )
    json.dumps(summary, allow_nan=False)
    failed = {k: [(f["expectation"], f["column"], f["partial_unexpected_list"]) for f in v["failed"]]
              for k, v in summary["datasets"].items()}
    assert failed == {
        "adsl": [("expect_column_pair_values_a_to_be_greater_than_b", ["TRTEDT", "TRTSDT"],
                  [["2014-03-01T00:00:00", "2014-03-02T00:00:00"]])],
        "adrs": [("expect_column_pair_values_to_be_in_set", ["PARAMCD", "AVALC"], [["MRD", "CR"]])],
        "adae": [("expect_column_pair_values_to_be_in_set", ["AETOXGR", "AEFATFL"], [[5, "N"]])],
    }


def test_unknown_dataset_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no expectation suite"):
        gxc.run_gx_checkpoint({"adxx": pd.DataFrame({"a": [1]})}, tmp_path / "docs", run_name="v")
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
    assert validations.count("Failed</a>") == 2 and validations.count("Success</a>") == 2  # adsl, adtte broken


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
