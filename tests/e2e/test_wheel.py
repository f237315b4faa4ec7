"""The wheel: one top-level name, all its package data, and outside the checkout it publishes the same
version id and a byte-identical ARD as the checkout's own `repool run` on the same deliveries."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from repool import OFFLINE_ENV
from tests.paths import DATA_DIR, REPO_ROOT
from tests.prefect_home import seeded_home

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(REPO_ROOT)],
                   check=True, cwd=out, capture_output=True, timeout=300)
    (path,) = out.glob("repool-*.whl")
    return path


def test_the_wheel_installs_one_top_level_name_with_its_package_data(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"repool", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for required in ("repool/sql/macros.sql", "repool/sql/pooled/adsl.sql", "repool/sql/staging/xpt-adam/adsl.sql",
                     "repool/schemas/policies.toml", "repool/data/reference/topp2021_published.json",
                     "repool/data/deliveries/MT103-211/2014-09-30/adsl.xpt",
                     "repool/tasks/validate/gx_offline/datadocs.css", "repool/deployments/prefect.yaml",
                     "repool/flows/repool_flow.py", "repool/tasks/analyse/statistics.py"):
        assert required in names, required
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)


def _venv_with_our_dependencies(path: Path) -> Path:
    """A fresh venv that sees this venv's installed dependencies (as a plain path, so the checkout's
    editable finder is not loaded) and nothing of the checkout."""
    venv.create(path, with_pip=False)
    py = path / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return py


def _run(cmd: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REPOOL_", "PYTHON"))}
    env |= {**OFFLINE_ENV, "PREFECT_HOME": str(seeded_home(home)), "PREFECT_LOGGING_LEVEL": "WARNING"}
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _version(stdout: str) -> str:
    return next(line.split(": ", 1)[1] for line in stdout.splitlines() if line.startswith("version: "))


def test_the_installed_wheel_publishes_what_the_checkout_publishes(wheel, tmp_path):
    py = _venv_with_our_dependencies(tmp_path / "venv")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    where = subprocess.run([str(py), "-c", "import repool.tasks, repool.sql; print(repool.tasks.__file__, repool.sql.__file__)"],
                           cwd=outside, check=True, capture_output=True, text=True).stdout
    assert str(REPO_ROOT) not in where and "site-packages" in where

    shutil.copytree(DATA_DIR / "deliveries", tmp_path / "installed" / "deliveries")
    shutil.copytree(DATA_DIR / "deliveries", tmp_path / "checkout" / "deliveries")
    installed = _run([str(py), "-m", "repool.cli", "run", "--data-dir", str(tmp_path / "installed")], outside,
                     tmp_path / "home-installed")
    checkout = _run([sys.executable, "-m", "repool.cli", "run", "--data-dir", str(tmp_path / "checkout")], REPO_ROOT,
                    tmp_path / "home-checkout")
    version = _version(installed.stdout)
    for done in (installed, checkout):  # the exit skips the teardown in which DuckDB's bindings complained
        assert "leaked" not in done.stderr, done.stderr[-2000:]
    assert version == _version(checkout.stdout)
    for name in ("ard.parquet", "ard.csv", "km.parquet"):
        assert (tmp_path / "installed" / "results" / version / name).read_bytes() == \
            (tmp_path / "checkout" / "results" / version / name).read_bytes(), name
