"""Handlers of the `repool` subcommands: run the flow, or read the ARD and audit tables read-only."""
from __future__ import annotations

import argparse
import os
import sys

from repool.settings import Settings


def settings_from(args: argparse.Namespace, **extra) -> Settings:
    """Environment first, then command-line paths."""
    s = Settings.from_env()
    return s.with_overrides(data_dir=getattr(args, "data_dir", None), db_path=getattr(args, "db", None),
                            results_dir=getattr(args, "results_dir", None), **extra)


def _parse_pins(pins: list[str]) -> dict[str, str]:
    out = {}
    for p in pins:
        study, sep, delivery = p.partition("=")
        if not sep or not study or not delivery:
            raise SystemExit(f"repool run: --pin expects STUDY=DELIVERY_ID, got {p!r}")
        out[study] = delivery
    return out


def run(args: argparse.Namespace) -> int:
    """Run the `repool` flow (Prefect's ephemeral API unless PREFECT_API_URL points at a server)."""
    settings = settings_from(args, alpha=args.alpha, conventions=args.conventions,
                             task_runner="dask" if args.dask_address else args.task_runner,
                             dask_address=args.dask_address, dask_workers=args.dask_workers)
    pins = _parse_pins(args.pin)
    print(f"repool: pooling deliveries under {settings.deliveries_dir}", file=sys.stderr)
    print(f"repool: database {settings.db_path}, results {settings.results_dir}", file=sys.stderr)
    if not os.environ.get("PREFECT_API_URL"):
        print("repool: using a private Prefect API for this run (set PREFECT_API_URL to use a server)", file=sys.stderr)
    from repool.tasks.db import DatabaseBusy, connect

    try:  # fail fast, before Prefect starts, when another process holds the database
        connect(settings.db_path).close()
    except DatabaseBusy as exc:
        print(f"repool: refused: {exc}", file=sys.stderr)
        return 3
    if os.environ.get("PREFECT_API_URL"):
        return _run_flow(settings, pins)
    from repool.ephemeral import ServerStartError, private_api

    def import_flow(url: str) -> None:  # while the API starts: Prefect reads its settings at import
        os.environ["PREFECT_API_URL"] = url
        import repool.flows.repool_flow  # noqa: F401

    try:
        with private_api(while_starting=import_flow):  # dies with this process, SIGKILL included
            try:
                return _run_flow(settings, pins)
            finally:
                _drain_prefect_workers()  # the logs and events of this run reach the API before it stops
    except ServerStartError as exc:
        print(f"repool: FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        os.environ.pop("PREFECT_API_URL", None)


def _drain_prefect_workers() -> None:
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception:  # nothing to drain, or already stopped
            pass


def _run_flow(settings: Settings, pins: dict[str, str]) -> int:
    from repool.flows.repool_flow import repool  # Prefect import costs seconds: only when running
    from repool.tasks.db import DatabaseBusy

    try:
        state = repool(data_dir=str(settings.data_dir), db=str(settings.db_path),
                       results_dir=str(settings.results_dir), pins=pins or None, alpha=settings.alpha,
                       conventions=settings.conventions, task_runner=settings.task_runner,
                       dask_address=settings.dask_address, dask_workers=settings.dask_workers,
                       return_state=True)
    except DatabaseBusy as exc:
        print(f"repool: refused: {exc}", file=sys.stderr)
        return 3
    data = _state_data(state)
    if state.is_failed() and "in use by another process" in (state.message or ""):
        print(f"repool: refused: {state.message}", file=sys.stderr)
        return 3
    if state.is_failed() or not data:
        print(f"repool: FAILED: {state.message or data.get('message', '')}", file=sys.stderr)
        return 1
    for line in data.get("refused", []):
        print(f"repool: refused delivery: {line}", file=sys.stderr)
    if data.get("quarantined"):
        print(f"repool: {data['quarantined']} subject(s) quarantined (see `repool audit --run {data['run_id']}`):",
              file=sys.stderr)
        for line in data.get("quarantine", [])[:20]:
            print(f"repool:   {line}", file=sys.stderr)
    if data.get("recorded"):
        print(f"repool: {len(data['recorded'])} warning(s) recorded (see `repool audit --run {data['run_id']}`)",
              file=sys.stderr)
    print(f"repool: {data['message']}", file=sys.stderr)
    print(f"version: {data['version']}")
    print(f"report: {data['report']}")
    return 0


def _state_data(state) -> dict:
    try:
        data = state.result(raise_on_failure=False)
    except Exception as exc:  # a crashed flow: the message says why
        return {"message": str(exc)}
    return data if isinstance(data, dict) else {"message": str(data)}


def _open_ro(settings: Settings):
    from repool.tasks.db import connect

    return connect(settings.db_path, read_only=True)


def _resolve_version(con, version: str | None) -> str:
    from repool.tasks.publish import latest_version, version_exists

    v = version or latest_version(con)
    if v is None:
        raise SystemExit("repool: no published version yet; run `repool run` first")
    if not version_exists(con, v):
        raise SystemExit(f"repool: no result version {v!r}; see `repool versions`")
    return v


def versions(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    with _open_ro(settings) as con:
        rows = con.execute(
            "SELECT v.result_version, strftime(v.created_at, '%Y-%m-%d %H:%M:%S') AS created, v.status, "
            "string_agg(DISTINCT l.study || '@' || l.delivery_id, ', ' ORDER BY l.study || '@' || l.delivery_id) AS deliveries, "
            "(SELECT count(*) FROM results.exclusions e WHERE e.result_version = v.result_version) AS excluded "
            "FROM results.versions v LEFT JOIN results.lineage l USING (result_version) "
            "GROUP BY ALL ORDER BY created, v.result_version").fetchall()
    if not rows:
        print("no published versions")
        return 0
    print(f"{'version':<15} {'created (UTC)':<20} {'status':<10} {'excluded':>8}  deliveries")
    for v, created, status, deliveries, excluded in rows:
        print(f"{v:<15} {created:<20} {status:<10} {excluded:>8}  {deliveries}")
    return 0


def _read_version_ard(args: argparse.Namespace):
    """(version, ARD, parameters) of the version asked for, or of the latest one."""
    from repool.tasks.publish import read_version_ard, read_version_parameters

    with _open_ro(settings_from(args)) as con:
        v = _resolve_version(con, args.version)
        return v, read_version_ard(con, v), read_version_parameters(con, v)


def show(args: argparse.Namespace) -> int:
    from repool.tasks.render.display import conventions_of, level_of, render_text

    v, ard, parameters = _read_version_ard(args)
    print(f"result version {v}\n")
    print(render_text(ard, args.table, level_of(parameters), conventions_of(parameters)))
    return 0


def trace(args: argparse.Namespace) -> int:
    """The subjects behind ARD rows of a version and, per subject, the delivered rows that made them
    count (read from the version's stored membership and sources; later runs do not change them)."""
    from repool.schemas.ard import COUNT_STATS
    from repool.tasks.publish import read_version_ard, read_version_sources, read_version_subjects
    from repool.tasks.render.trace import format_trace_text, members_of, select_rows

    with _open_ro(settings_from(args)) as con:
        v = _resolve_version(con, args.version)
        ard = read_version_ard(con, v)
        subjects, sources = read_version_subjects(con, v), read_version_sources(con, v)
    if subjects is None or sources is None:
        print(f"repool: result version {v} was published without its subjects (its pool was larger than "
              "REPOOL_DRILL_DOWN_MAX_SUBJECTS, or it predates `repool trace`)", file=sys.stderr)
        return 1
    rows = select_rows(ard, args.table, args.variable, args.group, args.level, args.stat)
    counts = [s for s in COUNT_STATS if s != "N"]  # the numerators; --stat N for the denominator
    if args.stat is None and rows["stat_name"].isin(counts).any():
        rows = rows[rows["stat_name"].isin(counts)]  # --stat for a median's or rate's population
    if rows.empty:
        print(f"repool: no ARD row of table {args.table} for variable {args.variable!r}"
              f"{f' and group {args.group!r}' if args.group else ''} in {v}", file=sys.stderr)
        return 1
    print(f"result version {v}")
    for row in rows.to_dict("records"):
        print()
        print(format_trace_text(row, members_of(subjects, row), sources))
    return 0


def reproduce(args: argparse.Namespace) -> int:
    from repool.tasks.render.reproduce import compare_with_publication, render_reproduction_text

    v, ard, _parameters = _read_version_ard(args)
    print(f"result version {v}: published figures (Topp et al. 2021) beside ours\n")
    print(render_reproduction_text(compare_with_publication(ard)))
    return 0


def audit(args: argparse.Namespace) -> int:
    from repool.tasks.render.audit_report import render_audit

    settings = settings_from(args)
    with _open_ro(settings) as con:
        print(render_audit(con, run=args.run, version=args.version, study=args.study, fmt=args.format), end="")
    return 0


def diff(args: argparse.Namespace) -> int:
    from repool.tasks.render.diff import render_diff

    settings = settings_from(args)
    with _open_ro(settings) as con:
        v1, v2 = _resolve_version(con, args.v1), _resolve_version(con, args.v2)
        print(render_diff(con, v1, v2), end="")
    return 0


def _serve_results(settings: Settings, port: int | None, default_port: int):
    """Start the read-only HTTP server of the results folder (tasks/render/results_http.py) and
    return (server, settings that link there); the default port falls back to a free one when taken."""
    from repool.tasks.render.results_http import serve_results

    try:
        results = serve_results(settings.results_dir, port if port is not None else default_port,
                                fallback=port is None)
    except OSError as exc:
        raise SystemExit(f"repool: refused: cannot serve the results folder on 127.0.0.1:{port} ({exc.strerror})")
    print(f"repool: results folder {settings.results_dir} served read-only at {results.url} "
          "(the run artifacts link the report there)", file=sys.stderr)
    return results, settings.with_overrides(results_url=results.url)


def serve(args: argparse.Namespace) -> int:
    """Serve the deployments, and the results folder over HTTP: the flow runs this runner starts
    inherit REPOOL_RESULTS_URL, so their artifacts link the report."""
    from repool.deployments.serve import serve_repool
    from repool.tasks.render.results_http import RESULTS_URL_ENV, SERVE_RESULTS_PORT

    results, settings = _serve_results(settings_from(args), args.results_port, SERVE_RESULTS_PORT)
    previous = os.environ.get(RESULTS_URL_ENV)
    os.environ[RESULTS_URL_ENV] = results.url
    try:
        return serve_repool(settings, cron=args.cron, watch_interval=args.watch_interval)
    finally:
        results.stop()
        if previous is None:  # the URL of a stopped server must not outlive it in this process
            os.environ.pop(RESULTS_URL_ENV, None)
        else:
            os.environ[RESULTS_URL_ENV] = previous


def server(args: argparse.Namespace) -> int:
    """A Prefect server with its UI, and the results folder over HTTP for the runs that publish there."""
    from repool.deployments.serve import start_server
    from repool.tasks.render.results_http import RESULTS_URL_ENV, SERVER_RESULTS_PORT

    results, _settings = _serve_results(settings_from(args), args.results_port, SERVER_RESULTS_PORT)
    print(f"repool: in the shells that run repool, for their artifacts to link the report:  "
          f"export {RESULTS_URL_ENV}={results.url}", file=sys.stderr)
    try:
        return start_server(port=args.port)
    finally:
        results.stop()
