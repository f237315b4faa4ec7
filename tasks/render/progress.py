"""Progress of a long run, per delivery unit: studies done / total, patients, elapsed time.

A renderer: it counts what the units report (study ids, manifest row counts), never a value. Lines
go to the run's logger (the terminal and the Prefect UI); with many studies at most one line every
`every` seconds, plus the last.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from repool.tasks import in_prefect_run

SUBJECT_FILES = ("adsl", "patients")  # the subject-level file of each format (schemas/sources.py)


def count_patients(result) -> int:
    """Subjects in a unit's delivery, from its verified manifest (0 when refused before verify)."""
    d = result.delivery
    if d is None:
        return 0
    return sum(int(m.get("rows") or 0) for f, m in d.files.items() if Path(f).stem in SUBJECT_FILES)


def format_progress(done: int, total: int, patients: int, cached: int, elapsed: float, label: str) -> str:
    return (f"units {done}/{total} ({done / total:.0%}) · {patients:,} patients · {cached} from cache · "
            f"{elapsed:,.1f} s · last {label}")


def report_progress(total: int, every: float = 2.0, emit: Callable[[str], None] | None = None
                    ) -> Callable[[object], None]:
    """A callable the flow calls once per finished unit."""
    if emit is None:
        if in_prefect_run():
            from prefect import get_run_logger

            logger = get_run_logger()
            emit = logger.info
        else:
            emit = print
    state = {"done": 0, "patients": 0, "cached": 0, "last": 0.0}
    start = time.monotonic()

    def progress(result) -> None:
        state["done"] += 1
        state["patients"] += count_patients(result)
        state["cached"] += bool(getattr(result, "reused", False))
        now = time.monotonic()
        if total <= 20 or now - state["last"] >= every or state["done"] >= total:
            state["last"] = now
            emit(format_progress(state["done"], total, state["patients"], state["cached"], now - start,
                                 f"{result.study}@{result.delivery_id}"))

    return progress
