"""The code version follows what can change a number, and nothing that only renders or schedules."""
from __future__ import annotations

import shutil

import pytest

from repool.resources import default_policy_file, package_dir
from repool.tasks import publish

PACKAGES = ("repool.tasks", "repool.schemas", "repool.sql")


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A private copy of the packages the code version reads, edited by the test instead of the checkout."""
    copies = {}
    for package in PACKAGES:
        copies[package] = tmp_path / package
        shutil.copytree(package_dir(package), copies[package], ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(publish, "package_dir", lambda package: copies[package])
    return copies


def _edit(path, text="\n# an edit\n"):
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text)


def _version(policy=None):
    return publish.compute_code_version(policy or default_policy_file())


def test_the_copy_gives_the_checkout_s_code_version(package_copy, monkeypatch):
    copied = _version()
    monkeypatch.undo()
    assert copied == _version()


@pytest.mark.parametrize("package, file", [
    ("repool.tasks", "render/display.py"),
    ("repool.tasks", "render/audit_report.py"),
    ("repool.tasks", "render/report.py"),
    ("repool.tasks", "watch.py"),
    ("repool.tasks", "runs.py"),
    ("repool.schemas", "ars/ars_ldm.schema.json"),
])
def test_editing_a_renderer_or_the_watcher_keeps_the_code_version(package_copy, package, file):
    before = _version()
    _edit(package_copy[package] / file)
    assert _version() == before


@pytest.mark.parametrize("package, file", [
    ("repool.sql", "pooled/adsl.sql"),
    ("repool.sql", "staging/csv-legacy/patients.sql"),
    ("repool.tasks", "analyse/statistics.py"),
    ("repool.tasks", "harmonise.py"),
    ("repool.tasks", "validate/policy.py"),
    ("repool.schemas", "pooled.py"),
])
def test_editing_what_can_change_a_number_changes_the_code_version(package_copy, package, file):
    before = _version()
    _edit(package_copy[package] / file, "\n-- an edit\n" if file.endswith(".sql") else "\n# an edit\n")
    assert _version() != before


def test_the_policy_file_enters_the_code_version(tmp_path):
    policy = tmp_path / "policies.toml"
    policy.write_text(default_policy_file().read_text(encoding="utf-8").replace(
        'orphan_record = "warn"', 'orphan_record = "quarantine"'), encoding="utf-8")
    assert _version(policy) != _version()


def test_the_covered_files_are_named_inside_the_package():
    names = [name for name, _ in publish.list_code_version_files()]
    assert "sql/pooled/adsl.sql" in names and "tasks/analyse/statistics.py" in names
    assert not any(n.startswith(("tasks/render/", "flows/", "deployments/")) or n == "tasks/watch.py" for n in names)
