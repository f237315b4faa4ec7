"""One canonical patient table and AE table for a set of studies, before any file format.

`build_cohort` draws everything in days from the first dose; the writers (`formats.py`) turn the
tables into each study's native delivery. With `calibrate=True` (the default deliveries) a small
deterministic search over sub-seeds picks the survival draw whose pooled medians and hazard
ratios land on the published ones; every count is exact by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from repool.schemas.pooled import SALVAGE_LEVELS
from repool.synth import adverse, outcomes
from repool.synth.baseline import baseline
from repool.synth.outcomes import DAYS_PER_MONTH, OS_SHAPE, OS_SHAPE_DEFAULT
from repool.synth.stats import cox_binary_efron, km_median, km_median_ci
from repool.synth.targets import FIRST, LATER, OS_HR, OS_MEDIAN, RFS_HR, GroupTargets, scaled

FIRST_LABEL, LATER_LABEL = SALVAGE_LEVELS
MAX_ATTEMPTS = 2000  # sub-seeds tried by the calibration search (about 1-2% are accepted)
# fraction of remission patients who never relapse (they may still die), per group
RFS_CURE = {FIRST_LABEL: 0.5, LATER_LABEL: 0.35}


@dataclass(frozen=True)
class StudyPlan:
    """A study's share of the pool, its enrolment window and data cut."""

    study: str
    fmt: str  # csv-legacy, xpt-adam, parquet-adam
    n_first: int
    n_later: int
    enrol_start: date
    enrol_end: date
    cut: date
    soc: int = 0  # patients randomised to standard of care (not pooled)
    untreated: int = 0  # randomised to blinatumomab but never treated (not pooled)

    @property
    def delivery_id(self) -> str:
        return self.cut.isoformat()


DEFAULT_PLANS = (
    StudyPlan("MT103-206", "csv-legacy", 6, 30, date(2010, 10, 4), date(2012, 1, 31), date(2013, 7, 31)),
    StudyPlan("MT103-211", "xpt-adam", 42, 147, date(2012, 1, 16), date(2013, 10, 31), date(2014, 9, 30)),
    StudyPlan("00103311", "parquet-adam", 117, 190, date(2014, 1, 13), date(2015, 9, 30), date(2016, 1, 4),
              soc=155, untreated=4),
)
DEFAULT_SEED = 20210308


@dataclass
class Cohort:
    patients: pd.DataFrame  # one row per patient (all arms), days from first dose
    aes: pd.DataFrame  # one row per AE, `pid` = patients row


def _rng(seed: int, *stage: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stage])


def _dates_between(rng: np.random.Generator, start: date, end: date, n: int) -> np.ndarray:
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    return lo + rng.integers(0, int((hi - lo).astype(int)) + 1, n).astype("timedelta64[D]")


def _baseline_table(seed: int, plans: list[StudyPlan], groups: dict[str, GroupTargets]) -> pd.DataFrame:
    """Exact-count baselines per group, spread over the studies; first doses and follow-up."""
    rng = _rng(seed, 0)
    parts = []
    for label, t in groups.items():
        df = baseline(rng, t, label, first=label == FIRST_LABEL)
        counts = [p.n_first if label == FIRST_LABEL else p.n_later for p in plans]
        df["study"] = rng.permutation(np.repeat([p.study for p in plans], counts))
        parts.append(df)
    pt = pd.concat(parts, ignore_index=True)
    pt["first_dose"] = np.datetime64("NaT", "D")
    for p in plans:
        m = (pt["study"] == p.study).to_numpy()
        pt.loc[m, "first_dose"] = _dates_between(rng, p.enrol_start, p.enrol_end, int(m.sum()))
    cut = pt["study"].map({p.study: np.datetime64(p.cut, "D") for p in plans}).to_numpy(dtype="datetime64[D]")
    follow_up = (cut - pt["first_dose"].to_numpy(dtype="datetime64[D]")).astype(int)
    pt["censor"] = outcomes.censor_days(rng, follow_up)
    return pt


def _os_draw(seed: int, attempt: int, pt: pd.DataFrame, groups: dict[str, GroupTargets],
             shapes: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed, 1, attempt)
    obs = np.zeros(len(pt), dtype=int)
    dead = np.zeros(len(pt), dtype=bool)
    for label, t in groups.items():
        for prior, target in ((True, t.os_median_prior), (False, t.os_median_no_prior)):
            m = ((pt["group"] == label) & (pt["prhsct"] == prior)).to_numpy()
            if not m.any():
                continue
            base = outcomes.os_base_times(rng, int(m.sum()), shapes.get(label, OS_SHAPE_DEFAULT))
            obs[m], dead[m] = outcomes.fit_os(base, pt.loc[m, "censor"].to_numpy(), target)
    return obs, dead


def _os_ok(pt: pd.DataFrame, obs: np.ndarray, dead: np.ndarray, groups: dict[str, GroupTargets]) -> bool:
    """Pooled OS close to publication: group medians (0.12), prior-HSCT subgroup medians (0.3),
    HR (0.015) and the number of deaths (352-366)."""
    months = obs / DAYS_PER_MONTH
    later = (pt["group"] == LATER_LABEL).to_numpy()
    for label, t in groups.items():
        g = (pt["group"] == label).to_numpy()
        if not abs(km_median(months[g], dead[g]) - OS_MEDIAN[label]) <= 0.12:
            return False
        for prior, target in ((True, t.os_median_prior), (False, t.os_median_no_prior)):
            sub = g & (pt["prhsct"] == prior).to_numpy()
            if not abs(km_median(months[sub], dead[sub]) - target) <= 0.3:
                return False
    cox = cox_binary_efron(months, dead, later)
    return abs(cox["hr"] - OS_HR[0]) <= 0.015 and 352 <= dead.sum() <= 366


def _rfs_ok(rfs: outcomes.Rfs, later: np.ndarray, first_mask: np.ndarray, groups: dict[str, GroupTargets]) -> bool:
    """Pooled RFS close to publication: group medians with estimable CIs, HR, a Wald p between
    0.05 and 0.10, 130-150 events."""
    r = rfs.rfs_days >= 0
    sel = r & (first_mask | later)
    months = rfs.rfs_days / DAYS_PER_MONTH
    for mask, label in ((first_mask, FIRST_LABEL), (later, LATER_LABEL)):
        m = km_median(months[r & mask], rfs.rfs_event[r & mask])
        if label in groups and not abs(m - groups[label].rfs_median) <= 0.15:
            return False
        if not np.isfinite(km_median_ci(months[r & mask], rfs.rfs_event[r & mask])[1]):
            return False  # the published CIs are all estimable
    cox = cox_binary_efron(months[sel], rfs.rfs_event[sel], later[sel])
    return (abs(cox["hr"] - RFS_HR[0]) <= 0.025 and 0.06 <= cox["p"] <= 0.08
            and 130 <= rfs.rfs_event[sel].sum() <= 150)


def build_cohort(seed: int, plans: list[StudyPlan], groups: dict[str, GroupTargets],
                 calibrate: bool, shapes: dict | None = None) -> Cohort:
    """All treated patients of the plans (the pooled population) with outcomes and AEs."""
    shapes = OS_SHAPE if shapes is None else shapes
    pt = _baseline_table(seed, plans, groups)
    first_mask = (pt["group"] == FIRST_LABEL).to_numpy()
    later = (pt["group"] == LATER_LABEL).to_numpy()
    for attempt in range(MAX_ATTEMPTS if calibrate else 1):
        obs, dead = _os_draw(seed, attempt, pt, groups, shapes)
        if not calibrate or _os_ok(pt, obs, dead, groups):
            break
    else:
        raise RuntimeError("OS calibration failed; try another seed")
    pt["obs"], pt["dead"] = obs, dead
    rng = _rng(seed, 2)
    n = len(pt)
    bor = np.full(n, "", dtype=object)
    cols = {k: np.full(n, -1) for k in ("remission_day", "a1", "a2", "rem_cycle")}
    mrd = np.zeros(n, dtype=bool)
    for label, t in groups.items():
        m = (pt["group"] == label).to_numpy()
        r = outcomes.draw_response(rng, obs[m], t.remission, t.bor_split, t.mrd)
        bor[m] = r.bor
        cols["remission_day"][m], cols["a1"][m], cols["a2"][m] = r.remission_day, r.a1, r.a2
        cols["rem_cycle"][m] = r.first_remission_cycle
        mrd[m] = r.mrd
    pt["bor"], pt["mrd"] = bor, mrd
    for k, v in cols.items():
        pt[k] = v
    rem = cols["remission_day"]
    for attempt in range(MAX_ATTEMPTS if calibrate else 1):
        rng = _rng(seed, 3, attempt)
        relapse, rfs_days, rfs_ev = np.full(n, -1), np.full(n, -1), np.zeros(n, dtype=bool)
        for label, t in groups.items():
            m = (pt["group"] == label).to_numpy()
            f = outcomes.draw_rfs(rng, obs[m], dead[m], rem[m], t.rfs_median, RFS_CURE.get(label, 0.3))
            relapse[m], rfs_days[m], rfs_ev[m] = f.relapse_day, f.rfs_days, f.rfs_event
        rfs = outcomes.Rfs(relapse, rfs_days, rfs_ev)
        if not calibrate or _rfs_ok(rfs, later, first_mask, groups):
            break
    else:
        raise RuntimeError("RFS calibration failed; try another seed")
    pt["relapse_day"], pt["rfs_days"], pt["rfs_event"] = relapse, rfs_days, rfs_ev
    _add_transplants(seed, pt, groups)
    aes = _add_treatment_and_aes(seed, pt, groups, partial_by_study={p.study: p.fmt == "parquet-adam" for p in plans})
    return Cohort(pt, aes)


def _add_transplants(seed: int, pt: pd.DataFrame, groups: dict[str, GroupTargets]) -> None:
    rng = _rng(seed, 4)
    n = len(pt)
    hsct, status, other = np.full(n, -1), np.full(n, "", dtype=object), np.full(n, -1)
    for label, t in groups.items():
        m = (pt["group"] == label).to_numpy()
        counts = {"hsct_cr": t.hsct_cr, "hsct_relapse": t.hsct_relapse, "hsct_refractory": t.hsct_refractory,
                  "hsct_other_tx": t.hsct_other_tx, "other_tx_only": t.other_tx_only}
        tx = outcomes.draw_transplants(rng, pt.loc[m, "obs"].to_numpy(), pt.loc[m, "bor"].to_numpy(),
                                       pt.loc[m, "remission_day"].to_numpy(), pt.loc[m, "relapse_day"].to_numpy(),
                                       counts)
        hsct[m], status[m], other[m] = tx.hsct_day, tx.hsct_status, tx.other_tx_day
    pt["hsct_day"], pt["hsct_status"], pt["other_day"] = hsct, status, other


def _add_treatment_and_aes(seed: int, pt: pd.DataFrame, groups: dict[str, GroupTargets],
                           partial_by_study: dict[str, bool]) -> pd.DataFrame:
    """Fatal-TEAE patients, last dose day, then the AE rows."""
    rng = _rng(seed, 5)
    n = len(pt)
    fatal = np.zeros(n, dtype=bool)
    for label, t in groups.items():
        m = (pt["group"] == label).to_numpy()
        sub = pt.loc[m]
        free = ((sub["hsct_day"] < 0) & (sub["other_day"] < 0) & (sub["relapse_day"] < 0)).to_numpy()
        fatal[m] = adverse.choose_fatal(rng, t, sub["obs"].to_numpy(), sub["dead"].to_numpy(),
                                        (sub["remission_day"] >= 0).to_numpy(), free)
    tx = outcomes.Transplants(pt["hsct_day"].to_numpy(), pt["hsct_status"].to_numpy(), pt["other_day"].to_numpy())
    pt["last_day"] = outcomes.last_dose_day(rng, pt["obs"].to_numpy(), pt["bor"].to_numpy(),
                                            pt["remission_day"].to_numpy(), pt["relapse_day"].to_numpy(), tx, fatal)
    rng = _rng(seed, 6)
    merged = {f: np.zeros(n, dtype=bool) for f in adverse.AeSets.__dataclass_fields__}
    for label, t in groups.items():
        m = (pt["group"] == label).to_numpy()
        s = adverse.choose_sets(rng, t, fatal[m])
        for f in merged:
            merged[f][m] = getattr(s, f)
    partial = pt["study"].map(partial_by_study).to_numpy(dtype=bool)
    frames = []
    for flag in (False, True):
        idx = np.flatnonzero(partial == flag)
        if len(idx) == 0:
            continue
        sub_sets = adverse.AeSets(**{f: v[idx] for f, v in merged.items()})
        df = adverse.draw_events(rng, sub_sets, pt["first_dose"].to_numpy(dtype="datetime64[D]")[idx],
                                 pt["last_day"].to_numpy()[idx], pt["obs"].to_numpy()[idx],
                                 pt["dead"].to_numpy()[idx], partial_dates=flag)
        df["pid"] = idx[df["pid"].to_numpy()]
        frames.append(df)
    for f, v in merged.items():
        pt["ae_" + f] = v
    aes = pd.concat(frames, ignore_index=True).sort_values(["pid", "day"], kind="stable").reset_index(drop=True)
    return aes


def soc_groups() -> dict[str, GroupTargets]:
    """Targets of TOWER's standard-of-care arm: fewer remissions, shorter survival (not pooled)."""
    out = {}
    for label, t, n in ((FIRST_LABEL, FIRST, 55), (LATER_LABEL, LATER, 100)):
        s = scaled(t, n)
        rem = int(round(n * 0.25))
        s = replace(s, remission=rem, bor_split=(int(rem * 0.75), rem - int(rem * 0.75) - 1, 1),
                    mrd=int(rem * 0.5), hsct_cr=int(rem * 0.35), os_median_prior=t.os_median_prior * 0.7,
                    os_median_no_prior=t.os_median_no_prior * 0.7, rfs_median=t.rfs_median * 0.7)
        out[label] = s
    return out
