"""The cross-file checks (sql/checks/): each rule is written once and runs for every format.

A shared rule reads only the common shape that each format's fact models
(sql/staging/<format>/facts/) make of its staged tables; a rule that exists for one format only
lives in sql/checks/format_specific/<format>/ and says why. Every rule is proved on a small
hand-made delivery per format (tests/fixtures_deliveries.py) holding exactly one violation.
"""
from __future__ import annotations

import re
from collections import Counter

import pandas as pd
import pytest

from repool.resources import sql_dir
from repool.schemas.sources import SOURCE_DATASETS
from repool.settings import Settings
from repool.tasks.db import connect
from repool.tasks.runs import start_run
from repool.tasks.stage import check_files, facts_table, run_cross_checks
from tests.chain import prepare_delivery, staged_unit
from tests.fixtures_deliveries import sas, write_csv_legacy, write_manifest, write_parquet_adam, write_xpt_adam

FORMATS = sorted(SOURCE_DATASETS)
CHECKS = sql_dir() / "checks"
SHARED = sorted(p.stem for p in CHECKS.glob("*.sql"))
FORMAT_SPECIFIC = {fmt: sorted(p.stem for p in (CHECKS / "format_specific" / fmt).glob("*.sql")) for fmt in FORMATS}
FACTS = {fmt: sorted(p.stem for p in (sql_dir() / "staging" / fmt / "facts").glob("*.sql")) for fmt in FORMATS}
STUDY = {"csv-legacy": "MT103-206", "xpt-adam": "MT103-211", "parquet-adam": "00103311"}


# ------------------------------------------------------------------ one violation per rule and format
PATIENTS = ("PATNR;SEX;AGE;ECOG;PRIOR_SCT;BM_BLASTS;SALVAGE_NR;FIRST_DOSE;LAST_DOSE", [
    "1;1;45;0;J;78,5;1;01.02.2012;28.03.2012",
    "2;2;33;n.a.;N;n.a.;2;15.03.2012;11.04.2012",
    "3;1;61;1;N;4,0;3;01.04.2012;28.04.2012",
    "4;2;29;2;J;12;1;01.05.2012;28.06.2012",
])
FOLLOWUP = ("PATNR;STATUS;STATUS_DATE", ["1;DEAD;01.02.2013", "2;ALIVE;30.06.2013", "3;DEAD;15.06.2012",
                                          "4;ALIVE;30.06.2013"])
RESPONSE = ("PATNR;CYCLE;RESPONSE;MRD;ASSESS_DATE", ["1;1;CRh*;pos;01.03.2012", "1;2;CR;neg;12.04.2012",
                                                     "2;1;NR;;12.04.2012", "3;1;NE;;", "4;1;CRi;;29.05.2012",
                                                     "4;2;CRi;pos;10.07.2012"])
AE = ("PATNR;PT;GRADE;SERIOUS;RELATED;ONSET;OUTCOME", ["1;Cytokine release syndrome;3;J;J;02.02.2012;RECOVERED"])


def _replace(table: tuple[str, list[str]], index: int, row: str | None) -> tuple[str, list[str]]:
    rows = list(table[1])
    if row is None:
        del rows[index]
    else:
        rows[index] = row
    return table[0], rows


def _csv(**files):
    return lambda root: write_csv_legacy(root, **files)


def _xpt(edit):
    import pyreadstat

    def write(root):
        d = write_xpt_adam(root)
        frames = {n: pyreadstat.read_xport(str(d / f"{n}.xpt"))[0] for n in ("adsl", "adtte", "adrs", "adae")}
        edit(frames)
        for n, df in frames.items():
            pyreadstat.write_xport(df.reset_index(drop=True), str(d / f"{n}.xpt"), table_name=n.upper(),
                                   file_format_version=5)
        write_manifest(d, "MT103-211", "2014-06-30", "xpt-adam")
        return d
    return write


def _parquet(edit):
    def write(root):
        d = write_parquet_adam(root)
        frames = {n: pd.read_parquet(d / f"{n}.parquet") for n in ("adsl", "adtte", "adrs", "adae")}
        edit(frames)
        for n, df in frames.items():
            df.reset_index(drop=True).to_parquet(d / f"{n}.parquet", index=False)
        write_manifest(d, "00103311", "2016-01-04", "parquet-adam")
        return d
    return write


def _set(name, row, column, value):
    def edit(frames):
        frames[name].loc[row, column] = value
    return edit


def _append_copy(name, row, **values):
    def edit(frames):
        extra = frames[name].iloc[[row]].copy()
        for column, value in values.items():
            extra[column] = [value]
        frames[name] = pd.concat([frames[name], extra], ignore_index=True)
    return edit


def _drop(name, *rows):
    def edit(frames):
        frames[name] = frames[name].drop(index=list(rows))
    return edit


def _xpt_death_before_first_dose(frames):  # OS event of 101-1, ten days before its first dose (2013-01-10)
    frames["adtte"].loc[0, "ADT"] = sas("2012-12-31")
    frames["adtte"].loc[0, "AVAL"] = -10.0


def _xpt_negative_rfs(frames):  # the RFS row of 101-2 ends two days before it starts; AVAL agrees with the dates
    frames["adtte"].loc[3, "ADT"] = frames["adtte"].loc[3, "STARTDT"] - 2
    frames["adtte"].loc[3, "AVAL"] = -2.0


def _xpt_aval_off_by_a_month(frames):  # the third ADTTE row (OS of 102-3): AVAL 30 days more than ADT - STARTDT
    frames["adtte"].loc[2, "AVAL"] = frames["adtte"].loc[2, "AVAL"] + 30


# (rule, format) -> (delivery writer, the one failure expected: file, row, column, reason, subject)
CASES = {
    ("death_before_first_dose", "csv-legacy"): (
        _csv(**{"followup.csv": _replace(FOLLOWUP, 2, "3;DEAD;15.03.2012")}),  # first dose 01.04.2012
        ("followup.csv", 3, "STATUS_DATE", "death_before_first_dose", "MT103-206-3")),
    ("death_before_first_dose", "xpt-adam"): (
        _xpt(_xpt_death_before_first_dose),
        ("adtte.xpt", 1, "ADT", "death_before_first_dose", "MT103-211-101-1")),
    ("death_before_first_dose", "parquet-adam"): (
        _parquet(_set("adtte", 1, "aval", -1.0)),  # OS event of 11-2
        ("adtte.parquet", 2, "aval", "death_before_first_dose", "00103311-11-2")),

    ("negative_time", "csv-legacy"): (
        _csv(**{"followup.csv": _replace(FOLLOWUP, 1, "2;ALIVE;01.03.2012")}),  # first dose 15.03.2012
        ("followup.csv", 2, "STATUS_DATE", "negative_time", "MT103-206-2")),
    ("negative_time", "xpt-adam"): (
        _xpt(_xpt_negative_rfs),
        ("adtte.xpt", 4, "AVAL", "negative_time", "MT103-211-101-2")),
    ("negative_time", "parquet-adam"): (
        _parquet(_set("adtte", 0, "aval", -2.0)),  # the censored OS row of 11-1
        ("adtte.parquet", 1, "aval", "negative_time", "00103311-11-1")),

    ("dose_order", "csv-legacy"): (
        _csv(**{"patients.csv": _replace(PATIENTS, 1, "2;2;33;n.a.;N;n.a.;2;15.03.2012;11.03.2012")}),
        ("patients.csv", 2, "LAST_DOSE", "dose_order", "MT103-206-2")),
    ("dose_order", "xpt-adam"): (
        _xpt(_set("adsl", 1, "TRTEDT", sas("2013-01-29"))),  # first dose 2013-02-01
        ("adsl.xpt", 2, "TRTEDT", "dose_order", "MT103-211-101-2")),
    ("dose_order", "parquet-adam"): (
        _parquet(_set("adsl", 0, "last_dose_date", "2015-01-01")),  # first dose 2015-01-15
        ("adsl.parquet", 1, "last_dose_date", "dose_order", "00103311-11-1")),

    ("missing_record", "csv-legacy"): (
        _csv(**{"followup.csv": _replace(FOLLOWUP, 3, None)}),  # patient 4 without follow-up
        ("patients.csv", 4, "PATNR", "missing_record", "MT103-206-4")),
    ("missing_record", "xpt-adam"): (
        _xpt(_drop("adrs", 4, 5)),  # 102-3 without BOR2C (and MRD2C, which is optional)
        ("adsl.xpt", 3, "USUBJID", "missing_record", "MT103-211-102-3")),
    ("missing_record", "parquet-adam"): (
        _parquet(_drop("adtte", 2)),  # 12-3 without OS
        ("adsl.parquet", 3, "usubjid", "missing_record", "00103311-12-3")),

    ("orphan_record", "csv-legacy"): (
        _csv(**{"ae.csv": (AE[0], AE[1] + ["9;Pyrexia;1;N;N;01.03.2012;RECOVERED"])}),
        ("ae.csv", 2, "PATNR", "orphan_record", "MT103-206-9")),
    ("orphan_record", "xpt-adam"): (
        _xpt(_append_copy("adae", 0, USUBJID="MT103-211-999-9")),
        ("adae.xpt", 4, "USUBJID", "orphan_record", "MT103-211-999-9")),
    ("orphan_record", "parquet-adam"): (
        _parquet(_append_copy("adtte", 0, usubjid="00103311-99-9")),
        ("adtte.parquet", 7, "usubjid", "orphan_record", "00103311-99-9")),

    # the format-specific rules, on their own format
    ("remission_dates", "csv-legacy"): (
        _csv(**{"response.csv": _replace(RESPONSE, 4, "4;1;CRi;;")}),  # a remission without its date
        ("response.csv", 5, "ASSESS_DATE", "missing_value", "MT103-206-4")),
    ("missing_value", "parquet-adam"): (
        _parquet(_set("adrs", 2, "avalc", None)),  # the BOR of 11-2
        ("adrs.parquet", 3, "avalc", "missing_value", "00103311-11-2")),
    ("aval_inconsistent", "xpt-adam"): (
        _xpt(_xpt_aval_off_by_a_month),
        ("adtte.xpt", 3, "AVAL", "aval_inconsistent", "MT103-211-102-3")),
    ("treated_without_dose_dates", "parquet-adam"): (
        _parquet(_set("adsl", 2, "first_dose_date", None)),  # 12-3, treated with blinatumomab
        ("adsl.parquet", 3, "first_dose_date", "missing_record", "00103311-12-3")),
}
WARN = {"orphan_record"}


def test_every_rule_has_a_case_for_every_format_it_runs_for():
    expected = {(rule, fmt) for rule in SHARED for fmt in FORMATS}
    expected |= {(rule, fmt) for fmt, rules in FORMAT_SPECIFIC.items() for rule in rules}
    assert set(CASES) == expected


def _cross_check_failures(result) -> list[tuple]:
    names = set(SHARED) | {r for rules in FORMAT_SPECIFIC.values() for r in rules}
    return [(f["check"], f["file"], f["row"], f["column"], f["reason"], f["subject"])
            for f in result.failures if f["check"] in names]


@pytest.mark.parametrize("rule, fmt", sorted(CASES), ids=[f"{r}-{f}" for r, f in sorted(CASES)])
def test_the_rule_reports_its_one_violation(tmp_path, rule, fmt):
    write, (file, row, column, reason, subject) = CASES[(rule, fmt)]
    root = tmp_path / "data"
    settings = Settings(data_dir=root)
    run_id = start_run.fn(settings, None)
    result = prepare_delivery(settings, run_id, str(write(root)))

    assert result.accepted, result.message
    assert _cross_check_failures(result) == [(rule, file, row, column, reason, subject)]
    hit = next(f for f in result.failures if f["check"] == rule)
    assert f"{file} row {row} column {column}: {reason}" in hit["message"] and hit["value"]
    assert [q["subject"] for q in result.quarantined] == ([] if reason in WARN else [subject])
    with connect(settings.db_path, read_only=True) as con:
        audit = con.execute('SELECT file, row, "column", "check", reason, subject FROM audit.validation_failures '
                            'WHERE run_id = ? AND "check" = ?', [run_id, rule]).fetchall()
    assert audit == [(file, row, column, rule, reason, subject)]


@pytest.fixture(scope="module")
def staged_fixtures(tmp_path_factory):
    """The three hand-made deliveries, staged (facts built, no failure), in one database."""
    root = tmp_path_factory.mktemp("staged") / "data"
    settings = Settings(data_dir=root)
    run_id = start_run.fn(settings, None)
    results = {}
    for write in (write_csv_legacy, write_xpt_adam, write_parquet_adam):
        r = prepare_delivery(settings, run_id, str(write(root)))
        assert r.accepted and not _cross_check_failures(r) and not r.quarantined, r.message
        results[r.delivery.format] = r
    return settings, results


def test_every_format_gives_its_facts_one_shape(staged_fixtures):
    """Same fact models, same columns and types for every format: what lets one check serve all."""
    settings, results = staged_fixtures
    assert len({tuple(names) for names in FACTS.values()}) == 1 and FACTS[FORMATS[0]]
    shapes, empty = {}, []
    for fmt in FORMATS:
        con, _ = staged_unit(settings, str(results[fmt].delivery.path))
        with con:
            shapes[fmt] = {name: con.execute(f"DESCRIBE {facts_table(STUDY[fmt], name)}").fetchall()
                           for name in FACTS[fmt]}
            empty += [(fmt, name) for name in FACTS[fmt]
                      if con.execute(f"SELECT count(*) FROM {facts_table(STUDY[fmt], name)}").fetchone()[0] == 0]
    for name in FACTS[FORMATS[0]]:
        columns = {fmt: [(c[0], c[1]) for c in shapes[fmt][name]] for fmt in FORMATS}
        assert len({tuple(cols) for cols in columns.values()}) == 1, (name, columns)
        assert {"file", "row", "subject"} <= {c for c, _ in columns[FORMATS[0]]} or name == "required_records"
    assert empty == []


def test_no_shared_rule_keeps_a_per_format_copy():
    folders = {p.parent.relative_to(CHECKS).as_posix() for p in CHECKS.rglob("*.sql")}
    assert folders <= {"."} | {f"format_specific/{fmt}" for fmt in FORMATS}
    in_several_formats = {r for r, n in Counter(r for rules in FORMAT_SPECIFIC.values() for r in rules).items() if n > 1}
    assert in_several_formats == set()
    assert set(SHARED).isdisjoint(set().union(*FORMAT_SPECIFIC.values()))
    assert {"death_before_first_dose", "dose_order", "missing_record", "negative_time", "orphan_record"} <= set(SHARED)


def test_each_format_runs_the_shared_rules_and_only_its_own_specific_ones():
    for fmt in FORMATS:
        assert sorted(p.stem for p, _ in check_files(sql_dir(), fmt)) == sorted(SHARED + FORMAT_SPECIFIC[fmt])
        assert all(shared == (p.parent == CHECKS) for p, shared in check_files(sql_dir(), fmt))


def _leading_comment(path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()
    return " ".join(line[2:].strip() for line in lines[:next(i for i, l in enumerate(lines) if not l.startswith("--"))])


def test_models_open_with_their_grain_and_specific_rules_say_why():
    models = list(CHECKS.rglob("*.sql")) + [p for fmt in FORMATS for p in (sql_dir() / "staging" / fmt / "facts").glob("*.sql")]
    assert [p for p in models if not _leading_comment(p).startswith("One row per")] == []
    for fmt, rules in FORMAT_SPECIFIC.items():
        for rule in rules:
            assert f"{fmt} only:" in _leading_comment(CHECKS / "format_specific" / fmt / f"{rule}.sql"), (fmt, rule)


def test_shared_rules_read_only_the_facts_and_facts_only_the_staging_models():
    for p in CHECKS.glob("*.sql"):
        tags = set(re.findall(r"\{\{\s*(\w+)", p.read_text(encoding="utf-8")))
        assert tags == {"facts"}, (p.name, tags)
    for fmt in FORMATS:
        for p in (sql_dir() / "staging" / fmt / "facts").glob("*.sql"):
            assert set(re.findall(r"\{\{\s*(\w+)", p.read_text(encoding="utf-8"))) <= {"ref"}, p


class _Recording:
    """A connection that remembers every SQL text it is given."""

    def __init__(self, con):
        self.con, self.sql = con, []

    def execute(self, sql, *args):
        self.sql.append(sql)
        return self.con.execute(sql, *args)


def test_no_delivery_value_is_rendered_into_the_sql(staged_fixtures):
    settings, results = staged_fixtures
    for fmt in ("csv-legacy", "xpt-adam"):  # study ids that differ from their slug
        delivery = results[fmt].delivery
        con, _ = staged_unit(settings, str(delivery.path))
        with con:
            recording = _Recording(con)
            run_cross_checks(recording, delivery, settings.sql_dir)
            subjects = [s for (s,) in con.execute(f"SELECT subject FROM {facts_table(delivery.study, 'subjects')}").fetchall()]
        assert len(recording.sql) == len(FACTS[fmt]) + len(SHARED) + len(FORMAT_SPECIFIC[fmt])
        text = "\n".join(recording.sql)
        assert [v for v in [delivery.study, delivery.delivery_id, *subjects] if v in text] == []
