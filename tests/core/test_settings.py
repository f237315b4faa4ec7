"""The one settings object: defaults found through the package, never written inside an installed one."""
from __future__ import annotations

from pathlib import Path

import pytest

from repool import settings as settings_module
from repool.resources import bundled_data_dir, default_policy_file, sql_dir
from repool.settings import Settings


def test_defaults_come_from_the_package():
    s = Settings()
    assert s.data_dir == bundled_data_dir() and s.policy_file == default_policy_file() and s.sql_dir == sql_dir()
    assert s.studies_file == bundled_data_dir() / "studies.toml"


def test_in_a_checkout_the_database_goes_beside_the_bundled_data():
    s = Settings()
    assert s.db_path == bundled_data_dir() / "repool.duckdb" and s.results_dir == bundled_data_dir() / "results"


def test_an_installed_package_writes_under_the_user_data_folder(monkeypatch, tmp_path):
    monkeypatch.setattr(settings_module, "is_checkout", lambda _path: False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    s = Settings()
    assert s.db_path == tmp_path / "repool" / "repool.duckdb" and s.results_dir == tmp_path / "repool" / "results"
    assert bundled_data_dir() not in s.db_path.parents


def test_a_given_data_dir_holds_its_database_and_registry(tmp_path):
    (tmp_path / "studies.toml").write_text('[studies."X-1"]\nformat = "csv-legacy"\n', encoding="utf-8")
    s = Settings().with_overrides(data_dir=tmp_path)
    assert s.db_path == tmp_path / "repool.duckdb" and s.studies_file == tmp_path / "studies.toml"
    assert Settings.from_env({"REPOOL_STUDIES": "/x/s.toml", "REPOOL_ALPHA": "0.1"}).studies_file == Path("/x/s.toml")
    assert Settings.from_env({"REPOOL_ALPHA": "0.1"}).alpha == 0.1


def test_drill_down_stops_at_its_pool_size_and_the_environment_moves_it():
    from repool.tasks.publish import stores_drill_down

    s = Settings()
    assert s.drill_down_max_subjects == 50_000
    assert stores_drill_down(s, 532) and stores_drill_down(s, 50_000) and not stores_drill_down(s, 50_001)
    big = Settings.from_env({"REPOOL_DRILL_DOWN_MAX_SUBJECTS": "2000000"})
    assert stores_drill_down(big, 1_000_000)


def test_task_runner_and_cache_settings():
    s = Settings.from_env({"REPOOL_TASK_RUNNER": "dask", "REPOOL_DASK_ADDRESS": "tcp://h:8786"})
    assert (s.task_runner, s.dask_address) == ("dask", "tcp://h:8786")
    assert Settings.from_env({"REPOOL_TASK_RUNNER": " Process "}).task_runner == "process"
    with pytest.raises(ValueError, match="task_runner"):
        Settings(task_runner="spark")
    assert s.cache_dir == s.db_path.parent / "cache"
    moved = s.with_overrides(db_path=Path("/somewhere/x.duckdb"))
    assert moved.cache_dir == Path("/somewhere/cache"), "the cache follows the database"
    assert Settings.from_env({"REPOOL_CACHE_DIR": "/c"}).cache_dir == Path("/c")
