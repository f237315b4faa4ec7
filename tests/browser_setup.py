"""Make sure Debian's Chromium is there for the browser test (`make test` runs this before pytest).

`python -m tests.browser_setup` installs the `chromium` package with
`apt-get install -y --no-install-recommends chromium` when /usr/bin/chromium is missing and we are
root with apt-get available; otherwise it does nothing. It is quiet, a fast no-op when Chromium is
already installed, never fails the build (always exits 0), and prints one line saying what it did.
Without Chromium the browser test skips with a message.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
APT_TIMEOUT = 900


def _apt(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=APT_TIMEOUT)


def ensure_chromium() -> str:
    """Install Chromium if missing and possible; return one line saying what happened."""
    if CHROMIUM.is_file():
        return f"browser setup: {CHROMIUM} already installed"
    if not shutil.which("apt-get"):
        return "browser setup: no Chromium and no apt-get here; the browser test will skip"
    if os.geteuid() != 0:
        return ("browser setup: no Chromium and not root; the browser test will skip "
                "(sudo apt-get install -y --no-install-recommends chromium)")
    try:
        done = _apt(["install", "-y", "-qq", "--no-install-recommends", "chromium"])
        if done.returncode != 0:  # stale package lists on a fresh machine: refresh once, retry
            _apt(["update", "-qq"])
            done = _apt(["install", "-y", "-qq", "--no-install-recommends", "chromium"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"browser setup: installing chromium failed ({exc}); the browser test will skip"
    if done.returncode == 0 and CHROMIUM.is_file():
        return f"browser setup: installed Debian's chromium ({CHROMIUM})"
    if done.returncode == 0:
        return f"browser setup: apt-get installed chromium but {CHROMIUM} is missing; the browser test will skip"
    last = (done.stdout or "").strip().splitlines()[-1:] or ["?"]
    return f"browser setup: installing chromium failed ({last[0]}); the browser test will skip"


def main() -> int:
    try:
        print(ensure_chromium(), flush=True)
    except Exception as exc:  # never fail the build
        print(f"browser setup: skipped ({exc})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
