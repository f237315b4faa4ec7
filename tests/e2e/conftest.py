"""Every test under tests/e2e/ is an end-to-end test: marked `slow` (`pytest -m "not slow"` skips them)."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def without_drill_down(request, monkeypatch):
    """The drill-down (subjects behind every number, `repool trace`) costs a flow run about 2.5 s of its
    ~8: the end-to-end tests run without it, except the modules about it or about hostile data going
    through it, which set `DRILL_DOWN = True` (test_trace, test_hostile_corpus)."""
    if not getattr(request.module, "DRILL_DOWN", False):
        monkeypatch.setenv("REPOOL_DRILL_DOWN_MAX_SUBJECTS", "0")
