"""The pipeline's stages in data order, one module or subpackage each:

ingest -> validate -> stage -> harmonise -> (validate.pooled) -> analyse -> publish

`render/` holds the readers that compute nothing; `db.py`, `audit.py` and `runs.py` are the
plumbing the stages share; `watch.py` is the delivery watcher behind the trigger. The Prefect
`@task` sits on each stage function itself: a test calls the plain function as `task.fn(...)`.
"""
from __future__ import annotations


def in_prefect_run() -> bool:
    """True inside a flow or task run: only then are Prefect artifacts created."""
    from prefect.context import FlowRunContext, TaskRunContext

    return TaskRunContext.get() is not None or FlowRunContext.get() is not None
