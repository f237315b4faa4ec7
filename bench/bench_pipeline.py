"""Benchmark of the pipeline steps on generated data: wall time per step, then an incremental re-run.

    .venv/bin/python bench/bench_pipeline.py                                  # the three default deliveries
    .venv/bin/python bench/bench_pipeline.py --studies 6 --patients-per-study 10000   # scale mode
    .venv/bin/python bench/bench_pipeline.py --gx                             # with the GX checkpoint

Runs the stage functions of `repool.tasks` in the flow's order as plain functions (`task.fn`, no Prefect),
prints seconds per step and peak RSS, then runs ingest + identify again (nothing changed: files are
skipped by the load log, the version exists). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

TIMES: list[tuple[str, float]] = []


@contextmanager
def timed(name: str):
    t0 = time.perf_counter()
    yield
    TIMES.append((name, time.perf_counter() - t0))
    print(f"  {name:<34} {TIMES[-1][1]:8.2f} s", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, help="scale mode: number of studies")
    p.add_argument("--patients-per-study", type=int, default=10_000, help="scale mode: patients per study")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gx", action="store_true", help="include the great-expectations checkpoint")
    p.add_argument("--out", type=Path, help="keep the data here (default: a temporary folder, removed)")
    args = p.parse_args()

    import pandas as pd

    from repool.schemas.ard import TABLE_IDS
    from repool.settings import Settings
    from repool.tasks.analyse import analyse_table, derive_km_curves
    from repool.tasks.harmonise import harmonise_pool, read_pooled
    from repool.tasks.ingest import discover, ingest_delivery
    from repool.tasks.publish import identify_version, publish_results
    from repool.tasks.runs import finish_run, start_run
    from repool.tasks.stage import stage_delivery
    from repool.tasks.validate.delivery import validate_delivery
    from repool.tasks.validate.pooled import validate_pool

    out = args.out or Path(tempfile.mkdtemp(prefix="repool-bench-pipeline-"))
    print(f"data: {out}")
    with timed("generate deliveries"):
        if args.studies:
            from repool.synth import write_scale_deliveries

            write_scale_deliveries(out, args.studies, args.patients_per_study, args.seed)
        else:
            from repool.synth import write_default_deliveries

            write_default_deliveries(out)
    settings = Settings(data_dir=out)
    t_total = time.perf_counter()
    with timed("start run (schemas)"):
        run_id = start_run.fn(settings, None)
    with timed("discover"):
        candidates = discover.fn(settings, run_id)
    accepted = []
    for study, paths in sorted(candidates.items()):
        with timed(f"ingest {study}"):
            r = ingest_delivery.fn(settings, run_id, None, paths[0])
        with timed(f"validate {study}"):
            r = validate_delivery.fn(settings, run_id, None, r)
        with timed(f"stage {study}"):
            r = stage_delivery.fn(settings, run_id, None, r)
        if not r.accepted:
            print(f"  !! {study} refused: {r.message}")
            return 1
        accepted.append(r)
    with timed("identify version"):
        identity = identify_version.fn(settings, accepted)
    with timed("harmonise (staging + pooled SQL)"):
        counts = harmonise_pool.fn(settings, accepted)
    with timed("read pooled frames"):
        frames = read_pooled.fn(settings)
    docs = out / "results" / f".gx-{run_id}" if args.gx else None
    with timed("validate pool" + (" + GX" if args.gx else "")):
        check = validate_pool.fn(settings, run_id, None, frames, accepted, str(docs) if docs else None)
    if check["contract_failures"]:
        print(f"  !! pooled contract broken: {check['contract_failures'][:3]}")
        return 1
    ards = []
    for table_id in TABLE_IDS:
        with timed(f"analyse {table_id}"):
            ards.append(analyse_table.fn(table_id, frames, settings.alpha))
    with timed("KM curves"):
        km = derive_km_curves.fn(frames, settings.alpha)
    with timed("publish (exports, report, commit)"):
        publish_results.fn(settings, run_id, None, identity, ards, km, accepted, str(docs) if docs else None)
    with timed("finish run"):
        finish_run.fn(settings, run_id, "published", identity["version"], "bench", accepted, [], "")
    first_pass = time.perf_counter() - t_total

    print("incremental re-run (nothing changed):")
    t_again = time.perf_counter()
    run2 = start_run.fn(settings, None)
    again = []
    for study, paths in sorted(discover.fn(settings, run2).items()):
        with timed(f"ingest again {study}"):
            r = ingest_delivery.fn(settings, run2, None, paths[0])
        again.append(stage_delivery.fn(settings, run2, None, validate_delivery.fn(settings, run2, None, r)))
    with timed("identify version again"):
        same = identify_version.fn(settings, again)
    finish_run.fn(settings, run2, "up-to-date", same["version"], "bench", again, [], "")
    second_pass = time.perf_counter() - t_again

    from repool.tasks.db import connect

    with connect(settings.db_path, read_only=True) as con:
        reloaded = con.execute("SELECT count(*) FROM audit.load_log WHERE run_id = ?", [run2]).fetchall()[0][0]
        n_ard = con.execute("SELECT count(*) FROM results.ard").fetchall()[0][0]
    n_pat = len(frames["adsl"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nstudies={len(accepted)} patients={n_pat:,} pooled rows={sum(counts.values()) if isinstance(counts, dict) else counts} "
          f"ARD rows={n_ard}")
    print(f"first pass {first_pass:.1f} s; re-run {second_pass:.1f} s (files re-loaded: {reloaded}, "
          f"same version: {same['exists'] and same['version'] == identity['version']}); peak RSS {peak:,.0f} MiB")
    slow = pd.DataFrame(TIMES, columns=["step", "seconds"]).sort_values("seconds", ascending=False).head(5)
    print("slowest steps:\n" + slow.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    if args.out is None:
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
