"""Libraries imported lazily by the stages (an unchanged run never loads them), imported one thread
at a time."""
from __future__ import annotations

import importlib
import threading
from types import ModuleType

_IMPORT_LOCK = threading.RLock()


def import_once(*modules: str) -> ModuleType:
    """Import libraries a stage imports lazily (so that an unchanged run never loads them) one thread
    at a time. Units and analyses run in threads, and two threads importing a package with import
    cycles inside at once can meet its modules half-initialised (a crash-test run failed with
    "ImportError: cannot import name 'CoxPHFitter' from partially initialized module"). Always under
    the lock: a module already in sys.modules may still be another thread's import in progress.
    Returns the last module named."""
    if not modules:
        raise TypeError("import_once needs at least one module name")
    with _IMPORT_LOCK:
        for module in modules:
            imported = importlib.import_module(module)
    return imported
