"""The flow analyses its tables in threads: the first use of lifelines and scipy may come from several
threads at once. Before `import_dependencies`, a crash-test run failed with "ImportError: cannot import name
'CoxPHFitter' from partially initialized module 'lifelines.fitters.coxph_fitter'"."""
from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys, threading
    from repool.tasks.analyse.statistics import compute_cox_fit, compute_logrank_p, compute_proportion_ci
    assert "lifelines" not in sys.modules and "scipy" not in sys.modules
    time, event, x = [1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 0, 1, 1, 0, 1, 1], [0, 1, 0, 1, 0, 1, 0, 1]
    start, errors = threading.Barrier(9), []

    def first_use(fn):
        start.wait()
        try:
            fn(3, 8) if fn is compute_proportion_ci else fn(time, event, x)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=first_use, args=(f,))
               for f in (compute_cox_fit, compute_logrank_p, compute_proportion_ci) * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("ERRORS", errors)
    sys.exit(1 if errors else 0)
""")


def test_nine_threads_using_lifelines_and_scipy_first_at_once_all_succeed():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
