"""repool: pool clinical study deliveries into versioned, auditable analysis results.

Importing any part of the package first switches off every analytics call of the stack: nothing
we run may call outside the machine. This is the one place that says so (`OFFLINE_ENV`); child
processes (servers, workers) are started with it too.
"""
from __future__ import annotations

import os

OFFLINE_ENV = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}

for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)
