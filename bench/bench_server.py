"""Benchmark: the bundled 532 patients through `repool run` against a running Prefect server, beside
the bare pandas + lifelines script `bench/bare.py` computing the same four tables (issue 10, part 4).

    .venv/bin/python bench/bench_server.py                     # one round
    .venv/bin/python bench/bench_server.py --rounds 3 --json /tmp/bench_server.json

Starts `prefect server start` on a free 127.0.0.1 port (analytics off, PREFECT_HOME in a temporary
folder), copies data/deliveries and data/studies.toml to a temporary data root, then per round (a
fresh data root each round): `repool run --data-dir ROOT` (cold), the same again (unchanged re-run:
must say "up to date"); wall clock and peak RSS (wait4) of each. `repool run` is run as its console
script runs it (repool.cli.main) inside a `python -c` that stamps the clock after the imports and when
main() returns (RUN_STAMPED), so the wall time splits into imports, flow run and interpreter exit. Then `bench/bare.py` (best of
--bare-runs), once more with --check against the cold run's ard.csv (the proof it does the same
work). Prints figures, differences and ratios with PASS/MISS beside the targets (cold − bare ≤ 3 s;
unchanged ≤ 3 s), and where the time goes: the task runs of each flow run as the server recorded
them. The server is stopped by its process group in a finally block. Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_S = 3.0


PACKAGE = ("pyproject.toml", "README.md", "repool", "flows", "tasks", "schemas", "sql", "data", "deployments")


def snapshot_install(tmp: Path) -> Path:
    """The working tree's package as it is now, built into a wheel and installed into a fresh venv that
    sees this venv's dependencies (as tests/e2e/test_wheel.py does): other sessions editing the shared
    checkout cannot change the code (and so the version id) between the cold and the unchanged run."""
    import sysconfig
    import venv

    src, wheels, env_dir = tmp / "src", tmp / "wheel", tmp / "venv"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.duckdb*", "results", "*.egg-info")
    for name in PACKAGE:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        elif (REPO / name).exists():
            shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels), str(src)],
                   check=True, cwd=tmp, capture_output=True, timeout=600)
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    (wheel,) = wheels.glob("repool-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    return py


# `repool run` as the console script runs it (repool.cli.main, then repool.cli.exit_process), stamping the
# clock on stderr after the imports and when main() returns, so the wall time splits into imports, flow,
# and the process's exit
RUN_STAMPED = ("import sys, time; print('BENCH_T start', time.time(), file=sys.stderr); "
               "import repool.cli, repool.flows.repool_flow; print('BENCH_T imported', time.time(), file=sys.stderr); "
               "rc = repool.cli.main(['run', '--data-dir', sys.argv[1]]); "
               "print('BENCH_T returned', time.time(), file=sys.stderr, flush=True); repool.cli.exit_process(rc)")


def stamps(output: str) -> dict[str, float]:
    return {ln.split()[1]: float(ln.split()[2]) for ln in output.splitlines() if ln.startswith("BENCH_T ")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(prefect_home: Path, api_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REPOOL_"))}
    env |= {"PREFECT_HOME": str(prefect_home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def api(url: str, path: str, body: dict | None = None, timeout: float = 10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + path, data=data, headers={"Content-Type": "application/json"},
                                 method="GET" if body is None else "POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def start_server(home: Path, log: Path, timeout: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    proc = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                            env=child_env(home, None), stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"prefect server exited with {proc.returncode}; see {log}")
        try:
            if api(url, "/health", timeout=2) is True:
                print(f"prefect server up at {url} (pid {proc.pid}) after {time.perf_counter() - t0:.1f} s", flush=True)
                return proc, url
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"prefect server not healthy after {timeout:.0f} s; see {log}")


def stop(proc: subprocess.Popen | None, grace: float = 20) -> None:
    """SIGTERM then SIGKILL to the process group of a child started with start_new_session."""
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def timed(cmd: list[str], env: dict, out: Path) -> dict:
    """Run cmd to completion: wall seconds, exit code, peak RSS (MiB, wait4 of this child), its output."""
    t0, epoch0 = time.perf_counter(), time.time()
    with out.open("wb") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=out.parent, start_new_session=True)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # interrupted before it ended: stop it, never leave it running
            stop(proc, grace=5)
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    return {"seconds": wall, "started": epoch0, "ended": epoch0 + wall, "exit": proc.returncode, "peak_rss_mib": usage.ru_maxrss / 1024,
            "cpu_seconds": usage.ru_utime + usage.ru_stime, "output": out.read_text(errors="replace")}


def parse_time(s: str | None) -> float | None:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() if s else None


def where_time_goes(url: str, top: int) -> list[dict]:
    """Per flow run (oldest first): its duration and its task runs by duration, as the server recorded them."""
    flows = api(url, "/flow_runs/filter", {"sort": "START_TIME_ASC", "limit": 50})
    out = []
    for fr in flows:
        tasks = api(url, "/task_runs/filter", {"flow_runs": {"id": {"any_": [fr["id"]]}}, "limit": 200})
        f0, f1 = parse_time(fr.get("start_time")), parse_time(fr.get("end_time"))
        rows = []
        for t in tasks:
            t0, t1 = parse_time(t.get("start_time")), parse_time(t.get("end_time"))
            rows.append({"task": t["name"], "state": (t.get("state") or {}).get("name"),
                         "start_offset_s": None if t0 is None or f0 is None else t0 - f0,
                         "seconds": None if t0 is None or t1 is None else t1 - t0})
        rows.sort(key=lambda r: -(r["seconds"] or 0))
        out.append({"flow_run": fr["name"], "state": (fr.get("state") or {}).get("name"), "start": f0, "end": f1,
                    "seconds": None if f0 is None or f1 is None else f1 - f0, "task_runs": len(rows),
                    "sum_task_seconds": sum(r["seconds"] or 0 for r in rows), "slowest": rows[:top]})
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=1, help="cold + unchanged rounds, each on a fresh data root (best is reported)")
    p.add_argument("--bare-runs", type=int, default=3, help="runs of bench/bare.py (best is reported)")
    p.add_argument("--top", type=int, default=8, help="slowest task runs shown per flow run")
    p.add_argument("--server-timeout", type=float, default=240)
    p.add_argument("--code", choices=["snapshot", "tree"], default="snapshot",
                   help="snapshot (default): a wheel of the working tree as it is at the start, in a fresh venv; "
                        "tree: the checkout's editable install (changes if someone edits the tree meanwhile)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, data roots)")
    p.add_argument("--json", type=Path, metavar="OUT", help="write the figures as JSON (for bench/README.md)")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="repool-bench-server-"))
    home = tmp / "prefect-home"
    home.mkdir()
    load_before = os.getloadavg()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    print(f"bench_server: {dt.datetime.now().isoformat(timespec='seconds')}, commit {commit}, "
          f"{os.cpu_count()} cores, load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"work folder {tmp}", flush=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *PACKAGE], cwd=REPO, capture_output=True,
                           text=True).stdout.splitlines()
    commit += f" + {len(dirty)} uncommitted package file(s)" if dirty else ""
    server, figures, rounds = None, {}, []
    try:
        if args.code == "snapshot":
            t0 = time.perf_counter()
            py = snapshot_install(tmp)
            print(f"code: snapshot of the working tree ({commit}) installed in {py.parent.parent} "
                  f"in {time.perf_counter() - t0:.1f} s", flush=True)
        else:
            py = BIN / "python"
            print(f"code: the checkout's editable install ({commit})", flush=True)
        server, url = start_server(home, tmp / "server.log", args.server_timeout)
        env = child_env(home, url)
        for i in range(1, args.rounds + 1):
            root = tmp / f"root{i}"
            root.mkdir()
            shutil.copytree(REPO / "data" / "deliveries", root / "deliveries")
            shutil.copy2(REPO / "data" / "studies.toml", root / "studies.toml")
            cmd = [str(py), "-c", RUN_STAMPED, str(root)]
            cold = timed(cmd, env, tmp / f"cold{i}.log")
            print(f"round {i}: repool cold      {cold['seconds']:6.2f} s  exit {cold['exit']}  "
                  f"peak RSS {cold['peak_rss_mib']:.0f} MiB  cpu {cold['cpu_seconds']:.1f} s", flush=True)
            warm = timed(cmd, env, tmp / f"unchanged{i}.log")
            print(f"round {i}: repool unchanged {warm['seconds']:6.2f} s  exit {warm['exit']}  "
                  f"peak RSS {warm['peak_rss_mib']:.0f} MiB  cpu {warm['cpu_seconds']:.1f} s", flush=True)
            for name, run, expect in (("cold", cold, "published result version"), ("unchanged", warm, "up to date")):
                said = [ln for ln in run["output"].splitlines() if ln.startswith("repool: ")]
                run["up_to_date"] = "up to date" in run["output"]
                if run["exit"] != 0 or expect not in run["output"]:
                    print(f"round {i}: the {name} run did NOT say {expect!r} (exit {run['exit']}); it said:\n  "
                          + "\n  ".join(said[-4:]), flush=True)
            if cold["exit"] != 0:
                print("the cold run failed; its output ends:\n" + cold["output"][-3000:])
                return 1
            rounds.append({"cold": cold, "unchanged": warm, "root": root})
        version = next(ln.split(": ", 1)[1] for ln in rounds[0]["cold"]["output"].splitlines() if ln.startswith("version: "))
        ard = rounds[0]["root"] / "results" / version / "ard.csv"
        bare_cmd = [sys.executable, str(REPO / "bench" / "bare.py"), "--data-dir", str(rounds[0]["root"])]
        check = timed(bare_cmd + ["--check", str(ard)], env, tmp / "bare-check.log")
        bare = [timed(bare_cmd, env, tmp / f"bare{j}.log") for j in range(args.bare_runs)]
        print("bare.py runs: " + ", ".join(f"{b['seconds']:.2f}" for b in bare) + " s; "
              f"peak RSS {max(b['peak_rss_mib'] for b in bare):.0f} MiB", flush=True)
        print("bare.py --check against the cold run's ARD:")
        print("\n".join("  " + ln for ln in check["output"].splitlines() if ln.startswith(("rows compared", "  DIFFER", "bare:"))))
        imp = timed([str(py), "-c", "import repool.flows.repool_flow"], env, tmp / "import.log")
        timeline = where_time_goes(url, args.top)
        load_after = os.getloadavg()

        best_cold = min(r["cold"]["seconds"] for r in rounds)
        best_warm = min(r["unchanged"]["seconds"] for r in rounds)
        best_bare = min(b["seconds"] for b in bare)
        gap = best_cold - best_bare
        verdict = lambda x: "PASS" if x <= TARGET_S else "MISS"  # noqa: E731
        up_to_date = all(r["unchanged"]["up_to_date"] for r in rounds)
        warm_note = "" if up_to_date else "  (INVALID: the re-run was not up to date, it published a new version)"
        rows = [("repool run, cold", best_cold, ""),
                ("repool run, unchanged re-run", best_warm, f"<= {TARGET_S:.0f} s  {verdict(best_warm) if up_to_date else 'MISS'}{warm_note}"),
                (f"bare.py (best of {len(bare)})", best_bare, ""), ("repool cold - bare", gap, f"<= {TARGET_S:.0f} s  {verdict(gap)}"),
                ("python -c 'import repool.flows.repool_flow'", imp["seconds"], "")]
        print(f"\nFigures (best of {len(rounds)} round(s); load average before {load_before[0]:.2f}, after {load_after[0]:.2f}, "
              f"{os.cpu_count()} cores, shared)")
        print(f"  {'figure':<46} {'seconds':>8}   target")
        for name, sec, target in rows:
            print(f"  {name:<46} {sec:8.2f}   {target}")
        print(f"  {'ratio repool cold / bare':<46} {best_cold / best_bare:8.2f}x")
        print(f"  {'ratio repool unchanged / bare':<46} {best_warm / best_bare:8.2f}x")
        print(f"  peak RSS: repool cold {max(r['cold']['peak_rss_mib'] for r in rounds):.0f} MiB, unchanged "
              f"{max(r['unchanged']['peak_rss_mib'] for r in rounds):.0f} MiB, bare {max(b['peak_rss_mib'] for b in bare):.0f} MiB")
        print(f"  cpu seconds (user + sys): repool cold {rounds[0]['cold']['cpu_seconds']:.1f}, unchanged "
              f"{rounds[0]['unchanged']['cpu_seconds']:.1f}, bare {bare[0]['cpu_seconds']:.1f}")

        print("\nWhere the time goes (flow and task runs as the server recorded them; process stamps of the run):")
        runs = [x for r in rounds for x in (r["cold"], r["unchanged"])]
        for fr, run in zip(timeline, runs + [None] * len(timeline)):
            wall = run and run["seconds"]
            outside = ""
            st = stamps(run["output"]) if run else {}
            if run and fr["start"] and fr["end"] and {"start", "imported", "returned"} <= st.keys():
                fr["phases_s"] = {"interpreter start": st["start"] - run["started"],
                                  "imports": st["imported"] - st["start"],
                                  "flow run created": fr["start"] - st["imported"], "flow run": fr["end"] - fr["start"],
                                  "after the flow (CLI)": st["returned"] - fr["end"],
                                  "interpreter exit": run["ended"] - st["returned"]}
                outside = "\n      phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in fr["phases_s"].items())
            print(f"  flow run {fr['flow_run']} ({fr['state']}): {fr['seconds'] or 0:.2f} s of {wall or 0:.2f} s wall; "
                  f"{fr['task_runs']} task runs, {fr['sum_task_seconds']:.2f} task-seconds{outside}")
            for t in fr["slowest"]:
                print(f"      {t['seconds'] or 0:7.2f} s  at +{t['start_offset_s'] or 0:6.2f} s  {t['task']} ({t['state']})")
        figures = {
            "date": dt.datetime.now().isoformat(timespec="seconds"), "commit": commit, "code": args.code, "cores": os.cpu_count(),
            "load_average_before": load_before, "load_average_after": load_after, "rounds": len(rounds),
            "repool_cold_s": best_cold, "repool_unchanged_s": best_warm, "bare_s": best_bare,
            "cold_minus_bare_s": gap, "cold_minus_bare_pass": gap <= TARGET_S, "unchanged_up_to_date": up_to_date,
            "unchanged_pass": up_to_date and best_warm <= TARGET_S,
            "ratio_cold_over_bare": best_cold / best_bare, "import_repool_flow_s": imp["seconds"],
            "repool_cold_all_s": [r["cold"]["seconds"] for r in rounds],
            "repool_unchanged_all_s": [r["unchanged"]["seconds"] for r in rounds],
            "bare_all_s": [b["seconds"] for b in bare],
            "peak_rss_mib": {"cold": max(r["cold"]["peak_rss_mib"] for r in rounds),
                             "unchanged": max(r["unchanged"]["peak_rss_mib"] for r in rounds),
                             "bare": max(b["peak_rss_mib"] for b in bare)},
            "bare_check": next((ln for ln in check["output"].splitlines() if ln.startswith("rows compared")), None),
            "flow_runs": timeline,
        }
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
            print(f"\nfigures written to {args.json}")
        return 0
    finally:
        stop(server)
        if server is not None:
            print(f"prefect server (pid {server.pid}) stopped: exit {server.poll()}", flush=True)
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
