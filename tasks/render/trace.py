"""Drill-down from a number to its patients and their delivered rows (issue 11, part 3): a reader of a
version's stored membership (`subjects`: per ARD row the subjects and pooled records behind it,
schemas/ard.py SUBJECT_COLUMNS) and sources (per pooled record the delivered rows it was derived from,
SOURCE_COLUMNS). Nothing here computes a statistic: it joins what the analyses and the pooled models
recorded and lays it out as terminal text (`repool trace`) and per-row HTML listings
(`trace/<name>.html` in the version folder, opened from the report).

Listings are content-named (a population shared by many rows, e.g. a group's N, is written once) and
indexed in `trace/index.json` ({"rows": [{ARD key..., "stat", "role", "n_subjects", "href"}]}).
Subject-level: these files live in the version folder only, never in a Prefect artifact or log.
"""
from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path

import pandas as pd

from repool.schemas.ard import ARD_KEY, COUNT_STATS, SOURCE_COLUMNS, SUBJECT_COLUMNS

TRACE_DIR = "trace"
INDEX_FILE = "index.json"
EMPTY_DIGEST = hashlib.sha256(b"").hexdigest()[:16]  # the listing of a count of nobody
TABLE_NUMBERS = {"table1": 1, "table2": 2, "table3": 3, "table4": 4, "studies": 5}
_JOIN = ["dataset", "STUDYID", "USUBJID", "record"]


def _blank(v) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v))


def _text(v) -> str:
    return "" if _blank(v) else str(v)


def row_label(row) -> str:
    """"table3 HSCT [First salvage] n" : what an ARD row is, in words of its key."""
    get = row.get if isinstance(row, dict) else (lambda c: getattr(row, c))
    level = f" = {get('variable_level')}" if not _blank(get("variable_level")) else ""
    groups = [f"{get('group1')} {get('group1_level')}" if not _blank(get("group1")) else "",
              f"{get('group2')} {get('group2_level')}" if not _blank(get("group2")) else ""]
    where = "; ".join(g for g in groups if g)
    return f"{get('table_id')} {get('variable')}{level}" + (f" [{where}]" if where else "") + f" {get('stat_name')}"


def select_rows(ard: pd.DataFrame, table: int | str, variable: str, group: str | None = None,
                level: str | None = None, stat_name: str | None = None) -> pd.DataFrame:
    """The ARD rows of one table and variable, optionally of a group (group1_level or group2_level),
    a variable level and a statistic; case-insensitive names."""
    table_id = next((t for t, n in TABLE_NUMBERS.items() if str(n) == str(table) or t == str(table)), str(table))
    m = (ard["table_id"] == table_id) & (ard["variable"].astype(str).str.upper() == variable.upper())
    if group is not None:
        g = group.casefold()
        m &= (ard["group1_level"].astype(str).str.casefold() == g) | (ard["group2_level"].astype(str).str.casefold() == g)
    if level is not None:
        m &= ard["variable_level"].astype(str).str.casefold() == level.casefold()
    if stat_name is not None:
        m &= ard["stat_name"] == stat_name
    return ard[m]


def _key_mask(frame: pd.DataFrame, row) -> pd.Series:
    m = pd.Series(True, index=frame.index)
    for c in ARD_KEY:
        v = row[c] if isinstance(row, dict) else getattr(row, c)
        m &= frame[c].isna() if _blank(v) else frame[c] == v
    return m


def members_of(subjects: pd.DataFrame, row) -> pd.DataFrame:
    """The membership rows (subject, pooled record) of one ARD row."""
    return subjects[_key_mask(subjects, row)]


def source_rows(members: pd.DataFrame, sources: pd.DataFrame, extra: list[str] | None = None) -> pd.DataFrame:
    """Members joined to the delivered rows of their pooled records: one row per subject, record and
    delivered row (a record without a stored source keeps NULLs), sorted by study, subject, dataset,
    record, file and row (`extra` columns of `members` kept, first in the sort)."""
    extra = list(extra or [])
    m = members[extra + _JOIN].drop_duplicates()
    src = sources[SOURCE_COLUMNS] if len(sources) else pd.DataFrame(columns=SOURCE_COLUMNS)
    out = m.merge(src, on=_JOIN, how="left")
    out["_read"] = out["primary"].ne(True)  # the record's own row first, then the rows it read
    out = out.sort_values([*extra, "STUDYID", "USUBJID", "dataset", "record", "_read", "SRCFILE", "SRCROW"],
                          kind="mergesort", na_position="last")
    return out.drop(columns="_read").reset_index(drop=True)


def _row_int(v) -> str:
    return "" if _blank(v) else str(int(v))


def format_trace_text(ard_row: dict, members: pd.DataFrame, sources: pd.DataFrame) -> str:
    """What `repool trace` prints for one ARD row: the row, its subjects, and per subject the
    delivered rows (delivery, file, row, sha256) of the pooled records that made it count."""
    subjects = members[["STUDYID", "USUBJID"]].drop_duplicates()
    role = "counted" if ard_row["stat_name"] in COUNT_STATS else "analysis population"
    stat = ard_row.get("stat")
    lines = [f"{row_label(ard_row)} = {'NE' if _blank(stat) else format(float(stat), 'g')}",
             f"{len(subjects)} subject(s) ({role})"]
    for (study, subject), part in _by_subject(source_rows(members, sources)):
        lines.append(f"  {_text(study)} {_text(subject)}")
        lines += [f"      {_where(r, False)}" for r in part]
    return "\n".join(lines)


# ---------------------------------------------------------------- HTML listings in the version folder


def _by_subject(rows: pd.DataFrame) -> list[tuple[tuple, list[dict]]]:
    """((study, subject), its source rows as dicts) in the rows' order."""
    return _group_by_subject(rows.to_dict("records"))


def _group_by_subject(records: list[dict]) -> list[tuple[tuple, list[dict]]]:
    out: dict[tuple, list[dict]] = {}
    for r in records:
        out.setdefault((r["STUDYID"], r["USUBJID"]), []).append(r)
    return list(out.items())


def _what(r: dict) -> str:
    """A pooled record in words: adsl, adrs BOR, adtte OS, adae AESEQ 12."""
    if not _text(r["record"]):
        return r["dataset"]
    return f"{r['dataset']} {'AESEQ ' if r['dataset'] == 'adae' else ''}{r['record']}"


def _where(r: dict, italic: bool) -> str:
    what = _what(r)
    if _blank(r["SRCFILE"]):
        return f"{html.escape(what) if italic else what}: no stored source"
    place = f"{r['SRCFILE']} row {_row_int(r['SRCROW'])}"
    if italic:
        return f"{html.escape(what)}: {html.escape(place)}" + ("" if r["primary"] else " <i>(read)</i>")
    return f"{what}: {r['SRCDLV']}/{place}" + ("" if r["primary"] else " (read)") + f"  sha256 {r['SRCSHA']}"


def _listing_html(title: str, subtitle: str, files: list[tuple], records: list[dict], version: str) -> str:
    """One listing: `files` the (study, delivery, file, sha256) of its delivered files in order, `records`
    its source rows (as `source_rows` sorts them)."""
    file_rows = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(v))}</td>" for v in r) + "</tr>" for r in files)
    subjects = _group_by_subject(records)
    body = [f"<tr><td>{html.escape(_text(study))}</td><td>{html.escape(_text(subject))}</td>"
            f"<td>{'<br>'.join(_where(r, True) for r in part)}</td></tr>" for (study, subject), part in subjects]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top;text-align:left}</style></head><body>\n"
            f"<h1>{html.escape(title)}</h1>\n<p>{html.escape(subtitle)} Result version {html.escape(version)}. "
            f"{len(subjects)} subject(s).</p>\n<h2>Delivered files</h2>\n<table><thead><tr><th>Study</th><th>Delivery</th>"
            f"<th>File</th><th>sha256</th></tr></thead><tbody>\n{file_rows}\n</tbody></table>\n"
            "<h2>Subjects and the delivered rows of their records</h2>\n<p>Row: 1-based data row of the delivered "
            "file; <i>(read)</i>: another row the record was derived from.</p>\n"
            "<table><thead><tr><th>Study</th><th>Subject</th><th>Pooled record: delivered row</th></tr></thead>"
            f"<tbody>\n{chr(10).join(body)}\n</tbody></table>\n</body></html>\n")


_FILE_COLUMNS = ["STUDYID", "SRCDLV", "SRCFILE", "SRCSHA"]


def _null_key(frame: pd.DataFrame) -> pd.Series:
    """One text per ARD key (NULL and text kept apart) for grouping and joining."""
    out = None
    for c in ARD_KEY:
        col = frame[c].astype(object)
        part = ("=" + col.astype(str)).where(col.notna(), "\x1f")
        out = part if out is None else out + "\x1e" + part
    return out


def write_trace_listings(folder: Path, ard: pd.DataFrame, subjects: pd.DataFrame, sources: pd.DataFrame) -> Path:
    """trace/<table>-<digest>.html per distinct set of members (a set shared by many rows, e.g. a count
    and the rates over it, is written once, naming every row that links there) and trace/index.json mapping every ARD
    row with members to its listing. Byte-reproducible."""
    out = Path(folder) / TRACE_DIR
    out.mkdir(parents=True, exist_ok=True)
    version = str(ard["result_version"].iloc[0]) if "result_version" in ard and len(ard) else ""
    index: list[dict] = []
    listings: dict[str, dict] = {}  # name -> {"digest", "labels", "counted"}
    if len(subjects):
        sub = subjects.assign(_key=_null_key(subjects),
                              _member=(subjects["dataset"].astype(str) + "\x1f" + subjects["STUDYID"].astype(str) + "\x1f"
                                       + subjects["USUBJID"].astype(str) + "\x1f" + subjects["record"].astype(str)))
        sub = sub.sort_values(["_key", "_member"], kind="mergesort")
        members = sub.drop_duplicates(["_key", "_member"])
        digests = members.groupby("_key", sort=False)["_member"].agg(
            lambda m: hashlib.sha256("\n".join(m).encode()).hexdigest()[:16])
        n_subjects = sub.drop_duplicates(["_key", "STUDYID", "USUBJID"]).groupby("_key", sort=False).size()
        keys = _null_key(ard)
        for row, key in zip(ard.to_dict("records"), keys):
            counted = row["stat_name"] in COUNT_STATS
            if key in digests.index:
                digest, n = digests[key], int(n_subjects[key])
            elif counted and row["stat"] == 0:  # a count of nobody opens an empty list
                digest, n = EMPTY_DIGEST, 0
            else:
                continue
            name = f"{row['table_id']}-{digest}.html"  # one listing per set: a count and the rates over it share it
            entry = listings.setdefault(name, {"digest": digest, "counts": [], "populations": []})
            entry["counts" if counted else "populations"].append(row_label(row))
            index.append({**{c: (None if _blank(row[c]) else row[c]) for c in ARD_KEY},
                          "role": "counted" if counted else "population",
                          "n_subjects": n, "href": f"{TRACE_DIR}/{name}"})
        per_digest = members.assign(_digest=members["_key"].map(digests)).drop_duplicates(["_digest", "_member"])
        wanted = {e["digest"] for e in listings.values()}
        joined = source_rows(per_digest[per_digest["_digest"].isin(wanted)][_JOIN + ["_digest"]], sources,
                             extra=["_digest"])
        # every listing's rows and delivered files in one pass over `joined` (not a frame per listing):
        # a listing's files are its rows' distinct files in first-seen order, then sorted by study and file
        records: dict[str, list[dict]] = {}
        for r in joined.to_dict("records"):
            records.setdefault(r["_digest"], []).append(r)
        files = (joined.dropna(subset=["SRCFILE"])[["_digest", *_FILE_COLUMNS]].drop_duplicates()
                 .sort_values(["_digest", "STUDYID", "SRCFILE"], kind="mergesort"))
        files_of: dict[str, list[tuple]] = {}
        for digest, *row in files.itertuples(index=False, name=None):
            files_of.setdefault(digest, []).append(tuple(row))
        for name in sorted(listings):
            e = listings[name]
            title = e["counts"][0] if e["counts"] else f"Analysis population of {e['populations'][0]}"
            what = " ".join(filter(None, (
                ("The subjects counted by: " + "; ".join(e["counts"]) + ".") if e["counts"] else "",
                ("The analysis population of: " + "; ".join(e["populations"]) + ".") if e["populations"] else "")))
            (out / name).write_text(_listing_html(title, what, files_of.get(e["digest"], []),
                                                  records.get(e["digest"], []), version), encoding="utf-8")
    (out / INDEX_FILE).write_text(json.dumps({"rows": index}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out


def read_trace_index(folder: Path) -> list[dict]:
    """The listing index of a version folder ([] when the version has none)."""
    path = Path(folder) / TRACE_DIR / INDEX_FILE
    return json.loads(path.read_text(encoding="utf-8"))["rows"] if path.is_file() else []


def trace_links_html(index: list[dict], table_id: str, href_prefix: str = "") -> str:
    """For the report: under a table, a grid laid out like it (a row per variable, level and subgroup,
    a column per group) where every count links to the subjects it counts ("n 60") and every other
    statistic to its analysis population ("median"), from trace/index.json. Empty without an index."""
    rows = [r for r in index if r["table_id"] == table_id]
    if not rows:
        return ""
    lines: dict[tuple, dict[str, list[str]]] = {}
    columns: list[str] = []
    for r in rows:
        line = (r["variable"], r["variable_level"], r["group2"], r["group2_level"])
        column = _text(r["group1_level"])
        if column not in columns:
            columns.append(column)
        href = html.escape(href_prefix + r["href"])
        text = f"{r['stat_name']} {r['n_subjects']}" if r["role"] == "counted" else r["stat_name"]
        title = "subjects counted" if r["role"] == "counted" else "analysis population"
        lines.setdefault(line, {}).setdefault(column, []).append(f'<a href="{href}" title="{title}">{html.escape(text)}</a>')
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for (variable, level, group2, group2_level), cells in lines.items():
        label = variable + (f" = {level}" if not _blank(level) else "") + (
            f" ({group2} {group2_level})" if not _blank(group2) else "")
        body.append(f"<tr><td>{html.escape(label)}</td>"
                    + "".join(f"<td>{' · '.join(cells.get(c, []))}</td>" for c in columns) + "</tr>")
    return ('<details class="trace"><summary>Patients behind each number: a count opens the subjects it counts '
            'and their delivered rows, any other statistic its analysis population</summary>\n'
            f'<table class="plain"><thead><tr><th>Row</th>{head}</tr></thead><tbody>\n'
            + "\n".join(body) + "\n</tbody></table></details>")
