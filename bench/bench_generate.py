"""Benchmark of `repool generate` scale mode: wall time and peak RSS.

    .venv/bin/python bench/bench_generate.py                    # 10 studies x 10,000 patients
    .venv/bin/python bench/bench_generate.py --studies 100      # the 100 x 10,000 target (< 4 GiB)

Prints figures; it asserts nothing (benchmarks are scripts, not timed tests).
"""
from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=10)
    p.add_argument("--patients-per-study", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, help="keep the output here (default: a temporary folder, removed)")
    args = p.parse_args()
    from repool.synth import write_scale_deliveries

    out = args.out or Path(tempfile.mkdtemp(prefix="repool-bench-"))
    t0 = time.perf_counter()
    folders = write_scale_deliveries(out, args.studies, args.patients_per_study, args.seed)
    wall = time.perf_counter() - t0
    size = sum(f.stat().st_size for d in folders for f in d.iterdir())
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = args.studies * args.patients_per_study
    print(f"studies={args.studies} patients/study={args.patients_per_study} patients={n}")
    print(f"wall={wall:.1f}s  per study={wall / args.studies:.2f}s  patients/s={n / wall:,.0f}")
    print(f"peak RSS={peak_mib:,.0f} MiB  written={size / 2**20:,.1f} MiB in {len(folders)} deliveries")
    if args.out is None:
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
