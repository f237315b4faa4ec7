"""Adverse events with exact Table 4 counts.

Patient-level sets are chosen first (any TEAE, grade >= 3, serious, fatal, fatal related, CRS,
neuro events), then AE rows are drawn to realise exactly those sets inside the TEAE window
[first dose, last dose + 30]. Non-treatment-emergent events (before the first dose, after the
window, including events on the day after the window ends) and partial onset dates are added in
ways that cannot change the sets once the pipeline re-derives emergence from the dates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from repool.synth.outcomes import weighted_pick
from repool.synth.targets import GroupTargets

CRS_PT = "Cytokine release syndrome"
NEURO_PTS = ["Headache", "Tremor", "Dizziness", "Encephalopathy", "Confusional state", "Aphasia",
             "Paraesthesia", "Somnolence", "Seizure", "Dysarthria", "Disorientation",
             "Cognitive disorder", "Memory impairment", "Ataxia"]
NEURO_P = [w / 100 for w in (30, 18, 9, 8, 7, 5, 5, 4, 3, 3, 3, 2, 2, 1)]
NEURO_SEVERE = ["Encephalopathy", "Confusional state", "Seizure", "Aphasia", "Tremor"]
GENERIC_PTS = ["Pyrexia", "Febrile neutropenia", "Neutropenia", "Anaemia", "Thrombocytopenia",
               "Hypokalaemia", "Nausea", "Fatigue", "Diarrhoea", "Oedema peripheral", "Hypotension",
               "Alanine aminotransferase increased", "Cough", "Constipation", "Back pain", "Vomiting",
               "Insomnia", "Pneumonia", "Device related infection", "Hypomagnesaemia",
               "Leukopenia", "Chills", "Weight increased", "Rash"]
FATAL_PTS = ["Sepsis", "Septic shock", "Pneumonia", "Multiple organ dysfunction syndrome",
             "Fungal infection", "Respiratory failure", "Cerebral haemorrhage", "Bacterial infection"]
LATE_FATAL_PTS = ["Disease progression", "Acute lymphocytic leukaemia recurrent"]
# neutral outcome codes, mapped to each study's terminology by the writers
OUTCOMES = ["RECOVERED", "RECOVERING", "NOT_RECOVERED", "SEQUELAE", "UNKNOWN", "MISSING"]
OUTCOME_P = [0.66, 0.09, 0.12, 0.03, 0.05, 0.05]


def _pick(rng: np.random.Generator, items, p=None):
    """One item, uniformly or with probabilities p (fast scalar version of rng.choice)."""
    u = rng.random()
    if p is None:
        return items[int(u * len(items))]
    acc = 0.0
    for item, w in zip(items, p):
        acc += w
        if u < acc:
            return item
    return items[-1]


def _between(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A uniform integer in [lo, hi]."""
    return lo + int(rng.random() * (hi - lo + 1))


@dataclass
class AeSets:
    """Boolean patient masks that Table 4 counts."""

    teae: np.ndarray
    g3: np.ndarray
    serious: np.ndarray
    fatal: np.ndarray
    fatal_related: np.ndarray
    crs: np.ndarray
    crs_g3: np.ndarray
    neuro: np.ndarray
    neuro_g3: np.ndarray


def choose_fatal(rng: np.random.Generator, t: GroupTargets, obs: np.ndarray, dead: np.ndarray,
                 responder: np.ndarray, free_of_other_events: np.ndarray) -> np.ndarray:
    """Patients with a fatal TEAE: deaths early enough to have been on treatment."""
    eligible = dead & free_of_other_events & ((obs <= 150) | (responder & (obs <= 230)))
    cand = np.flatnonzero(eligible)
    chosen = weighted_pick(rng, cand, 1.0 / (obs[cand] + 30.0), t.fatal)
    mask = np.zeros(len(obs), dtype=bool)
    mask[chosen] = True
    return mask


def _subset(rng: np.random.Generator, pool: np.ndarray, k: int, must: np.ndarray | None = None,
            prefer: np.ndarray | None = None) -> np.ndarray:
    """A mask of exactly k patients (if possible) from pool, containing `must`, preferring `prefer`."""
    out = np.zeros(len(pool), dtype=bool) if must is None else must.copy()
    need = k - int(out.sum())
    cand = np.flatnonzero(pool & ~out)
    w = np.ones(len(cand)) if prefer is None else np.where(prefer[cand], 20.0, 1.0)
    out[weighted_pick(rng, cand, w, need)] = True
    return out


def choose_sets(rng: np.random.Generator, t: GroupTargets, fatal: np.ndarray) -> AeSets:
    """The nested patient sets: fatal in serious and grade>=3, both in any TEAE."""
    everyone = np.ones(len(fatal), dtype=bool)
    fatal_related = _subset(rng, fatal, t.fatal_related)
    g3 = _subset(rng, everyone, t.teae_g3, must=fatal)
    serious = _subset(rng, everyone, t.serious, must=fatal, prefer=g3)
    teae = _subset(rng, everyone, t.teae, must=g3 | serious)
    crs_g3 = _subset(rng, g3, t.crs_g3)
    crs = _subset(rng, teae, t.crs, must=crs_g3)
    neuro_g3 = _subset(rng, g3, t.neuro_g3)
    neuro = _subset(rng, teae, t.neuro, must=neuro_g3)
    return AeSets(teae, g3, serious, fatal, fatal_related, crs, crs_g3, neuro, neuro_g3)


def _month_start_offset(first_dose: np.datetime64, day: int, unit: str) -> int:
    """Imputed onset (days from first dose) of a partial date ('M' or 'Y') for an onset `day`."""
    onset = first_dose + np.timedelta64(int(day), "D")
    period_start = onset.astype(f"datetime64[{unit}]").astype("datetime64[D]")
    period_end = (onset.astype(f"datetime64[{unit}]") + 1).astype("datetime64[D]")
    if period_start <= first_dose < period_end:
        return 0
    return int((period_start - first_dose).astype(int))


def effective_day(first_dose: np.datetime64, day: int, partial: str) -> int:
    """The onset day the pipeline will use after partial-date imputation (sources.md)."""
    if partial == "M":
        return _month_start_offset(first_dose, day, "M")
    if partial == "Y":
        return _month_start_offset(first_dose, day, "Y")
    return int(day)


def draw_events(rng: np.random.Generator, sets: AeSets, first_dose: np.ndarray, last_day: np.ndarray,
                obs: np.ndarray, dead: np.ndarray, partial_dates: bool) -> pd.DataFrame:
    """AE rows (one per event) realising the sets; columns pid, pt, grade, serious, related, day,
    outcome, partial ('', 'M', 'Y'), te (by the spec's rule, after imputation)."""
    rows: list[tuple] = []
    for i in range(len(obs)):
        rows.extend(_patient_events(rng, i, sets, first_dose[i], int(last_day[i]), int(obs[i]),
                                    bool(dead[i]), partial_dates))
    df = pd.DataFrame(rows, columns=["pid", "pt", "grade", "serious", "related", "day", "outcome", "partial"])
    df["te"] = [
        0 <= effective_day(first_dose[p], d, part) <= last_day[p] + 30
        for p, d, part in zip(df["pid"], df["day"], df["partial"])
    ]
    return df


def _patient_events(rng: np.random.Generator, i: int, s: AeSets, fd: np.datetime64, last: int, obs: int,
                    dead: bool, partial_dates: bool) -> list[tuple]:
    """The AE rows of one patient (see draw_events)."""
    end = min(last + 30, obs)  # no event after death / last contact
    te: list[list] = []
    if s.fatal[i]:
        grade = 4 if rng.random() < 0.08 else 5
        te.append([_pick(rng, FATAL_PTS), grade, True, bool(s.fatal_related[i]),
                   max(0, obs - _between(rng, 0, 3)), "FATAL", ""])
    if s.crs[i]:
        grade = _pick(rng, [3, 4], [0.8, 0.2]) if s.crs_g3[i] else _pick(rng, [1, 2])
        te.append([CRS_PT, grade, False, rng.random() < 0.95, _between(rng, 0, min(3, end)), None, ""])
    if s.neuro[i]:
        if s.neuro_g3[i]:
            te.append([_pick(rng, NEURO_SEVERE), _pick(rng, [3, 4], [0.85, 0.15]), False,
                       rng.random() < 0.9, _between(rng, 0, min(56, end)), None, ""])
        for _ in range(1 + int(rng.random() < 0.4)):
            te.append([_pick(rng, NEURO_PTS, NEURO_P), _pick(rng, [1, 2], [0.6, 0.4]), False,
                       rng.random() < 0.8, _between(rng, 0, min(56, end)), None, ""])
    if s.teae[i]:
        has_g3 = any(r[1] >= 3 for r in te)
        for k in range(1 + int(rng.poisson(3.5))):
            if s.g3[i] and not has_g3 and k == 0:
                grade = _pick(rng, [3, 4], [0.7, 0.3])
            elif s.g3[i]:
                grade = _pick(rng, [1, 2, 3, 4], [0.35, 0.35, 0.22, 0.08])
            else:
                grade = _pick(rng, [1, 2], [0.6, 0.4])
            day = end if rng.random() < 0.02 else _between(rng, 0, end)
            te.append([_pick(rng, GENERIC_PTS), grade, False, rng.random() < 0.35, day, None, ""])
        _make_serious(rng, te, bool(s.serious[i]))
        if partial_dates:
            _partialise(rng, te, fd)
            te.extend(_same_month_predose(rng, fd))
    for row in te:
        if row[5] is None:
            row[5] = _pick(rng, OUTCOMES, OUTCOME_P)
    rows = te + _outside_window(rng, fd, last, obs, dead, bool(s.fatal[i]), bool(s.teae[i]), partial_dates)
    return [(i, *r) for r in rows]


def _make_serious(rng: np.random.Generator, te: list[list], serious: bool) -> None:
    """Serious patients get at least one serious TEAE (preferably a severe one); others none."""
    if not serious:
        for row in te:
            row[2] = False
        return
    for row in te:
        if row[5] != "FATAL":
            row[2] = rng.random() < 0.12
    if not any(row[2] for row in te):
        severe = [row for row in te if row[1] >= 3] or te
        severe[_between(rng, 0, len(severe) - 1)][2] = True


def _partialise(rng: np.random.Generator, te: list[list], fd: np.datetime64) -> None:
    """Make some non-fatal TEAE onsets partial; imputation keeps them treatment-emergent."""
    for row in te:
        if row[5] == "FATAL" or row[4] < 0:
            continue
        u = rng.random()
        row[6] = "M" if u < 0.06 else "Y" if u < 0.08 else ""


def _same_month_predose(rng: np.random.Generator, fd: np.datetime64) -> list[list]:
    """Occasionally an AE noted as `YYYY-MM` that began days before the first dose in the same
    month: imputed to the first dose, hence treatment-emergent (mild, non-serious)."""
    dom = int((fd - fd.astype("datetime64[M]").astype("datetime64[D]")).astype(int))  # days since the 1st
    if dom < 1 or rng.random() >= 0.04:
        return []
    return [[_pick(rng, GENERIC_PTS), 1, False, False, -_between(rng, 1, dom), None, "M"]]


def _outside_window(rng: np.random.Generator, fd: np.datetime64, last: int, obs: int, dead: bool,
                    fatal_te: bool, any_te: bool, partial_dates: bool) -> list[list]:
    """Events that are not treatment-emergent: before the first dose, or after last dose + 30."""
    rows: list[list] = []
    if rng.random() < (0.5 if not any_te else 0.07):
        day = -_between(rng, 1, 14)
        part = ""
        if partial_dates and rng.random() < 0.4:
            onset = fd + np.timedelta64(day, "D")
            if onset.astype("datetime64[M]") < fd.astype("datetime64[M]"):
                part = "M"  # the whole month lies before the first dose
        rows.append([_pick(rng, GENERIC_PTS), _pick(rng, [1, 2, 3]), rng.random() < 0.2,
                     False, day, _pick(rng, OUTCOMES, OUTCOME_P), part])
    first_out = last + 31
    if obs >= first_out and rng.random() < 0.18:
        day = first_out if rng.random() < 0.3 else _between(rng, first_out, min(obs, first_out + 90))
        rows.append([_pick(rng, GENERIC_PTS), _pick(rng, [1, 2, 3, 4]), rng.random() < 0.3,
                     rng.random() < 0.3, day, _pick(rng, OUTCOMES, OUTCOME_P), ""])
    if dead and not fatal_te and obs >= first_out and rng.random() < 0.35:
        rows.append([_pick(rng, LATE_FATAL_PTS), 5, True, False, obs, "FATAL", ""])
    return rows
