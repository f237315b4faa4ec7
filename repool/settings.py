"""The one settings object: paths, policies and thresholds, overridable from the environment.

Nothing deep inside the pipeline reads the environment or a global: a `Settings` is built once
(by the CLI or a test) and passed in.

Environment overrides:
    REPOOL_DATA_DIR      data root holding `deliveries/<STUDY>/<DELIVERY_ID>/`  (default: the bundled data)
    REPOOL_DB            DuckDB file                                           (default: <work dir>/repool.duckdb)
    REPOOL_RESULTS_DIR   folder of published versions                          (default: <work dir>/results)
    REPOOL_CACHE_DIR     per-delivery cache (tasks/cache.py)                   (default: beside the database, cache/)
    REPOOL_POLICY_FILE   validation policy file (TOML)                         (default: the packaged policies.toml)
    REPOOL_STUDIES       study registry (TOML)        (default: <data dir>/studies.toml, else the bundled one)
    REPOOL_ALPHA         1 - confidence level of every interval                (default: 0.05)
    REPOOL_CONVENTIONS   convention profile of the statistics, `sas` or `r`   (default: sas)
    REPOOL_DRILL_DOWN_MAX_SUBJECTS  largest pool whose versions store the subjects behind every number
                         (`repool trace`, the report's listings)                (default: 50000)
    REPOOL_TASK_RUNNER   where the per-delivery units run: `thread` or `dask`  (default: thread)
    REPOOL_DASK_ADDRESS  an existing Dask scheduler, tcp://HOST:PORT           (default: a local cluster)
    REPOOL_RESULTS_URL   where HTTP serves the results folder (set by `repool serve` / `repool server`;
                         default: none, the run's artifacts say where the report file is)

The work dir is the data root, except for the bundled data of an installed wheel (inside
site-packages, never written): then `$XDG_DATA_HOME/repool` (default `~/.local/share/repool`).
In a checkout the bundled data root is `data/`, so `make run` writes `data/repool.duckdb`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from repool.resources import bundled_data_dir, default_policy_file, is_checkout, sql_dir

# Time origin and unit conversion shared by every study (sources.md).
DAYS_PER_MONTH = 30.4375
# Convention profiles (results.md "Conventions"; tasks/analyse/statistics.py `CONVENTIONS`).
CONVENTIONS = ("sas", "r")
TASK_RUNNERS = ("thread", "process", "dask")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=bundled_data_dir)
    db_path: Path | None = None
    results_dir: Path | None = None
    # The per-delivery cache (tasks/cache.py); None: `cache/` beside the database.
    cache_dir: Path | None = None
    policy_file: Path = field(default_factory=default_policy_file)
    # The study registry; None: <data dir>/studies.toml when it exists, else the bundled one.
    registry_file: Path | None = None
    # Pin a delivery per study ({"MT103-211": "2019-06-30"}); otherwise the newest valid one.
    pinned: dict[str, str] = field(default_factory=dict)
    # A subject-level file this much smaller than the study's previous accepted one is recorded.
    subject_drop_threshold: float = 0.25
    # Base URL of the read-only HTTP server of results_dir (tasks/render/results_http.py): the run's
    # artifacts link the report there; None: they say where the file is. Not a parameter of the numbers.
    results_url: str | None = None
    # Analysis parameters that enter the version id.
    teae_window_days: int = 30
    days_per_month: float = DAYS_PER_MONTH
    alpha: float = 0.05
    conventions: str = "sas"
    # Where the per-delivery units run (flows/runners.py); never part of the version id: every runner
    # gives the same bytes.
    task_runner: str = "thread"
    # A version stores the subjects behind every ARD row (issue 11's drill-down) up to this many pooled
    # subjects: ~180 membership rows per subject, so a million-patient pool would store ~180M rows.
    drill_down_max_subjects: int = 50_000
    dask_address: str | None = None
    dask_workers: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not 0 < float(self.alpha) < 1:
            raise ValueError(f"alpha must lie strictly between 0 and 1, got {self.alpha!r}")
        if self.task_runner not in TASK_RUNNERS:
            raise ValueError(f"task_runner must be one of {list(TASK_RUNNERS)}, got {self.task_runner!r}")
        if self.conventions not in CONVENTIONS:
            raise ValueError(f"conventions must be one of {list(CONVENTIONS)}, got {self.conventions!r}")
        if self.db_path is None:
            object.__setattr__(self, "db_path", self.work_dir / "repool.duckdb")
        if self.results_dir is None:
            object.__setattr__(self, "results_dir", self.work_dir / "results")
        object.__setattr__(self, "db_path", Path(self.db_path))
        if self.cache_dir is None:
            object.__setattr__(self, "cache_dir", self.db_path.parent / "cache")
        object.__setattr__(self, "cache_dir", Path(self.cache_dir))
        object.__setattr__(self, "results_dir", Path(self.results_dir))
        object.__setattr__(self, "policy_file", Path(self.policy_file))

    @property
    def deliveries_dir(self) -> Path:
        return self.data_dir / "deliveries"

    @property
    def work_dir(self) -> Path:
        """Where the database and results go by default (see the module docstring)."""
        if self.data_dir == bundled_data_dir() and not is_checkout(self.data_dir):
            return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "repool"
        return self.data_dir

    @property
    def studies_file(self) -> Path:
        """The study registry in force (see `registry_file`)."""
        if self.registry_file is not None:
            return Path(self.registry_file)
        beside = self.data_dir / "studies.toml"
        return beside if beside.is_file() else bundled_data_dir() / "studies.toml"

    @property
    def sql_dir(self) -> Path:
        return sql_dir()

    @property
    def confidence_level(self) -> float:
        """1 - alpha: the level of every interval the analyses compute (KM median, HR, OR, proportions)."""
        return round(1.0 - float(self.alpha), 10)

    def analysis_parameters(self) -> dict:
        """The parameters that change results; they enter the version id."""
        return {
            "teae_window_days": self.teae_window_days,
            "days_per_month": self.days_per_month,
            "alpha": self.alpha,
            "conventions": self.conventions,
            "pinned": dict(sorted(self.pinned.items())),
        }

    def unit_parameters(self) -> dict:
        """The numbers the per-delivery models use; they enter each delivery's cache key."""
        return {"teae_window_days": self.teae_window_days, "days_per_month": self.days_per_month}

    def with_overrides(self, **kw) -> "Settings":
        kw = {k: v for k, v in kw.items() if v is not None}
        if "data_dir" in kw:
            # paths derived from the data dir follow it unless given too
            kw.setdefault("db_path", Path(kw["data_dir"]) / "repool.duckdb" if self.db_path == self.work_dir / "repool.duckdb" else self.db_path)
            kw.setdefault("results_dir", Path(kw["data_dir"]) / "results" if self.results_dir == self.work_dir / "results" else self.results_dir)
        if "db_path" in kw and "cache_dir" not in kw and self.cache_dir == self.db_path.parent / "cache":
            kw["cache_dir"] = Path(kw["db_path"]).parent / "cache"  # the cache follows the database
        return replace(self, **kw)

    @classmethod
    def from_env(cls, env: dict | None = None) -> "Settings":
        env = os.environ if env is None else env
        kw: dict = {}
        if env.get("REPOOL_DATA_DIR"):
            kw["data_dir"] = Path(env["REPOOL_DATA_DIR"])
        if env.get("REPOOL_DB"):
            kw["db_path"] = Path(env["REPOOL_DB"])
        if env.get("REPOOL_RESULTS_DIR"):
            kw["results_dir"] = Path(env["REPOOL_RESULTS_DIR"])
        if env.get("REPOOL_CACHE_DIR"):
            kw["cache_dir"] = Path(env["REPOOL_CACHE_DIR"])
        if env.get("REPOOL_POLICY_FILE"):
            kw["policy_file"] = Path(env["REPOOL_POLICY_FILE"])
        if env.get("REPOOL_STUDIES"):
            kw["registry_file"] = Path(env["REPOOL_STUDIES"])
        if env.get("REPOOL_ALPHA"):
            kw["alpha"] = float(env["REPOOL_ALPHA"])
        if env.get("REPOOL_CONVENTIONS"):
            kw["conventions"] = env["REPOOL_CONVENTIONS"].strip().lower()
        if env.get("REPOOL_RESULTS_URL"):
            kw["results_url"] = env["REPOOL_RESULTS_URL"].strip()
        if env.get("REPOOL_DRILL_DOWN_MAX_SUBJECTS"):
            kw["drill_down_max_subjects"] = int(env["REPOOL_DRILL_DOWN_MAX_SUBJECTS"])
        if env.get("REPOOL_TASK_RUNNER"):
            kw["task_runner"] = env["REPOOL_TASK_RUNNER"].strip().lower()
        if env.get("REPOOL_DASK_ADDRESS"):
            kw["dask_address"] = env["REPOOL_DASK_ADDRESS"].strip()
        return cls(**kw)
