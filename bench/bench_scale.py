"""Benchmark of `repool run` at scale: cold run, unchanged re-run, one study re-delivered, peak memory,
against the DuckDB floor and the figures before issue 10 (bench/baseline.json). Prints; asserts nothing.

    .venv/bin/python bench/bench_scale.py --studies 100 --patients-per-study 10000     # 1M patients
    .venv/bin/python bench/bench_scale.py --studies 1000 --patients-per-study 10000    # 10M patients

The deliveries are generated once (`repool generate` scale mode) into --root (default
~/.cache/repool-bench/<K>x<M>, outside the repository) and kept for the next benchmark; every run
starts from an empty database, cache and results folder under <root>/work (removed afterwards).
Each `repool run` is a child process (with its private Prefect API, as a user runs it; with
--prefect-server against a `prefect server` started for the benchmark); peak memory
is the largest resident set of any process of the run (/usr/bin/time -v, else getrusage).

The floor is what reading the raw files costs at all: one DuckDB scan of every CSV and Parquet
file (count(*)), plus pyreadstat for the SAS transport files, which DuckDB cannot read.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = {  # issue 10, part 4 (seconds, GiB); per-patient ratio 10M / 1M <= 1.5
    1_000_000: {"cold_s": 150, "peak_gib": 2.0, "unchanged_s": 10, "redelivered_s": 20},
    10_000_000: {"peak_gib": 4.0},
}


def repool_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("repool")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "repool.cli"]


def timed_run(cmd: list[str], log: Path, env: dict) -> dict:
    """Wall seconds, peak RSS (GiB) and the last lines of one child command."""
    gnu_time = shutil.which("time") if Path("/usr/bin/time").exists() else None
    full = (["/usr/bin/time", "-v"] + cmd) if gnu_time else cmd
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.run(full, stdout=fh, stderr=subprocess.STDOUT, env=env)
    wall = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    peak_kib = int(m.group(1)) if m else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    version = re.findall(r"^version: (\S+)", text, re.M)
    return {"wall_s": round(wall, 1), "peak_gib": round(peak_kib / 2**20, 2), "rc": proc.returncode,
            "version": version[-1] if version else None, "up_to_date": "up to date" in text}


def floor_scan(deliveries: Path) -> float:
    """Seconds to read every raw file once: DuckDB for CSV and Parquet, pyreadstat for XPT."""
    import duckdb
    import pyreadstat

    csv = sorted(str(p) for p in deliveries.rglob("*.csv"))
    parquet = sorted(str(p) for p in deliveries.rglob("*.parquet"))
    xpt = sorted(str(p) for p in deliveries.rglob("*.xpt"))
    con = duckdb.connect()
    t0 = time.perf_counter()
    for f in csv:  # one file at a time: the files have different columns
        con.execute("SELECT count(*) FROM read_csv(?, delim=';', header=true, all_varchar=true, "
                    "encoding='latin-1')", [f]).fetchall()
    for f in parquet:
        con.execute("SELECT count(*) FROM read_parquet(?)", [f]).fetchall()
    for f in xpt:
        pyreadstat.read_xport(f)
    return round(time.perf_counter() - t0, 1)


def redeliver_one(deliveries: Path) -> Path:
    """A later delivery of the first study: its newest delivery's files under the next day's cut."""
    study = sorted(p for p in deliveries.iterdir() if p.is_dir())[0]
    newest = sorted(p for p in study.iterdir() if p.is_dir())[-1]
    cut = (date.fromisoformat(newest.name) + timedelta(days=1)).isoformat()
    target = study / cut
    shutil.copytree(newest, target)
    manifest = json.loads((target / "manifest.json").read_text())
    manifest["delivery_id"] = cut
    manifest["data_cut"] = cut
    (target / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return target


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--studies", type=int, default=100)
    p.add_argument("--patients-per-study", type=int, default=10_000)
    p.add_argument("--root", type=Path, help="where the generated deliveries are kept")
    p.add_argument("--task-runner", choices=["thread", "process", "dask"], default="thread")
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument("--json", type=Path, help="write the figures here too")
    p.add_argument("--prefect-server", action="store_true",
                   help="run against a `prefect server` started for the benchmark (as a team runs it, with the UI) "
                        "instead of each run's private Prefect API")
    args = p.parse_args()
    patients = args.studies * args.patients_per_study
    root = args.root or Path.home() / ".cache" / "repool-bench" / f"{args.studies}x{args.patients_per_study}"
    deliveries = root / "deliveries"
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false",
           "REPOOL_TASK_RUNNER": args.task_runner}
    env.pop("PREFECT_API_URL", None)
    figures: dict = {"patients": patients, "studies": args.studies, "task_runner": args.task_runner,
                     "prefect_api": "server" if args.prefect_server else "private"}
    if not (root / "studies.toml").is_file():
        print(f"generating {patients:,} patients in {args.studies} studies into {root} (once) …", flush=True)
        t0 = time.perf_counter()
        subprocess.run(repool_cmd() + ["generate", "--out", str(root), "--studies", str(args.studies),
                                       "--patients-per-study", str(args.patients_per_study)],
                       check=True, stdout=subprocess.DEVNULL, env=env)
        figures["generate_s"] = round(time.perf_counter() - t0, 1)
    for extra in [p for s in deliveries.iterdir() for p in s.iterdir()
                  if p.is_dir() and (p / ".bench-redelivery").exists()]:
        shutil.rmtree(extra)  # a re-delivery left by an interrupted benchmark
    raw = sum(f.stat().st_size for f in deliveries.rglob("*") if f.is_file())
    figures["raw_mib"] = round(raw / 2**20, 1)
    if not args.skip_floor:
        figures["floor_s"] = floor_scan(deliveries)
    work = root / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    cmd = repool_cmd() + ["run", "--data-dir", str(root), "--db", str(work / "repool.duckdb"),
                          "--results-dir", str(work / "results")]
    server = None
    try:
        if args.prefect_server:
            sys.path.insert(0, str(HERE))
            from bench_server import start_server

            (work / "prefect-home").mkdir()
            server, env["PREFECT_API_URL"] = start_server(work / "prefect-home", work / "server.log", timeout=180)
        print("cold run …", flush=True)
        figures["cold"] = timed_run(cmd, work / "cold.log", env)
        print("unchanged re-run …", flush=True)
        figures["unchanged"] = timed_run(cmd, work / "unchanged.log", env)
        again = redeliver_one(deliveries)
        (again / ".bench-redelivery").write_text("")  # not in the manifest: recorded as unlisted, harmless
        try:
            print(f"one study re-delivered ({again.parent.name}@{again.name}) …", flush=True)
            figures["redelivered"] = timed_run(cmd, work / "redelivered.log", env)
        finally:
            shutil.rmtree(again)
        report(figures, root)
    finally:
        if server is not None:
            from bench_server import stop

            stop(server)
        for log in work.glob("*.log"):
            shutil.copy(log, root / log.name)  # kept beside the data for a look
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, sort_keys=True))
    return 0 if all(figures[k]["rc"] == 0 for k in ("cold", "unchanged", "redelivered")) else 1


def report(figures: dict, root: Path) -> None:
    baseline = json.loads((HERE / "baseline.json").read_text()).get(str(figures["patients"]), {})
    targets = TARGETS.get(figures["patients"], {})
    n = figures["patients"]
    print(f"\n{n:,} patients in {figures['studies']} studies ({figures['raw_mib']:,} MiB raw), "
          f"{figures['task_runner']} runner; logs in {root}")
    print(f"{'figure':<26}{'repool':>10}{'before':>10}{'ratio':>8}{'target':>9}  {'':<5}{'÷ floor':>8}")
    floor = figures.get("floor_s")
    rows = [("cold run (s)", figures["cold"]["wall_s"], "cold_s", True),
            ("peak memory (GiB)", figures["cold"]["peak_gib"], "peak_gib", False),
            ("unchanged re-run (s)", figures["unchanged"]["wall_s"], "unchanged_s", False),
            ("one study re-delivered (s)", figures["redelivered"]["wall_s"], "redelivered_s", True)]
    for label, value, key, vs_floor in rows:
        before = baseline.get(key)
        target = targets.get(key)
        ratio = f"{value / before:.2f}" if before else ""
        verdict = "" if target is None else ("PASS" if value <= target else "MISS")
        over = f"{value / floor:.1f}" if vs_floor and floor else ""
        print(f"{label:<26}{value:>10}{before if before is not None else '':>10}{ratio:>8}"
              f"{target if target is not None else '':>9}  {verdict:<5}{over:>8}")
    print(f"{'DuckDB floor (s)':<26}{floor if floor is not None else '':>10}")
    print(f"per patient, cold: {1e6 * figures['cold']['wall_s'] / n:.1f} µs")
    print(f"versions: cold {figures['cold']['version']}, unchanged up to date: {figures['unchanged']['up_to_date']}, "
          f"re-delivered {figures['redelivered']['version']}")


if __name__ == "__main__":
    sys.exit(main())
