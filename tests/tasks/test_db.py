"""tasks/db.py: the run database's memory limit (issue 10: DuckDB's default, 80% of the machine, let a
1M run's peak reach 4.1 GiB; beyond the limit DuckDB spills to disk)."""
from __future__ import annotations

import pytest

from repool.tasks.db import MEMORY_LIMIT_ENV, connect, release_buffers


def _limit(con) -> str:
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_a_writer_sets_the_default_limit_and_the_environment_moves_it(tmp_path, monkeypatch):
    monkeypatch.delenv(MEMORY_LIMIT_ENV, raising=False)
    with connect(tmp_path / "a.duckdb") as con:
        assert _limit(con) == "953.6 MiB"  # DEFAULT_MEMORY_LIMIT "1GB" (10^9 bytes), as DuckDB prints it
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "3GiB")
    with connect(tmp_path / "b.duckdb") as con:
        assert _limit(con) == "3.0 GiB"


def test_a_bad_limit_is_refused_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ValueError, match=f"{MEMORY_LIMIT_ENV}='lots' is not a DuckDB memory size"):
        connect(tmp_path / "c.duckdb")


def test_a_query_larger_than_the_limit_spills_instead_of_failing(tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "64MB")
    with connect(tmp_path / "d.duckdb") as con:
        n = con.execute("SELECT count(*) FROM (SELECT i % 3000000 AS k, count(*) FROM range(12000000) t(i) "
                        "GROUP BY k)").fetchone()[0]
    assert n == 3_000_000


def _cached_table_bytes(con) -> int:
    return con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() WHERE tag = 'BASE_TABLE'"
                       ).fetchone()[0]


def test_release_buffers_gives_back_the_blocks_read_and_keeps_the_limit(tmp_path, monkeypatch):
    """A run holds its database from start to end; the blocks its checks read stayed cached up to the
    limit while the analyses ran in pandas (1M patients: 270 MiB of the run's peak)."""
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "2GiB")
    path = tmp_path / "r.duckdb"
    with connect(path) as con:
        con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(3000000)")
    with connect(path) as lease, connect(path) as con:  # the run's lease and a task's connection
        con.execute("SELECT sum(i), count(DISTINCT s) FROM t").fetchall()
        read = _cached_table_bytes(con)
        assert read > 40 * 2**20
        release_buffers(con)
        assert _cached_table_bytes(lease) <= 16 * 2**20 < read / 2  # what release_buffers leaves
        assert _limit(lease) == _limit(con) == "2.0 GiB"
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 3000000  # read again on demand


def test_release_buffers_is_best_effort_where_duckdb_cannot_evict(monkeypatch):
    """An in-memory table with nowhere to spill cannot leave memory: DuckDB refuses the lower limit (an
    OutOfMemoryException); the release gives up and the limit stays what it was."""
    import duckdb

    monkeypatch.setenv(MEMORY_LIMIT_ENV, "2GiB")
    con = duckdb.connect(config={"temp_directory": ""})  # nowhere to spill to
    con.execute("SET memory_limit = '2GiB'")
    con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(1000000)")
    with pytest.raises(duckdb.OutOfMemoryException):  # what release_buffers meets here
        con.execute("SET memory_limit = '16MB'")
    release_buffers(con)
    assert _limit(con) == "2.0 GiB"
    assert con.execute("SELECT count(*) FROM t").fetchone()[0] == 1000000
