"""Drill-down end to end on the bundled deliveries (issue 11, part 3): one flow run publishes a version;
every count row of its ARD lists exactly n subjects; `repool trace` prints Table 3's HSCT count of the
first salvage group with the delivered rows, each checked against the delivered file itself; the
report links to the listings; the version stays traceable after pooled.* is rebuilt or dropped, and a
rebuilt folder has the same drill-down bytes."""
from __future__ import annotations

import csv
import io
import shutil
from contextlib import redirect_stdout

import pandas as pd
import pytest

from repool.schemas.ard import ARD_KEY, COUNT_STATS
from repool.tasks.db import connect
from tests.paths import DATA_DIR as REPO_DATA

DRILL_DOWN = True  # tests/e2e/conftest.py: these runs store the drill-down


@pytest.fixture(scope="module")
def published(prefect_harness, tmp_path_factory):
    from repool.flows.repool_flow import repool

    root = tmp_path_factory.mktemp("trace")
    shutil.copytree(REPO_DATA / "deliveries", root / "deliveries")
    if (REPO_DATA / "studies.toml").exists():
        shutil.copy(REPO_DATA / "studies.toml", root / "studies.toml")
    state = repool(data_dir=str(root), return_state=True, gx_checkpoint=False)
    assert state.is_completed(), state.message
    return root, state.result()["version"]


def _trace(root, *argv) -> str:
    from repool.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["trace", "--data-dir", str(root), *argv]) == 0
    return out.getvalue()


def _delivered_row(root, study: str, delivery: str, file: str, row: int) -> dict:
    """The 1-based data row of a delivered file, read with pandas / csv (not with the pipeline)."""
    path = root / "deliveries" / study / delivery / file
    if file.endswith(".csv"):
        text = path.read_bytes().decode("latin-1")
        return list(csv.DictReader(io.StringIO(text), delimiter=";"))[row - 1]
    df = pd.read_parquet(path) if file.endswith(".parquet") else pd.read_sas(path, format="xport", encoding="latin-1")
    return {k.upper(): v for k, v in df.iloc[row - 1].to_dict().items()}


def test_every_count_row_lists_exactly_n_subjects(published):
    root, version = published
    with connect(root / "repool.duckdb", read_only=True) as con:
        ard = con.execute("SELECT * FROM results.ard WHERE result_version = ?", [version]).df()
        listed = con.execute(
            f"SELECT {', '.join(ARD_KEY)}, count(DISTINCT (STUDYID, USUBJID)) AS n FROM results.subjects "
            f"WHERE result_version = ? GROUP BY ALL", [version]).df()
    counts = ard[ard["stat_name"].isin(COUNT_STATS)]
    merged = counts.merge(listed, on=ARD_KEY, how="left")
    assert len(merged) == len(counts) > 100  # 145 on the bundled deliveries
    assert (merged["n"].fillna(0).astype(int) == merged["stat"].astype(int)).all(), \
        merged[merged["n"].fillna(0).astype(int) != merged["stat"].astype(int)][ARD_KEY + ["stat", "n"]]
    assert set(counts["table_id"]) == {"table1", "table2", "table3", "table4", "studies"}
    others = ard[~ard["stat_name"].isin(COUNT_STATS) & ard["stat"].notna()].merge(listed, on=ARD_KEY, how="left")
    assert (others["n"] > 0).all()  # every median, rate, ratio links to a population


def test_trace_prints_the_hsct_count_with_rows_checked_against_the_delivered_files(published):
    root, version = published
    text = _trace(root, version, "--table", "3", "--variable", "HSCT", "--group", "First salvage")
    with connect(root / "repool.duckdb", read_only=True) as con:
        n = con.execute("SELECT stat FROM results.ard WHERE result_version = ? AND table_id = 'table3' AND "
                        "variable = 'HSCT' AND group1_level = 'First salvage' AND stat_name = 'n'", [version]).fetchall()[0][0]
    assert f"HSCT [SALVGRP First salvage] n = {int(n)}" in text and f"{int(n)} subject(s) (counted)" in text
    subjects = [line.split() for line in text.splitlines() if line.startswith("  ") and not line.startswith("    ")]
    assert len(subjects) == int(n) > 0
    checked_formats = set()
    current = None
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("    "):
            current = line.split()
            continue
        if not line.startswith("      adsl: "):
            continue
        study, subject = current
        location, _, rest = line.removeprefix("      adsl: ").partition(" row ")
        delivery, file = location.split("/")
        row = int(rest.split()[0])
        record = _delivered_row(root, study, delivery, file, row)
        if file == "patients.csv":
            assert f"{study}-{record['PATNR']}" == subject
        elif file == "hsct.csv":  # the transplant that made the subject count
            assert f"{study}-{record['PATNR']}" == subject and record["HSCT_DATE"]
        elif file.startswith("adsl."):
            assert str(record["USUBJID"]).strip() == subject
            assert pd.notna(record.get("HSCTDT") if "HSCTDT" in record else record.get("HSCT_DATE"))
        checked_formats.add(file)
    assert {"patients.csv", "hsct.csv", "adsl.xpt", "adsl.parquet"} <= checked_formats


def test_report_links_each_count_to_its_listing(published):
    root, version = published
    folder = root / "results" / version
    report = (folder / "report.html").read_text(encoding="utf-8")
    index = pd.read_json(folder / "trace" / "index.json", orient="records", typ="series")["rows"]
    hsct = [r for r in index if r["table_id"] == "table3" and r["variable"] == "HSCT"
            and r["group1_level"] == "First salvage" and r["stat_name"] == "n"]
    assert len(hsct) == 1 and f'href="{hsct[0]["href"]}"' in report
    listing = (folder / hsct[0]["href"]).read_text(encoding="utf-8")
    text = _trace(root, version, "--table", "3", "--variable", "HSCT", "--group", "First salvage")
    for line in text.splitlines():
        if line.startswith("  ") and not line.startswith("    "):
            assert f"<td>{line.split()[1]}</td>" in listing  # the same subjects
    assert all(r["href"].startswith("trace/") and (folder / r["href"]).is_file() for r in index)
    assert {r["role"] for r in index} == {"counted", "population"}


def test_the_version_stays_traceable_when_pooled_is_gone_and_a_rebuilt_folder_is_identical(published):
    from repool.settings import Settings
    from repool.tasks.publish import rebuild_version_folder

    root, version = published
    before = _trace(root, version, "--table", "4", "--variable", "CRS", "--group", "Second or later salvage")
    folder = root / "results" / version
    files = {p.relative_to(folder).as_posix(): p.read_bytes()
             for p in sorted(folder.rglob("*")) if p.is_file() and p.parts[-2:][0] in ("trace", version)
             and p.suffix in (".parquet", ".json", ".html") and p.name != "report.html"}
    with connect(root / "repool.duckdb") as con:  # a later run rebuilds pooled.*: here it is simply gone
        for t in ("adsl", "adrs", "adtte", "adae"):
            con.execute(f"DROP VIEW pooled.{t}")
    (root / "cache").rename(root / "cache-gone")  # and so are the units' cached files the views read
    try:
        assert _trace(root, version, "--table", "4", "--variable", "CRS", "--group", "Second or later salvage") == before
    finally:
        (root / "cache-gone").rename(root / "cache")
    shutil.rmtree(folder)
    rebuild_version_folder(Settings(data_dir=root), version)
    for name, data in files.items():
        assert (folder / name).read_bytes() == data, name
    assert "subjects.parquet" in files and "sources.parquet" in files and "trace/index.json" in files


def test_every_stored_source_row_is_its_subjects_row_in_the_delivered_file(published):
    """All primary rows of every pooled record (5587 on the bundled data): the delivered file's row
    SRCROW belongs to the record's subject, read with pandas/csv, and the stored sha256 is the file's."""
    import hashlib

    root, version = published
    with connect(root / "repool.duckdb", read_only=True) as con:
        src = con.execute("SELECT * FROM results.sources WHERE result_version = ?", [version]).df()
    assert len(src) > 1000 and src["primary"].any()
    for (study, delivery, file), part in src.groupby(["STUDYID", "SRCDLV", "SRCFILE"]):
        path = root / "deliveries" / study / delivery / file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == part["SRCSHA"].iloc[0] and part["SRCSHA"].nunique() == 1
        if file.endswith(".csv"):
            rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("latin-1")), delimiter=";"))
            ids = [f"{study}-{r['PATNR']}" for r in rows]
        else:
            df = pd.read_parquet(path) if file.endswith(".parquet") else pd.read_sas(path, format="xport", encoding="latin-1")
            ids = [str(v).strip() for v in df[next(c for c in df.columns if c.upper() == "USUBJID")]]
        got = [ids[r - 1] for r in part["SRCROW"]]
        assert got == part["USUBJID"].tolist(), (study, file)
