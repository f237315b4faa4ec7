"""The deployments as built by `repool serve` and as written in `deployments/prefect.yaml`, and the
refusal to serve on the ephemeral API: no server needed (the whole loop is in tests/e2e/test_serve_loop.py)."""
from __future__ import annotations

import sys

from tests.paths import REPO_ROOT as PROJECT_ROOT


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "repool.cli", *args]


# ------------------------------------------------------------------------------------------------
# No server needed
# ------------------------------------------------------------------------------------------------


def test_serve_refuses_on_the_ephemeral_api(tmp_path):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update({"PREFECT_HOME": str(tmp_path / "home"), "PYTHONPATH": str(PROJECT_ROOT)})
    done = subprocess.run(_cli("serve", "--data-dir", str(tmp_path)), cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "needs a running Prefect server" in done.stderr
    assert "repool server" in done.stderr and "export PREFECT_API_URL=http://127.0.0.1:4200/api" in done.stderr


def test_served_deployments_are_built_from_the_settings(tmp_path):
    from repool.deployments.serve import build_deployments
    from repool.settings import Settings

    settings = Settings(data_dir=tmp_path / "data")
    daily, poll = build_deployments(settings, cron="0 5 * * *", watch_interval=30)
    assert (daily.name, poll.name) == ("daily", "poll")
    assert daily.parameters == {"data_dir": str(settings.data_dir), "db": str(settings.db_path),
                                "results_dir": str(settings.results_dir)}
    assert [s.schedule.cron for s in daily.schedules] == ["0 5 * * *"]
    assert daily.concurrency_limit == 1 or daily.concurrency_options is not None
    [trigger] = daily.triggers
    assert trigger.expect == {"repool.delivery.arrived"}
    assert trigger.match.root == {"prefect.resource.id": "repool.delivery.*"}
    assert poll.parameters == {"data_dir": str(settings.data_dir)}
    assert [s.schedule.interval.total_seconds() for s in poll.schedules] == [30]
    assert daily.entrypoint == "repool.flows.repool_flow.repool" and poll.entrypoint == "repool.flows.watch_flow.watch_deliveries"


def test_prefect_yaml_is_valid_for_prefect(tmp_path):
    """Parsed by the models `prefect deploy` itself uses (prefect.cli.deploy), triggers included."""
    import yaml
    from prefect.cli.deploy._models import PrefectYamlModel
    from prefect.cli.deploy._triggers import _initialize_deployment_triggers

    raw = yaml.safe_load((PROJECT_ROOT / "deployments" / "prefect.yaml").read_text())
    model = PrefectYamlModel.model_validate(raw)
    deps = {d.name: d for d in model.deployments}
    assert set(deps) == {"daily", "poll"}
    daily, poll = deps["daily"], deps["poll"]
    for d in (daily, poll):
        path, func = d.entrypoint.split(":")
        assert (PROJECT_ROOT / path).is_file() and f"def {func}(" in (PROJECT_ROOT / path).read_text()
        assert d.work_pool.name == "repool-process"
    assert daily.schedules[0].cron == "0 6 * * *" and daily.concurrency_limit.limit == 1
    assert poll.schedules[0].interval.total_seconds() == 60
    [trigger] = _initialize_deployment_triggers(daily.name, daily.triggers)
    assert trigger.expect == {"repool.delivery.arrived"}
    assert trigger.match.root == {"prefect.resource.id": "repool.delivery.*"}
