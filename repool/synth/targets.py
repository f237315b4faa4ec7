"""Calibration targets: the published figures per salvage group, and scaling.

Every published figure is read from `data/reference/topp2021_published.json` (via `reference.py`);
the few numbers typed in here are the generator's own choices where the publication prints nothing
(`UNPUBLISHED`). Every count is reproduced exactly by the default deliveries; the Table 2 medians,
their 95% limits, the hazard ratios and p-values are hit by the generator's deterministic
calibration (`cohort.py`, `curves.py`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from repool.schemas.pooled import BMBLCAT_LEVELS, ECOG_LEVELS, SALVAGE_LEVELS
from repool.synth.reference import group_n, published


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


# Not printed in the publication (docs/spec/publication.md: the source page lost those rows; the
# events of interest are not in Table 4): the generator's calibration choices, per group. The CR/CRh
# split (CRi = the rest of the published remissions) and MRD follow the source trials (75-80% CR,
# 15-20% CRh, MRD 75-88% of remissions); HSCT after relapse (the rest of the published
# HSCT_RELREF count is HSCT when refractory); CRS and neurologic events (any / grade >= 3).
UNPUBLISHED = {
    SALVAGE_LEVELS[0]: dict(cr=69, crh=14, mrd=72, hsct_relapse=2, crs=21, crs_g3=6, neuro=82, neuro_g3=18),
    SALVAGE_LEVELS[1]: dict(cr=116, crh=25, mrd=120, hsct_relapse=5, crs=48, crs_g3=15, neuro=185, neuro_g3=41),
}


def published_group(group: str) -> GroupTargets:
    """The targets of one salvage group: published figures from the reference JSON, the rest from
    `UNPUBLISHED`."""
    def t1(variable: str, stat_name: str, level: str | None = None):
        return published("table1", variable, stat_name, group, level)

    def t3(variable: str, level: str | None = None) -> int:
        return published("table3", variable, "n", group, level)

    def t4(variable: str, stat_name: str = "n") -> int:
        return published("table4", variable, stat_name, group)

    def os_median(prior: str | None) -> float:
        return published("table2", "OS", "median", group, group2_level=prior)

    u = UNPUBLISHED[group]
    remission = t3("BOR", "CR/CRh/CRi")
    hsct, hsct_cr, hsct_relref, other_tx = t3("HSCT"), t3("HSCT_CR"), t3("HSCT_RELREF"), t3("OTHER_TX")
    hsct_other_tx = hsct - hsct_cr - hsct_relref  # transplanted after another therapy
    return GroupTargets(
        n=group_n(group), men=t1("SEX", "n", "M"), ecog=tuple(t1("ECOG", "n", lev) for lev in ECOG_LEVELS),
        prior_hsct=t1("PRHSCT", "n", "Y"), blast_cats=tuple(t1("BMBLCAT", "n", lev) for lev in BMBLCAT_LEVELS),
        age=tuple(t1("AGE", s) for s in ("median", "min", "max")),
        blasts=tuple(t1("BMBLAST", s) for s in ("median", "min", "max")),
        remission=remission, bor_split=(u["cr"], u["crh"], remission - u["cr"] - u["crh"]), mrd=u["mrd"],
        hsct_cr=hsct_cr, hsct_relapse=u["hsct_relapse"], hsct_refractory=hsct_relref - u["hsct_relapse"],
        hsct_other_tx=hsct_other_tx, other_tx_only=other_tx - hsct_other_tx,
        teae=t4("ANY_TEAE"), teae_g3=t4("ANY_TEAE", "n_grade3"), serious=t4("SERIOUS_TEAE"),
        fatal=t4("FATAL_TEAE"), fatal_related=t4("FATAL_RELATED"),
        crs=u["crs"], crs_g3=u["crs_g3"], neuro=u["neuro"], neuro_g3=u["neuro_g3"],
        os_median_prior=os_median("Y"), os_median_no_prior=os_median("N"),
        rfs_median=published("table2", "RFS", "median", group),
    )


FIRST = published_group(SALVAGE_LEVELS[0])
LATER = published_group(SALVAGE_LEVELS[1])
PUBLISHED_GROUPS = {SALVAGE_LEVELS[0]: FIRST, SALVAGE_LEVELS[1]: LATER}

# Pooled figures that are not per group (Table 2 group medians and HRs later vs first).
OS_MEDIAN = {g: published("table2", "OS", "median", g) for g in SALVAGE_LEVELS}
OS_HR = tuple(published("table2", "OS", s, SALVAGE_LEVELS[1]) for s in ("hr", "hr_lcl", "hr_ucl"))
RFS_HR = tuple(published("table2", "RFS", s, SALVAGE_LEVELS[1]) for s in ("hr", "hr_lcl", "hr_ucl"))

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


def median_ci(variable: str, group: str, prior: str | None = None) -> tuple[float, float, float]:
    """A Table 2 median with its published 95% limits (months): (median, lcl, ucl)."""
    return tuple(published("table2", variable, s, group, group2_level=prior)  # type: ignore[return-value]
                 for s in ("median", "median_lcl", "median_ucl"))


# Table 2 medians with their 95% CIs, per group: OS overall (None) and by prior allo-HSCT ("Y"/"N"), RFS.
OS_CI = {g: {prior: median_ci("OS", g, prior) for prior in (None, "Y", "N")} for g in SALVAGE_LEVELS}
RFS_CI = {g: median_ci("RFS", g) for g in SALVAGE_LEVELS}
RFS_P = published("table2", "RFS", "p_value", SALVAGE_LEVELS[1])
