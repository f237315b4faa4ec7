"""`repool generate`: determinism, manifests, native formats, calibration, scale and corrupt modes."""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest

from tests.paths import DATA_DIR
from repool.synth import CORRUPTION_KINDS, write_corrupt_delivery, write_default_deliveries, write_scale_deliveries
from repool.synth.check import calibration_report
from repool.synth.formats import CSV_COLUMNS, FORMAT_FILES

DEFAULT_IDS = {"MT103-206": "2013-07-31", "MT103-211": "2014-09-30", "00103311": "2016-01-04"}
FORMATS = {"MT103-206": "csv-legacy", "MT103-211": "xpt-adam", "00103311": "parquet-adam"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gen1")
    write_default_deliveries(root)
    return root


def _delivery(root: Path, study: str) -> Path:
    return root / "deliveries" / study / DEFAULT_IDS[study]


def _files(root: Path) -> dict[str, bytes]:
    base = root / "deliveries"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_the_committed_deliveries_byte_for_byte(generated):
    """This process's generation equals, file for file and byte for byte, the committed deliveries,
    which another process generated with the same seed (a second generation in this process would
    cost 20 s of CPU and prove less: it shares the process's state)."""
    ours = _files(generated)
    committed = {k: v for k, v in _files(DATA_DIR).items()
                 if tuple(k.split("/")[:2]) in set(DEFAULT_IDS.items())}
    assert ours.keys() == committed.keys()
    differ = [k for k in ours if ours[k] != committed[k]]
    assert differ == [], f"{differ} differ from the committed deliveries: run `repool generate`"


# --------------------------------------------------------------------------- manifests
def _rows(path: Path) -> int:
    if path.suffix == ".csv":
        return len(path.read_bytes().decode("latin-1").split("\n")) - 2
    if path.suffix == ".xpt":
        return len(pyreadstat.read_xport(str(path))[0])
    return pq.read_table(path).num_rows


@pytest.mark.parametrize("study", list(DEFAULT_IDS))
def test_manifest_lists_every_file_with_sha256_and_rows(generated, study):
    folder = _delivery(generated, study)
    text = (folder / "manifest.json").read_text(encoding="utf-8")
    assert text.endswith("}\n")
    m = json.loads(text)
    assert list(m) == ["study", "delivery_id", "data_cut", "format", "files"]
    assert (m["study"], m["delivery_id"], m["data_cut"], m["format"]) == (
        study, DEFAULT_IDS[study], DEFAULT_IDS[study], FORMATS[study])
    assert sorted(m["files"]) == sorted(FORMAT_FILES[FORMATS[study]])
    assert sorted(p.name for p in folder.iterdir()) == sorted([*m["files"], "manifest.json"])
    for name, entry in m["files"].items():
        assert entry["sha256"] == hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert entry["rows"] == _rows(folder / name)


# --------------------------------------------------------------------------- MT103-206 CSV
def test_206_csv_headers_encoding_and_codes(generated):
    folder = _delivery(generated, "MT103-206")
    for name, columns in CSV_COLUMNS.items():
        raw = (folder / name).read_bytes()
        assert b"\r" not in raw and raw.endswith(b"\n")
        text = raw.decode("latin-1")
        assert text.split("\n")[0] == ";".join(columns)
        assert all(len(line.split(";")) == len(columns) for line in text.split("\n")[1:-1])
    other = (folder / "other_tx.csv").read_bytes()
    assert "ä".encode("latin-1") in other
    with pytest.raises(UnicodeDecodeError):
        other.decode("utf-8")
    read = lambda n: pd.read_csv(folder / n, sep=";", encoding="latin-1", dtype=str, keep_default_na=False)  # noqa: E731
    pt = read("patients.csv")
    assert set(pt["SEX"]) <= {"1", "2"} and set(pt["PRIOR_SCT"]) <= {"J", "N"}
    assert set(pt["ECOG"]) <= {"0", "1", "2", "n.a.", ""}
    assert pt["BM_BLASTS"].str.contains(",").any() and not pt["BM_BLASTS"].str.contains(r"\.\d").any()
    assert pt["BM_BLASTS"].isin(["n.a.", ""]).any()
    date = re.compile(r"^\d{2}\.\d{2}\.\d{4}$")
    assert pt["FIRST_DOSE"].str.match(date).all() and pt["LAST_DOSE"].str.match(date).all()
    rs = read("response.csv")
    assert set(rs["RESPONSE"]) <= {"CR", "CRh*", "CRi", "BFHM", "PR", "NR", "NE"}
    assert set(rs["MRD"]) <= {"neg", "pos", ""} and set(rs["PATNR"]) == set(pt["PATNR"])
    ae = read("ae.csv")
    assert set(ae["SERIOUS"]) <= {"J", "N"} and set(ae["GRADE"]) <= set("12345")
    assert set(ae["OUTCOME"]) <= {"FATAL", "RECOVERED", "ONGOING", "NOT RECOVERED", "UNKNOWN", "n.a.", ""}
    assert read("relapse.csv")["PATNR"].is_unique and read("hsct.csv")["PATNR"].is_unique


# --------------------------------------------------------------------------- MT103-211 XPT
def test_211_xpt_is_sas_v5_adam(generated):
    folder = _delivery(generated, "MT103-211")
    for name in FORMAT_FILES["xpt-adam"]:
        raw = (folder / name).read_bytes()
        assert raw.startswith(b"HEADER RECORD*******LIBRARY HEADER RECORD!!!!!!!")
        stamps = set(re.findall(rb"\d{2}[A-Z]{3}\d{2}:\d{2}:\d{2}:\d{2}", raw[:80 * 12]))
        assert stamps == {b"30SEP14:00:00:00"}, "header datetimes come from the data cut"
        df, meta = pyreadstat.read_xport(str(folder / name))
        assert all(len(c) <= 8 for c in df.columns)
        assert (df["STUDYID"] == "MT103-211").all()
        assert df["USUBJID"].str.match(r"^MT103-211-\d+-\d+$").all()
    sl = pyreadstat.read_xport(str(folder / "adsl.xpt"))[0]
    assert {"USUBJID", "AGE", "SEX", "ECOGBL", "PRHSCTFL", "BMBLPCT", "PRSALVN", "TRTSDT", "TRTEDT", "SAFFL",
            "HSCTDT", "HSCTSTAT", "OTHTXDT", "SITEID", "RACE"} <= set(sl.columns)
    assert set(sl["PRHSCTFL"]) <= {"Y", "N"} and set(sl["SEX"]) <= {"M", "F"}
    assert set(sl["HSCTSTAT"]) <= {"", "CR", "RELAPSE", "REFRACTORY", "OTHER_TX"}
    assert sl["TRTSDT"].dtype.kind == "f" and sl["TRTSDT"].between(18000, 20000).all()  # days since 1960
    tte = pyreadstat.read_xport(str(folder / "adtte.xpt"))[0]
    assert (tte["AVAL"] == tte["ADT"] - tte["STARTDT"]).all()
    ae = pyreadstat.read_xport(str(folder / "adae.xpt"))[0].merge(sl[["USUBJID", "TRTSDT", "TRTEDT"]], on="USUBJID")
    te = (ae["ASTDT"] >= ae["TRTSDT"]) & (ae["ASTDT"] <= ae["TRTEDT"] + 30)
    assert 2 <= ((ae["TRTEMFL"] == "Y") != te).sum() <= 3, "a few delivered flags disagree with the rule"
    assert (ae["ASTDT"] == ae["TRTSDT"]).any() and (ae["ASTDT"] == ae["TRTEDT"] + 30).any()
    assert (ae["ASTDT"] == ae["TRTEDT"] + 31).any() and (ae["ASTDT"] < ae["TRTSDT"]).any()
    assert set(ae["AETOXGR"]) <= set("12345")


# --------------------------------------------------------------------------- 00103311 Parquet
def test_tower_parquet_arms_partial_dates_and_months(generated):
    folder = _delivery(generated, "00103311")
    sl = pd.read_parquet(folder / "adsl.parquet")
    assert sl["usubjid"].str.match(r"^00103311-\d+-\d+$").all()
    pooled = sl[(sl["arm"] == "Blinatumomab") & sl["treated"]]
    soc = sl[sl["arm"] == "SOC chemotherapy"]
    untreated = sl[(sl["arm"] == "Blinatumomab") & ~sl["treated"]]
    assert len(pooled) == 307 and 140 <= len(soc) <= 160 and 3 <= len(untreated) <= 6
    assert untreated["first_dose_date"].isna().all() and untreated["last_dose_date"].isna().all()
    ae = pd.read_parquet(folder / "adae.parquet")
    assert not ae["usubjid"].isin(untreated["usubjid"]).any() and ae["usubjid"].isin(soc["usubjid"]).any()
    rs = pd.read_parquet(folder / "adrs.parquet")
    bor = rs[rs["paramcd"] == "BOR_C1C2"].set_index("usubjid")["avalc"]
    assert (bor[untreated["usubjid"]] == "Not evaluable").all()
    assert set(sl["salvage_phase"]) <= {"FIRST", "SECOND", "THIRD", "FOURTH", "FIFTH_OR_LATER"}
    assert set(sl["ecog"].dropna()) <= {"0", "1", "2"} and set(sl["sex"]) == {"MALE", "FEMALE"}
    assert str(pq.read_schema(folder / "adae.parquet").field("toxgrade").type) == "int64"
    lengths = ae["onset_date"].str.len()
    assert {10, 7, 4} <= set(lengths)
    tte = pd.read_parquet(folder / "adtte.parquet")
    assert set(tte["avalu"]) == {"MONTHS"}
    days = (pd.to_datetime(tte["adt"]) - pd.to_datetime(tte["startdt"])).dt.days
    assert (tte["aval"] == days / 30.4375).all()


def test_partial_dates_both_inside_and_before_the_first_dose_period(generated):
    folder = _delivery(generated, "00103311")
    sl = pd.read_parquet(folder / "adsl.parquet")
    ae = pd.read_parquet(folder / "adae.parquet").merge(sl[["usubjid", "first_dose_date"]], on="usubjid")
    ae = ae[ae["first_dose_date"].notna() & (ae["onset_date"].str.len() == 7)]
    same_month = ae["onset_date"] == ae["first_dose_date"].str[:7]
    before = ae["onset_date"] < ae["first_dose_date"].str[:7]
    assert same_month.any() and before.any()


# --------------------------------------------------------------------------- realism
def test_no_date_after_the_data_cut_and_colliding_subject_numbers(generated):
    from repool.synth.check import harmonise

    h = harmonise(generated)
    for study, cut in DEFAULT_IDS.items():
        s = h.adsl[h.adsl["study"] == study]
        assert (s["trtedt"] <= pd.Timestamp(cut)).all()
        a = h.adae[h.adae["usubjid"].isin(s["usubjid"])]
        assert (a["onset"] <= pd.Timestamp(cut)).all()
    local = h.adsl["usubjid"].str.rsplit("-", n=1).str[-1]
    assert local.groupby(h.adsl["study"]).apply(set).pipe(lambda s: set.intersection(*s)), "subject numbers collide"


def test_calibration_reproduces_the_publication(generated):
    bad = [r for r in calibration_report(generated) if not r["ok"]]
    assert bad == []


# --------------------------------------------------------------------------- scale mode
def test_scale_mode_cycles_formats_with_distinct_ids(tmp_path):
    folders = write_scale_deliveries(tmp_path, studies=4, patients_per_study=120, seed=7)
    manifests = [json.loads((f / "manifest.json").read_text()) for f in folders]
    assert [m["study"] for m in manifests] == ["SCALE-001", "SCALE-002", "SCALE-003", "SCALE-004"]
    assert [m["format"] for m in manifests] == ["csv-legacy", "xpt-adam", "parquet-adam", "csv-legacy"]
    subject_file = {"csv-legacy": "patients.csv", "xpt-adam": "adsl.xpt", "parquet-adam": "adsl.parquet"}
    for f, m in zip(folders, manifests):
        assert m["files"][subject_file[m["format"]]]["rows"] == 120
        for name, entry in m["files"].items():
            assert entry["sha256"] == hashlib.sha256((f / name).read_bytes()).hexdigest()
    sl = pd.read_parquet(folders[2] / "adsl.parquet")
    assert sl["usubjid"].str.startswith("SCALE-003-").all()


# --------------------------------------------------------------------------- corrupt mode
@pytest.fixture(scope="module")
def corrupt_root(generated, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corrupt")
    shutil.copytree(generated / "deliveries", root / "deliveries")
    return root


def _cell(folder: Path, desc: dict):
    path = folder / desc["file"]
    if path.suffix == ".csv":
        df = pd.read_csv(path, sep=";", encoding="latin-1", dtype=str, keep_default_na=False)
    elif path.suffix == ".xpt":
        df = pyreadstat.read_xport(str(path))[0]
    else:
        df = pd.read_parquet(path)
    return df, (df[desc["column"]].iloc[desc["row"] - 1] if desc["row"] else None)


MANIFEST_KINDS = {"sha256-mismatch", "rows-mismatch", "listed-file-missing"}


@pytest.mark.parametrize("kind", list(CORRUPTION_KINDS))
def test_each_corruption_kind_writes_what_it_describes(corrupt_root, kind):
    desc = write_corrupt_delivery(corrupt_root, kind)
    assert set(desc) == {"kind", "study", "delivery_id", "file", "row", "column", "rule", "value"}
    assert desc["delivery_id"] > DEFAULT_IDS[desc["study"]]
    folder = corrupt_root / "deliveries" / desc["study"] / desc["delivery_id"]
    m = json.loads((folder / "manifest.json").read_text())
    assert m["delivery_id"] == m["data_cut"] == desc["delivery_id"]
    listed_ok = {n: (folder / n).exists() and hashlib.sha256((folder / n).read_bytes()).hexdigest() == e["sha256"]
                 for n, e in m["files"].items()}
    if kind in MANIFEST_KINDS:
        assert [n for n, ok in listed_ok.items() if not ok] == ([desc["file"]] if kind != "rows-mismatch" else [])
    else:
        assert all(listed_ok.values()), "only the data is wrong, the manifest matches the files"
    if kind == "sha256-mismatch":
        assert m["files"][desc["file"]]["sha256"] == desc["value"]
    elif kind == "rows-mismatch":
        assert m["files"][desc["file"]]["rows"] == _rows(folder / desc["file"]) + 1
    elif kind == "listed-file-missing":
        assert not (folder / desc["file"]).exists()
    elif kind == "wrong-encoding":
        text = (folder / desc["file"]).read_bytes().decode("utf-8")
        assert "ä" in text
    elif kind == "wrong-encoding-utf16":
        assert (folder / desc["file"]).read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    elif kind == "missing-column":
        df, _ = _cell(folder, {**desc, "row": None})
        assert desc["column"] not in df.columns
    elif kind == "extra-column":
        df, _ = _cell(folder, {**desc, "row": None})
        assert desc["column"] in df.columns
    elif kind == "wrong-type":
        df, _ = _cell(folder, {**desc, "row": None})
        assert df[desc["column"]].dtype == object
    elif kind == "duplicate-subject":
        df, value = _cell(folder, desc)
        assert value == desc["value"] and (df[desc["column"]] == value).sum() == 2
    else:
        _, value = _cell(folder, desc)
        assert str(value) == str(desc["value"]) or float(value) == float(desc["value"])


@pytest.mark.parametrize("kind,study", [("grade-out-of-range", "MT103-206"), ("grade-out-of-range", "MT103-211"),
                                        ("missing-column", "00103311"), ("death-before-first-dose", "MT103-211"),
                                        ("death-before-first-dose", "00103311"), ("unknown-code", "MT103-206")])
def test_corruptions_apply_to_other_studies(corrupt_root, kind, study):
    desc = write_corrupt_delivery(corrupt_root, kind, study)
    assert desc["study"] == study and desc["file"]


def test_corrupt_mode_writes_defaults_when_absent(tmp_path):
    desc = write_corrupt_delivery(tmp_path, "listed-file-missing", "00103311")
    assert (tmp_path / "deliveries" / "00103311" / DEFAULT_IDS["00103311"] / "manifest.json").exists()
    assert desc["delivery_id"] == "2016-01-05"


def test_unknown_kind_and_inapplicable_study_are_refused(tmp_path):
    with pytest.raises(ValueError):
        write_corrupt_delivery(tmp_path, "no-such-kind")
    with pytest.raises(ValueError):
        write_corrupt_delivery(tmp_path, "wrong-encoding", "00103311")


def test_cli_lists_corruptions(capsys):
    from repool.cli import main

    assert main(["generate", "--list-corruptions"]) == 0
    out = capsys.readouterr().out
    assert all(k in out for k in CORRUPTION_KINDS)


def test_cli_scale_and_corrupt_modes(tmp_path, capsys):
    from repool.cli import main

    assert main(["generate", "--out", str(tmp_path), "--studies", "2", "--patients-per-study", "40"]) == 0
    assert sorted(p.name for p in (tmp_path / "deliveries").iterdir()) == ["SCALE-001", "SCALE-002"]
    capsys.readouterr()
    assert main(["generate", "--out", str(tmp_path), "--corrupt", "grade-out-of-range", "--study", "MT103-211"]) == 0
    desc = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert desc["kind"] == "grade-out-of-range" and desc["study"] == "MT103-211" and desc["value"] == "6"
    assert main(["generate", "--out", str(tmp_path), "--corrupt", "no-such-kind"]) == 2


def test_cli_module_is_light():
    import subprocess
    import sys

    code = "import sys, repool.synth.cli; print(any(m in sys.modules for m in ('pandas', 'numpy', 'pyarrow')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
