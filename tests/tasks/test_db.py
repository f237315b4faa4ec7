"""tasks/db.py: the run database's memory limit (issue 10: DuckDB's default, 80% of the machine, let a
1M run's peak reach 4.1 GiB; beyond the limit DuckDB spills to disk)."""
from __future__ import annotations

import pytest

from repool.tasks.db import MEMORY_LIMIT_ENV, connect


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
