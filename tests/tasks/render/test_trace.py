"""The drill-down renderer (tasks/render/trace.py) on the hand-made pool: listings, index, terminal
text and report links are laid out from the stored membership and sources only."""
from __future__ import annotations

import json

import pandas as pd

from repool.schemas.ard import SOURCE_COLUMNS
from repool.tasks.analyse.table3_response import compute_table3
from repool.tasks.render.trace import (
    format_trace_text,
    members_of,
    read_trace_index,
    select_rows,
    source_rows,
    trace_links_html,
    write_trace_listings,
)
from tests.fixtures_pooled import FIRST, make_adrs, make_adsl


def _sources(adsl: pd.DataFrame, adrs: pd.DataFrame) -> pd.DataFrame:
    """Sources as publish stores them (one delivered row per record here, plus an extra read row for F1)."""
    rows = [{"dataset": "adsl", "STUDYID": r.STUDYID, "USUBJID": r.USUBJID, "record": "", "SRCDLV": r.SRCDLV,
             "SRCFILE": r.SRCFILE, "SRCSHA": r.SRCSHA, "SRCROW": r.SRCROW, "primary": True} for r in adsl.itertuples()]
    rows += [{"dataset": "adrs", "STUDYID": r.STUDYID, "USUBJID": r.USUBJID, "record": r.PARAMCD, "SRCDLV": r.SRCDLV,
              "SRCFILE": r.SRCFILE, "SRCSHA": r.SRCSHA, "SRCROW": r.SRCROW, "primary": True} for r in adrs.itertuples()]
    f1 = adsl[adsl["USUBJID"] == "F1"].iloc[0]
    rows.append({"dataset": "adsl", "STUDYID": f1.STUDYID, "USUBJID": "F1", "record": "", "SRCDLV": f1.SRCDLV,
                 "SRCFILE": "hsct.csv", "SRCSHA": "ab" * 32, "SRCROW": 7, "primary": False})
    return pd.DataFrame(rows, columns=SOURCE_COLUMNS)


def _version():
    adsl, adrs = make_adsl(), make_adrs()
    ard, subjects = compute_table3(adsl, adrs, with_subjects=True)
    return ard.assign(result_version="v0"), subjects, _sources(adsl, adrs)


def test_trace_text_lists_the_counted_subjects_and_their_rows():
    ard, subjects, sources = _version()
    (row,) = select_rows(ard, 3, "hsct", group="first salvage", stat_name="n").to_dict("records")
    text = format_trace_text(row, members_of(subjects, row), sources)
    lines = text.splitlines()
    assert lines[0] == "table3 HSCT [SALVGRP First salvage] n = 2" and lines[1] == "2 subject(s) (counted)"
    assert [l.split()[1] for l in lines if l.startswith("  ") and not l.startswith("    ")] == ["F1", "F3"]
    start = lines.index("  MT103-211 F1") + 1
    f1 = lines[start:start + 2]
    assert f1[0].startswith("      adsl: MT103-211@2020-01-01/adsl.xpt row 1  sha256 ")  # its own row first
    assert f1[1].startswith("      adsl: MT103-211@2020-01-01/hsct.csv row 7 (read)")


def test_listings_index_and_links_are_reproducible(tmp_path):
    ard, subjects, sources = _version()
    write_trace_listings(tmp_path / "a", ard, subjects, sources)
    write_trace_listings(tmp_path / "b", ard, subjects, sources)
    files = sorted(p.name for p in (tmp_path / "a" / "trace").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b" / "trace").iterdir())
    for name in files:
        assert (tmp_path / "a" / "trace" / name).read_bytes() == (tmp_path / "b" / "trace" / name).read_bytes()
    index = read_trace_index(tmp_path / "a")
    assert len(index) == len(ard)  # every row of table 3 has members, or counts nobody
    empty = [r for r in index if r["n_subjects"] == 0]
    assert {(r["variable"], r["variable_level"]) for r in empty} >= {("BOR", "CRi")}  # CRi first: 0 of 4
    assert all(r["role"] == "counted" for r in empty)
    assert "0 subject(s)" in (tmp_path / "a" / empty[0]["href"]).read_text(encoding="utf-8")
    by_row = {(r["variable"], r["variable_level"], r["group1_level"], r["stat_name"]): r for r in index}
    hsct = by_row[("HSCT", None, FIRST, "n")]
    assert hsct["role"] == "counted" and hsct["n_subjects"] == 2
    listing = (tmp_path / "a" / hsct["href"]).read_text(encoding="utf-8")
    assert "<td>F1</td>" in listing and "<td>F3</td>" in listing and "<td>F2</td>" not in listing
    # a rate and the N of the same group share one population listing
    pct, N = by_row[("HSCT", None, FIRST, "pct")], by_row[("HSCT", None, FIRST, "N")]
    assert pct["role"] == "population" and pct["n_subjects"] == N["n_subjects"] == 4
    assert pct["href"] == N["href"]  # the same subjects: one listing
    assert by_row[("OTHER_TX", None, FIRST, "pct")]["href"] == pct["href"]
    html = trace_links_html(index, "table3")
    assert f'<a href="{hsct["href"]}" title="subjects counted">n 2</a>' in html
    assert f'<a href="{pct["href"]}" title="analysis population">pct</a>' in html
    assert html.count("<tr><td>HSCT</td>") == 1 and "<th>First salvage</th>" in html
    assert trace_links_html(index, "table1") == "" and trace_links_html([], "table3") == ""
    assert json.loads((tmp_path / "a" / "trace" / "index.json").read_text())["rows"] == index


def test_a_record_without_stored_source_is_said():
    ard, subjects, sources = _version()
    rows = source_rows(subjects.head(1), sources.iloc[0:0])
    assert rows["SRCFILE"].isna().all()
    (row,) = select_rows(ard, "table3", "BOR", group=FIRST, level="CR", stat_name="n").to_dict("records")
    assert "no stored source" in format_trace_text(row, members_of(subjects, row), sources.iloc[0:0])
