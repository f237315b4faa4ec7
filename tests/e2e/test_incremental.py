"""Incremental runs: nothing changed -> nothing ingested, nothing published ("up to date"); one study's new
delivery -> only that study's files are loaded again."""
from __future__ import annotations

import pytest

from repool.tasks.db import connect
from tests.fixtures_deliveries import write_csv_legacy

pytestmark = pytest.mark.slow

PATIENTS_HEADER = "PATNR;SEX;AGE;ECOG;PRIOR_SCT;BM_BLASTS;SALVAGE_NR;FIRST_DOSE;LAST_DOSE"


@pytest.fixture(autouse=True)
def stable_code_version(monkeypatch):
    """Others edit tasks/*.py while these tests run; the code version enters the version id, so one
    test sees one code version (the first computed), which is what a real run in a fixed tree sees."""
    from repool.tasks import publish

    real, seen = publish.compute_code_version, {}

    def once(policy_file):
        key = str(policy_file)
        if key not in seen:
            seen[key] = real(policy_file)
        return seen[key]

    monkeypatch.setattr(publish, "compute_code_version", once)


def _run(root):
    from repool.flows.repool_flow import repool

    state = repool(data_dir=str(root), return_state=True, gx_checkpoint=False)
    assert state.is_completed(), state.message
    return state.result()


def _load_log(root) -> list[tuple]:
    with connect(root / "repool.duckdb", read_only=True) as con:
        return con.execute("SELECT run_id, study, delivery_id, file FROM audit.load_log ORDER BY ALL").fetchall()


def _versions(root) -> list[str]:
    with connect(root / "repool.duckdb", read_only=True) as con:
        return [r[0] for r in con.execute("SELECT result_version FROM results.versions ORDER BY created_at").fetchall()]


def test_nothing_changed_is_up_to_date_and_ingests_nothing(prefect_harness, fixture_root):
    first = _run(fixture_root)
    assert first["status"] == "published"
    log1 = _load_log(fixture_root)
    assert {r[0] for r in log1} == {first["run_id"]} and len(log1) == 15  # 7 CSV + 4 XPT + 4 Parquet files

    second = _run(fixture_root)
    assert second["status"] == "up-to-date" and "up to date" in second["message"]
    assert second["version"] == first["version"] and second["run_id"] != first["run_id"]
    assert _load_log(fixture_root) == log1  # no new load_log rows
    assert _versions(fixture_root) == [first["version"]]
    with connect(fixture_root / "repool.duckdb", read_only=True) as con:
        runs = dict(con.execute("SELECT run_id, status FROM audit.runs").fetchall())
    assert runs == {first["run_id"]: "published", second["run_id"]: "up-to-date"}


def test_one_study_changes_only_that_study_is_ingested(prefect_harness, fixture_root):
    first = _run(fixture_root)
    assert first["status"] == "published"
    write_csv_legacy(fixture_root, delivery_id="2013-09-30", **{"patients.csv": (PATIENTS_HEADER, [
        "1;1;46;0;J;78,5;1;01.02.2012;28.03.2012",  # age 45 -> 46
        "2;2;33;n.a.;N;n.a.;2;15.03.2012;11.04.2012",
        "3;1;61;1;N;4,0;3;01.04.2012;28.04.2012",
        "4;2;29;2;J;12;1;01.05.2012;28.06.2012",
    ])})
    second = _run(fixture_root)
    assert second["status"] == "published" and second["version"] != first["version"]

    loaded = [r[1:] for r in _load_log(fixture_root) if r[0] == second["run_id"]]
    assert {(s, d) for s, d, _ in loaded} == {("MT103-206", "2013-09-30")}
    assert len(loaded) == 7  # every file of the new delivery (raw tables are per delivery), none of the others
    assert _versions(fixture_root) == [first["version"], second["version"]]

    with connect(fixture_root / "repool.duckdb", read_only=True) as con:
        lineage = con.execute("SELECT DISTINCT study, delivery_id FROM results.lineage WHERE result_version = ? "
                              "ORDER BY ALL", [second["version"]]).fetchall()
        from repool.tasks.render.diff import render_diff

        text = render_diff(con, first["version"], second["version"])
    assert ("MT103-206", "2013-09-30") in lineage and ("MT103-211", "2014-06-30") in lineage
    assert "MT103-206: delivery 2013-06-30 -> 2013-09-30; files changed: patients.csv" in text
    assert "AGE" in text

    third = _run(fixture_root)  # and again: nothing new
    assert third["status"] == "up-to-date" and third["version"] == second["version"]
    assert not [r for r in _load_log(fixture_root) if r[0] == third["run_id"]]
