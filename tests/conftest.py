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
    import prefect.testing.utilities as harness

    from tests.prefect_home import seed_test_harness

    with seed_test_harness(harness), harness.prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def fixture_root(tmp_path: Path) -> Path:
    from tests.fixtures_deliveries import write_all

    return write_all(tmp_path / "data")


@pytest.fixture
def settings(fixture_root: Path) -> Settings:
    return Settings(data_dir=fixture_root)


# The longest test files, longest first (measured: `pytest --durations`), first in the collection.
# Under `make test` this decides little: pytest-xdist (--dist loadfile) hands out the files with the
# most tests first and keeps the collection order only among files with as many tests (see Makefile
# for the alternative, measured). A plain `pytest` run follows it.
LONGEST_FIRST = (
    "tests/e2e/test_hostile_corpus.py", "tests/e2e/test_dask.py", "tests/e2e/test_serve_loop.py",
    "tests/e2e/test_crash.py", "tests/e2e/test_processes.py", "tests/e2e/test_ui_browser.py",
    "tests/e2e/test_wheel.py", "tests/e2e/test_bad_input_corpus.py", "tests/e2e/test_unchanged_run.py",
    "tests/e2e/test_concurrency.py", "tests/synth/test_generate.py", "tests/e2e/test_flow.py",
)


def pytest_collection_modifyitems(config, items):
    root = Path(str(config.rootpath))

    def rank(item) -> int:
        path = Path(str(item.fspath)).relative_to(root).as_posix()
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the other files is kept


def pytest_configure(config):
    """One template Prefect home for the whole run (tests/prefect_home.py): the controller picks its
    folder before the xdist workers start, so they inherit it."""
    from tests.prefect_home import TEMPLATE_ENV

    if not os.environ.get(TEMPLATE_ENV):
        os.environ[TEMPLATE_ENV] = tempfile.mkdtemp(prefix="repool-tests-prefect-")
        config._repool_template_owner = True


def pytest_unconfigure(config):
    from tests.prefect_home import TEMPLATE_ENV

    if getattr(config, "_repool_template_owner", False):
        import shutil

        shutil.rmtree(os.environ.pop(TEMPLATE_ENV), ignore_errors=True)
