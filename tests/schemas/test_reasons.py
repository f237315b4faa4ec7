"""The reason-code registry, the policy file and every check agree on one set of codes."""
from __future__ import annotations

import re
import tomllib

import pytest

from repool.resources import default_policy_file, sql_dir
from repool.schemas.audit import failure
from repool.schemas.reasons import STRUCTURAL, Reason
from repool.schemas.sources import SOURCE_DATASETS, build_source_schema
from repool.tasks.validate.policy import decide, load_policy


def test_the_policy_file_names_exactly_the_registered_codes():
    actions = tomllib.loads(default_policy_file().read_text(encoding="utf-8"))["actions"]
    assert set(actions) == {r.value for r in Reason}
    assert all(actions[r.value] == "reject" for r in STRUCTURAL)


def test_a_misspelt_code_in_the_policy_file_fails_to_load(tmp_path):
    text = default_policy_file().read_text(encoding="utf-8").replace("\nage_range =", "\nage_rnage =")
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=r"unknown reason code\(s\) \['age_rnage'\].*no action for reason code\(s\) \['age_range'\]"):
        load_policy(tmp_path / "p.toml")


def test_a_structural_code_admits_only_reject(tmp_path):
    text = default_policy_file().read_text(encoding="utf-8").replace('encoding = "reject"', 'encoding = "warn"')
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="encoding = 'warn'; a structural fault admits only 'reject'"):
        load_policy(tmp_path / "p.toml")


def test_a_default_action_is_no_longer_accepted(tmp_path):
    text = default_policy_file().read_text(encoding="utf-8") + '\n[defaults]\naction = "reject"\n'
    (tmp_path / "p.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="unknown section"):
        load_policy(tmp_path / "p.toml")


def test_a_failure_record_refuses_an_unregistered_code():
    with pytest.raises(ValueError, match="unregistered reason code 'age_rnage'"):
        failure("S", "2020-01-01", "age_rnage", "x")


def test_every_source_check_is_named_by_a_registered_code():
    names = {check.name for datasets in SOURCE_DATASETS.values() for ds in datasets.values()
             for col in build_source_schema(ds).columns.values() for check in col.checks}
    assert names and names <= {r.value for r in Reason}


def test_every_sql_check_emits_registered_codes():
    emitted = set()
    for path in sorted((sql_dir() / "checks").rglob("*.sql")):
        emitted |= set(re.findall(r"'([a-z_0-9]+)'\s+AS\s+reason", path.read_text(encoding="utf-8")))
    assert emitted and emitted <= {r.value for r in Reason}


def test_the_policy_module_refuses_a_quarantine_without_subject_and_stops_on_the_pooled_contract():
    policy = load_policy(default_policy_file())
    no_subject, pooled = decide([failure("S", "d", "age_range", "m", file="patients.csv"),
                                 failure("S", None, "pooled_contract", "m", file="pooled.adsl", subject="S-1")], policy)
    assert (no_subject["action"], no_subject["action_taken"]) == ("reject", "delivery rejected")
    assert "no subject id" in no_subject["message"]
    assert (pooled["action"], pooled["action_taken"]) == ("reject", "run stopped")


def test_the_readme_explains_every_reason_code_with_its_action():
    from tests.paths import REPO_ROOT

    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_0-9]+)` \| (reject|quarantine|warn) \|", text, flags=re.M))
    actions = tomllib.loads(default_policy_file().read_text(encoding="utf-8"))["actions"]
    assert rows == actions
