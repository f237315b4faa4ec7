"""The policy module: the only place where a failure's reason code becomes an action.

`load_policy` reads `policies.toml` (the settings' policy file) and refuses a file that does not
name exactly the registered reason codes (`schemas/reasons.py`) or gives a structural code any
action but `reject`. `decide` attaches action, severity and the action taken to failure records,
including the two rules that no policy file can change:
- a failure that cannot be attributed to a subject cannot be quarantined: the delivery is refused;
- a breach of the pooled contract stops the run instead of refusing a delivery.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from repool.schemas.reasons import STRUCTURAL, Reason, as_reason

ACTIONS = ("reject", "quarantine", "warn")
SEVERITY = {"reject": "error", "quarantine": "error", "warn": "warning"}
ACTION_TAKEN = {"reject": "delivery rejected", "quarantine": "subject quarantined", "warn": "recorded"}
RUN_STOPPED = "run stopped"


@dataclass(frozen=True)
class Policy:
    actions: dict[str, str]

    def action_for(self, reason: str) -> str:
        return self.actions[as_reason(reason).value]


def load_policy(path: Path) -> Policy:
    """Read and check the policy file; any mismatch with the registry is a configuration error."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    actions = dict(data.get("actions", {}))
    problems = []
    unknown = sorted(set(actions) - {r.value for r in Reason})
    missing = sorted({r.value for r in Reason} - set(actions))
    if unknown:
        problems.append(f"unknown reason code(s) {unknown} (see schemas/reasons.py)")
    if missing:
        problems.append(f"no action for reason code(s) {missing}")
    for reason, action in sorted(actions.items()):
        if action not in ACTIONS:
            problems.append(f"{reason} = {action!r}; expected one of {ACTIONS}")
        elif reason in STRUCTURAL and action != "reject":
            problems.append(f"{reason} = {action!r}; a structural fault admits only 'reject'")
    if set(data) - {"actions"}:
        problems.append(f"unknown section(s) {sorted(set(data) - {'actions'})}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return Policy(actions=actions)


def decide(failures: list[dict], policy: Policy) -> list[dict]:
    """Each failure record with its action, severity and action taken (new dicts)."""
    out = []
    for f in failures:
        action = policy.action_for(f["reason"])
        message = f["message"]
        if action == "quarantine" and not f.get("subject"):
            action = "reject"
            message += " (no subject id on the row, so the delivery is refused)"
        taken = RUN_STOPPED if action == "reject" and f["reason"] == Reason.POOLED_CONTRACT else ACTION_TAKEN[action]
        out.append({**f, "message": message, "action": action, "severity": SEVERITY[action], "action_taken": taken})
    return out
