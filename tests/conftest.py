"""Shared fixtures. Prefect runs against a throw-away test harness (session scope, started only by
tests that need it); analytics are off; PREFECT_HOME is a temporary folder."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import repool  # noqa: E402,F401  (analytics off: repool.OFFLINE_ENV)
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="repool-prefect-home-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import pytest  # noqa: E402

from repool.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def fixture_root(tmp_path: Path) -> Path:
    from tests.fixtures_deliveries import write_all

    return write_all(tmp_path / "data")


@pytest.fixture
def settings(fixture_root: Path) -> Settings:
    return Settings(data_dir=fixture_root)
