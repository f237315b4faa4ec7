"""Validation policy: the action per reason code, read from the settings' policy file."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

ACTIONS = ("reject", "quarantine", "warn")
SEVERITY = {"reject": "error", "quarantine": "error", "warn": "warning"}
ACTION_TAKEN = {"reject": "delivery rejected", "quarantine": "subject quarantined", "warn": "recorded"}


@dataclass(frozen=True)
class Policy:
    actions: dict[str, str]
    default: str = "reject"

    def action_for(self, reason: str) -> str:
        return self.actions.get(reason, self.default)


def load_policy(path: Path) -> Policy:
    """Read and check the policy file; an unknown action is a configuration error."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    actions = dict(data.get("actions", {}))
    default = data.get("defaults", {}).get("action", "reject")
    for reason, action in list(actions.items()) + [("defaults.action", default)]:
        if action not in ACTIONS:
            raise ValueError(f"{path}: {reason} = {action!r}; expected one of {ACTIONS}")
    return Policy(actions=actions, default=default)
