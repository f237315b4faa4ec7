"""Who may import whom (docs/architecture.md), checked on every import statement of the package."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO_ROOT

PACKAGE_DIRS = {"repool": "repool", "repool.flows": "flows", "repool.tasks": "tasks", "repool.schemas": "schemas",
                "repool.sql": "sql", "repool.data": "data", "repool.deployments": "deployments"}
STDLIB_AND_DATA = {"__future__", "dataclasses", "enum", "typing", "re", "math", "datetime", "decimal", "json",
                   "collections", "functools", "itertools", "contextlib", "contextvars", "pandas", "pandera", "numpy"}


def _modules() -> dict[str, list[str]]:
    """module name -> every module it imports (absolute names, `from x import y` as x and x.y)."""
    out = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            rel = path.relative_to(REPO_ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if folder == "repool" and parts and parts[0] in {"flows", "tasks"}:
                continue
            name = ".".join([package, *parts])
            imported = []
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported += [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    imported.append(node.module)
                    imported += [f"{node.module}.{a.name}" for a in node.names]
            out[name] = imported
    return out


MODULES = _modules()


def _offenders(prefix: str, forbidden: tuple[str, ...], allow=lambda m: False) -> list[str]:
    return sorted(f"{m} imports {i}" for m, imps in MODULES.items() if m.startswith(prefix) and not allow(m)
                  for i in imps if i.startswith(forbidden))


def test_the_modules_are_found():
    assert {"repool.flows.repool_flow", "repool.tasks.ingest", "repool.tasks.analyse.statistics",
            "repool.schemas.pooled", "repool.tasks.render.report"} <= set(MODULES)


def test_tasks_never_import_flows_deployments_the_cli_or_the_generator():
    assert _offenders("repool.tasks", ("repool.flows", "repool.deployments", "repool.cli", "repool.commands",
                                       "repool.synth")) == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("repool.tasks.analyse.")))
def test_the_statistics_and_tables_know_neither_prefect_nor_duckdb_nor_renderers(module):
    bad = [i for i in MODULES[module] if i.split(".")[0] in {"prefect", "duckdb"}
           or (i.startswith("repool.tasks") and not i.startswith("repool.tasks.analyse"))]
    assert bad == []


def test_renderers_compute_nothing():
    """A renderer reads stored rows (publish's readers, db) and the contracts; never a stage's computation."""
    assert _offenders("repool.tasks.render", ("repool.tasks.analyse", "repool.tasks.ingest", "repool.tasks.validate",
                                              "repool.tasks.stage", "repool.tasks.harmonise")) == []


def test_schemas_describe_data_without_loading_it():
    bad = sorted(f"{m} imports {i}" for m, imps in MODULES.items() if m.startswith("repool.schemas")
                 for i in imps if not (i.startswith("repool.schemas") or i.split(".")[0] in STDLIB_AND_DATA))
    assert bad == []


def test_nothing_of_the_pipeline_imports_the_generator():
    allowed = {"repool.cli"}  # `repool generate` is a subcommand of the CLI
    assert _offenders("repool", ("repool.synth",), allow=lambda m: m in allowed or m.startswith("repool.synth")) == []


def test_the_generator_imports_no_stage():
    assert _offenders("repool.synth", ("repool.tasks", "repool.flows", "repool.deployments")) == []


def test_flows_hold_no_sql_and_no_statistics():
    assert _offenders("repool.flows", ("duckdb", "pandas", "lifelines", "statsmodels", "pandera")) == []


# What the flow's unchanged path never needs (tests/e2e/test_unchanged_run.py runs it): importing the
# CLI or the flow module must not import them either; each is imported by the function that uses it.
HEAVY_LIBRARIES = ("pandas", "numpy", "pyarrow", "pandera", "scipy", "lifelines", "statsmodels", "great_expectations",
                   "sqlalchemy", "duckdb_engine", "pyreadstat", "matplotlib", "great_tables", "rtflite", "docx", "dask")


def test_the_cli_and_the_flow_import_no_heavy_library():
    code = ("import sys, repool.cli, repool.commands, repool.flows.repool_flow; "
            "print(','.join(sorted(m for m in sys.argv[1].split(',') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code, ",".join(HEAVY_LIBRARIES)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
