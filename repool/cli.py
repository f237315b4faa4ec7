"""`repool` command line: a thin face over the flows and read-only queries.

Each subcommand's handler lives in its own module and is imported only when used, so that
`repool --help` stays fast (Prefect and GX imports cost seconds).
"""
from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import NoReturn

import repool  # noqa: F401  (switches analytics off before anything else is imported)


def _common_paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", type=Path, help="data root holding deliveries/ (default: bundled data)")
    p.add_argument("--db", type=Path, help="DuckDB file (default: <data dir>/repool.duckdb)")
    p.add_argument("--results-dir", type=Path, help="published versions folder (default: <data dir>/results)")


# subcommand -> (handler "module:function", help, argument builder)
def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="repool", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write synthetic deliveries (default, scale or corrupt)")
    g.set_defaults(handler="repool.synth.cli:main")
    from repool.synth.cli import add_arguments as _gen_args  # light import, argparse only

    _gen_args(g)

    r = sub.add_parser("run", help="pool the newest valid deliveries and publish a result version")
    _common_paths(r)
    r.add_argument("--pin", action="append", default=[], metavar="STUDY=DELIVERY",
                   help="pool this delivery of a study instead of the newest (repeatable)")
    r.add_argument("--alpha", type=float, help="1 - confidence level of every interval (default 0.05: 95%%)")
    r.add_argument("--conventions", choices=["sas", "r"],
                   help="whose rules the corner cases of medians, CIs and rounding follow (default sas)")
    r.add_argument("--task-runner", choices=["thread", "process", "dask"],
                   help="where the per-delivery units run: threads of this process (default), a pool of worker "
                        "processes (one per core) or a Dask cluster")
    r.add_argument("--dask-address", metavar="tcp://HOST:PORT",
                   help="an existing Dask scheduler (default: a local cluster for this run); implies --task-runner dask")
    r.add_argument("--dask-workers", type=int, help="worker processes of the local Dask cluster (default 2)")
    r.set_defaults(handler="repool.commands:run")

    v = sub.add_parser("versions", help="list published result versions")
    _common_paths(v)
    v.set_defaults(handler="repool.commands:versions")

    s = sub.add_parser("show", help="print a table of a version in the terminal")
    _common_paths(s)
    s.add_argument("version", nargs="?", help="version id (default: latest)")
    s.add_argument("--table", type=int, choices=[1, 2, 3, 4, 5], help="table number (5: results by study; default: all)")
    s.set_defaults(handler="repool.commands:show")

    tr = sub.add_parser("trace", help="the patients behind a number and the delivered rows that made them count")
    _common_paths(tr)
    tr.add_argument("version", nargs="?", help="version id (default: latest)")
    tr.add_argument("--table", type=int, choices=[1, 2, 3, 4, 5], required=True, help="table number (5: results by study)")
    tr.add_argument("--variable", required=True, help="ARD variable, e.g. HSCT, BOR, OS, ANY_TEAE, SEX")
    tr.add_argument("--group", help="a group level, e.g. 'First salvage' (or a study, or Y/N of PRHSCT)")
    tr.add_argument("--level", help="a variable level, e.g. CR/CRh/CRi, F, '>= 50%%'")
    tr.add_argument("--stat", help="a statistic (default: the counts n, N, events); e.g. median, pct, hr")
    tr.set_defaults(handler="repool.commands:trace")

    rp = sub.add_parser("reproduce", help="published figures beside ours, with differences flagged")
    _common_paths(rp)
    rp.add_argument("version", nargs="?", help="version id (default: latest)")
    rp.set_defaults(handler="repool.commands:reproduce")

    a = sub.add_parser("audit", help="validation failures per study and check, and the failing rows")
    _common_paths(a)
    grp = a.add_mutually_exclusive_group()
    grp.add_argument("--run", help="a run id")
    grp.add_argument("--version", help="a result version id")
    grp.add_argument("--study", help="a study id")
    a.add_argument("--format", choices=["table", "csv"], default="table")
    a.set_defaults(handler="repool.commands:audit")

    d = sub.add_parser("diff", help="ARD rows and lineage that changed between two versions")
    _common_paths(d)
    d.add_argument("v1")
    d.add_argument("v2")
    d.set_defaults(handler="repool.commands:diff")

    sv = sub.add_parser("serve", help="serve the flow with a daily schedule and a new-delivery trigger")
    _common_paths(sv)
    sv.add_argument("--cron", default="0 6 * * *", help="daily schedule (default: 06:00)")
    sv.add_argument("--watch-interval", type=int, default=60, help="seconds between delivery scans")
    sv.add_argument("--results-port", type=int, help="port of the read-only HTTP server of the results folder "
                    "on 127.0.0.1 (default 4202, or a free one when taken)")
    sv.set_defaults(handler="repool.commands:serve")

    srv = sub.add_parser("server", help="start a Prefect server with its UI on 127.0.0.1 (and serve the results folder)")
    _common_paths(srv)
    srv.add_argument("--port", type=int, default=4200)
    srv.add_argument("--results-port", type=int, help="port of the read-only HTTP server of the results folder "
                     "on 127.0.0.1 (default 4201, or a free one when taken)")
    srv.set_defaults(handler="repool.commands:server")
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. A database held by a running `repool run` past the readers' wait (exit 3) or
    not there yet (exit 1) is said in one `repool: ...` line on stderr, never as a traceback."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    module_name, func_name = args.handler.split(":")
    handler = getattr(importlib.import_module(module_name), func_name)
    try:
        rc = handler(args)
    except BrokenPipeError:  # `repool show | head`: the reader went away; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        db = sys.modules.get("repool.tasks.db")  # not imported: not one of its errors
        if db is not None and isinstance(exc, db.DatabaseBusy):
            print(f"repool: {_one_line(exc)}", file=sys.stderr)
            return 3
        if db is not None and isinstance(exc, db.DatabaseMissing):
            print(f"repool: {_one_line(exc)}", file=sys.stderr)
            return 1
        raise
    return int(rc or 0)


def console() -> NoReturn:
    """The `repool` command (and `python -m repool.cli`): `main`, then `exit_process`."""
    try:
        code = main()
    except SystemExit as exc:  # argparse's usage errors and --help
        code = exc.code
    except KeyboardInterrupt:  # Ctrl-C: Python's own way out (status 130)
        raise
    except Exception:  # noqa: BLE001 - said as Python would, then the same exit
        traceback.print_exc()
        code = 1
    exit_process(code)


def exit_process(code) -> NoReturn:
    """End the process as Python's own exit does, without its teardown of every loaded module.

    In order: wait for the non-daemon threads, run the `atexit` handlers (Prefect's, the temporary
    folders', logging's), flush stdout and stderr, then `os._exit`. Skipped is only the teardown, which
    frees every module one by one: 0.4–0.7 s after a run, and after a run with the GX checkpoint
    DuckDB's bindings (nanobind) printed some forty "leaked ..." lines on stderr there, as the
    SQL source GX creates leaves DuckDB's module constants to be freed after the bindings' own check.
    Only for the command's own process: tests call `main`."""
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"): said on stderr, exit 1
        print(code, file=sys.stderr)
        code = 1
    try:
        threading._shutdown()  # what the interpreter does first on its way out
    except Exception:  # noqa: BLE001 - an exit is no place to raise
        pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed pipe: nothing more to say
            pass
    os._exit(code)


if __name__ == "__main__":
    console()
