"""The registry of reason codes: every check of every stage emits one of these, and only these.

A reason code names a rule. `schemas/policies.toml` maps each code to an action (reject,
quarantine, warn); a test proves the two name exactly the same codes, and `Reason(code)` raises
on a code that is not here, so a typo fails the build instead of falling back to a default.

Where each rule is written (one home per rule; search the code to find it):
- `schemas/sources.py`: per-column rules of a delivered file (missing_value, wrong_type,
  date_unparseable, unknown_code, the *_range codes, duplicate_subject, duplicate_record);
- `tasks/ingest.py`: the delivery as a whole (manifest_*, encoding, unreadable_file, the CSV header);
- `sql/checks/*.sql`: cross-file rules on the staged, renamed columns;
- `schemas/pooled.py`: the pooled contract (pooled_contract; the great-expectations suites are
  generated from it: gx_expectation);
- `tasks/validate/pooled.py`: the delivered TEAE flag against the re-derived one.
"""
from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # the data root and the study registry (tasks/ingest.py: discovery)
    UNREGISTERED_STUDY = "unregistered_study"
    UNEXPECTED_ENTRY = "unexpected_entry"
    PATH_UNSAFE = "path_unsafe"
    # the delivery as a whole (tasks/ingest.py, schemas/manifest.py)
    MANIFEST_INVALID = "manifest_invalid"
    FORMAT_MISMATCH = "format_mismatch"
    UNLISTED_FILE = "unlisted_file"
    MANIFEST_MISSING_FILE = "manifest_missing_file"
    MANIFEST_SHA256 = "manifest_sha256"
    MANIFEST_ROWS = "manifest_rows"
    UNREADABLE_FILE = "unreadable_file"
    TRUNCATED_FILE = "truncated_file"
    EMPTY_DATASET = "empty_dataset"
    SUBJECT_COUNT_DROP = "subject_count_drop"
    ENCODING = "encoding"
    MISSING_COLUMN = "missing_column"
    EXTRA_COLUMN = "extra_column"
    COLUMN_ORDER = "column_order"
    # per column of a delivered file (schemas/sources.py)
    WRONG_TYPE = "wrong_type"
    DATE_UNPARSEABLE = "date_unparseable"
    DUPLICATE_SUBJECT = "duplicate_subject"
    DUPLICATE_RECORD = "duplicate_record"
    MISSING_VALUE = "missing_value"
    UNKNOWN_CODE = "unknown_code"
    AGE_RANGE = "age_range"
    BLASTS_RANGE = "blasts_range"
    GRADE_RANGE = "grade_range"
    SALVAGE_RANGE = "salvage_range"
    STUDYID_MISMATCH = "studyid_mismatch"
    DATE_AFTER_CUT = "date_after_cut"
    IMPLAUSIBLE_DATE = "implausible_date"
    # across files, on the staged columns (sql/checks/)
    DEATH_BEFORE_FIRST_DOSE = "death_before_first_dose"
    DOSE_ORDER = "dose_order"
    NEGATIVE_TIME = "negative_time"
    MISSING_RECORD = "missing_record"
    ORPHAN_RECORD = "orphan_record"
    AVAL_INCONSISTENT = "aval_inconsistent"
    # the pooled datasets (schemas/pooled.py, tasks/validate/pooled.py)
    TEAE_FLAG_MISMATCH = "teae_flag_mismatch"
    POOLED_CONTRACT = "pooled_contract"
    GX_EXPECTATION = "gx_expectation"


# Nothing can be pooled past these: the only admissible action is `reject` (a policy file that
# says otherwise is a configuration error, not an override).
STRUCTURAL = frozenset({
    Reason.PATH_UNSAFE, Reason.FORMAT_MISMATCH, Reason.MANIFEST_INVALID, Reason.MANIFEST_MISSING_FILE, Reason.MANIFEST_SHA256, Reason.MANIFEST_ROWS,
    Reason.UNREADABLE_FILE, Reason.TRUNCATED_FILE, Reason.ENCODING, Reason.MISSING_COLUMN, Reason.POOLED_CONTRACT,
})

# pandera's own check names -> reason codes
PANDERA_REASONS = {
    "column_in_dataframe": Reason.MISSING_COLUMN,
    "field_uniqueness": Reason.DUPLICATE_SUBJECT,
    "multiple_fields_uniqueness": Reason.DUPLICATE_RECORD,
}


def as_reason(code: str) -> Reason:
    """The registered reason for a code; an unregistered code is a programming error."""
    try:
        return Reason(code)
    except ValueError:
        raise ValueError(f"unregistered reason code {code!r}: add it to schemas/reasons.py and "
                         "schemas/policies.toml") from None
