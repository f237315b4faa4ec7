"""The bad-input corpus: one broken delivery per kind of bad input (`repool generate --corrupt KIND`),
pooled by the real flow on top of an already published version.

For every kind: the run's outcome (refused -> the previous delivery is pooled; quarantined -> the
subject is set aside and a new version records it; allowed extra column -> a warning), the audit rows
(file, row, column, check), a message naming file and rule, and every version published before is
byte-identical afterwards (folder bytes and database rows).

Kinds share runs, at most one broken delivery per study in a run (each study pools one delivery, so
the faults cannot hide each other), refusals apart from the kinds that publish: 7 flow runs instead of
17. Every assertion is still made per kind, on its own study's rows.
"""
from __future__ import annotations

import shutil

import pytest

from tests.paths import DATA_DIR
from tests.versions import snapshot_version as _snapshot
from repool.synth.corrupt import CORRUPTION_KINDS, write_corrupt_delivery
from repool.tasks.db import connect

pytestmark = pytest.mark.slow

# kind -> (reason code recorded, action)
EXPECTED = {
    "missing-column": ("missing_column", "reject"),
    "extra-column": ("extra_column", "warn"),
    "wrong-type": ("wrong_type", "reject"),
    "decimal-point": ("wrong_type", "reject"),
    "unknown-code": ("unknown_code", "quarantine"),
    "duplicate-subject": ("duplicate_subject", "reject"),
    "age-under-18": ("age_range", "quarantine"),
    "age-over-100": ("age_range", "quarantine"),
    "blasts-out-of-range": ("blasts_range", "quarantine"),
    "death-before-first-dose": ("death_before_first_dose", "quarantine"),
    "grade-out-of-range": ("grade_range", "quarantine"),
    "unparseable-date": ("date_unparseable", "reject"),
    "sha256-mismatch": ("manifest_sha256", "reject"),
    "rows-mismatch": ("manifest_rows", "reject"),
    "listed-file-missing": ("manifest_missing_file", "reject"),
    "wrong-encoding": ("encoding", "reject"),
    "wrong-encoding-utf16": ("encoding", "reject"),
}
ACTION_TAKEN = {"reject": "delivery rejected", "quarantine": "subject quarantined", "warn": "recorded"}


def test_every_corruption_kind_has_an_expectation():
    assert set(EXPECTED) == set(CORRUPTION_KINDS)


def _run(root):
    from repool.flows.repool_flow import repool

    return repool(data_dir=str(root), return_state=True, gx_checkpoint=False)


def group_kinds(expected: dict) -> list[list[str]]:
    """The runs: refusals apart from the kinds that publish, each run holding at most one kind per
    study (a kind's delivery goes to its default study), kinds in name order."""
    groups: list[list[str]] = []
    for refuses in (True, False):
        rounds: list[list[str]] = []
        for kind in sorted(k for k, (_reason, action) in expected.items() if (action == "reject") == refuses):
            study = CORRUPTION_KINDS[kind].default_study
            slot = next((g for g in rounds if study not in {CORRUPTION_KINDS[k].default_study for k in g}), None)
            if slot is None:
                slot = []
                rounds.append(slot)
            slot.append(kind)
        groups += rounds
    return groups


GROUPS = group_kinds(EXPECTED)
GROUP_OF = {kind: i for i, group in enumerate(GROUPS) for kind in group}


def test_each_run_holds_one_fault_per_study_and_refusals_apart():
    assert sorted(GROUP_OF) == sorted(EXPECTED)
    for group in GROUPS:
        studies = [CORRUPTION_KINDS[k].default_study for k in group]
        assert len(studies) == len(set(studies)), group
        assert len({EXPECTED[k][1] == "reject" for k in group}) == 1, group
    assert len(GROUPS) < len(EXPECTED)


class Corpus:
    """Each group's run, made once (lazily) on its own copy of the published base."""

    def __init__(self, base, v1, tmp_path_factory):
        self.base, self.v1, self.tmp = base, v1, tmp_path_factory
        self.runs: dict[int, dict] = {}

    def run(self, group: int) -> dict:
        if group not in self.runs:
            root = self.tmp.mktemp(f"bad-input-{group}") / "data"
            shutil.copytree(self.base, root)
            before = _snapshot(root, self.v1)
            faults = {kind: write_corrupt_delivery(root, kind) for kind in GROUPS[group]}
            state = _run(root)
            self.runs[group] = {"root": root, "before": before, "faults": faults, "state": state}
        return self.runs[group]


@pytest.fixture(scope="module")
def corpus(prefect_harness, tmp_path_factory):
    """The bundled deliveries with version v1 published, and the runs of the groups of kinds."""
    root = tmp_path_factory.mktemp("corpus") / "base"
    shutil.copytree(DATA_DIR / "deliveries", root / "deliveries")
    state = _run(root)
    assert state.is_completed(), state.message
    return Corpus(root, state.result()["version"], tmp_path_factory)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_bad_input_is_recorded_and_handled(corpus, kind):
    run, v1 = corpus.run(GROUP_OF[kind]), corpus.v1
    root, state, fault = run["root"], run["state"], run["faults"][kind]
    reason, action = EXPECTED[kind]

    assert state.is_completed(), state.message
    data = state.result()

    with connect(root / "repool.duckdb", read_only=True) as con:
        audit = con.execute(
            'SELECT file, row, "column", reason, value, action, message FROM audit.validation_failures '
            "WHERE run_id = ? AND study = ? AND delivery_id = ? AND reason = ?",
            [data["run_id"], fault["study"], fault["delivery_id"], reason]).fetchall()
        lineage = con.execute("SELECT DISTINCT delivery_id FROM results.lineage WHERE result_version = ? AND study = ?",
                              [data["version"], fault["study"]]).fetchall()
        exclusions = con.execute("SELECT subject, reason, file, row FROM results.exclusions WHERE result_version = ? "
                                 "AND study = ?", [data["version"], fault["study"]]).fetchall()
    assert audit, f"no audit row for {reason}"
    hit = next((a for a in audit if a[0] == fault["file"]), audit[0])
    assert hit[0] == fault["file"] and hit[3] == reason and hit[5] == ACTION_TAKEN[action]
    if fault["row"] is not None and reason != "duplicate_subject":
        assert any(a[1] == fault["row"] for a in audit), (audit[:3], fault)
    if fault["column"] is not None and action != "reject" or reason in ("missing_column", "wrong_type"):
        assert any(a[2] == fault["column"] for a in audit), (audit[:3], fault)

    if action == "reject":
        # refused: the previous delivery is pooled, which is exactly v1's input -> up to date
        assert state.name == "Completed with exclusions"
        assert data["status"] == "up-to-date" and data["version"] == v1
        refused = [line for line in data["refused"] if line.startswith(f"{fault['study']}@{fault['delivery_id']} ")]
        assert len(refused) == 1, data["refused"]
        assert fault["file"] in refused[0] and reason in refused[0] and "REJECTED" in refused[0]
    elif action == "quarantine":
        assert state.name == "Completed with exclusions" and data["status"] == "published"
        assert data["version"] != v1 and lineage == [(fault["delivery_id"],)]
        assert len(exclusions) == 1 and exclusions[0][1] == reason and exclusions[0][2] == fault["file"]
    else:
        assert data["status"] == "published" and lineage == [(fault["delivery_id"],)] and not exclusions

    assert _snapshot(root, v1) == run["before"]  # nothing published before was touched
