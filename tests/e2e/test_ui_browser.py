"""The Prefect UI in a real browser: run the repool flow against a Prefect server, open its flow run
page in headless Chromium (Debian's /usr/bin/chromium driven by Playwright), in both bundled UIs
(v1 at /, v2 at /v2/), and find the task runs per study and per table and the run's artifacts
(Task Runs and Artifacts tabs; the run graph is a canvas, so it is only in the pictures). From the
Artifacts tab, the report artifact's link opens the version's report.html (Table 1 on screen),
served read-only over HTTP as `repool serve` / `repool server` serve the results folder (the run gets
its URL as REPOOL_RESULTS_URL). A run without that server gets a note saying where the file is.
Screenshots go to the test's tmp dir (the paths are printed; run with `-s` to see them).

Skips with a message when Chromium or Playwright is missing (`make test` installs Chromium first
when it can: tests/browser_setup.py).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from repool.schemas.ard import TABLE_IDS

pytest_plugins = ["tests.prefect_server"]
from tests.prefect_server import PROJECT_ROOT  # noqa: E402
pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STUDIES = {"MT103-206": "2013-06-30", "MT103-211": "2014-06-30", "00103311": "2016-01-04"}
TABLES = list(TABLE_IDS)
ARTIFACTS = ["repool-run-summary", "repool-report", "repool-data-docs"] + [f"repool-{t}" for t in TABLES]
TABLE1_TITLE = "Table 1. Baseline characteristics"
# start-run, discover, fall-back, identify-version, harmonise, validate-pooled, read-pooled, km-curves, publish,
# finish-run; ingest, validate and stage per study; analyse per table (at least: the header shows the API's count)
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


def _most_rows_per_page(page) -> None:
    """UI v2's "Items per page" select: pick its largest choice."""
    page.get_by_role("combobox", name="Items per page").first.click()
    options = page.get_by_role("option")
    sizes = {int(t): i for i, t in enumerate(options.all_inner_texts()) if t.strip().isdigit()}
    assert sizes, options.all_inner_texts()
    options.nth(sizes[max(sizes)]).click()
    page.wait_for_timeout(1000)


def _run_repool(prefect_server, root: Path, **env: str) -> dict:
    """One `repool run` against the server (a subprocess: PREFECT_API_URL is read at import time)."""
    done = subprocess.run([sys.executable, "-m", "repool.cli", "run", "--data-dir", str(root)], cwd=PROJECT_ROOT,
                          env={**prefect_server.env, **env}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    runs = [r for r in prefect_server.flow_runs(flow_runs={"state": {"type": {"any_": ["COMPLETED"]}}})
            if r["parameters"].get("data_dir") == str(root)]
    assert len(runs) == 1, runs
    return runs[0]


def _task_run_count(prefect_server, flow_run: dict) -> int:
    """The run's task runs as the API counts them: at least the N_TASK_RUNS the flow always has."""
    with prefect_server.client() as c:
        r = c.post("/task_runs/count", json={"flow_runs": {"id": {"any_": [flow_run["id"]]}}})
        r.raise_for_status()
    assert r.json() >= N_TASK_RUNS, r.json()
    return r.json()


def _artifacts(prefect_server, flow_run: dict) -> dict[str, dict]:
    with prefect_server.client() as c:
        r = c.post("/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [flow_run["id"]]}}})
        r.raise_for_status()
        return {a["key"]: a for a in r.json()}


@pytest.fixture(scope="module")
def results_server(tmp_path_factory):
    """The results folder of the run below, served as `repool serve` / `repool server` serve it."""
    from repool.tasks.render.results_http import serve_results

    root = tmp_path_factory.mktemp("ui-run") / "data"
    srv = serve_results(root / "results")
    yield root, srv
    srv.stop()


@pytest.fixture(scope="module")
def flow_run(prefect_server, results_server):
    """One repool run against the server whose artifacts link the served results folder."""
    from repool.tasks.render.results_http import RESULTS_URL_ENV
    from tests.fixtures_deliveries import write_all

    root, srv = results_server
    write_all(root)
    return _run_repool(prefect_server, root, **{RESULTS_URL_ENV: srv.url})


def _open_report(page, results_url: str):
    """On the report artifact's page: click the link to the report; return the page showing it
    (a new tab when the UI opens links in one)."""
    from playwright.sync_api import expect

    link = page.get_by_role("link", name=re.compile(r"^Report of result version v[0-9a-f]{12}$")).first
    expect(link).to_be_visible(timeout=30_000)
    href = link.get_attribute("href") or ""
    assert href.startswith(results_url) and href.endswith("/report.html"), href
    if (link.get_attribute("target") or "") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        report = opened.value
    else:
        link.click()
        report = page
    report.wait_for_load_state("load")
    return report


@pytest.mark.parametrize("ui", ["v1", "v2"])
def test_flow_run_page_shows_task_runs_and_artifacts(prefect_server, results_server, flow_run, tmp_path, ui):
    """Both bundled UIs: v1 at / (what `/` serves) and v2 at /v2/ (Prefect's `default_ui`); from the
    Artifacts tab, the report artifact, then its link: the report, Table 1 on screen."""
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
            expect(page.get_by_text(f"{_task_run_count(prefect_server, flow_run)} Task runs", exact=True).first).to_be_visible()
            page.wait_for_timeout(1500)  # let the run graph (a canvas) settle for the picture
            shots.append(tmp_path / f"ui-flow-run-{ui}.png")
            page.screenshot(path=str(shots[-1]), full_page=True)

            _open_tab(page, "Task Runs")
            if ui == "v2":  # v2 pages its list (20 rows, newest first): show the most rows a page takes
                _most_rows_per_page(page)
            steps = ("ingest", "validate", "stage")
            names = ([f"{step}[{s}@{d}]" for step in steps for s, d in STUDIES.items()]
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

            page.get_by_text("repool-report", exact=True).first.click()  # the artifact's card: its key's page
            if ui == "v2":  # v2 lists the key's artifacts there; this run's one shows its content
                report_id = _artifacts(prefect_server, flow_run)["repool-report"]["id"]
                page.locator(f"a[href$='/artifacts/artifact/{report_id}']").first.click()
            report = _open_report(page, results_server[1].url)
            expect(report.get_by_text(TABLE1_TITLE, exact=True).first).to_be_visible(timeout=30_000)
            assert report.url.startswith(results_server[1].url)
            assert report.title().startswith("Blinatumomab as first vs second or later salvage")
            shots.append(tmp_path / f"ui-report-{ui}.png")
            report.screenshot(path=str(shots[-1]), full_page=False)
        finally:
            browser.close()
    for shot in shots:
        assert shot.stat().st_size > 10_000, shot
        print(f"screenshot: {shot}")


def test_artifacts_link_the_served_report_or_say_where_it_is(prefect_server, results_server, flow_run, tmp_path):
    """With the results folder served, the report artifact is exactly a link to the served report (and
    the link works); a run without that server (as a plain `repool run` on its private API) gets a
    note with the file's path and how to open it. Neither holds anything but the path or URL."""
    import urllib.request

    from repool.tasks.render.results_http import artifact_for
    from tests.fixtures_deliveries import write_all

    root, srv = results_server
    version = next(p.name for p in (root / "results").iterdir() if p.name.startswith("v"))
    arts = _artifacts(prefect_server, flow_run)
    url = f"{srv.url}{version}/report.html"
    assert arts["repool-report"]["data"] == f"[Report of result version {version}]({url})"
    assert arts["repool-data-docs"]["data"] == (f"[great-expectations Data Docs of {version} (offline)]"
                                               f"({srv.url}{version}/data_docs/index.html)")
    with urllib.request.urlopen(url, timeout=10) as r:  # noqa: S310  (127.0.0.1)
        assert TABLE1_TITLE in r.read().decode("utf-8")

    plain_root = write_all(tmp_path / "plain" / "data")
    plain = _artifacts(prefect_server, _run_repool(prefect_server, plain_root))  # no REPOOL_RESULTS_URL
    results = plain_root / "results"
    folder = next(p for p in results.iterdir() if p.name.startswith("v"))
    note = plain["repool-report"]
    assert note["type"] == "markdown"
    assert note["data"] == artifact_for(None, results, folder / "report.html",
                                        f"Report of result version {folder.name}")[1]
    assert str((folder / "report.html").resolve()) in note["data"] and "python -m http.server" in note["data"]
