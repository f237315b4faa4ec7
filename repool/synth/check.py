"""Independent check of written deliveries against the publication (dev-time tool and test helper).

Reads the files as sources.md describes them (pandas / pyreadstat / pyarrow, nothing from the
generator), harmonises the three studies, and computes every calibration figure with lifelines,
scipy and statsmodels. The published figures it compares with are read from the reference JSON
(`repool.synth.reference`), not from the generator's targets. Run: `python -m repool.synth.check [DATA_ROOT]`.
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from repool.schemas.pooled import BMBLCAT_LEVELS, ECOG_LEVELS, SALVAGE_LEVELS
from repool.synth.reference import group_n, p_bound, published

DPM = 30.4375
GROUPS = tuple(SALVAGE_LEVELS)
NEURO = {"Encephalopathy", "Tremor", "Seizure", "Aphasia", "Confusional state", "Dysarthria", "Somnolence",
         "Disorientation", "Cognitive disorder", "Memory impairment", "Ataxia", "Dizziness", "Headache",
         "Paraesthesia"}
BOR_ORDER = ["CR", "CRh", "CRi", "BFHM", "PR", "NR", "NE"]
BOR_MAP = {"CR": "CR", "CRh*": "CRh", "CRH": "CRh", "CR with partial hematologic recovery": "CRh",
           "CRi": "CRi", "CRI": "CRi", "CR with incomplete hematologic recovery": "CRi",
           "BFHM": "BFHM", "Blast-free hypoplastic or aplastic bone marrow": "BFHM",
           "PR": "PR", "Partial remission": "PR", "NR": "NR", "No response": "NR",
           "NE": "NE", "Not evaluable": "NE"}
REMISSION = {"CR", "CRh", "CRi"}


# --------------------------------------------------------------------------- reading
def newest_delivery(root: Path, study: str) -> Path:
    folders = sorted(p for p in (Path(root) / "deliveries" / study).iterdir() if (p / "manifest.json").exists())
    return folders[-1]


@dataclass
class Harmonised:
    """Pooled subject table (one row per treated blinatumomab patient) and AE table."""

    adsl: pd.DataFrame  # study, usubjid, group, age, sex, ecog, prhsct, blasts, os_t, os_e, bor, rem, mrd, rfs_t, rfs_e, hsct, hsct_status, othtx
    adae: pd.DataFrame  # study, usubjid, pt, grade, serious, related, fatal, te


def _d(s: pd.Series, fmt: str) -> pd.Series:
    return pd.to_datetime(s.replace({"": None, "n.a.": None}), format=fmt)


def read_206(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    def rd(name: str) -> pd.DataFrame:
        return pd.read_csv(folder / name, sep=";", encoding="latin-1", dtype=str, keep_default_na=False)

    fmt = "%d.%m.%Y"
    pt = rd("patients.csv")
    s = pd.DataFrame({"usubjid": "MT103-206-" + pt["PATNR"], "patnr": pt["PATNR"]})
    s["age"] = pt["AGE"].astype(int)
    s["sex"] = pt["SEX"].map({"1": "M", "2": "F"})
    s["ecog"] = pt["ECOG"].replace({"n.a.": "Unknown", "": "Unknown"})
    s["prhsct"] = pt["PRIOR_SCT"].eq("J")
    s["blasts"] = pd.to_numeric(pt["BM_BLASTS"].replace({"n.a.": None, "": None}).str.replace(",", "."))
    s["line"] = pt["SALVAGE_NR"].astype(int)
    s["trtsdt"], s["trtedt"] = _d(pt["FIRST_DOSE"], fmt), _d(pt["LAST_DOSE"], fmt)
    fu = rd("followup.csv").set_index("PATNR")
    status_date = _d(fu["STATUS_DATE"], fmt).reindex(s["patnr"]).to_numpy()
    dead = fu["STATUS"].reindex(s["patnr"]).eq("DEAD").to_numpy()
    s["os_t"] = (status_date - s["trtsdt"].to_numpy()) / np.timedelta64(1, "D") / DPM
    s["os_e"] = dead
    rs = rd("response.csv")
    rs["bor"] = rs["RESPONSE"].map(BOR_MAP)
    rs["date"] = _d(rs["ASSESS_DATE"], fmt)
    rs["rank"] = rs["bor"].map({b: i for i, b in enumerate(BOR_ORDER)})
    best = rs.sort_values("rank").groupby("PATNR")["bor"].first()
    rem_date = rs[rs["bor"].isin(REMISSION)].groupby("PATNR")["date"].min()
    mrd = rs[rs["MRD"].eq("neg")].groupby("PATNR").size() > 0
    s["bor"] = best.reindex(s["patnr"]).to_numpy()
    s["rem"] = s["bor"].isin(REMISSION)
    s["mrd"] = mrd.reindex(s["patnr"]).astype("boolean").fillna(False).to_numpy(dtype=bool) & s["rem"]
    rel = rd("relapse.csv").set_index("PATNR")
    relapse = _d(rel["RELAPSE_DATE"], fmt).reindex(s["patnr"]).to_numpy()
    rdate = rem_date.reindex(s["patnr"]).to_numpy()
    death = np.where(dead, status_date, np.datetime64("NaT"))
    end_event = np.where(~pd.isna(relapse), relapse, death)
    has_ev = ~pd.isna(end_event)
    end = np.where(has_ev, end_event, status_date)
    s["rfs_t"] = np.where(s["rem"], (end - rdate) / np.timedelta64(1, "D") / DPM, np.nan)
    s["rfs_e"] = has_ev
    hs = rd("hsct.csv").set_index("PATNR")
    hdate = _d(hs["HSCT_DATE"], fmt).reindex(s["patnr"]).to_numpy()
    after = ~pd.isna(hdate) & (hdate > s["trtsdt"].to_numpy())
    s["hsct"] = after
    s["hsct_status"] = np.where(after, hs["STATUS_AT_HSCT"].reindex(s["patnr"]).to_numpy(), None)
    ot = rd("other_tx.csv")
    ot["date"] = _d(ot["START_DATE"], fmt)
    ot = ot.merge(s[["patnr", "trtsdt"]], left_on="PATNR", right_on="patnr")
    s["othtx"] = s["patnr"].isin(ot.loc[ot["date"] > ot["trtsdt"], "PATNR"])
    ae = rd("ae.csv")
    a = pd.DataFrame({"usubjid": "MT103-206-" + ae["PATNR"], "pt": ae["PT"], "grade": ae["GRADE"].astype(int),
                      "serious": ae["SERIOUS"].eq("J"), "related": ae["RELATED"].eq("J"),
                      "onset": _d(ae["ONSET"], fmt), "outcome": ae["OUTCOME"]})
    return s.drop(columns="patnr"), a


def read_211(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    import pyreadstat

    def rd(name: str) -> pd.DataFrame:
        return pyreadstat.read_xport(str(folder / name))[0]

    def sasd(x: pd.Series) -> pd.Series:
        return pd.to_datetime("1960-01-01") + pd.to_timedelta(x, unit="D")

    sl = rd("adsl.xpt")
    sl = sl[sl["SAFFL"] == "Y"]
    s = pd.DataFrame({"usubjid": sl["USUBJID"].to_numpy(), "age": sl["AGE"].astype(int).to_numpy(),
                      "sex": sl["SEX"].to_numpy(),
                      "ecog": [("Unknown" if np.isnan(e) else str(int(e))) for e in sl["ECOGBL"]],
                      "prhsct": sl["PRHSCTFL"].eq("Y").to_numpy(), "blasts": sl["BMBLPCT"].to_numpy(),
                      "line": (sl["PRSALVN"] + 1).astype(int).to_numpy(),
                      "trtsdt": sasd(sl["TRTSDT"]).to_numpy(), "trtedt": sasd(sl["TRTEDT"]).to_numpy()})
    hd = sasd(sl["HSCTDT"]).to_numpy()
    s["hsct"] = ~pd.isna(hd) & (hd > s["trtsdt"].to_numpy())
    s["hsct_status"] = np.where(s["hsct"], sl["HSCTSTAT"].to_numpy(), None)
    od = sasd(sl["OTHTXDT"]).to_numpy()
    s["othtx"] = ~pd.isna(od) & (od > s["trtsdt"].to_numpy())
    tte = rd("adtte.xpt").set_index(["USUBJID", "PARAMCD"])
    _tte_into(s, tte["AVAL"] / DPM, tte["CNSR"])
    rs = rd("adrs.xpt")
    bor = rs[rs["PARAMCD"] == "BOR2C"].set_index("USUBJID")["AVALC"].map(BOR_MAP)
    mrd = rs[rs["PARAMCD"] == "MRD2C"].set_index("USUBJID")["AVALC"].eq("Y")
    _response_into(s, bor, mrd)
    ae = rd("adae.xpt")
    a = pd.DataFrame({"usubjid": ae["USUBJID"], "pt": ae["AEDECOD"], "grade": ae["AETOXGR"].astype(int),
                      "serious": ae["AESER"].eq("Y"), "related": ae["AREL"].eq("Y"),
                      "onset": sasd(ae["ASTDT"]), "outcome": ae["AEOUT"]})
    return s, a


def _tte_into(s: pd.DataFrame, aval_months: pd.Series, cnsr: pd.Series) -> None:
    for param, tcol, ecol in (("OS", "os_t", "os_e"), ("RFS", "rfs_t", "rfs_e")):
        keys = pd.MultiIndex.from_arrays([s["usubjid"], [param] * len(s)])
        s[tcol] = aval_months.reindex(keys).to_numpy()
        s[ecol] = cnsr.reindex(keys).eq(0).to_numpy()


def _response_into(s: pd.DataFrame, bor: pd.Series, mrd: pd.Series) -> None:
    s["bor"] = bor.reindex(s["usubjid"]).to_numpy()
    s["rem"] = s["bor"].isin(REMISSION)
    s["mrd"] = mrd.reindex(s["usubjid"]).astype("boolean").fillna(False).to_numpy(dtype=bool) & s["rem"].to_numpy()


def read_tower(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    def rd(name: str) -> pd.DataFrame:
        return pd.read_parquet(folder / name)

    sl = rd("adsl.parquet")
    sl = sl[(sl["arm"] == "Blinatumomab") & sl["treated"]]
    phase = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "FIFTH_OR_LATER": 5}
    s = pd.DataFrame({"usubjid": sl["usubjid"].to_numpy(), "age": sl["age"].to_numpy(),
                      "sex": sl["sex"].map({"MALE": "M", "FEMALE": "F"}).to_numpy(),
                      "ecog": sl["ecog"].fillna("Unknown").to_numpy(), "prhsct": sl["prior_allo_hsct"].to_numpy(),
                      "blasts": sl["bm_blasts_pct"].to_numpy(dtype=float), "line": sl["salvage_phase"].map(phase).to_numpy(),
                      "trtsdt": pd.to_datetime(sl["first_dose_date"]).to_numpy(),
                      "trtedt": pd.to_datetime(sl["last_dose_date"]).to_numpy()})
    hd = pd.to_datetime(sl["hsct_date"]).to_numpy()
    s["hsct"] = ~pd.isna(hd) & (hd > s["trtsdt"].to_numpy())
    s["hsct_status"] = np.where(s["hsct"], sl["hsct_status"].to_numpy(), None)
    od = pd.to_datetime(sl["other_tx_date"]).to_numpy()
    s["othtx"] = ~pd.isna(od) & (od > s["trtsdt"].to_numpy())
    tte = rd("adtte.parquet").set_index(["usubjid", "paramcd"])
    _tte_into(s, tte["aval"], tte["cnsr"])
    rs = rd("adrs.parquet")
    bor = rs[rs["paramcd"] == "BOR_C1C2"].set_index("usubjid")["avalc"].map(BOR_MAP)
    mrd = rs[rs["paramcd"] == "MRD_C1C2"].set_index("usubjid")["avalc"].eq("Y")
    _response_into(s, bor, mrd)
    ae = rd("adae.parquet")
    fd = s.set_index("usubjid")["trtsdt"]
    ae = ae[ae["usubjid"].isin(fd.index)]
    onset = [impute_onset(o, fd[u]) for o, u in zip(ae["onset_date"], ae["usubjid"])]
    a = pd.DataFrame({"usubjid": ae["usubjid"].to_numpy(), "pt": ae["aedecod"].to_numpy(),
                      "grade": ae["toxgrade"].to_numpy(), "serious": ae["serious"].to_numpy(),
                      "related": ae["related"].to_numpy(), "onset": pd.to_datetime(onset),
                      "outcome": ae["outcome"].to_numpy()})
    return s, a


def impute_onset(text: str, first_dose: pd.Timestamp) -> pd.Timestamp:
    """Partial onset: the first dose if it lies in the period, else the period's first day."""
    if len(text) == 10:
        return pd.Timestamp(text)
    start = pd.Timestamp(text + ("-01" if len(text) == 7 else "-01-01"))
    end = start + (pd.DateOffset(months=1) if len(text) == 7 else pd.DateOffset(years=1))
    return first_dose if start <= first_dose < end else start


def harmonise(root: Path) -> Harmonised:
    parts, aes = [], []
    for study, reader in (("MT103-206", read_206), ("MT103-211", read_211), ("00103311", read_tower)):
        s, a = reader(newest_delivery(root, study))
        s["study"] = study
        a = a.merge(s[["usubjid", "trtsdt", "trtedt"]], on="usubjid")
        a["te"] = (a["onset"] >= a["trtsdt"]) & (a["onset"] <= a["trtedt"] + pd.Timedelta(days=30))
        a["fatal"] = (a["grade"] == 5) | (a["outcome"] == "FATAL")
        parts.append(s)
        aes.append(a)
    adsl = pd.concat(parts, ignore_index=True)
    adsl["group"] = np.where(adsl["line"] == 1, GROUPS[0], GROUPS[1])
    adae = pd.concat(aes, ignore_index=True).merge(adsl[["usubjid", "group"]], on="usubjid")
    return Harmonised(adsl, adae)


# --------------------------------------------------------------------------- statistics
def sas_median(kmf) -> float:
    """KM median by the SAS rule (midpoint where S is exactly 0.5)."""
    sf = kmf.survival_function_.iloc[:, 0]
    times, surv = sf.index.to_numpy(), sf.to_numpy()
    for j in range(len(times)):
        if abs(surv[j] - 0.5) < 1e-12:
            later = times[j + 1:]
            return float((times[j] + later[0]) / 2) if len(later) else float(times[j])
        if surv[j] < 0.5:
            return float(times[j])
    return float("nan")


def km(time: np.ndarray, event: np.ndarray) -> tuple[float, float, float]:
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    kmf = KaplanMeierFitter().fit(time, event)
    ci = median_survival_times(kmf.confidence_interval_)
    return sas_median(kmf), float(ci.iloc[0, 0]), float(ci.iloc[0, 1])


def cox(time: np.ndarray, event: np.ndarray, later: np.ndarray) -> tuple[float, float, float, float]:
    from lifelines import CoxPHFitter

    df = pd.DataFrame({"t": time, "e": event.astype(int), "later": later.astype(int)})
    c = CoxPHFitter().fit(df, "t", "e")
    s = c.summary.loc["later"]
    return (float(s["exp(coef)"]), float(s["exp(coef) lower 95%"]), float(s["exp(coef) upper 95%"]), float(s["p"]))


def odds_ratio(a: int, n1: int, b: int, n2: int) -> tuple[float, float, float, float]:
    """Later (b/n2) vs first (a/n1) remission: unadjusted OR, Wald CI and p."""
    from scipy.stats import norm

    or_ = (b / (n2 - b)) / (a / (n1 - a))
    se = math.sqrt(1 / a + 1 / (n1 - a) + 1 / b + 1 / (n2 - b))
    lo, hi = math.exp(math.log(or_) - 1.96 * se), math.exp(math.log(or_) + 1.96 * se)
    return or_, lo, hi, float(2 * norm.sf(abs(math.log(or_) / se)))


# --------------------------------------------------------------------------- figures
def figures(h: Harmonised) -> dict[str, float]:
    """Every calibration figure, keyed `table.item[.group]`."""
    s, a = h.adsl, h.adae
    f: dict[str, float] = {}
    for g, tag in zip(GROUPS, ("first", "later")):
        x = s[s["group"] == g]
        f[f"t1.n.{tag}"] = len(x)
        f[f"t1.age_median.{tag}"] = x["age"].median()
        f[f"t1.age_min.{tag}"], f[f"t1.age_max.{tag}"] = x["age"].min(), x["age"].max()
        f[f"t1.men.{tag}"], f[f"t1.women.{tag}"] = int((x["sex"] == "M").sum()), int((x["sex"] == "F").sum())
        for lev in ("0", "1", "2", "Unknown"):
            f[f"t1.ecog_{lev}.{tag}"] = int((x["ecog"] == lev).sum())
        f[f"t1.prior_hsct.{tag}"] = int(x["prhsct"].sum())
        b = x["blasts"].dropna()
        f[f"t1.blast_median.{tag}"], f[f"t1.blast_min.{tag}"], f[f"t1.blast_max.{tag}"] = b.median(), b.min(), b.max()
        bb = x["blasts"]
        cats = {"le5": bb <= 5, "5to10": (bb > 5) & (bb < 10), "10to50": (bb >= 10) & (bb < 50), "ge50": bb >= 50,
                "unknown": bb.isna()}
        for k, m in cats.items():
            f[f"t1.blast_{k}.{tag}"] = int(m.sum())
        f[f"t2.os_median.{tag}"], f[f"t2.os_lcl.{tag}"], f[f"t2.os_ucl.{tag}"] = km(x["os_t"], x["os_e"])
        f[f"t2.os_events.{tag}"] = int(x["os_e"].sum())
        for prior, ptag in ((True, "prior"), (False, "noprior")):
            y = x[x["prhsct"] == prior]
            f[f"t2.os_median_{ptag}.{tag}"], f[f"t2.os_lcl_{ptag}.{tag}"], f[f"t2.os_ucl_{ptag}.{tag}"] = km(y["os_t"], y["os_e"])
        r = x[x["rem"]]
        f[f"t2.rfs_median.{tag}"], f[f"t2.rfs_lcl.{tag}"], f[f"t2.rfs_ucl.{tag}"] = km(r["rfs_t"], r["rfs_e"])
        f[f"t2.rfs_events.{tag}"] = int(r["rfs_e"].sum())
        f[f"t3.remission.{tag}"] = int(x["rem"].sum())
        for lev in ("CR", "CRh", "CRi"):
            f[f"t3.{lev}.{tag}"] = int((x["bor"] == lev).sum())
        f[f"t3.mrd.{tag}"] = int(x["mrd"].sum())
        f[f"t3.mrd_pct.{tag}"] = 100 * x["mrd"].sum() / max(x["rem"].sum(), 1)
        f[f"t3.hsct.{tag}"] = int(x["hsct"].sum())
        f[f"t3.hsct_cr.{tag}"] = int((x["hsct_status"] == "CR").sum())
        f[f"t3.hsct_relref.{tag}"] = int(x["hsct_status"].isin(["RELAPSE", "REFRACTORY"]).sum())
        f[f"t3.other_tx.{tag}"] = int(x["othtx"].sum())
        te = a[(a["group"] == g) & a["te"]]
        neuro, crs = te[te["pt"].isin(NEURO)], te[te["pt"] == "Cytokine release syndrome"]
        f[f"t4.any.{tag}"] = te["usubjid"].nunique()
        f[f"t4.g3.{tag}"] = te.loc[te["grade"] >= 3, "usubjid"].nunique()
        f[f"t4.serious.{tag}"] = te.loc[te["serious"], "usubjid"].nunique()
        f[f"t4.fatal.{tag}"] = te.loc[te["fatal"], "usubjid"].nunique()
        f[f"t4.fatal_related.{tag}"] = te.loc[te["fatal"] & te["related"], "usubjid"].nunique()
        f[f"t4.crs_pct.{tag}"] = 100 * crs["usubjid"].nunique() / len(x)
        f[f"t4.crs_g3_pct.{tag}"] = 100 * crs.loc[crs["grade"] >= 3, "usubjid"].nunique() / len(x)
        f[f"t4.neuro_pct.{tag}"] = 100 * neuro["usubjid"].nunique() / len(x)
        f[f"t4.neuro_g3_pct.{tag}"] = 100 * neuro.loc[neuro["grade"] >= 3, "usubjid"].nunique() / len(x)
    later = (s["group"] == GROUPS[1]).to_numpy()
    f["t2.os_hr"], f["t2.os_hr_lcl"], f["t2.os_hr_ucl"], f["t2.os_p"] = cox(s["os_t"], s["os_e"], later)
    r = s["rem"].to_numpy()
    f["t2.rfs_hr"], f["t2.rfs_hr_lcl"], f["t2.rfs_hr_ucl"], f["t2.rfs_p"] = cox(s.loc[r, "rfs_t"], s.loc[r, "rfs_e"], later[r])
    f["t2.os_events"] = int(s["os_e"].sum())
    f["t2.rfs_events"] = int(s.loc[r, "rfs_e"].sum())
    from lifelines.statistics import logrank_test
    f["t2.os_p_logrank"] = logrank_test(s.loc[~later, "os_t"], s.loc[later, "os_t"], s.loc[~later, "os_e"], s.loc[later, "os_e"]).p_value
    f["t3.or"], f["t3.or_lcl"], f["t3.or_ucl"], f["t3.or_p"] = odds_ratio(
        f["t3.remission.first"], f["t1.n.first"], f["t3.remission.later"], f["t1.n.later"])
    f["t3.cr_share"] = 100 * (f["t3.CR.first"] + f["t3.CR.later"]) / (f["t3.remission.first"] + f["t3.remission.later"])
    f["t3.crh_share"] = 100 * (f["t3.CRh.first"] + f["t3.CRh.later"]) / (f["t3.remission.first"] + f["t3.remission.later"])
    return f


# (key, published value, check): check = ("eq",) exact, ("abs", tol) within tol, ("range", lo, hi).
# Published values come from the reference JSON (`reference.py`); the ranges with a made-up centre
# (MRD, CR/CRh shares, CRS / neuro events, event counts) are calibration hints, not printed figures.
def _published() -> list[tuple]:
    rows: list[tuple] = []
    blast_keys = ("le5", "5to10", "10to50", "ge50", "unknown")
    for g, tag in zip(GROUPS, ("first", "later")):
        def t1(variable: str, stat_name: str, level: str | None = None, g: str = g):
            return published("table1", variable, stat_name, g, level)

        def t3(variable: str, level: str | None = None, g: str = g):
            return published("table3", variable, "n", g, level)

        def t4(variable: str, stat_name: str = "n", g: str = g):
            return published("table4", variable, stat_name, g)

        eq = [("t1.n", group_n(g)), ("t1.age_median", t1("AGE", "median")), ("t1.age_min", t1("AGE", "min")),
              ("t1.age_max", t1("AGE", "max")), ("t1.men", t1("SEX", "n", "M")), ("t1.women", t1("SEX", "n", "F")),
              ("t1.prior_hsct", t1("PRHSCT", "n", "Y")), ("t1.blast_median", t1("BMBLAST", "median")),
              ("t1.blast_min", t1("BMBLAST", "min")), ("t1.blast_max", t1("BMBLAST", "max")),
              ("t3.remission", t3("BOR", "CR/CRh/CRi")), ("t3.hsct", t3("HSCT")), ("t3.hsct_cr", t3("HSCT_CR")),
              ("t3.hsct_relref", t3("HSCT_RELREF")), ("t3.other_tx", t3("OTHER_TX")), ("t4.any", t4("ANY_TEAE")),
              ("t4.g3", t4("ANY_TEAE", "n_grade3")), ("t4.serious", t4("SERIOUS_TEAE")),
              ("t4.fatal", t4("FATAL_TEAE")), ("t4.fatal_related", t4("FATAL_RELATED"))]
        eq += [(f"t1.ecog_{lev}", t1("ECOG", "n", lev)) for lev in ECOG_LEVELS]
        eq += [(f"t1.blast_{k}", t1("BMBLCAT", "n", lev)) for k, lev in zip(blast_keys, BMBLCAT_LEVELS)]
        rows += [(f"{k}.{tag}", v, ("eq",)) for k, v in eq]
        os_median = published("table2", "OS", "median", g)
        rows += [(f"t2.os_median.{tag}", os_median, ("abs", 0.3)),
                 (f"t2.rfs_median.{tag}", published("table2", "RFS", "median", g), ("abs", 0.3)),
                 (f"t2.os_median_prior.{tag}", published("table2", "OS", "median", g, group2_level="Y"), ("abs", 0.5)),
                 (f"t2.os_median_noprior.{tag}", published("table2", "OS", "median", g, group2_level="N"), ("abs", 0.5)),
                 (f"t3.mrd_pct.{tag}", 80, ("range", 75, 88)),
                 (f"t4.crs_pct.{tag}", 12.5, ("range", 9, 16)), (f"t4.crs_g3_pct.{tag}", 4, ("range", 2.5, 5.5)),
                 (f"t4.neuro_pct.{tag}", 50, ("range", 45, 55)), (f"t4.neuro_g3_pct.{tag}", 11.5, ("range", 9.5, 13.5))]
    later = GROUPS[1]

    def t2(variable: str, stat_name: str):
        return published("table2", variable, stat_name, later)

    def t3(stat_name: str):
        return published("table3", "REMISSION", stat_name, later)

    os_p = p_bound("table2", "OS", "p_value", later)  # printed as a '<' bound
    rows += [("t2.os_hr", t2("OS", "hr"), ("abs", 0.05)), ("t2.os_hr_lcl", t2("OS", "hr_lcl"), ("abs", 0.1)),
             ("t2.os_hr_ucl", t2("OS", "hr_ucl"), ("abs", 0.1)),
             ("t2.os_p", os_p, ("range", 0, os_p)), ("t2.rfs_hr", t2("RFS", "hr"), ("abs", 0.05)),
             ("t2.rfs_hr_lcl", t2("RFS", "hr_lcl"), ("abs", 0.1)), ("t2.rfs_hr_ucl", t2("RFS", "hr_ucl"), ("abs", 0.1)),
             ("t2.rfs_p", t2("RFS", "p_value"), ("range", 0.05, 0.10)), ("t2.os_events", 360, ("range", 350, 370)),
             ("t2.rfs_events", 140, ("range", 130, 150)),
             ("t3.or", t3("or"), ("abs", 0.005)), ("t3.or_lcl", t3("or_lcl"), ("abs", 0.005)),
             ("t3.or_ucl", t3("or_ucl"), ("abs", 0.005)),
             ("t3.or_p", t3("p_value"), ("abs", 0.0015)),
             ("t3.cr_share", 77.5, ("range", 75, 80)), ("t3.crh_share", 17.5, ("range", 15, 20))]
    return rows


def calibration_report(root: Path) -> list[dict]:
    """Published vs ours for every calibration figure, each with `ok`."""
    f = figures(harmonise(Path(root)))
    out = []
    for key, pub, chk in _published():
        ours = f[key]
        if chk[0] == "eq":
            ok = ours == pub
        elif chk[0] == "abs":
            ok = abs(ours - pub) <= chk[1] + 1e-9
        else:
            ok = chk[1] <= ours <= chk[2]
        out.append({"figure": key, "published": pub, "ours": round(float(ours), 4), "check": chk, "ok": bool(ok)})
    extra = ["t2.os_lcl.first", "t2.os_ucl.first", "t2.os_lcl.later", "t2.os_ucl.later", "t2.rfs_lcl.first",
             "t2.rfs_ucl.first", "t2.rfs_lcl.later", "t2.rfs_ucl.later", "t2.os_p_logrank"]
    for key in extra:
        out.append({"figure": key, "published": None, "ours": round(float(f[key]), 4), "check": ("info",), "ok": True})
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from repool.resources import bundled_data_dir
    root = Path(argv[0]) if argv else bundled_data_dir()
    rows = calibration_report(root)
    for r in rows:
        flag = "ok " if r["ok"] else "BAD"
        print(f"{flag} {r['figure']:<32} published {str(r['published']):>8}  ours {r['ours']:>10}  {r['check']}")
    bad = [r for r in rows if not r["ok"]]
    print(json.dumps({"figures": len(rows), "failing": len(bad)}))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
