"""The pooled contract's failures name the delivered file and row they came from."""
from __future__ import annotations

from pathlib import Path

import duckdb

from repool.tasks.ingest import Delivery
from repool.tasks.validate.policy import decide, load_policy
from repool.resources import default_policy_file
from repool.tasks.validate.pooled import locate_in_source, validate_pooled_tables
from tests.fixtures_pooled import make_adae, make_adrs, make_adsl, make_adtte


def pooled_db(frames) -> duckdb.DuckDBPyConnection:
    """The frames as the pooled tables pooled.<name> of an in-memory DuckDB (as harmonise builds them)."""
    con = duckdb.connect()
    con.execute("CREATE SCHEMA pooled")
    for name, df in frames.items():
        con.register("_frame", df)
        con.execute(f"CREATE TABLE pooled.{name} AS SELECT * FROM _frame")
        con.unregister("_frame")
    return con


def test_a_pooled_breach_points_at_the_source_row_and_stops_the_run():
    frames = {"adsl": make_adsl(), "adtte": make_adtte(), "adrs": make_adrs(), "adae": make_adae()}
    assert validate_pooled_tables(pooled_db(frames)) == []
    frames["adsl"].loc[1, "AGE"] = 12  # the second pooled subject
    con = pooled_db(frames)
    found = validate_pooled_tables(con)
    assert [(f["file"], f["row"], f["column"], f["reason"]) for f in found] == [("pooled.adsl", 2, "AGE", "pooled_contract")]
    study, subject = frames["adsl"].loc[1, "STUDYID"], frames["adsl"].loc[1, "USUBJID"]
    con.execute("CREATE SCHEMA staging")
    from repool.tasks.stage import staging_table

    con.execute(f"CREATE TABLE {staging_table(study, 'adsl.xpt')} AS SELECT * FROM (VALUES (7, 'other'), (9, ?)) t(_row, USUBJID)",
                [subject])
    delivery = Delivery(study, "2014-09-30", Path("."), "xpt-adam", {"adsl.xpt": {"sha256": "ab" * 32, "rows": 2}})
    (located,) = decide(locate_in_source(con, found, {study: delivery}), load_policy(default_policy_file()))
    assert (located["file"], located["row"], located["column"], located["delivery_id"]) == ("adsl.xpt", 9, "AGE", "2014-09-30")
    assert located["message"].startswith("adsl.xpt row 9 (pooled.adsl row 2)")
    assert (located["action"], located["action_taken"]) == ("reject", "run stopped")
