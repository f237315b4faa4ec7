"""ars.json: a CDISC ARS v1.0 ReportingEvent valid against the shipped schema, whose operation results are
the ARD's rows one for one (count, coordinates, raw values) with the report's formatted values.

No reference software produces these files; the references are the ARS v1.0 JSON Schema itself
(cdisc-org/analysis-results-standard, project/jsonschema/ars_ldm.schema.json at tag v1.0.0, commit
18243bbf92a2ab62801f0813127452e25dd6b432) and the ARD fixtures' values.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math

import jsonschema
import pandas as pd
import pytest

from repool.resources import package_dir
from repool.schemas.ard import ARD_COLUMNS, ARD_KEY
from repool.tasks.render.ard_meta import METHODS
from repool.tasks.render.ars import (
    ARS_FILE,
    SCHEMA_PATH,
    ard_from_ars,
    create_reporting_event,
    load_ars_schema,
    write_ars,
)
from repool.tasks.render.display import create_display_table, format_p
from tests.fixtures_ard import FIRST, LATER, build_fixture_ard, set_stat
from tests.fixtures_studies_ard import build_fixture_ard_with_studies

VERSION = "v0123456789ab"
PARAMETERS = {"alpha": 0.05, "conventions": "sas"}
FIXTURES = {"tables1-4": build_fixture_ard, "with-studies": build_fixture_ard_with_studies}
SCHEMA_SHA256 = "bf8dd98f3cf0abc4e88624600e3cf1962db0fd76f461a1d7e5c841bd788102e4"  # sha256sum of the upstream file


def _meta(parameters=PARAMETERS) -> dict:
    return {"result_version": VERSION, "parameters": parameters, "code_version": "c" * 64, "input_hash": "i" * 64}


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def case(request):
    ard = FIXTURES[request.param]()
    # one not-estimable statistic, so NULL -> no rawValue, formatted 'NE' is covered in both fixtures
    ard = set_stat(ard, None, table_id="table2", variable="RFS", stat_name="median_ucl", group1_level=FIRST,
                   group2_level=None)
    return ard, create_reporting_event(ard, _meta())


def _validator():
    schema = load_ars_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_the_shipped_schema_is_the_upstream_ars_v1_schema():
    path = package_dir("repool.schemas") / SCHEMA_PATH
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SCHEMA_SHA256
    schema = load_ars_schema()
    assert schema["$id"] == "https://www.cdisc.org/ars/1-0" and schema["title"] == "ars_ldm"


def test_the_reporting_event_is_valid_against_the_ars_schema(case):
    _, doc = case
    errors = sorted(_validator().iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]


@pytest.mark.parametrize("breakage", ["unknown property", "missing operationId", "bad reason term"])
def test_the_validation_catches_a_broken_document(case, breakage):
    doc = copy.deepcopy(case[1])
    result = doc["analyses"][0]["results"][0]
    if breakage == "unknown property":
        result["stat"] = 1.0
    elif breakage == "missing operationId":
        del result["operationId"]
    else:
        doc["analyses"][0]["reason"] = {"controlledTerm": "BECAUSE"}
    assert list(_validator().iter_errors(doc))


def test_every_ard_row_is_one_operation_result_with_its_value(case):
    ard, doc = case
    back = ard_from_ars(doc)
    assert len(back) == len(ard) == sum(len(a["results"]) for a in doc["analyses"])
    key = lambda df: df[ARD_KEY].astype(object).where(df[ARD_KEY].notna(), None)  # noqa: E731
    ours = {tuple(r): s for r, s in zip(key(ard).itertuples(index=False, name=None), ard["stat"])}
    theirs = {tuple(r): s for r, s in zip(key(back).itertuples(index=False, name=None), back["stat"])}
    assert ours.keys() == theirs.keys() and len(theirs) == len(back)  # one for one, no duplicates
    for k, stat in ours.items():
        if math.isnan(stat):
            assert theirs[k] is None or math.isnan(theirs[k]), k
        else:
            assert theirs[k] == stat, k  # the raw value reads back to the very same double


def test_a_null_statistic_has_no_raw_value_and_shows_ne(case):
    _, doc = case
    back = ard_from_ars(doc)
    row = back[(back["table_id"] == "table2") & (back["variable"] == "RFS") & (back["stat_name"] == "median_ucl")
               & (back["group1_level"] == FIRST)]
    assert row["raw_value"].tolist() == [None] and row["formatted_value"].tolist() == ["NE"]


def test_one_analysis_per_statistic_group_and_method(case):
    """Each analysis holds exactly the rows of one (ARD coordinates without stat_name, method) group, all
    its results are operations of its method, and no two analyses share a group."""
    _, doc = case
    back = ard_from_ars(doc)
    ops = {o["id"]: m["id"] for m in doc["methods"] for o in m["operations"]}
    group_cols = [c for c in ARD_KEY if c != "stat_name"]
    groups, start = set(), 0
    for a in doc["analyses"]:
        assert a["results"] and {ops[r["operationId"]] for r in a["results"]} == {a["methodId"]}
        rows = back.iloc[start:start + len(a["results"])]
        start += len(a["results"])
        coords = {tuple(None if pd.isna(v) else v for v in r) for r in rows[group_cols].itertuples(index=False)}
        assert len(coords) == 1, a["id"]
        groups.add((coords.pop(), a["methodId"]))
    assert len(groups) == len(doc["analyses"]) == len({a["id"] for a in doc["analyses"]})


def test_formatted_values_are_the_reports(case):
    """Each formatted value is display.py's formatting of that one statistic, so it appears verbatim in
    the report's cell of that statistic: spot checks per format kind against create_display_table."""
    ard, doc = case
    back = ard_from_ars(doc).set_index(["table_id", "variable", "variable_level", "group1_level", "group2_level",
                                        "stat_name"])["formatted_value"]

    def fv(table, variable, stat, group, level=None, group2=None):
        return back.loc[(table, variable, level, group, group2, stat)]

    t1 = create_display_table(ard, "table1").set_index("Characteristic")
    first1 = [c for c in t1.columns if c.startswith(FIRST)][0]
    assert t1.loc["Men", first1] == f"{fv('table1', 'SEX', 'n', FIRST, 'M')} ({fv('table1', 'SEX', 'pct', FIRST, 'M')})"
    assert t1.loc["Age, years, median (range)", first1] == (
        f"{fv('table1', 'AGE', 'median', FIRST)} ({fv('table1', 'AGE', 'min', FIRST)}–{fv('table1', 'AGE', 'max', FIRST)})")
    t2 = create_display_table(ard, "table2").set_index("Characteristic")
    later2 = [c for c in t2.columns if c.startswith(LATER)][0]
    assert t2.loc["Median OS (95% CI)", later2] == (
        f"{fv('table2', 'OS', 'median', LATER)} ({fv('table2', 'OS', 'median_lcl', LATER)}–"
        f"{fv('table2', 'OS', 'median_ucl', LATER)})")
    assert t2.loc["OS hazard ratio (95% CI)", later2] == (
        f"{fv('table2', 'OS', 'hr', LATER)} ({fv('table2', 'OS', 'hr_lcl', LATER)}–{fv('table2', 'OS', 'hr_ucl', LATER)})")
    assert t2.loc["OS p-value (Wald)", later2] == fv("table2", "OS", "p_value", LATER) == "<0.001"
    assert fv("table2", "RFS", "p_value", LATER) == format_p(0.0612) == "0.061"
    t3 = create_display_table(ard, "table3").set_index("Characteristic")
    first3 = [c for c in t3.columns if c.startswith(FIRST)][0]
    cells = [fv("table3", "MRD", s, FIRST) for s in ("n", "N", "pct", "ci_lower", "ci_upper")]
    assert t3.loc["MRD response among remissions, n/N", first3] == f"{cells[0]}/{cells[1]} ({cells[2]}) [{cells[3]}–{cells[4]}]"


def test_display_rounding_follows_the_version_profile():
    """SAS rounds halves away from zero, R's round() to even: table 1 pct of 2.5 shows 3 / 2."""
    ard = set_stat(build_fixture_ard(), 2.5, table_id="table1", variable="SEX", stat_name="pct",
                   variable_level="M", group1_level=FIRST)
    for conventions, expected in (("sas", "3"), ("r", "2")):
        back = ard_from_ars(create_reporting_event(ard, _meta({"alpha": 0.05, "conventions": conventions})))
        row = back[(back["table_id"] == "table1") & (back["variable"] == "SEX") & (back["stat_name"] == "pct")
                   & (back["variable_level"] == "M") & (back["group1_level"] == FIRST)]
        assert row["formatted_value"].tolist() == [expected] and row["raw_value"].tolist() == ["2.5"]


def test_analysis_sets_groupings_and_methods_name_the_populations_and_methods(case):
    ard, doc = case
    sets = {s["id"]: s for s in doc["analysisSets"]}
    assert {"AS_ALL", "AS_SALVGRP_1", "AS_SALVGRP_2", "AS_PRHSCT_Y", "AS_PRHSCT_N", "AS_REMISSION"} <= sets.keys()
    assert sets["AS_SALVGRP_1"]["condition"] == {"dataset": "ADSL", "variable": "SALVGRP", "comparator": "EQ",
                                                 "value": [FIRST]}
    assert [w["subClauseId"] for w in sets["AS_PRHSCT_Y__SALVGRP_1"]["compoundExpression"]["whereClauses"]] == \
        ["AS_PRHSCT_Y", "AS_SALVGRP_1"]
    for a in doc["analyses"]:  # every referenced id exists
        assert a["analysisSetId"] in sets and a["methodId"] in {m["id"] for m in doc["methods"]}
    by_name = {a["name"]: a for a in doc["analyses"]}
    rfs_km = by_name[f"table2 RFS, SALVGRP = {FIRST}: Kaplan–Meier median with Brookmeyer–Crowley CI"]
    assert rfs_km["analysisSetId"] == "AS_REMISSION__SALVGRP_1" and rfs_km["dataSubsetId"] == "DS_RFS"
    os_hr = by_name[f"table2 OS, SALVGRP = {LATER}: Cox hazard ratio and log-rank test"]
    assert os_hr["analysisSetId"] == "AS_ALL"  # a comparison spans both salvage groups
    methods = {m["id"] for m in doc["methods"]}
    assert {"MTH_KM_MEDIAN", "MTH_COX_HR_LOGRANK", "MTH_PROPORTION_CP", "MTH_OR_WALD", "MTH_COUNT_PCT"} <= methods
    if (ard["table_id"] == "studies").any():
        assert {"MTH_META_FIXED_HR", "MTH_META_RANDOM_OR", "MTH_COX_STRATIFIED", "MTH_META_HETEROGENEITY"} <= methods
        assert {"AS_STUDYID_1", "AS_STUDYID_2", "AS_SALVGRP_1__STUDYID_2"} <= sets.keys()
        assert sets["AS_STUDYID_2"]["condition"]["value"] == ["B"]
        strat = [a for a in doc["analyses"] if a["methodId"] == "MTH_COX_STRATIFIED"]
        assert [a["analysisSetId"] for a in strat] == ["AS_ALL"]
    km = next(m for m in doc["methods"] if m["id"] == "MTH_KM_MEDIAN")
    assert "95% confidence interval by Brookmeyer–Crowley" in km["description"]
    assert [o["name"] for o in km["operations"]] == list(METHODS["MTH_KM_MEDIAN"].operations)


def test_written_file_is_byte_reproducible_and_sorted(tmp_path):
    ard = build_fixture_ard_with_studies()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    write_ars(ard, _meta(), a)
    write_ars(ard.sample(frac=1, random_state=3).sort_index(), _meta(), b)
    assert (a / ARS_FILE).read_bytes() == (b / ARS_FILE).read_bytes()
    text = (a / ARS_FILE).read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert ard[ARD_COLUMNS].shape[0] == len(ard_from_ars(json.loads(text)))


def test_the_version_folder_gets_ars_json_and_the_cards_ard(tmp_path):
    """publish's render_version_report (also the rebuild after a crash) writes both exports."""
    from repool.tasks.publish import render_version_report
    from repool.tasks.render.cards import CARDS_CSV, CARDS_PARQUET
    from tests.fixtures_ard import build_fixture_km

    ard = build_fixture_ard_with_studies()
    ard.insert(0, "result_version", VERSION)  # as publish hands it over
    meta = {**_meta(), "created": "2026-01-01T00:00:00Z", "deliveries": [], "exclusions": []}
    render_version_report(ard, build_fixture_km(), meta, tmp_path)
    doc = json.loads((tmp_path / ARS_FILE).read_text(encoding="utf-8"))
    assert not list(_validator().iter_errors(doc)) and doc["id"] == f"RE_{VERSION}"
    assert len(ard_from_ars(doc)) == len(ard)
    assert (tmp_path / CARDS_PARQUET).exists() and (tmp_path / CARDS_CSV).exists()
    assert "2026" not in (tmp_path / ARS_FILE).read_text(encoding="utf-8")  # no clock in the bytes


def test_pyproject_ships_the_schema_as_package_data():
    """The wheel carries the schema (tests/e2e/test_wheel.py builds one; this is the fast check of the glob)."""
    import fnmatch
    import tomllib

    from tests.paths import REPO_ROOT

    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["repool.schemas"]
    assert any(fnmatch.fnmatch(SCHEMA_PATH, g) for g in globs)
    assert any(fnmatch.fnmatch("ars/LICENSE", g) for g in globs)  # MIT: the notice travels with the file
