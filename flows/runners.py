"""Where the per-delivery units run: Prefect's thread pool (default) or a Dask cluster (prefect-dask).

Orchestration only. With `dask`, a local cluster of `Settings.dask_workers` single-threaded worker
processes is started for the run and stopped after it, or `Settings.dask_address`
(tcp://HOST:PORT) names an existing scheduler. Workers need the same repool installed (a unit
refuses other code: tasks/publish.py `assert_same_code`), the data root and the cache folder on
storage they all see at the same paths, and the Prefect API URL (PREFECT_API_URL) to report their
task runs; they never open the run database. See deployments/README.md.
"""
from __future__ import annotations

import os

from prefect.task_runners import ThreadPoolTaskRunner

from repool.settings import Settings

THREAD_WORKERS = 4


def process_workers() -> int:
    """One worker process per core this process may run on."""
    return max(1, len(os.sched_getaffinity(0)))


def unit_task_runner(settings: Settings):
    """A task runner (a context manager with `submit`) for the run's units."""
    if settings.task_runner == "thread":
        return ThreadPoolTaskRunner(max_workers=THREAD_WORKERS)
    if settings.task_runner == "process":
        from prefect.task_runners import ProcessPoolTaskRunner

        return ProcessPoolTaskRunner(max_workers=process_workers())
    import logging

    from prefect_dask import DaskTaskRunner

    logging.getLogger("distributed").setLevel(logging.WARNING)  # the cluster's chatter stays out of the run log

    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    return DaskTaskRunner(cluster_kwargs={"n_workers": settings.dask_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})
