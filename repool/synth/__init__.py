"""Synthetic deliveries of the three blinatumomab studies (see data/README.md).

Public entry points (imported lazily so that `import repool.synth` stays cheap):
    write_default_deliveries(root, seed=DEFAULT_SEED) -> list[Path]
    write_scale_deliveries(root, studies, patients_per_study, seed=DEFAULT_SEED) -> list[Path]
    write_corrupt_delivery(root, kind, study=None, seed=DEFAULT_SEED) -> dict
    CORRUPTION_KINDS: dict[str, Kind]
"""
from __future__ import annotations

__all__ = ["write_default_deliveries", "write_scale_deliveries", "write_corrupt_delivery", "CORRUPTION_KINDS",
           "DEFAULT_SEED"]


def __getattr__(name: str):
    if name in ("write_default_deliveries", "write_scale_deliveries"):
        from repool.synth import deliveries
        return getattr(deliveries, name)
    if name in ("write_corrupt_delivery", "CORRUPTION_KINDS"):
        from repool.synth import corrupt
        return getattr(corrupt, name)
    if name == "DEFAULT_SEED":
        from repool.synth.cohort import DEFAULT_SEED
        return DEFAULT_SEED
    raise AttributeError(name)
