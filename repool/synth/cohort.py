"""One canonical patient table and AE table for a set of studies, before any file format.

`build_cohort` draws everything in days from the first dose; the writers (`formats.py`) turn the
tables into each study's native delivery. With `calibrate=True` (the default deliveries) a
deterministic search over sub-seeds fits OS and RFS curves (`curves.py`) to every Table 2 median,
95% limit, HR and p-value of the publication; every count is exact by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from repool.schemas.pooled import SALVAGE_LEVELS
from repool.synth import adverse, curves, outcomes
from repool.synth.baseline import baseline
from repool.synth.outcomes import DAYS_PER_MONTH, OS_SHAPE, OS_SHAPE_DEFAULT
from repool.synth.reference import p_bound
from repool.synth.stats import cox_binary_efron
from repool.synth.targets import FIRST, LATER, OS_CI, OS_HR, RFS_CI, RFS_HR, RFS_P, GroupTargets, scaled

FIRST_LABEL, LATER_LABEL = SALVAGE_LEVELS
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


# The per-study split of the salvage groups and the enrolment windows are not published (only each
# study's pooled total is): they are the generator's choices. First-salvage patients sit mostly in
# the two studies with the longer follow-up, so that the published upper limits of the first-salvage
# medians (OS with prior HSCT 25.3, RFS 18.0 months) have patients still at risk, and about 110 of
# them die (the OS HR's CI needs that SE); most later-salvage patients are in 00103311, whose short
# follow-up keeps the deaths near 360 without a plateau of later-salvage survivors.
DEFAULT_PLANS = (
    StudyPlan("MT103-206", "csv-legacy", 24, 12, date(2010, 10, 4), date(2012, 1, 31), date(2013, 7, 31)),
    StudyPlan("MT103-211", "xpt-adam", 111, 78, date(2011, 11, 1), date(2013, 6, 30), date(2014, 9, 30)),
    StudyPlan("00103311", "parquet-adam", 30, 277, date(2014, 10, 1), date(2015, 10, 31), date(2016, 1, 4),
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


# The calibration search (default deliveries): sub-seeds tried in order; per sub-seed the knots of
# each OS curve are fitted to Table 2's medians and 95% limits, then the tails (a plateau of long
# survivors) to the OS HR and the number of deaths. Tolerances are a little inside the issue's.
CI_TOL = 0.29  # months, every Table 2 median and 95% limit
HR_TOL, HR_CI_TOL = 0.03, 0.045
DEATHS = (352, 366)  # publication.md calibration hint: about 360 deaths
RFS_EVENTS = (131, 149)  # about 140 relapses or deaths in remission
MAX_OS_ATTEMPTS = MAX_RFS_ATTEMPTS = 200
EXACT_ATTEMPTS = 12  # sub-seeds tried for figures that print exactly as published, beyond the tolerances
POLISH_EVALS = 600  # Cox fits per polish
TAIL_HAZARD = {FIRST_LABEL: 0.12, LATER_LABEL: 0.12}  # per month after the last knot
TAIL_FLOOR = {FIRST_LABEL: 0.1, LATER_LABEL: 0.25}
# first salvage: a slow stretch after the last published limit (months, hazard per month), so that
# its later deaths (about 110 in all) come after the responders' RFS limits, not before
LATE_KNOT, LATE_HAZARD = {FIRST_LABEL: 3.0}, {FIRST_LABEL: 0.05}
RFS_TAIL = {FIRST_LABEL: (0.02, 0.3), LATER_LABEL: (0.03, 0.2)}  # latent relapse: hazard after the last knot, plateau
RESPONSE_WEIGHTS = (3.0, 5.0)  # remissions drawn with rank(obs)^3, x5 for patients alive at last contact
RFS_PER_RESPONSE = 4  # RFS sub-seeds tried per response draw
BOOST_AFTER = 16  # response draws with RESPONSE_WEIGHTS; each later draw weights the living by 2 x 5 more
# (fewer deaths in remission, so fewer RFS events: other seeds than the default may need that)


def _hr_ok(cox: dict, target: tuple[float, float, float]) -> bool:
    return (abs(cox["hr"] - target[0]) <= HR_TOL and abs(cox["lcl"] - target[1]) <= HR_CI_TOL
            and abs(cox["ucl"] - target[2]) <= HR_CI_TOL)


def _se(cox: dict) -> float:
    return float(np.log(cox["ucl"] / cox["lcl"]) / (2 * 1.959964))


def _os_pins(pt: pd.DataFrame, groups: dict[str, GroupTargets]) -> list[curves.Pin]:
    prior = pt["prhsct"].to_numpy(dtype=bool)
    pins = []
    for label in groups:
        g = (pt["group"] == label).to_numpy()
        for key, mask in ((None, g), ("Y", g & prior), ("N", g & ~prior)):
            pins += [curves.Pin(mask, g, stat, v) for stat, v in zip(("median", "lcl", "ucl"), OS_CI[label][key])]
    return pins


def _pinned(obs: np.ndarray, ev: np.ndarray, pins: list[curves.Pin]) -> np.ndarray:
    """Patients whose time defines a pinned figure (they stay where they are)."""
    fixed = np.zeros(len(obs), dtype=bool)
    for pin in pins:
        v = curves.pin_value(obs, ev, pin)
        if np.isfinite(v):
            fixed |= pin.group & (obs == int(round(v * DAYS_PER_MONTH)))
    return fixed


def _calibrated_os(seed: int, pt: pd.DataFrame, groups: dict[str, GroupTargets]) -> tuple[np.ndarray, np.ndarray]:
    """OS pinned at the published medians and limits of every Table 2 OS row, HR and deaths on
    target. Per sub-seed: knots fitted to the figures (within CI_TOL), the plateaus and early knots
    to the HR, its SE and the deaths; then the figures are snapped and the Cox fit polished to the
    printed digits (`curves`). Of the sub-seeds that meet the tolerances, the one with the fewest
    figures that do not print as published wins (the first at a tie); the search stops at one that
    prints them all, or after EXACT_ATTEMPTS sub-seeds once one met the tolerances."""
    n = len(pt)
    later = (pt["group"] == LATER_LABEL).to_numpy()
    prior = pt["prhsct"].to_numpy(dtype=bool)
    censor = pt["censor"].to_numpy()
    pins = _os_pins(pt, groups) if len(groups) == 2 else []
    target = curves.CoxTarget(*OS_HR, p_below=p_bound("table2", "OS", "p_value", LATER_LABEL))
    se_lo, se_hi = target.se_window()
    best: tuple | None = None  # (figures that do not print as published, obs, dead)
    for attempt in range(MAX_OS_ATTEMPTS):
        if best is not None and (best[0] == 0 or attempt >= EXACT_ATTEMPTS):
            break
        fits = {}
        for gi, label in enumerate(groups):
            g = (pt["group"] == label).to_numpy()
            masks = {"Y": g & prior, "N": g & ~prior}
            ci = OS_CI[label]
            big = max(masks, key=lambda k: int(masks[k].sum()))
            fits[label] = curves.group_fit(_rng(seed, 1, attempt, gi), masks, censor, {k: ci[k] for k in masks},
                                           ci[None], big, early_knot=True, late_knot=LATE_KNOT.get(label))
        floor = dict(TAIL_FLOOR)
        early = {k: 1.0 for k in groups}
        for _ in range(16):
            for label, f in fits.items():
                f.refit(TAIL_HAZARD[label], floor[label], early=early[label], late=LATE_HAZARD.get(label))
            obs, dead = np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
            for f in fits.values():
                o, d = f.observed(n)
                obs, dead = obs + o, dead | d
            cox = cox_binary_efron(obs / DAYS_PER_MONTH, dead, later)
            deaths = int(dead.sum())
            if (all(f.fit.worst <= CI_TOL for f in fits.values()) and _hr_ok(cox, OS_HR)
                    and DEATHS[0] <= deaths <= DEATHS[1]):
                o2 = obs.copy()
                score = curves.snap_figures(o2, dead, pins, np.ones(n, dtype=bool), censor)
                in_window = se_lo <= _se(cox) <= se_hi
                _, fit = curves.polish_cox(o2, dead, later, np.ones(n, dtype=bool), target, _pinned(o2, dead, pins),
                                           censor, _rng(seed, 1, attempt, 9), cox_binary_efron,
                                           POLISH_EVALS if in_window else POLISH_EVALS // 6)
                score += target.misses(fit)
                if _hr_ok(fit, OS_HR) and (best is None or score < best[0]):
                    best = (score, o2, dead)
                if score == 0 or in_window:
                    break
            e_hr = np.log(cox["hr"] / OS_HR[0])
            e_se = _se(cox) / ((se_lo + se_hi) / 2) - 1
            e_d = (deaths - sum(DEATHS) / 2) / n
            floor[LATER_LABEL] = float(np.clip(floor[LATER_LABEL] + 1.0 * e_d, 0.0, 0.35))
            floor[FIRST_LABEL] = float(np.clip(floor[FIRST_LABEL] - 1.5 * e_se, 0.0, 0.35))
            early[LATER_LABEL] = float(np.clip(early[LATER_LABEL] - 3 * e_hr, 0.3, 2.5))
            early[FIRST_LABEL] = float(np.clip(early[FIRST_LABEL] + 3 * e_hr, 0.3, 2.5))
    if best is None:
        raise RuntimeError("OS calibration failed; try another seed")
    return best[1], best[2]


def _responses(rng: np.random.Generator, pt: pd.DataFrame, groups: dict[str, GroupTargets], obs: np.ndarray,
               dead: np.ndarray | None, power: float = 1.5, alive_weight: float = 1.0) -> dict[str, np.ndarray]:
    """Best response per group with the exact counts (see `outcomes.draw_response`)."""
    n = len(pt)
    cols = {k: np.full(n, -1) for k in ("remission_day", "a1", "a2", "rem_cycle")}
    cols["bor"], cols["mrd"] = np.full(n, "", dtype=object), np.zeros(n, dtype=bool)
    for label, t in groups.items():
        m = (pt["group"] == label).to_numpy()
        r = outcomes.draw_response(rng, obs[m], t.remission, t.bor_split, t.mrd,
                                   None if dead is None else dead[m], power, alive_weight)
        cols["bor"][m], cols["mrd"][m] = r.bor, r.mrd
        cols["remission_day"][m], cols["a1"][m], cols["a2"][m] = r.remission_day, r.a1, r.a2
        cols["rem_cycle"][m] = r.first_remission_cycle
    return cols


def _calibrated_rfs(seed: int, pt: pd.DataFrame, groups: dict[str, GroupTargets], obs: np.ndarray,
                    dead: np.ndarray) -> tuple[dict[str, np.ndarray], outcomes.Rfs]:
    """Responses (favouring patients alive at last contact) and relapses pinned at the published
    RFS medians and limits: a latent relapse time from the remission date whose knots are fitted
    to the figures of the observed RFS (which also ends at a death in remission); its plateau (never
    relapsing) is moved to the number of events and its SE, its early knot to the RFS HR. Then, as
    for OS, the figures are snapped and the Cox fit polished to the printed digits (HR, limits, p),
    and the sub-seed with the fewest figures that do not print as published wins."""
    n = len(pt)
    later = (pt["group"] == LATER_LABEL).to_numpy()
    p_side = 0.05 + 0.003  # printed p 0.061: not significant at 0.05
    target = curves.CoxTarget(*RFS_HR, p=RFS_P)
    se_lo, se_hi = target.se_window()
    cols: dict[str, np.ndarray] = {}
    best: tuple | None = None  # (figures that do not print as published, responses, RFS)
    for attempt in range(MAX_RFS_ATTEMPTS):
        if best is not None and (best[0] == 0 or attempt >= EXACT_ATTEMPTS):
            break
        if attempt % RFS_PER_RESPONSE == 0:
            draw = attempt // RFS_PER_RESPONSE
            power, alive = RESPONSE_WEIGHTS
            boost = 1 + 2 * max(0, draw - BOOST_AFTER + 1)
            cols = _responses(_rng(seed, 2, draw), pt, groups, obs, dead, power, alive * boost)
        rem = cols["remission_day"]
        in_rem = rem >= 0
        span = np.where(in_rem, obs - rem, 0)
        fits = {}
        for gi, label in enumerate(groups):
            masks = {"R": (pt["group"] == label).to_numpy() & in_rem}
            fits[label] = curves.group_fit(_rng(seed, 3, attempt, gi), masks, span, {"R": RFS_CI[label]}, None, "R",
                                           terminal=dead, early_knot=True)
        hazard = {k: v[0] for k, v in RFS_TAIL.items()}
        floor = {k: v[1] for k, v in RFS_TAIL.items()}
        early = {k: 1.0 for k in groups}
        for _ in range(16):
            for label, f in fits.items():
                f.refit(hazard[label], floor[label], early=early[label])
            rfs, ev = np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
            for f in fits.values():
                o, e = f.observed(n)
                rfs, ev = rfs + o, ev | e
            cox = cox_binary_efron(rfs[in_rem] / DAYS_PER_MONTH, ev[in_rem], later[in_rem])
            events = int(ev.sum())
            if (all(f.fit.worst <= CI_TOL for f in fits.values()) and _hr_ok(cox, RFS_HR) and cox["p"] > p_side
                    and RFS_EVENTS[0] <= events <= RFS_EVENTS[1]):
                r2 = rfs.copy()
                relapse = in_rem & ev & (rfs < span)
                groups_rem = [(pt["group"] == label).to_numpy() & in_rem for label in groups]
                pins = [curves.Pin(g, g, stat, v) for g, label in zip(groups_rem, groups)
                        for stat, v in zip(("median", "lcl", "ucl"), RFS_CI[label])]
                score = curves.snap_figures(r2, ev, pins, relapse, span - 1)
                in_window = se_lo <= _se(cox) <= se_hi
                _, fit = curves.polish_cox(r2, ev, later, in_rem, target, _pinned(r2, ev, pins) | ~relapse, span - 1,
                                           _rng(seed, 3, attempt, 9), cox_binary_efron,
                                           POLISH_EVALS if in_window else POLISH_EVALS // 6)
                score += target.misses(fit)
                if _hr_ok(fit, RFS_HR) and fit["p"] > p_side and (best is None or score < best[0]):
                    best = (score, cols, _rfs_result(r2, ev, rem, span))
                if score == 0 or in_window:
                    break
            e_hr = np.log(cox["hr"] / RFS_HR[0])
            e_se = _se(cox) / ((se_lo + se_hi) / 2) - 1
            e_ev = (events - sum(RFS_EVENTS) / 2) / int(in_rem.sum())
            floor[LATER_LABEL] = float(np.clip(floor[LATER_LABEL] + 0.6 * e_hr + 0.6 * e_ev - 0.3 * e_se, 0.0, 0.45))
            floor[FIRST_LABEL] = float(np.clip(floor[FIRST_LABEL] - 0.6 * e_hr + 0.6 * e_ev - 0.6 * e_se, 0.0, 0.45))
            early[LATER_LABEL] = float(np.clip(early[LATER_LABEL] - 3 * e_hr, 0.3, 1.9))
            early[FIRST_LABEL] = float(np.clip(early[FIRST_LABEL] + 3 * e_hr, 0.3, 1.9))
    if best is None:
        raise RuntimeError("RFS calibration failed; try another seed")
    return best[1], best[2]


def _rfs_result(rfs: np.ndarray, ev: np.ndarray, rem: np.ndarray, span: np.ndarray) -> outcomes.Rfs:
    """Relapse day, RFS days and event per patient (-1 / False outside remission)."""
    in_rem = rem >= 0
    relapsed = in_rem & ev & (rfs < span)
    return outcomes.Rfs(np.where(relapsed, rem + rfs, -1), np.where(in_rem, rfs, -1), ev & in_rem)


def build_cohort(seed: int, plans: list[StudyPlan], groups: dict[str, GroupTargets],
                 calibrate: bool, shapes: dict | None = None) -> Cohort:
    """All treated patients of the plans (the pooled population) with outcomes and AEs."""
    shapes = OS_SHAPE if shapes is None else shapes
    pt = _baseline_table(seed, plans, groups)
    if calibrate:
        obs, dead = _calibrated_os(seed, pt, groups)
    else:
        obs, dead = _os_draw(seed, 0, pt, groups, shapes)
    pt["obs"], pt["dead"] = obs, dead
    n = len(pt)
    if calibrate:
        cols, rfs = _calibrated_rfs(seed, pt, groups, obs, dead)
    else:
        cols = _responses(_rng(seed, 2), pt, groups, obs, None)
        rng = _rng(seed, 3, 0)
        rfs = outcomes.Rfs(np.full(n, -1), np.full(n, -1), np.zeros(n, dtype=bool))
        for label, t in groups.items():
            m = (pt["group"] == label).to_numpy()
            f = outcomes.draw_rfs(rng, obs[m], dead[m], cols["remission_day"][m], t.rfs_median,
                                  RFS_CURE.get(label, 0.3))
            rfs.relapse_day[m], rfs.rfs_days[m], rfs.rfs_event[m] = f.relapse_day, f.rfs_days, f.rfs_event
    for k in ("bor", "mrd", "remission_day", "a1", "a2", "rem_cycle"):
        pt[k] = cols[k]
    relapse, rfs_days, rfs_ev = rfs.relapse_day, rfs.rfs_days, rfs.rfs_event
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
