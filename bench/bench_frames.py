"""Benchmark of the pooled frames the analyses read: their memory, the read, each table, peak RSS.

    .venv/bin/python bench/bench_frames.py PATH/repool.duckdb            # the frames as the flow reads them
    .venv/bin/python bench/bench_frames.py PATH/repool.duckdb --object   # the object-dtype frames (before)
    .venv/bin/python bench/bench_frames.py DB --save DIR                 # also write each ARD to DIR/<table>.parquet

The database is opened read-only. Every table of tasks/analyse (TABLES) and the KM curves run in
turn, one thread, on `read_pooled_frames(con, POOLED_COLUMNS)`; `--save` writes their results so
that two runs (e.g. before and after a change of the frames) can be compared byte for byte
(`--compare DIR` does that against a folder written by `--save`). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import inspect
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("db", type=Path)
    p.add_argument("--object", action="store_true", help="read object-dtype string columns (the frames before)")
    p.add_argument("--save", type=Path, help="write each table's ARD (and the KM curves) as Parquet here")
    p.add_argument("--compare", type=Path, help="compare each result with the Parquet of a --save folder")
    p.add_argument("--tables", nargs="*", help="only these tables (default: all, then the KM curves)")
    p.add_argument("--with-subjects", action="store_true", help="tables with their membership (drill-down) too")
    args = p.parse_args()

    import duckdb
    import pandas as pd

    from repool.tasks.analyse import POOLED_COLUMNS, TABLES
    from repool.tasks.analyse.table2_survival import compute_km_curves
    from repool.tasks.harmonise import read_pooled_frames

    print(f"imports: peak RSS {_rss_mib():,.0f} MiB")
    kwargs = {}
    if "lean" in inspect.signature(read_pooled_frames).parameters:
        kwargs["lean"] = not args.object
    elif args.object is False:
        print("(this code has no lean frames: object-dtype frames)")
    con = duckdb.connect(str(args.db), read_only=True)
    t0 = time.perf_counter()
    frames = read_pooled_frames(con, POOLED_COLUMNS, **kwargs)
    read_s = time.perf_counter() - t0
    con.close()
    total = 0
    for name, df in frames.items():
        mem = df.memory_usage(deep=True)
        total += int(mem.sum())
        dtypes = ", ".join(f"{c}:{df[c].dtype}" for c in df.columns)
        print(f"{name}: {len(df):,} rows, {mem.sum() / 2**20:,.1f} MiB  [{dtypes}]")
    # memory_usage(deep=True) counts a Categorical's categories in every frame; they are shared
    shared, seen = 0, set()
    for df in frames.values():
        for c in df.columns:
            if isinstance(df[c].dtype, pd.CategoricalDtype):
                shared += df[c].cat.codes.nbytes
                if id(df[c].dtype.categories) not in seen:
                    seen.add(id(df[c].dtype.categories))
                    shared += int(df[c].dtype.categories.memory_usage(deep=True))
            else:
                shared += int(df[c].memory_usage(deep=True, index=False))
    print(f"frames: {total / 2**20:,.1f} MiB ({shared / 2**20:,.1f} MiB with shared categories counted once), "
          f"read {read_s:.2f} s; peak RSS after the read {_rss_mib():,.0f} MiB")

    parameters = {"alpha": 0.05, "conventions": "sas"}
    jobs = {t: (lambda fn=fn, inputs=inputs, takes=takes: fn(
                *(frames[i] for i in inputs), **{k: parameters[k] for k in takes}, with_subjects=args.with_subjects))
            for t, (fn, inputs, takes) in TABLES.items()}
    jobs["km"] = lambda: compute_km_curves(frames["adsl"], frames["adtte"], alpha=0.05)
    if args.tables:
        jobs = {t: jobs[t] for t in args.tables}
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    differ = []
    for t, job in jobs.items():
        t0 = time.perf_counter()
        out = job()
        secs = time.perf_counter() - t0
        results = {t: out} if isinstance(out, pd.DataFrame) else {t: out[0], f"{t}.subjects": out[1]}
        same = ""
        for name, result in results.items():
            if args.save:
                result.to_parquet(args.save / f"{name}.parquet", index=False)
            if args.compare:
                ref = pd.read_parquet(args.compare / f"{name}.parquet")
                mine = args.compare / f".{name}.check.parquet"
                result.to_parquet(mine, index=False)
                ok = mine.read_bytes() == (args.compare / f"{name}.parquet").read_bytes()
                mine.unlink()
                try:
                    pd.testing.assert_frame_equal(result.reset_index(drop=True), ref, check_exact=True)
                except AssertionError:
                    ok = False
                same += f"  {name} identical" if ok else f"  {name} DIFFERS"
                if not ok:
                    differ.append(name)
        print(f"{t}: {secs:.2f} s, {len(results[t])} rows; "
              f"peak RSS {_rss_mib():,.0f} MiB{same}")
    print(f"peak RSS {_rss_mib():,.0f} MiB")
    if args.compare:
        print("compare: " + ("every result identical" if not differ else f"DIFFER: {differ}"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
