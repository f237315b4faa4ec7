"""The Prefect UI in a real browser: run the repool flow against a Prefect server, open its flow run
page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright), in both bundled UIs
(v1 at /, v2 at /v2/), and find the task runs per study and per table and the run's artifacts
(Task Runs and Artifacts tabs; the run graph is a canvas, so it is only in the pictures). Screenshots go to the test's tmp dir (the paths are
printed; run with `-s` to see them).

Skips with a message when Chromium or Playwright is missing (`make test` installs Chromium first
when it can: tests/browser_setup.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repool.schemas.ard import TABLE_IDS

pytest_plugins = ["tests.prefect_server"]
pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STUDIES = {"MT103-206": "2013-06-30", "MT103-211": "2014-06-30", "00103311": "2016-01-04"}
TABLES = list(TABLE_IDS)
ARTIFACTS = ["repool-run-summary"] + [f"repool-{t}" for t in TABLES]
# start-run, discover, fall-back, identify-version, harmonise, read-pooled, validate-pooled, km-curves, publish,
# finish-run; ingest, validate and stage per study; analyse per table
N_TASK_RUNS = 10 + 3 * len(STUDIES) + len(TABLES)


def _browser_or_skip(p):
    try:
        return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    except Exception as exc:  # a Chromium that cannot start here is an environment problem, not ours
        pytest.skip(f"{CHROMIUM} does not start headless: {str(exc).splitlines()[0]}")


def _open_tab(page, name: str) -> None:
    """The flow run page's tabs (Logs, Task Runs, Artifacts ...): ARIA tabs in UI v2, plain buttons in v1."""
    tab = page.get_by_role("tab", name=name)
    (tab if tab.count() else page.get_by_text(name, exact=True)).first.click()


@pytest.fixture(scope="module")
def flow_run(prefect_server, tmp_path_factory):
    """One repool run against the server (in a subprocess: PREFECT_API_URL is read at import time)."""
    from tests.fixtures_deliveries import write_all

    root = write_all(tmp_path_factory.mktemp("ui-run") / "data")
    done = prefect_server.run([sys.executable, "-m", "repool.cli", "run", "--data-dir", str(root)])
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [r for r in prefect_server.flow_runs(flow_runs={"state": {"type": {"any_": ["COMPLETED"]}}})
            if r["parameters"].get("data_dir") == str(root)]
    assert len(runs) == 1, runs
    return runs[0]


@pytest.mark.parametrize("ui", ["v1", "v2"])
def test_flow_run_page_shows_task_runs_and_artifacts(prefect_server, flow_run, tmp_path, ui):
    """Both bundled UIs: v1 at / (what `/` serves) and v2 at /v2/ (Prefect's `default_ui`)."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not installed (Debian: apt-get install -y --no-install-recommends chromium; "
                    "`make test` does it when run as root)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.skip("playwright (python) is not installed: pip install -e '.[dev]'")

    base = prefect_server.url + ("/v2" if ui == "v2" else "")
    url = f"{base}/runs/flow-run/{flow_run['id']}"
    shots = []
    with sync_playwright() as p:
        browser = _browser_or_skip(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1700})
            page.goto(url, wait_until="networkidle")
            # the header: run name, state and the task-run count
            expect(page.get_by_text(flow_run["name"], exact=True).first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("Completed", exact=True).first).to_be_visible()
            expect(page.get_by_text(f"{N_TASK_RUNS} Task runs", exact=True).first).to_be_visible()
            page.wait_for_timeout(1500)  # let the run graph (a canvas) settle for the picture
            shots.append(tmp_path / f"ui-flow-run-{ui}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)

            _open_tab(page, "Task Runs")
            steps = ("ingest", "validate", "stage") if ui == "v1" else ("stage",)  # v2 pages its list at 20 rows,
            names = ([f"{step}[{s}@{d}]" for step in steps for s, d in STUDIES.items()]  # newest first
                     + [f"analyse[{t}]" for t in TABLES])
            for name in names:
                expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=30_000)
            shots.append(tmp_path / f"ui-task-runs-{ui}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)

            _open_tab(page, "Artifacts")
            for key in ARTIFACTS:
                expect(page.get_by_text(key, exact=True).first).to_be_visible(timeout=30_000)
            expect(page.get_by_text("What this run pooled and why").first).to_be_visible()
            shots.append(tmp_path / f"ui-artifacts-{ui}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)
        finally:
            browser.close()
    for shot in shots:
        assert shot.stat().st_size > 10_000, shot
        print(f"screenshot: {shot}")
