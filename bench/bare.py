"""The baseline of `bench/bench_server.py`: tables 1-4 of docs/spec/results.md from the three bundled
deliveries with pandas, numpy, scipy and lifelines only (no repool, no DuckDB, no Prefect).

    .venv/bin/python bench/bare.py                          # prints its tables' row count and wall time
    .venv/bin/python bench/bare.py --check results/<v>/ard.csv   # and compares every number it shares with an ARD

Reads the newest delivery of each study under <data dir>/deliveries/<STUDY>/<CUT>/, harmonises it
minimally as docs/spec/sources.md ("Definitions") says, and computes long-format rows keyed like the
ARD (table, group1_level, group2_level, variable, variable_level, stat_name). No validation, no
audit, no lineage, no rendering: the least work that gives the same numbers. KM medians take the
SAS midpoint rule; median CIs are lifelines' log-log band crossings (= Brookmeyer-Crowley except
in corner cases, see tasks/analyse/statistics.py); Cox: lifelines (Efron); Clopper-Pearson: scipy.
"""
from __future__ import annotations

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from lifelines import CoxPHFitter, KaplanMeierFitter  # noqa: E402
from lifelines.statistics import logrank_test  # noqa: E402
from lifelines.utils import median_survival_times  # noqa: E402
from scipy import stats  # noqa: E402

DPM = 30.4375  # days per month
FIRST, LATER = "First salvage", "Second or later salvage"
REMISSION = ["CR", "CRh", "CRi"]
NEURO = {"encephalopathy", "tremor", "seizure", "aphasia", "confusional state", "dysarthria", "somnolence",
         "disorientation", "cognitive disorder", "memory impairment", "ataxia", "dizziness", "headache",
         "paraesthesia"}
SUBJ = ["STUDYID", "USUBJID", "AGE", "SEX", "ECOGBL", "PRHSCT", "BMBLPCT", "SALVLINE", "TRTSDT", "TRTEDT",
        "HSCTDT", "HSCTSTAT", "OTHTXDT"]
AE = ["USUBJID", "AEDECOD", "AETOXGR", "AESER", "AREL", "ASTDTC", "AEOUT"]


def newest(root: Path, study: str) -> Path:
    return sorted(p for p in (root / "deliveries" / study).iterdir() if p.is_dir())[-1]


# ------------------------------------------------------------------ MT103-206: legacy CSV
def load_206(d: Path):
    def read(name):
        return pd.read_csv(d / name, sep=";", encoding="latin-1", dtype=str, keep_default_na=False,
                           na_values=["", "n.a."])

    def date(s):
        return pd.to_datetime(s, format="%d.%m.%Y")

    p, fu, rs = read("patients.csv"), read("followup.csv"), read("response.csv")
    rel, hs, ot, ae = read("relapse.csv"), read("hsct.csv"), read("other_tx.csv"), read("ae.csv")
    for f in (p, fu, rs, rel, hs, ot, ae):
        f["USUBJID"] = "MT103-206-" + f["PATNR"].str.strip()
    s = pd.DataFrame({"STUDYID": "MT103-206", "USUBJID": p["USUBJID"], "AGE": p["AGE"].astype(float),
                      "SEX": p["SEX"].map({"1": "M", "2": "F"}), "ECOGBL": p["ECOG"].astype(float),
                      "PRHSCT": p["PRIOR_SCT"].map({"J": "Y", "N": "N"}),
                      "BMBLPCT": p["BM_BLASTS"].str.replace(",", ".").astype(float),
                      "SALVLINE": p["SALVAGE_NR"].astype(int),
                      "TRTSDT": date(p["FIRST_DOSE"]), "TRTEDT": date(p["LAST_DOSE"])})
    s = s.merge(hs.assign(HSCTDT=date(hs["HSCT_DATE"]), HSCTSTAT=hs["STATUS_AT_HSCT"])[["USUBJID", "HSCTDT", "HSCTSTAT"]],
                on="USUBJID", how="left")
    ot = ot.assign(OTHTXDT=date(ot["START_DATE"])).merge(s[["USUBJID", "TRTSDT"]], on="USUBJID")
    first_ot = ot[ot["OTHTXDT"] >= ot["TRTSDT"]].groupby("USUBJID")["OTHTXDT"].min()
    s["OTHTXDT"] = s["USUBJID"].map(first_ot)
    # best response within cycles 1-2 (CR > CRh > CRi > BFHM > PR > NR > NE), remission date, MRD
    order = ["CR", "CRh", "CRi", "BFHM", "PR", "NR", "NE"]
    rs = rs[rs["CYCLE"].astype(int).isin([1, 2])].assign(
        RESP=lambda x: x["RESPONSE"].replace({"CRh*": "CRh"}), ADT=lambda x: date(x["ASSESS_DATE"]))
    rs["rank"] = rs["RESP"].map({c: i for i, c in enumerate(order)})
    best = rs.sort_values("rank").groupby("USUBJID")["RESP"].first()
    remdt = rs[rs["RESP"].isin(REMISSION)].groupby("USUBJID")["ADT"].min()
    mrd = rs.groupby("USUBJID")["MRD"].agg(lambda m: "Y" if (m == "neg").any() else "N")
    rsp = pd.concat([pd.DataFrame({"USUBJID": best.index, "PARAMCD": "BOR", "AVALC": best.values}),
                     pd.DataFrame({"USUBJID": mrd.index, "PARAMCD": "MRD", "AVALC": mrd.values})])
    # OS: first dose to death / last known alive; RFS: remission to relapse or death, censored at last alive
    fu = fu.assign(DT=date(fu["STATUS_DATE"]), DEAD=fu["STATUS"].eq("DEAD")).set_index("USUBJID")
    trt = s.set_index("USUBJID")["TRTSDT"]
    os_ = pd.DataFrame({"USUBJID": fu.index, "PARAMCD": "OS", "AVAL": (fu["DT"] - trt[fu.index]).dt.days / DPM,
                        "CNSR": np.where(fu["DEAD"], 0, 1)})
    relapse = rel.assign(DT=date(rel["RELAPSE_DATE"])).set_index("USUBJID")["DT"]
    ids = remdt.index
    end = relapse.reindex(ids).fillna(fu["DT"].reindex(ids))
    event = relapse.reindex(ids).notna() | fu["DEAD"].reindex(ids)
    rfs = pd.DataFrame({"USUBJID": ids, "PARAMCD": "RFS", "AVAL": (end - remdt).dt.days.values / DPM,
                        "CNSR": np.where(event, 0, 1)})
    a = pd.DataFrame({"USUBJID": ae["USUBJID"], "AEDECOD": ae["PT"], "AETOXGR": ae["GRADE"].astype(int),
                      "AESER": ae["SERIOUS"].map({"J": "Y", "N": "N"}), "AREL": ae["RELATED"].map({"J": "Y", "N": "N"}),
                      "ASTDTC": date(ae["ONSET"]).dt.strftime("%Y-%m-%d"), "AEOUT": ae["OUTCOME"]})
    return s[SUBJ], pd.concat([os_, rfs]), rsp, a


# ------------------------------------------------------------------ MT103-211: ADaM in SAS transport
def load_211(d: Path):
    def read(name):
        df = pd.read_sas(d / name, format="xport", encoding="latin-1")
        for c in df.select_dtypes("number"):  # pandas decodes an IBM-float 0 as 5.4e-79
            df[c] = df[c].mask(df[c].abs() < 1e-70, 0.0)
        return df

    def sasdate(x):
        return pd.to_datetime("1960-01-01") + pd.to_timedelta(x, unit="D")

    sl, tte, rs, ae = (read(f) for f in ("adsl.xpt", "adtte.xpt", "adrs.xpt", "adae.xpt"))
    sl = sl[sl["SAFFL"] == "Y"]
    s = sl.assign(STUDYID="MT103-211", PRHSCT=sl["PRHSCTFL"], SALVLINE=sl["PRSALVN"].astype(int) + 1,
                  HSCTSTAT=sl["HSCTSTAT"].replace("", np.nan),
                  **{c: sasdate(sl[c]) for c in ("TRTSDT", "TRTEDT", "HSCTDT", "OTHTXDT")})
    tte = tte[tte["PARAMCD"].isin(["OS", "RFS"])]
    tte = pd.DataFrame({"USUBJID": tte["USUBJID"], "PARAMCD": tte["PARAMCD"], "AVAL": tte["AVAL"] / DPM,
                        "CNSR": tte["CNSR"].astype(int)})
    rs = rs[rs["PARAMCD"].isin(["BOR2C", "MRD2C"])]
    rsp = pd.DataFrame({"USUBJID": rs["USUBJID"], "PARAMCD": rs["PARAMCD"].map({"BOR2C": "BOR", "MRD2C": "MRD"}),
                        "AVALC": rs["AVALC"].replace({"CRH": "CRh", "CRI": "CRi"})})
    rsp.loc[(rsp["PARAMCD"] == "MRD") & (rsp["AVALC"] == "NE"), "AVALC"] = "N"
    a = ae.assign(AETOXGR=ae["AETOXGR"].astype(int), ASTDTC=sasdate(ae["ASTDT"]).dt.strftime("%Y-%m-%d"))
    return s[SUBJ], tte, rsp, a[AE]


# ------------------------------------------------------------------ 00103311: ADaM-like Parquet
def load_311(d: Path):
    sl, tte, rs, ae = (pd.read_parquet(d / f"{f}.parquet") for f in ("adsl", "adtte", "adrs", "adae"))
    sl = sl[(sl["arm"] == "Blinatumomab") & sl["treated"]]
    line = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "FIFTH_OR_LATER": 5}
    s = pd.DataFrame({"STUDYID": "00103311", "USUBJID": sl["usubjid"], "AGE": sl["age"].astype(float),
                      "SEX": sl["sex"].map({"MALE": "M", "FEMALE": "F"}), "ECOGBL": pd.to_numeric(sl["ecog"]),
                      "PRHSCT": np.where(sl["prior_allo_hsct"], "Y", "N"), "BMBLPCT": sl["bm_blasts_pct"],
                      "SALVLINE": sl["salvage_phase"].map(line), "HSCTSTAT": sl["hsct_status"],
                      **{k: pd.to_datetime(sl[c]) for k, c in (("TRTSDT", "first_dose_date"), ("TRTEDT", "last_dose_date"),
                                                              ("HSCTDT", "hsct_date"), ("OTHTXDT", "other_tx_date"))}})
    tte = tte[tte["paramcd"].isin(["OS", "RFS"])]
    tte = pd.DataFrame({"USUBJID": tte["usubjid"], "PARAMCD": tte["paramcd"], "AVAL": tte["aval"], "CNSR": tte["cnsr"]})
    bor = {"CR with partial hematologic recovery": "CRh", "CR with incomplete hematologic recovery": "CRi",
           "Blast-free hypoplastic or aplastic bone marrow": "BFHM", "Partial remission": "PR",
           "No response": "NR", "Not evaluable": "NE"}
    rs = rs[rs["paramcd"].isin(["BOR_C1C2", "MRD_C1C2"])]
    rsp = pd.DataFrame({"USUBJID": rs["usubjid"], "PARAMCD": rs["paramcd"].map({"BOR_C1C2": "BOR", "MRD_C1C2": "MRD"}),
                        "AVALC": rs["avalc"].replace(bor)})
    rsp.loc[rsp["PARAMCD"] == "MRD", "AVALC"] = rsp["AVALC"].fillna("N")
    a = pd.DataFrame({"USUBJID": ae["usubjid"], "AEDECOD": ae["aedecod"], "AETOXGR": ae["toxgrade"],
                      "AESER": np.where(ae["serious"], "Y", "N"), "AREL": np.where(ae["related"], "Y", "N"),
                      "ASTDTC": ae["onset_date"], "AEOUT": ae["outcome"]})
    return s[SUBJ], tte, rsp, a


# ------------------------------------------------------------------ pooling
def pool(root: Path):
    parts = [load(newest(root, study)) for study, load in
             (("MT103-206", load_206), ("MT103-211", load_211), ("00103311", load_311))]
    sl, tte, rsp, ae = (pd.concat([p[i] for p in parts], ignore_index=True) for i in range(4))
    rem = set(rsp.loc[(rsp["PARAMCD"] == "BOR") & rsp["AVALC"].isin(REMISSION), "USUBJID"])
    after = lambda c: (sl[c] >= sl["TRTSDT"]).map({True: "Y", False: "N"})  # noqa: E731
    sl = sl.assign(
        ECOG=sl["ECOGBL"].map({0: "0", 1: "1", 2: "2"}).fillna("Unknown"),
        BMBLCAT=np.select([sl["BMBLPCT"].isna(), sl["BMBLPCT"] <= 5, sl["BMBLPCT"] < 10, sl["BMBLPCT"] < 50],
                          ["Unknown", "<= 5%", "> 5% - < 10%", "10% - < 50%"], ">= 50%"),
        SALVGRP=np.where(sl["SALVLINE"] == 1, FIRST, LATER),
        HSCTFL=after("HSCTDT"), OTHTXFL=after("OTHTXDT"),
        HSCTCRFL=np.where((sl["HSCTDT"] >= sl["TRTSDT"]) & (sl["HSCTSTAT"] == "CR"), "Y", "N"),
        HSCTRRFL=np.where((sl["HSCTDT"] >= sl["TRTSDT"]) & sl["HSCTSTAT"].isin(["RELAPSE", "REFRACTORY"]), "Y", "N"))
    tte = tte[(tte["PARAMCD"] == "OS") | tte["USUBJID"].isin(rem)].merge(sl[["USUBJID", "SALVGRP", "PRHSCT"]])
    # TEAE: onset (partial: the first dose if in the period, else the period's first day) in [first, last + 30 d]
    ae = ae.merge(sl[["USUBJID", "SALVGRP", "TRTSDT", "TRTEDT"]])
    c = ae["ASTDTC"].astype(str)
    full = pd.to_datetime(c.where(c.str.len() == 10), errors="coerce")
    for n, fmt, pad in ((7, "%Y-%m", "-01"), (4, "%Y", "-01-01")):
        part = c.str.len() == n
        same = part & (ae["TRTSDT"].dt.strftime(fmt) == c)
        full = full.mask(same, ae["TRTSDT"]).mask(part & ~same, pd.to_datetime(c.where(part & ~same) + pad, errors="coerce"))
    ae = ae[(full >= ae["TRTSDT"]) & (full <= ae["TRTEDT"] + pd.Timedelta(days=30))]
    return sl, tte, rsp[rsp["USUBJID"].isin(sl["USUBJID"])], ae


# ------------------------------------------------------------------ tables
def km(sub):
    kmf = KaplanMeierFitter().fit(sub["AVAL"], 1 - sub["CNSR"])
    et = kmf.event_table
    t = et.index[et["observed"] > 0].to_numpy()
    s = kmf.survival_function_.loc[t].iloc[:, 0].to_numpy()
    j = np.flatnonzero(s <= 0.5 + 1e-12)
    med = None
    if j.size:  # SAS/R rule: where S is exactly 0.5 on [t_j, t_j+1), the midpoint
        j = j[0]
        med = t[j] if abs(s[j] - 0.5) > 1e-12 else ((t[j] + t[j + 1]) / 2 if j + 1 < len(t) else None)
    ci = median_survival_times(kmf.confidence_interval_).iloc[0]
    fin = lambda v: float(v) if np.isfinite(v) else None  # noqa: E731
    return {"n": len(sub), "events": int((1 - sub["CNSR"]).sum()), "median": med,
            "median_lcl": fin(ci.iloc[0]), "median_ucl": fin(ci.iloc[1])}


def tables(sl, tte, rsp, ae) -> pd.DataFrame:
    rows = []

    def add(table, g1, var, name, value, level=None, g2=None):
        rows.append((table, g1, g2, var, level, name, None if value is None else float(value)))

    for g in (FIRST, LATER):
        s = sl[sl["SALVGRP"] == g]
        N = len(s)
        for var, col in (("AGE", "AGE"), ("BMBLAST", "BMBLPCT")):  # Table 1
            v = s[col].dropna()
            for name, x in (("n", len(v)), ("median", v.median()), ("min", v.min()), ("max", v.max())):
                add("table1", g, var, name, x)
        for var, levels in (("SEX", ["M", "F"]), ("ECOG", ["0", "1", "2", "Unknown"]), ("PRHSCT", ["Y", "N"]),
                            ("BMBLCAT", ["<= 5%", "> 5% - < 10%", "10% - < 50%", ">= 50%", "Unknown"])):
            for lv in levels:
                n = int((s[var] == lv).sum())
                add("table1", g, var, "n", n, lv)
                add("table1", g, var, "pct", 100 * n / N, lv)
        for var in ("OS", "RFS"):  # Table 2
            for name, x in km(tte[(tte["PARAMCD"] == var) & (tte["SALVGRP"] == g)]).items():
                add("table2", g, var, name, x)
        for prior in ("Y", "N"):
            for name, x in km(tte[(tte["PARAMCD"] == "OS") & (tte["SALVGRP"] == g) & (tte["PRHSCT"] == prior)]).items():
                add("table2", g, "OS", name, x, g2=prior)
        bor = s["USUBJID"].map(rsp[rsp["PARAMCD"] == "BOR"].set_index("USUBJID")["AVALC"])  # Table 3
        mrd = s["USUBJID"].map(rsp[rsp["PARAMCD"] == "MRD"].set_index("USUBJID")["AVALC"])
        props = [("BOR", lv, bor.isin(c), N) for lv, c in
                 (("CR", ["CR"]), ("CRh", ["CRh"]), ("CRi", ["CRi"]), ("CR/CRh/CRi", REMISSION))]
        props += [("MRD", None, bor.isin(REMISSION) & (mrd == "Y"), int(bor.isin(REMISSION).sum()))]
        props += [(v, None, s[f] == "Y", N) for v, f in (("HSCT", "HSCTFL"), ("HSCT_CR", "HSCTCRFL"),
                                                        ("HSCT_RELREF", "HSCTRRFL"), ("OTHER_TX", "OTHTXFL"))]
        for var, lv, hit, den in props:
            k = int(hit.sum())
            ci = stats.binomtest(k, den).proportion_ci(0.95, method="exact") if den else None
            for name, x in (("n", k), ("N", den), ("pct", 100 * k / den if den else None),
                            ("ci_lower", 100 * ci.low if ci else None), ("ci_upper", 100 * ci.high if ci else None)):
                add("table3", g, var, name, x, lv)
        a = ae[ae["SALVGRP"] == g]  # Table 4
        fatal = (a["AETOXGR"] == 5) | (a["AEOUT"] == "FATAL")
        term = a["AEDECOD"].str.lower()
        for var, m in (("ANY_TEAE", pd.Series(True, index=a.index)), ("SERIOUS_TEAE", a["AESER"] == "Y"), ("FATAL_TEAE", fatal),
                       ("FATAL_RELATED", fatal & (a["AREL"] == "Y")), ("CRS", term == "cytokine release syndrome"),
                       ("NEURO", term.isin(NEURO))):
            n = a.loc[m, "USUBJID"].nunique()
            add("table4", g, var, "n", n)
            add("table4", g, var, "pct", 100 * n / N)
            if var in ("ANY_TEAE", "CRS", "NEURO"):
                n3 = a.loc[m & (a["AETOXGR"] >= 3), "USUBJID"].nunique()
                add("table4", g, var, "n_grade3", n3)
                add("table4", g, var, "pct_grade3", 100 * n3 / N)
    for var in ("OS", "RFS"):  # Table 2: Cox HR, later vs first (Efron), and the log-rank p
        d = tte[tte["PARAMCD"] == var]
        x = pd.DataFrame({"T": d["AVAL"], "E": 1 - d["CNSR"], "later": (d["SALVGRP"] == LATER).astype(int)})
        r = CoxPHFitter().fit(x, "T", "E").summary.loc["later"]
        lr = logrank_test(x["T"][x["later"] == 1], x["T"][x["later"] == 0], x["E"][x["later"] == 1], x["E"][x["later"] == 0])
        for name, v in (("hr", r["exp(coef)"]), ("hr_lcl", r["exp(coef) lower 95%"]),
                        ("hr_ucl", r["exp(coef) upper 95%"]), ("p_value", r["p"]), ("p_logrank", lr.p_value)):
            add("table2", LATER, var, name, v)
    rem = sl["USUBJID"].isin(rsp.loc[(rsp["PARAMCD"] == "BOR") & rsp["AVALC"].isin(REMISSION), "USUBJID"])
    a, b = int((rem & (sl["SALVGRP"] == LATER)).sum()), int((~rem & (sl["SALVGRP"] == LATER)).sum())
    c, d = int((rem & (sl["SALVGRP"] == FIRST)).sum()), int((~rem & (sl["SALVGRP"] == FIRST)).sum())
    lor, se = np.log(a * d / (b * c)), np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)  # Table 3: remission OR, Wald
    z = stats.norm.ppf(0.975)
    for name, v in (("or", np.exp(lor)), ("or_lcl", np.exp(lor - z * se)), ("or_ucl", np.exp(lor + z * se)),
                    ("p_value", 2 * stats.norm.sf(abs(lor / se)))):
        add("table3", LATER, "REMISSION", name, v)
    return pd.DataFrame(rows, columns=["table_id", "group1_level", "group2_level", "variable", "variable_level",
                                       "stat_name", "stat"])


def check(mine: pd.DataFrame, ard_csv: Path) -> int:
    """Every number of `mine` beside the same row of a repool ARD; prints agreements and differences."""
    key = ["table_id", "group1_level", "group2_level", "variable", "variable_level", "stat_name"]
    ard = pd.read_csv(ard_csv, dtype={"variable_level": str, "group2_level": str})
    ard = ard[ard["table_id"].isin(["table1", "table2", "table3", "table4"])]
    both = mine.merge(ard[key + ["stat"]], on=key, how="outer", suffixes=("_bare", "_repool"), indicator=True)
    m = both[both["_merge"] == "both"]
    x, y = m["stat_bare"], m["stat_repool"]
    agree = (x.isna() & y.isna()) | np.isclose(x, y, rtol=1e-6, atol=1e-9)
    heads = m[m["stat_name"].isin(["hr", "median"]) & m["group2_level"].isna()
              | (m["stat_name"] == "N") & (m["variable_level"] == "CR/CRh/CRi")
              | (m["stat_name"] == "pct") & (m["variable_level"] == "CR/CRh/CRi")
              | (m["table_id"] == "table1") & (m["stat_name"] == "n") & m["variable"].isin(["AGE", "SEX"])]
    print(f"\ncheck against {ard_csv} (headline rows; every shared row is compared below):")
    for _, r in heads.iterrows():
        lvl = f"{r['variable']}{'=' + r['variable_level'] if isinstance(r['variable_level'], str) else ''}"
        ok = "agree" if agree[r.name] else "DIFFER"
        print(f"  {r['table_id']:<7} {r['group1_level']:<24} {lvl:<15} {r['stat_name']:<7} "
              f"bare {r['stat_bare']:>10.4f}  repool {r['stat_repool']:>10.4f}  {ok}")
    print(f"rows compared: {len(m)}; agree: {int(agree.sum())}; differ: {int((~agree).sum())}; "
          f"only in bare: {int((both['_merge'] == 'left_only').sum())}; "
          f"only in the ARD (tables 1-4): {int((both['_merge'] == 'right_only').sum())}")
    for _, r in m[~agree].iterrows():
        print("  DIFFER", *[r[k] for k in key], r["stat_bare"], r["stat_repool"])
    return 0 if agree.all() and (both["_merge"] == "both").all() else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / "data",
                    help="data root holding deliveries/ (default: the repository's bundled data)")
    ap.add_argument("--check", metavar="ARD_CSV", type=Path, help="compare with a repool version's ard.csv")
    args = ap.parse_args()
    t1 = time.perf_counter()
    sl, tte, rsp, ae = pool(args.data_dir)
    out = tables(sl, tte, rsp, ae)
    t2 = time.perf_counter()
    print(f"bare: {len(sl)} patients ({sl['SALVGRP'].value_counts().to_dict()}), {len(out)} statistics of tables 1-4")
    print(f"bare wall time: {t2 - T0:.2f} s (imports {t1 - T0:.2f} s, read + harmonise + tables {t2 - t1:.2f} s)")
    return check(out, args.check) if args.check else 0


if __name__ == "__main__":
    sys.exit(main())
