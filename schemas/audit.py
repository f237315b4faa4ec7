"""The audit record: one failed check, naming study, delivery, file, row, column, rule and value.

Every check of every stage returns its failures as these records (errors are data); the policy
module adds the action, and `tasks/audit.py` appends them to audit.validation_failures.
"""
from __future__ import annotations

from repool.schemas.reasons import as_reason

AUDIT_COLUMNS = ["run_id", "flow_run_id", "study", "delivery_id", "file", "file_sha256", "row", "column",
                 "check", "reason", "value", "subject", "severity", "action", "message", "recorded_at",
                 "validated_in_run"]


def failure(study: str | None, delivery_id: str | None, reason: str, message: str, *, file: str | None = None,
            sha256: str | None = None, row: int | None = None, column: str | None = None,
            value=None, subject: str | None = None, check: str | None = None) -> dict:
    """One audit record of a failed check; `reason` must be a registered reason code."""
    reason = as_reason(reason).value
    return {
        "study": study, "delivery_id": delivery_id, "file": file, "file_sha256": sha256,
        "row": None if row is None else int(row), "column": column, "check": check or reason,
        "reason": reason, "value": None if value is None else str(value), "subject": subject,
        "message": message,
    }
