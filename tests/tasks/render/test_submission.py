"""tables/<table_id>.rtf and .docx: every cell as in the display table, version id, repeating header, same bytes."""
from __future__ import annotations

import io
import re
import zipfile

import docx
import pytest
from docx.oxml.ns import qn

from repool.schemas.ard import TABLE_IDS
from repool.tasks.render.display import TABLE_TITLES, create_display_table, split_column, table_note
from repool.tasks.render.submission import _mark_header_rows, rtf_escape, write_submission_tables
from tests.fixtures_ard import build_fixture_ard, build_fixture_km
from tests.fixtures_studies_ard import build_fixture_ard_with_studies

VERSION = "v0123456789ab"
PARAMETERS = {"alpha": 0.05, "conventions": "sas"}
FIXTURES = {"tables1-4": build_fixture_ard, "with-studies": build_fixture_ard_with_studies}


def _meta(parameters=PARAMETERS) -> dict:
    return {"result_version": VERSION, "parameters": parameters}


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def written(request, tmp_path_factory):
    ard = FIXTURES[request.param]()
    folder = tmp_path_factory.mktemp(request.param)
    paths = write_submission_tables(ard, _meta(), folder)
    return ard, folder / "tables", paths


def _expected(ard, tid, parameters=PARAMETERS):
    display = create_display_table(ard, tid, 1 - parameters["alpha"], parameters["conventions"])
    spanners, labels = zip(*(split_column(str(c)) for c in display.columns))
    heads = [list(labels)] if all(s is None for s in spanners) else [[s or "" for s in spanners], list(labels)]
    body = [[str(v) for v in row] for row in display.itertuples(index=False, name=None)]
    return heads, body


def _collapse(row: list[str]) -> list[str]:
    """A header row as RTF writes it: a spanning cell once (the stub column never spans)."""
    out = [row[0]]
    for i, text in enumerate(row[1:], start=1):
        if not (i > 1 and text and text == row[i - 1]):
            out.append(text)
    return out


# ---------------------------------------------------------------- RTF: a simple reader of the table cells

def _rtf_text(code: str) -> str:
    code = re.sub(r"\\uc\d", "", code)
    code = re.sub(r"\\u(-?\d+)[?*]", lambda m: chr(int(m.group(1)) % 65536), code)
    return code.replace("\\{", "{").replace("\\}", "}").replace("\\\\", "\\")


def _rtf_rows(code: str) -> list[tuple[bool, list[str]]]:
    """(marked \\trhdr, cell texts) of every table row."""
    rows = []
    for segment in code.split("\\trowd")[1:]:
        segment = segment.split("\\row")[0]
        cells = re.findall(r"\{\\f\d+ (.*?)\}\\cell(?![a-z])", segment)
        rows.append((segment.startswith("\\trhdr"), [_rtf_text(c) for c in cells]))
    return rows


def test_one_rtf_and_one_docx_per_table(written):
    ard, tables, paths = written
    expected = [t for t in TABLE_IDS if (ard["table_id"] == t).any()]
    assert sorted(p.name for p in paths) == sorted(f"{t}.{ext}" for t in expected for ext in ("rtf", "docx"))
    assert all(p.parent == tables and p.stat().st_size > 0 for p in paths)


def test_rtf_cells_equal_the_display_table(written):
    ard, tables, _ = written
    for tid in (t for t in TABLE_IDS if (ard["table_id"] == t).any()):
        code = (tables / f"{tid}.rtf").read_bytes().decode("ascii")  # 7-bit: every non-ASCII character escaped
        heads, body = _expected(ard, tid)
        rows = _rtf_rows(code)
        assert [cells for _, cells in rows] == [_collapse(h) for h in heads] + body, tid
        assert [marked for marked, _ in rows] == [True] * len(heads) + [False] * len(body), tid
        text = _rtf_text(code)
        assert TABLE_TITLES[tid] in text and table_note(tid, 0.95, "sas") in text
        header = re.search(r"\{\\header(.*?)\\par\}", code).group(1)
        assert VERSION in header  # every page
        assert f"Result version {VERSION}" in text


def test_docx_cells_equal_the_display_table(written):
    ard, tables, _ = written
    for tid in (t for t in TABLE_IDS if (ard["table_id"] == t).any()):
        document = docx.Document(tables / f"{tid}.docx")
        heads, body = _expected(ard, tid)
        (table,) = document.tables
        cells = [[c.text for c in row.cells] for row in table.rows]
        assert cells == heads + body, tid
        for i, row in enumerate(table.rows):
            marked = row._tr.trPr is not None and row._tr.trPr.find(qn("w:tblHeader")) is not None
            assert marked == (i < len(heads)), (tid, i)
        paragraphs = [p.text for p in document.paragraphs]
        assert TABLE_TITLES[tid] in paragraphs and table_note(tid, 0.95, "sas") in paragraphs
        assert f"Result version {VERSION}" in paragraphs
        assert VERSION in document.sections[0].header.paragraphs[0].text  # every page


def test_files_are_byte_reproducible(tmp_path):
    ard = build_fixture_ard_with_studies()
    first = {p.name: p.read_bytes() for p in write_submission_tables(ard, _meta(), tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in write_submission_tables(ard, _meta(), tmp_path / "b")}
    assert first == second
    with zipfile.ZipFile(io.BytesIO(first["table1.docx"])) as z:
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        core = z.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core


def test_version_parameters_set_level_and_rounding(tmp_path):
    parameters = {"alpha": 0.1, "conventions": "r"}
    ard = build_fixture_ard()
    write_submission_tables(ard, _meta(parameters), tmp_path)
    heads, body = _expected(ard, "table2", parameters)
    assert any("90% CI" in row[0] for row in body)
    rows = _rtf_rows((tmp_path / "tables" / "table2.rtf").read_text(encoding="ascii"))
    assert [cells for _, cells in rows] == heads + body
    assert "Conventions: R (survival)." in _rtf_text((tmp_path / "tables" / "table2.rtf").read_text(encoding="ascii"))


def test_rtf_escape_is_ascii():
    assert rtf_escape("grade ≥3 {a} \\b τ² – —") == "grade \\u8805?3 \\{a\\} \\\\b \\u964?\\u178? \\u8211? \\u8212?"


def test_header_rows_marked_again_after_each_page_break():
    code = "\\trowd\\trgaph1 h\\row\\trowd\\trgaph1 b\\row\\page\\trowd\\trgaph1 h\\row\\trowd\\trgaph1 b\\row"
    assert _mark_header_rows(code, 1, 2) == ("\\trowd\\trhdr\\trgaph1 h\\row\\trowd\\trgaph1 b\\row\\page"
                                             "\\trowd\\trhdr\\trgaph1 h\\row\\trowd\\trgaph1 b\\row")


def test_version_folder_gets_the_tables(tmp_path):
    from repool.tasks.publish import render_version_report

    ard = build_fixture_ard_with_studies()
    meta = {**_meta(), "created": "2026-01-01T00:00:00Z", "code_version": "c", "input_hash": "i",
            "deliveries": [], "exclusions": []}
    render_version_report(ard, build_fixture_km(), meta, tmp_path)
    assert (tmp_path / "report.html").exists()
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == sorted(
        f"{t}.{ext}" for t in TABLE_IDS for ext in ("rtf", "docx"))
