"""repool/cli.py `exit_process`: the command's exit does what Python's does, minus the module teardown."""
from __future__ import annotations

import subprocess
import sys

from tests.paths import REPO_ROOT

SCRIPT = """
import atexit, sys, threading, time
from repool.cli import exit_process
def late():
    time.sleep(0.3)
    print("thread finished", flush=True)
threading.Thread(target=late).start()  # non-daemon: waited for, as at a normal exit
atexit.register(lambda: print("atexit ran"))
print("buffered", end="")  # stdout is a pipe: block-buffered, flushed on the way out
exit_process(eval(sys.argv[1]))
"""


def _exit(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, code], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=60)


def test_exit_process_waits_for_threads_runs_atexit_and_flushes_before_it_ends():
    done = _exit("3")
    assert done.returncode == 3, done.stderr
    assert "buffered" in done.stdout and "atexit ran" in done.stdout, done.stdout
    assert done.stdout.index("thread finished") < done.stdout.index("atexit ran"), done.stdout


def test_exit_process_takes_none_as_success_and_a_message_as_failure():
    assert _exit("None").returncode == 0
    done = _exit("'repool: no such version'")
    assert done.returncode == 1 and "repool: no such version" in done.stderr


def test_the_console_script_exits_with_main_s_code():
    done = subprocess.run([sys.executable, "-m", "repool.cli", "show", "--table", "9"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "invalid choice" in done.stderr  # argparse's usage error, as before
