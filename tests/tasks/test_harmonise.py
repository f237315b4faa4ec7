"""Harmonising rules on hand-made deliveries whose pooled values are known by hand."""
from __future__ import annotations

import pandas as pd
import pytest

from repool.tasks.harmonise import harmonise_pool, read_pooled
from tests.chain import prepare_newest


@pytest.fixture
def pooled(settings):
    _, accepted = prepare_newest(settings)
    assert all(r.accepted for r in accepted)
    harmonise_pool.fn(settings, accepted)
    return read_pooled.fn(settings)


def _row(df, usubjid, **kw):
    sel = df[df["USUBJID"] == usubjid]
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, (usubjid, kw, len(sel))
    return sel.iloc[0]


def test_adsl_pools_treated_blinatumomab_subjects_with_unique_ids(pooled):
    adsl = pooled["adsl"]
    assert len(adsl) == 10 and adsl["USUBJID"].is_unique
    # SOC arm and the untreated blinatumomab patient of 00103311 are not pooled
    assert "00103311-13-5" not in set(adsl["USUBJID"]) and "00103311-12-4" not in set(adsl["USUBJID"])
    # colliding study-local numbers stay distinct
    assert {"MT103-206-1", "MT103-206-2"} <= set(adsl["USUBJID"])


def test_adsl_decodes_and_derives(pooled):
    adsl = pooled["adsl"]
    p1 = _row(adsl, "MT103-206-1")
    assert (p1.SEX, p1.AGE, p1.ECOG, p1.PRHSCT, p1.BMBLPCT, p1.BMBLCAT, p1.SALVGRP) == (
        "M", 45, "0", "Y", 78.5, ">= 50%", "First salvage")
    p2 = _row(adsl, "MT103-206-2")
    assert (p2.ECOG, p2.BMBLCAT, p2.SALVGRP, p2.OTHTXFL) == ("Unknown", "Unknown", "Second or later salvage", "Y")
    assert p2.OTHTXDT == pd.Timestamp("2012-05-01")  # the pre-study therapy (2011) does not count
    # MT103-211: line = prior salvages + 1; 7.5 % blasts falls in > 5% - < 10%
    s1, s2 = _row(adsl, "MT103-211-101-1"), _row(adsl, "MT103-211-101-2")
    assert (s1.SALVLINE, s1.SALVGRP, s1.HSCTFL, s1.HSCTRRFL, s1.HSCTCRFL) == (1, "First salvage", "Y", "Y", "N")
    assert (s2.SALVLINE, s2.BMBLCAT, s2.SEX) == (2, "> 5% - < 10%", "F")
    t3 = _row(adsl, "00103311-12-3")
    assert (t3.SALVLINE, t3.ECOG, t3.BMBLCAT) == (5, "Unknown", "Unknown")
    t2 = _row(adsl, "00103311-11-2")
    assert (t2.SEX, t2.PRHSCT, t2.BMBLCAT, t2.HSCTCRFL) == ("F", "Y", "<= 5%", "Y")


def test_best_response_within_two_cycles_and_mrd(pooled):
    adrs = pooled["adrs"]
    bor = _row(adrs, "MT103-206-1", PARAMCD="BOR")
    assert bor.AVALC == "CR" and bor.ADT == pd.Timestamp("2012-03-01")  # CRh* in cycle 1 dates the remission
    assert _row(adrs, "MT103-206-1", PARAMCD="MRD").AVALC == "Y"
    assert _row(adrs, "MT103-206-4", PARAMCD="MRD").AVALC == "N"  # not assessed / positive = no response
    assert _row(adrs, "MT103-211-101-2", PARAMCD="BOR").AVALC == "CRh"
    assert _row(adrs, "00103311-11-1", PARAMCD="BOR").AVALC == "BFHM"
    assert _row(adrs, "00103311-11-1", PARAMCD="MRD").AVALC == "N"  # null MRD
    remission = set(pooled["adsl"].query("REMFL == 'Y'")["USUBJID"])
    assert remission == {"MT103-206-1", "MT103-206-4", "MT103-211-101-2", "00103311-11-2"}


def test_survival_times_in_months(pooled):
    adtte = pooled["adtte"]
    os1 = _row(adtte, "MT103-206-1", PARAMCD="OS")
    assert os1.CNSR == 0 and os1.AVAL == pytest.approx(366 / 30.4375)  # 01.02.2012 -> 01.02.2013
    rfs1 = _row(adtte, "MT103-206-1", PARAMCD="RFS")  # remission 01.03.2012 -> relapse 01.10.2012
    assert rfs1.CNSR == 0 and rfs1.AVAL == pytest.approx(214 / 30.4375)
    rfs4 = _row(adtte, "MT103-206-4", PARAMCD="RFS")  # no relapse, alive: censored at last known alive
    assert rfs4.CNSR == 1 and rfs4.AVAL == pytest.approx(397 / 30.4375)
    assert _row(adtte, "MT103-211-101-1", PARAMCD="OS").AVAL == pytest.approx(334 / 30.4375)
    assert _row(adtte, "00103311-11-2", PARAMCD="OS").AVAL == pytest.approx(400 / 30.4375)
    assert set(adtte.query("PARAMCD == 'RFS'")["USUBJID"]) <= set(pooled["adsl"].query("REMFL == 'Y'")["USUBJID"])


def test_teae_window_and_partial_dates(pooled):
    adae = pooled["adae"]
    assert _row(adae, "MT103-206-1", AEDECOD="Pyrexia").TRTEMFL == "N"  # day before first dose
    assert _row(adae, "MT103-206-2", AEDECOD="Tremor").TRTEMFL == "Y"  # last dose + 30: inclusive
    assert _row(adae, "MT103-206-2", AEDECOD="Headache").TRTEMFL == "N"  # last dose + 31
    crs = _row(adae, "00103311-11-1", AEDECOD="Cytokine release syndrome")  # "2015-01", first dose 2015-01-15
    assert (crs.ASTDT, crs.ASTDTF, crs.TRTEMFL, crs.AESICAT) == (pd.Timestamp("2015-01-15"), "D", "Y", "CRS")
    nausea = _row(adae, "00103311-11-1", AEDECOD="Nausea")  # "2014-12": wholly before the first dose
    assert (nausea.ASTDT, nausea.TRTEMFL) == (pd.Timestamp("2014-12-01"), "N")
    pneu = _row(adae, "00103311-12-3", AEDECOD="Pneumonia")  # "2015", first dose 2015-03-01
    assert (pneu.ASTDT, pneu.ASTDTF, pneu.AEFATFL) == (pd.Timestamp("2015-03-01"), "M", "Y")
    assert _row(adae, "MT103-206-3", AEDECOD="Sepsis").AEFATFL == "Y"
    assert set(adae["USUBJID"]) <= set(pooled["adsl"]["USUBJID"])  # SOC AEs are not pooled


@pytest.fixture
def pooled_sources(settings):
    """(pooled frames, accepted results): for the source columns checked against the delivered files."""
    _, accepted = prepare_newest(settings)
    harmonise_pool.fn(settings, accepted)
    return read_pooled.fn(settings), {r.study: r for r in accepted}


def test_every_pooled_record_names_its_delivery_file_sha_and_rows(pooled_sources):
    """Rows by hand from tests/fixtures_deliveries.py (1-based data rows of each delivered file)."""
    import hashlib

    pooled, results = pooled_sources
    for name, df in pooled.items():
        assert df[["SRCDLV", "SRCFILE", "SRCSHA", "SRCROW", "SRCROWS"]].notna().all().all(), name
        for _, r in df.iterrows():  # delivery and sha256 are the verified ones of that study's file
            d = results[r.STUDYID].delivery
            assert r.SRCDLV == d.delivery_id
            assert r.SRCSHA == d.files[r.SRCFILE]["sha256"] == hashlib.sha256((d.path / r.SRCFILE).read_bytes()).hexdigest()
            assert f"{r.SRCFILE}:{r.SRCROW}" in r.SRCROWS.split("; ")
    adsl, adrs, adtte, adae = (pooled[k] for k in ("adsl", "adrs", "adtte", "adae"))
    # csv-legacy: patient 4's transplant comes from hsct.csv row 1; patient 2's first other therapy
    # after the first dose is other_tx.csv row 1 (row 2, of 2011, is before the study and not read)
    assert _row(adsl, "MT103-206-4").SRCROWS == "patients.csv:4; hsct.csv:1"
    assert _row(adsl, "MT103-206-2").SRCROWS == "patients.csv:2; other_tx.csv:1"
    bor = _row(adrs, "MT103-206-1", PARAMCD="BOR")  # CRh* (row 1) then CR (row 2): CR is the best
    assert (bor.SRCFILE, bor.SRCROW, bor.SRCROWS) == ("response.csv", 2, "response.csv:1; response.csv:2")
    assert _row(adrs, "MT103-206-1", PARAMCD="MRD").SRCROW == 2  # MRD negative at row 2
    os1 = _row(adtte, "MT103-206-1", PARAMCD="OS")
    assert (os1.SRCFILE, os1.SRCROW, os1.SRCROWS) == ("followup.csv", 1, "patients.csv:1; followup.csv:1")
    rfs1 = _row(adtte, "MT103-206-1", PARAMCD="RFS")  # ends with the relapse
    assert (rfs1.SRCFILE, rfs1.SRCROW) == ("relapse.csv", 1)
    assert rfs1.SRCROWS == "response.csv:1; response.csv:2; followup.csv:1; relapse.csv:1"
    pyrexia = _row(adae, "MT103-206-1", AEDECOD="Pyrexia")
    assert (pyrexia.SRCFILE, pyrexia.SRCROW, pyrexia.AESEQ) == ("ae.csv", 2, 2)
    # ADaM Parquet: the record's row of the delivered file, found independently with pandas
    d = results["00103311"].delivery
    delivered = pd.read_parquet(d.path / "adsl.parquet").reset_index(drop=True)
    t2 = _row(adsl, "00103311-11-2")
    expected = int(delivered.index[delivered["usubjid"] == "00103311-11-2"][0]) + 1
    assert (t2.SRCFILE, t2.SRCROW, t2.SRCROWS) == ("adsl.parquet", expected, f"adsl.parquet:{expected}")


MART_KEYS = {"adsl": ["STUDYID", "USUBJID"], "adrs": ["STUDYID", "USUBJID", "PARAMCD"],
             "adtte": ["STUDYID", "USUBJID", "PARAMCD"], "adae": ["STUDYID", "USUBJID", "AESEQ"]}


def test_the_pool_is_every_studys_mart_rows_in_key_order(settings, pooled):
    """pooled.* are views of the units' mart rows, studies one after another: read back they come in
    the order of each mart's ORDER BY over the whole pool (STUDYID first), their keys unique, and
    every accepted study is in them."""
    from repool.tasks.db import connect

    for dataset, key in MART_KEYS.items():
        df = pooled[dataset]
        assert not df.empty and not df.duplicated(key).any(), dataset
        ordered = df.sort_values(key, kind="mergesort").reset_index(drop=True)
        assert df[key].reset_index(drop=True).equals(ordered[key]), f"{dataset} not in {key} order"
    with connect(settings.db_path) as con:
        kinds = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                                 "WHERE table_schema = 'pooled'").fetchall())
    assert kinds == {d: "VIEW" for d in MART_KEYS}
    assert set(pooled["adsl"]["STUDYID"]) == {"00103311", "MT103-206", "MT103-211"}
