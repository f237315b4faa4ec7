"""Write deliveries: the calibrated default three studies, and the scale mode for benchmarks."""
from __future__ import annotations

import gc
from functools import lru_cache
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from repool.synth import formats
from repool.synth.cohort import (DEFAULT_PLANS, DEFAULT_SEED, FIRST_LABEL, LATER_LABEL, Cohort, StudyPlan,
                                 build_cohort, soc_groups)
from repool.synth.targets import FIRST, LATER, PUBLISHED_GROUPS, scaled

SCALE_FORMATS = ("csv-legacy", "xpt-adam", "parquet-adam")
SITE_COUNTS = {"csv-legacy": 9, "xpt-adam": 37, "parquet-adam": 101}


def delivery_dir(root: Path, study: str, delivery_id: str) -> Path:
    return Path(root) / "deliveries" / study / delivery_id


def _untreated(rng: np.random.Generator, n: int, plan: StudyPlan, arm: str) -> pd.DataFrame:
    """Randomised but never treated: baseline only, no dose dates, no AEs, BOR not evaluable."""
    rand = np.datetime64(plan.enrol_start, "D") + rng.integers(
        0, (np.datetime64(plan.enrol_end, "D") - np.datetime64(plan.enrol_start, "D")).astype(int), n
    ).astype("timedelta64[D]")
    follow = (np.datetime64(plan.cut, "D") - rand).astype(int)
    return pd.DataFrame({
        "group": np.where(rng.random(n) < 0.35, FIRST_LABEL, LATER_LABEL), "sex": rng.choice(["M", "F"], n),
        "age": rng.integers(19, 76, n), "ecog": rng.choice([0, 1, 2], n), "prhsct": rng.random(n) < 0.3,
        "blasts": np.round(rng.uniform(20, 95, n)), "line": rng.choice([1, 2, 3], n), "study": plan.study,
        "first_dose": np.datetime64("NaT", "D"), "rand_date": rand,
        "obs": np.minimum(follow, rng.integers(20, 300, n)), "dead": rng.random(n) < 0.6,
        "bor": "NE", "remission_day": -1, "a1": -1, "a2": -1, "rem_cycle": 0, "mrd": False,
        "relapse_day": -1, "rfs_days": -1, "rfs_event": False, "hsct_day": -1, "hsct_status": "",
        "other_day": -1, "last_day": -1, "arm": arm, "treated": False,
    })


def _assign_ids(rng: np.random.Generator, pt: pd.DataFrame, fmt: str) -> pd.DataFrame:
    """Sites and study-local subject numbers (101, 102, ... in order of randomisation), which
    collide across studies by design."""
    order = np.argsort(pt["rand_date"].to_numpy(dtype="datetime64[D]"), kind="stable")
    pt = pt.iloc[order].reset_index(drop=True)
    pt["subj"] = np.arange(101, 101 + len(pt))
    n_sites = SITE_COUNTS.get(fmt, 20)
    base = {"csv-legacy": 1001, "xpt-adam": 1201, "parquet-adam": 10001}[fmt]
    pt["site"] = [str(base + int(s)) for s in rng.integers(0, n_sites, len(pt))]
    return pt


def study_tables(cohort: Cohort, plan: StudyPlan, seed: int, extra: Cohort | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One study's patients (pooled arm first, then SOC and untreated) and AEs, with ids."""
    rng = np.random.default_rng([seed, 7, sum(map(ord, plan.study))])
    parts, ae_parts, offset = [], [], 0
    for c, arm in ((cohort, "Blinatumomab"), (extra, "SOC chemotherapy")):
        if c is None:
            continue
        m = (c.patients["study"] == plan.study).to_numpy()
        idx = np.flatnonzero(m)
        p = c.patients.iloc[idx].copy()
        p["arm"], p["treated"] = arm, True
        p["rand_date"] = p["first_dose"].to_numpy(dtype="datetime64[D]") - rng.integers(1, 8, len(p)).astype("timedelta64[D]")
        remap = np.full(len(c.patients), -1)
        remap[idx] = np.arange(len(idx)) + offset
        a = c.aes[np.isin(c.aes["pid"], idx)].copy()
        a["pid"] = remap[a["pid"].to_numpy()]
        parts.append(p)
        ae_parts.append(a)
        offset += len(idx)
    if plan.untreated:
        parts.append(_untreated(rng, plan.untreated, plan, "Blinatumomab"))
    if extra is not None and plan.soc:
        parts.append(_untreated(rng, 6, plan, "SOC chemotherapy"))
    pt = pd.concat(parts, ignore_index=True)
    aes = pd.concat(ae_parts, ignore_index=True)
    pt["_old"] = np.arange(len(pt))
    pt = _assign_ids(rng, pt, plan.fmt)
    new_pos = np.empty(len(pt), dtype=int)
    new_pos[pt["_old"].to_numpy()] = np.arange(len(pt))
    aes["pid"] = new_pos[aes["pid"].to_numpy()]
    aes = aes.sort_values(["pid", "day"], kind="stable").reset_index(drop=True)
    return pt.drop(columns="_old"), aes


def write_study(root: Path, plan: StudyPlan, pt: pd.DataFrame, aes: pd.DataFrame, seed: int) -> Path:
    """Write one study's delivery folder with its manifest; returns the folder."""
    folder = delivery_dir(root, plan.study, plan.delivery_id)
    folder.mkdir(parents=True, exist_ok=True)
    if plan.fmt == "csv-legacy":
        names = formats.write_legacy_csv(folder, pt, aes, seed)
    elif plan.fmt == "xpt-adam":
        names = formats.write_xpt_adam(folder, pt, aes, plan.study, seed, np.datetime64(plan.cut, "D"))
    elif plan.fmt == "parquet-adam":
        names = formats.write_parquet_adam(folder, pt, aes, plan.study, seed)
    else:
        raise ValueError(f"unknown format {plan.fmt}")
    formats.write_manifest(folder, formats.manifest_dict(folder, plan.study, plan.delivery_id, plan.fmt, names))
    return folder


@lru_cache(maxsize=2)
def default_cohorts(seed: int = DEFAULT_SEED) -> tuple[Cohort, Cohort]:
    """The calibrated pooled cohort and TOWER's (uncalibrated) standard-of-care arm. A function of
    the seed; kept for the process (the calibration search takes tens of seconds), read-only."""
    pooled = build_cohort(seed, list(DEFAULT_PLANS), dict(PUBLISHED_GROUPS), calibrate=True)
    tower = next(p for p in DEFAULT_PLANS if p.soc)
    soc_plan = StudyPlan(tower.study, tower.fmt, 55, 100 - 6, tower.enrol_start, tower.enrol_end, tower.cut)
    groups = soc_groups()
    groups[LATER_LABEL] = scaled(groups[LATER_LABEL], 94)
    soc = build_cohort(seed + 1, [soc_plan], groups, calibrate=False)
    return pooled, soc


def write_default_deliveries(root: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write the three calibrated default deliveries under <root>/deliveries/; returns their folders."""
    pooled, soc = default_cohorts(seed)
    out = []
    for plan in DEFAULT_PLANS:
        pt, aes = study_tables(pooled, plan, seed, soc if plan.soc else None)
        out.append(write_study(Path(root), plan, pt, aes, seed))
    return out


def scale_plan(k: int, patients: int) -> StudyPlan:
    """Study k (1-based) of the scale mode: formats cycle, ids SCALE-001, ..."""
    fmt = SCALE_FORMATS[(k - 1) % 3]
    n_first = int(round(patients * FIRST.n / (FIRST.n + LATER.n)))
    start = date(2012, 1, 2) + timedelta(days=30 * ((k - 1) % 24))
    return StudyPlan(f"SCALE-{k:03d}", fmt, n_first, patients - n_first, start, start + timedelta(days=600),
                     start + timedelta(days=1200))


def write_study_registry(root: Path, plans: list[StudyPlan]) -> Path:
    """`<root>/studies.toml`: the study registry naming the generated studies and their formats."""
    lines = ["# Study registry of generated (synthetic) deliveries: written by `repool generate`.", ""]
    for plan in plans:
        lines += [f'[studies."{plan.study}"]', f'format = "{plan.fmt}"', ""]
    path = Path(root) / "studies.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_scale_deliveries(root: Path, studies: int, patients_per_study: int, seed: int = DEFAULT_SEED) -> list[Path]:
    """K studies of M patients each, one at a time (peak memory = one study), and their study registry."""
    out = []
    write_study_registry(root, [scale_plan(k, patients_per_study) for k in range(1, studies + 1)])
    for k in range(1, studies + 1):
        plan = scale_plan(k, patients_per_study)
        groups = {label: scaled(t, n) for label, t, n in
                  ((FIRST_LABEL, FIRST, plan.n_first), (LATER_LABEL, LATER, plan.n_later)) if n > 0}
        cohort = build_cohort(seed + k, [plan], groups, calibrate=False)
        pt, aes = study_tables(cohort, plan, seed + k)
        out.append(write_study(Path(root), plan, pt, aes, seed + k))
        del cohort, pt, aes
        gc.collect()
    return out
