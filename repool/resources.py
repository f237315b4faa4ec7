"""Where the package's own files are: SQL models, policies, reference figures, bundled deliveries.

Everything is found through the installed package (importlib.resources), never through a path
relative to a checkout, so an installed wheel and an editable checkout read the same files.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_dir(package: str) -> Path:
    """The folder of a `repool` subpackage on disk (`repool.sql` -> .../sql)."""
    path = files(package)
    if not isinstance(path, Path):  # a zip import has no folders to hand to DuckDB
        raise RuntimeError(f"{package} is not installed as files on disk: {path!r}")
    return path


def sql_dir() -> Path:
    return package_dir("repool.sql")


def bundled_data_dir() -> Path:
    """The synthetic deliveries and reference figures shipped with the package."""
    return package_dir("repool.data")


def default_policy_file() -> Path:
    return package_dir("repool.schemas") / "policies.toml"


def reference_file(name: str = "topp2021_published.json") -> Path:
    return bundled_data_dir() / "reference" / name


def is_checkout(data_dir: Path) -> bool:
    """True when the bundled data folder lies in a source checkout (beside pyproject.toml)."""
    return (Path(data_dir).parent / "pyproject.toml").is_file()
