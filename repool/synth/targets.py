"""Calibration targets: the published figures (publication.md) per salvage group, and scaling.

Every count here is reproduced exactly by the default deliveries; medians and hazard ratios are
hit by the generator's deterministic calibration (see `outcomes.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class GroupTargets:
    """Exact patient counts and survival targets of one salvage group (first / later)."""

    n: int
    men: int
    ecog: tuple[int, int, int, int]  # ECOG 0, 1, 2, unknown
    prior_hsct: int
    blast_cats: tuple[int, int, int, int, int]  # <=5, >5-<10, 10-<50, >=50, unknown
    age: tuple[float, float, float]  # median, min, max
    blasts: tuple[float, float, float]  # median, min, max (non-missing)
    remission: int
    bor_split: tuple[int, int, int]  # CR, CRh, CRi among remissions
    mrd: int  # MRD responders among remissions
    hsct_cr: int
    hsct_relapse: int
    hsct_refractory: int
    hsct_other_tx: int  # transplanted after another therapy (also counts as OTHER_TX)
    other_tx_only: int  # other therapy, not transplanted afterwards
    teae: int
    teae_g3: int
    serious: int
    fatal: int
    fatal_related: int
    crs: int
    crs_g3: int
    neuro: int
    neuro_g3: int
    os_median_prior: float  # months, prior allo-HSCT subgroup
    os_median_no_prior: float
    rfs_median: float

    @property
    def hsct(self) -> int:
        return self.hsct_cr + self.hsct_relapse + self.hsct_refractory + self.hsct_other_tx

    @property
    def other_tx(self) -> int:
        return self.hsct_other_tx + self.other_tx_only


FIRST = GroupTargets(
    n=165, men=98, ecog=(77, 72, 16, 0), prior_hsct=41, blast_cats=(8, 9, 35, 99, 14),
    age=(45, 19, 80), blasts=(78, 1, 100), remission=89, bor_split=(69, 14, 6), mrd=72,
    hsct_cr=33, hsct_relapse=2, hsct_refractory=2, hsct_other_tx=23, other_tx_only=19,
    teae=162, teae_g3=133, serious=99, fatal=16, fatal_related=3,
    crs=21, crs_g3=6, neuro=82, neuro_g3=18,
    os_median_prior=14.7, os_median_no_prior=9.3, rfs_median=10.1,
)
LATER = GroupTargets(
    n=367, men=225, ecog=(111, 191, 63, 2), prior_hsct=141, blast_cats=(8, 13, 78, 250, 18),
    age=(34, 18, 77), blasts=(81, 2, 100), remission=150, bor_split=(116, 25, 9), mrd=120,
    hsct_cr=52, hsct_relapse=5, hsct_refractory=4, hsct_other_tx=27, other_tx_only=34,
    teae=361, teae_g3=310, serious=239, fatal=76, fatal_related=10,
    crs=48, crs_g3=15, neuro=185, neuro_g3=41,
    os_median_prior=7.4, os_median_no_prior=4.9, rfs_median=7.3,
)
PUBLISHED_GROUPS = {"First salvage": FIRST, "Second or later salvage": LATER}

# Pooled figures that are not per group (Table 2 group medians and HRs).
OS_MEDIAN = {"First salvage": 10.4, "Second or later salvage": 5.7}
OS_HR = (1.58, 1.26, 1.97)
RFS_HR = (1.38, 0.98, 1.93)

_COUNT_FIELDS = [f.name for f in fields(GroupTargets)
                 if f.name not in ("age", "blasts", "os_median_prior", "os_median_no_prior", "rfs_median")]


def _split_total(parts: tuple[int, ...], total: int) -> tuple[int, ...]:
    """Scale integer parts to a new total, keeping proportions (largest remainder)."""
    old = sum(parts)
    if old == 0:
        return tuple(0 for _ in parts)
    raw = [p * total / old for p in parts]
    out = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: out[i] - raw[i])[: total - sum(out)]:
        out[i] += 1
    return tuple(out)


def scaled(t: GroupTargets, n: int) -> GroupTargets:
    """The same proportions for a group of n patients (scale mode and the SOC arm)."""
    f = n / t.n
    kw: dict = {}
    for name in _COUNT_FIELDS:
        value = getattr(t, name)
        if name == "n":
            kw[name] = n
        elif name in ("ecog", "blast_cats"):
            kw[name] = _split_total(value, n)
        elif name == "bor_split":
            continue
        else:
            kw[name] = int(round(value * f))
    remission = kw["remission"]
    kw["bor_split"] = _split_total(t.bor_split, remission)
    kw["mrd"] = min(kw["mrd"], remission)
    return replace(t, **kw)
