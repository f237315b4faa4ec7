"""Submission-grade tables: `tables/<table_id>.rtf` and `tables/<table_id>.docx` of a version folder.

Each table is the paper's layout of `create_display_table` (title, column headers, rows, the
footnote of `table_note`); the version id stands in the page header and in a title line of every
file. The header rows repeat on page breaks (RTF `\\trhdr`, DOCX `w:tblHeader`). Reads the ARD
only and computes nothing. The files are byte-reproducible for the same ARD: the RTF has no info
group, the DOCX core properties carry a fixed date and the zip entries a fixed timestamp.
"""
from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from repool.schemas.ard import TABLE_IDS
from repool.tasks.render.display import (
    TABLE_TITLES,
    conventions_of,
    create_display_table,
    has_table,
    level_of,
    split_column,
    table_note,
)

TABLES_DIR = "tables"
FIXED_DATE = datetime(2000, 1, 1, tzinfo=timezone.utc)  # DOCX core properties: no wall clock in the bytes
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
AUTHOR = "repool"
STUB_WIDTH, VALUE_WIDTH = 3, 2  # relative column widths: the row label, each value column


def version_line(version: str) -> str:
    """'Result version v1234abcd5678' — the title line and page header of every file."""
    return f"Result version {version}"


def header_rows(display: pd.DataFrame) -> list[list[str]]:
    """The column header rows of a display table, one string per column (spanning cells repeated
    over the columns they span): one row, or two for table 4 ('<group>' over 'any grade' / 'grade ≥3')."""
    spanners, labels = zip(*(split_column(str(c)) for c in display.columns))
    if all(s is None for s in spanners):
        return [list(labels)]
    return [[s or "" for s in spanners], list(labels)]


def _spans(row: list[str]) -> list[tuple[str, int]]:
    """Runs of equal adjacent cells of a header row: (text, columns spanned); the stub column never spans."""
    runs: list[tuple[str, int]] = []
    for i, text in enumerate(row):
        if i > 1 and runs and runs[-1][0] == text and text:
            runs[-1] = (text, runs[-1][1] + 1)
        else:
            runs.append((text, 1))
    return runs


def body_rows(display: pd.DataFrame) -> list[list[str]]:
    return [[str(v) for v in row] for row in display.itertuples(index=False, name=None)]


def submission_tables(ard: pd.DataFrame) -> list[str]:
    """The table ids present in the ARD, in TABLE_IDS order."""
    return [tid for tid in TABLE_IDS if has_table(ard, tid)]


def write_submission_tables(ard: pd.DataFrame, meta: dict, folder: Path) -> list[Path]:
    """Write `folder/tables/<table_id>.rtf` and `.docx` for each table of the ARD; return the paths."""
    parameters = meta.get("parameters")
    level, conventions = level_of(parameters), conventions_of(parameters)
    version = str(meta["result_version"])
    out = Path(folder) / TABLES_DIR
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for tid in submission_tables(ard):
        display = create_display_table(ard, tid, level, conventions)
        title, note = TABLE_TITLES[tid], table_note(tid, level, conventions)
        rtf_path, docx_path = out / f"{tid}.rtf", out / f"{tid}.docx"
        rtf_path.write_bytes(render_rtf(display, title, note, version))
        docx_path.write_bytes(render_docx(display, title, note, version))
        paths += [rtf_path, docx_path]
    return paths


# ---------------------------------------------------------------- RTF (rtflite)

def rtf_escape(text: str) -> str:
    """Plain text -> RTF: backslash and braces escaped, every non-ASCII character as \\uN? (so the
    file is 7-bit ASCII and reads the same in any code page)."""
    out = []
    for ch in str(text):
        if ch in "\\{}":
            out.append("\\" + ch)
        elif ord(ch) < 128:
            out.append(ch)
        else:
            for unit in _utf16_units(ch):
                out.append(f"\\u{unit if unit < 32768 else unit - 65536}?")
    return "".join(out)


def _utf16_units(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]


_TROWD = re.compile(r"\\trowd(?!\\trhdr)")
_PAGE = re.compile(r"\\page(?![a-z])")


def render_rtf(display: pd.DataFrame, title: str, note: str, version: str) -> bytes:
    """One table as RTF bytes: landscape, version in the page header and under the title, header rows
    marked `\\trhdr` (Word repeats them on each page; rtflite repeats them on its own page breaks)."""
    import polars as pl
    import rtflite as rtf

    ncol = display.shape[1]
    widths = [STUB_WIDTH] + [VALUE_WIDTH] * (ncol - 1)
    body = pl.DataFrame({f"c{i}": [rtf_escape(r[i]) for r in body_rows(display)] for i in range(ncol)},
                        schema={f"c{i}": pl.String for i in range(ncol)})
    headers = []
    for row in header_rows(display):
        runs = _spans(row)
        span_widths, col = [], 0
        for _, n in runs:
            span_widths.append(sum(widths[col:col + n]))
            col += n
        headers.append(rtf.RTFColumnHeader(
            text=[rtf_escape(t) for t, _ in runs], col_rel_width=span_widths,
            text_justification=["l"] + ["c"] * (len(runs) - 1), text_convert=[[False] * len(runs)]))
    vline = rtf_escape(version_line(version))
    doc = rtf.RTFDocument(
        df=body,
        rtf_page=rtf.RTFPage(orientation="landscape"),
        rtf_page_header=rtf.RTFPageHeader(text=f"{vline} \\u8212? Page \\chpgn of {{\\field{{\\*\\fldinst NUMPAGES }}}}"),
        rtf_title=rtf.RTFTitle(text=[rtf_escape(title), vline], text_convert=[False]),
        rtf_column_header=headers,
        rtf_body=rtf.RTFBody(col_rel_width=widths, text_justification=[["l"] + ["c"] * (ncol - 1)],
                             text_convert=[[False] * ncol]),
        rtf_footnote=rtf.RTFFootnote(text=[rtf_escape(note)], as_table=False, text_convert=[[False]]),
    )
    code = doc.rtf_encode()
    code = _mark_header_rows(code, len(headers), body.height)
    return code.encode("ascii")


def _mark_header_rows(code: str, n_header: int, n_body: int) -> str:
    """Add `\\trhdr` to the column header rows: the first `n_header` rows of each page's table
    (rtflite writes the header rows again after each of its page breaks)."""
    pages = _PAGE.split(code)
    for i, page in enumerate(pages):
        count = 0

        def mark(m: re.Match) -> str:
            nonlocal count
            count += 1
            return "\\trowd\\trhdr" if count <= n_header else m.group(0)
        pages[i] = _TROWD.sub(mark, page)
    return "\\page".join(pages)


# ---------------------------------------------------------------- DOCX (python-docx)

def render_docx(display: pd.DataFrame, title: str, note: str, version: str) -> bytes:
    """One table as DOCX bytes: landscape, version in the page header and under the title, header
    rows marked `w:tblHeader`; fixed core properties and zip timestamps."""
    from docx import Document
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = section.page_height, section.page_width
    header = section.header.paragraphs[0]
    header.text = version_line(version)
    header.alignment = WD_ALIGN_PARAGRAPH.RIGHT

    heading = doc.add_paragraph()
    heading.add_run(title).bold = True
    doc.add_paragraph(version_line(version))

    heads, rows = header_rows(display), body_rows(display)
    ncol = display.shape[1]
    table = doc.add_table(rows=len(heads) + len(rows), cols=ncol)
    table.style = "Table Grid"
    for r, head in enumerate(heads):
        col = 0
        for text, n in _spans(head):
            cell = table.cell(r, col)
            if n > 1:
                cell = cell.merge(table.cell(r, col + n - 1))
            cell.text = text
            for p in cell.paragraphs:
                p.alignment = WD_ALIGN_PARAGRAPH.LEFT if col == 0 else WD_ALIGN_PARAGRAPH.CENTER
                for run in p.runs:
                    run.bold = True
            col += n
        tr_pr = table.rows[r]._tr.get_or_add_trPr()
        tbl_header = OxmlElement("w:tblHeader")
        tbl_header.set(qn("w:val"), "true")
        tr_pr.append(tbl_header)
    # a body row's cells from its own row: `table.cell(r, c)` walks every cell of the table on each call,
    # which made a 100-study table (4,000 cells) take 20 s
    for row, values in zip(table.rows[len(heads):], rows):
        for c, (cell, text) in enumerate(zip(row.cells, values)):
            cell.text = text
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.LEFT if c == 0 else WD_ALIGN_PARAGRAPH.CENTER
    footnote = doc.add_paragraph(note)
    for run in footnote.runs:
        run.font.size = Pt(9)

    props = doc.core_properties
    props.author = props.last_modified_by = AUTHOR
    props.title = f"{title} ({version})"
    props.created = props.modified = props.last_printed = FIXED_DATE
    props.revision = 1
    buffer = io.BytesIO()
    doc.save(buffer)
    return _fixed_zip(buffer.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same zip with every entry's timestamp fixed (python-docx stamps the wall clock)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()
