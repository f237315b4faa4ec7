"""Differences between two result versions: the ARD rows that changed and the deliveries that changed.

Pure functions over the stored rows (results.ard, results.lineage): nothing here recomputes a
statistic. `compute_ard_diff` / `compute_lineage_diff` compare frames; `render_diff` is the text of
`repool diff V1 V2`; `render_diff_html` / `compute_version_diff_html` give the HTML fragment for the
report of a newer version (no external URL; the report's own CSS classes).

Rules of the ARD comparison: rows are matched on the full ARD key (table_id, group1, group1_level,
group2, group2_level, variable, variable_level, stat_name) with NULL matching NULL; statistics are
compared exactly as stored (no tolerance), and NULL == NULL counts as unchanged.
"""
from __future__ import annotations

import html
import math

import duckdb
import pandas as pd

from repool.schemas.ard import ARD_COLUMNS, ARD_KEY

ARD_DIFF_COLUMNS = ARD_KEY + ["old", "new", "change", "difference"]
LINEAGE_DIFF_COLUMNS = ["study", "old_delivery_id", "new_delivery_id", "change", "files_changed"]
_NULL = "\x00<NULL>"  # stands in for a NULL key part while joining (sorts before every label)


# ------------------------------------------------------------------------------------------------
# Reading a stored version
# ------------------------------------------------------------------------------------------------


# the stored rows are read by publish, which owns results.*
from repool.tasks.publish import read_version_ard, read_version_lineage  # noqa: E402


def read_version(con: duckdb.DuckDBPyConnection, version: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(ARD rows without the version column, lineage rows) of a stored version."""
    return read_version_ard(con, version)[ARD_COLUMNS], read_version_lineage(con, version)


def read_version_info(con: duckdb.DuckDBPyConnection, version: str) -> dict | None:
    rows = con.execute("SELECT strftime(created_at, '%Y-%m-%d %H:%M:%S'), code_version, input_hash, parameters "
                       "FROM results.versions WHERE result_version = ?", [version]).fetchall()
    if not rows:
        return None
    created, code, inputs, params = rows[0]
    return {"created": created, "code_version": code, "input_hash": inputs, "parameters": params}


# ------------------------------------------------------------------------------------------------
# Comparing
# ------------------------------------------------------------------------------------------------


def _is_null(x) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    return isinstance(x, float) and math.isnan(x)


def _keyed(ard: pd.DataFrame, stat_as: str) -> pd.DataFrame:
    missing = [c for c in ARD_KEY + ["stat"] if c not in ard.columns]
    if missing:
        raise ValueError(f"not an ARD frame: missing columns {missing}")
    out = pd.DataFrame({c: [(_NULL if _is_null(v) else str(v)) for v in ard[c]] for c in ARD_KEY},
                       index=range(len(ard)))
    out[stat_as] = pd.to_numeric(ard["stat"], errors="coerce").astype("float64").to_numpy()
    dup = out.duplicated(ARD_KEY, keep=False)
    if dup.any():
        raise ValueError(f"duplicate ARD keys, cannot compare:\n{out.loc[dup, ARD_KEY].head(10)}")
    return out


def compute_ard_diff(ard1: pd.DataFrame, ard2: pd.DataFrame) -> pd.DataFrame:
    """Rows of `ard2` (new) that differ from `ard1` (old), matched on the ARD key.

    Columns: the ARD key, `old`, `new`, `change` ('added' | 'removed' | 'changed') and `difference`
    (new − old; NULL unless both are numbers). Unchanged rows are dropped; NULL == NULL is
    unchanged; numbers are compared exactly as stored. Sorted by table_id, then the key.
    """
    merged = _keyed(ard1, "old").merge(_keyed(ard2, "new"), on=ARD_KEY, how="outer", indicator=True)
    old, new = merged["old"], merged["new"]
    both_null = old.isna() & new.isna()
    change = pd.Series("changed", index=merged.index, dtype=object)
    change[merged["_merge"] == "right_only"] = "added"
    change[merged["_merge"] == "left_only"] = "removed"
    unchanged = (merged["_merge"] == "both") & (both_null | (old == new))
    merged["change"] = change
    merged["difference"] = new - old  # NaN where either side is NULL
    out = merged.loc[~unchanged].drop(columns="_merge")
    out = out.sort_values(ARD_KEY, kind="mergesort").reset_index(drop=True)
    for c in ARD_KEY:
        out[c] = out[c].astype(object).where(out[c] != _NULL, None)
    out["old"] = out["old"].astype("float64")
    out["new"] = out["new"].astype("float64")
    out["difference"] = out["difference"].astype("float64")
    return out[ARD_DIFF_COLUMNS]


def _lineage_frame(lineage) -> pd.DataFrame:
    df = pd.DataFrame(list(lineage)) if isinstance(lineage, list) else pd.DataFrame(lineage)
    for c in ("study", "delivery_id", "file", "sha256"):
        if c not in df.columns:
            df[c] = pd.Series(dtype=object)
    return df[["study", "delivery_id", "file", "sha256"]]


def compute_lineage_diff(lin1, lin2) -> pd.DataFrame:
    """Per study whose inputs changed: old and new delivery id and the files whose sha256 changed.

    `lin1`/`lin2`: lineage rows (DataFrame or list of dicts with study, delivery_id, file, sha256).
    Columns: study, old_delivery_id, new_delivery_id (NULL when the study is absent on that side),
    change ('added' | 'removed' | 'changed'), files_changed (sorted list of file names; a file only
    on one side is listed as 'name (added)' / 'name (removed)'). Studies with the same delivery and
    the same file bytes are left out. Sorted by study.
    """
    a, b = _lineage_frame(lin1), _lineage_frame(lin2)
    rows = []
    for study in sorted(set(a["study"]) | set(b["study"])):
        sa, sb = a[a["study"] == study], b[b["study"] == study]
        old_ids, new_ids = sorted(set(sa["delivery_id"])), sorted(set(sb["delivery_id"]))
        fa, fb = dict(zip(sa["file"], sa["sha256"])), dict(zip(sb["file"], sb["sha256"]))
        files = []
        for f in sorted(set(fa) | set(fb)):
            if f not in fb:
                files.append(f"{f} (removed)")
            elif f not in fa:
                files.append(f"{f} (added)")
            elif fa[f] != fb[f]:
                files.append(f)
        if old_ids == new_ids and not files:
            continue
        rows.append({"study": study, "old_delivery_id": ", ".join(old_ids) or None,
                     "new_delivery_id": ", ".join(new_ids) or None,
                     "change": "added" if sa.empty else "removed" if sb.empty else "changed",
                     "files_changed": files})
    return pd.DataFrame(rows, columns=LINEAGE_DIFF_COLUMNS)


# ------------------------------------------------------------------------------------------------
# Rendering
# ------------------------------------------------------------------------------------------------


def _fmt(x) -> str:
    if _is_null(x):
        return "NULL"
    x = float(x)
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.6g}"


def _fmt_pair(old, new) -> tuple[str, str]:
    """Old and new as text; exact (shortest round-trip) when the short form would hide the change."""
    o, n = _fmt(old), _fmt(new)
    if o == n and not (_is_null(old) or _is_null(new)):
        o, n = repr(float(old)), repr(float(new))
    return o, n


def _fmt_diff(d) -> str:
    if _is_null(d):
        return ""
    return ("+" if d > 0 else "") + (_fmt(d) if _fmt(d) != "0" else repr(float(d)))


def _label(level_of: str | None, level: str | None) -> str:
    if level_of is None and level is None:
        return "all"
    if level is None:
        return str(level_of)
    return str(level) if level_of in (None, "SALVGRP") else f"{level_of}={level}"


def _display_rows(ard_diff: pd.DataFrame) -> list[list[str]]:
    rows = []
    for r in ard_diff.itertuples(index=False):
        group = _label(r.group1, r.group1_level)
        if r.group2 is not None or r.group2_level is not None:
            group += " / " + _label(r.group2, r.group2_level)
        variable = r.variable if r.variable_level is None else f"{r.variable}={r.variable_level}"
        old, new = _fmt_pair(r.old, r.new)
        if r.change == "added":
            old = "—"
        elif r.change == "removed":
            new = "—"
        rows.append([r.table_id, group, variable, r.stat_name, old, new, _fmt_diff(r.difference), r.change])
    return rows


_ARD_HEAD = ["table", "group", "variable", "stat", "old", "new", "difference", "change"]


def _text_table(head: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _counts(ard_diff: pd.DataFrame) -> str:
    c = ard_diff["change"].value_counts()
    return (f"{len(ard_diff)} ARD row(s) differ: {int(c.get('changed', 0))} changed, "
            f"{int(c.get('added', 0))} added, {int(c.get('removed', 0))} removed")


def _lineage_lines(lineage_diff: pd.DataFrame) -> list[str]:
    out = []
    for r in lineage_diff.itertuples(index=False):
        files = ", ".join(r.files_changed) if r.files_changed else "no file content changed"
        if r.change == "added":
            out.append(f"  {r.study}: added, delivery {r.new_delivery_id} ({files})")
        elif r.change == "removed":
            out.append(f"  {r.study}: removed (was delivery {r.old_delivery_id})")
        else:
            out.append(f"  {r.study}: delivery {r.old_delivery_id} -> {r.new_delivery_id}; files changed: {files}")
    return out


def render_diff_text(ard_diff: pd.DataFrame, lineage_diff: pd.DataFrame, v1: str, v2: str,
                     info1: dict | None = None, info2: dict | None = None,
                     unchanged_studies: list[str] | None = None) -> str:
    """The terminal text of a diff from already computed frames."""
    lines = [f"repool diff {v1} -> {v2}"]
    for v, info in ((v1, info1), (v2, info2)) if v1 != v2 else ((v1, info1),):
        if info:
            lines.append(f"  {v}: created {info['created']} UTC, code {str(info['code_version'])[:12]}, "
                         f"inputs {str(info['input_hash'])[:12]}")
    if info1 and info2:
        if info1["code_version"] != info2["code_version"]:
            lines.append("  code version differs")
        if info1["parameters"] != info2["parameters"]:
            lines.append(f"  parameters differ: {info1['parameters']} -> {info2['parameters']}")
    if ard_diff.empty and lineage_diff.empty:
        lines += ["", "no differences", ""]
        return "\n".join(lines)
    lines += ["", "Lineage"]
    if lineage_diff.empty:
        lines.append("  no delivery changed")
    else:
        lines += _lineage_lines(lineage_diff)
    if unchanged_studies:
        lines.append(f"  unchanged: {', '.join(unchanged_studies)}")
    lines += ["", "ARD"]
    if ard_diff.empty:
        lines.append("  no ARD row changed")
    else:
        lines.append("  " + _counts(ard_diff))
        lines.append("")
        lines += ["  " + ln for ln in _text_table(_ARD_HEAD, _display_rows(ard_diff), right={4, 5, 6})]
    return "\n".join(lines) + "\n"


def render_diff(con: duckdb.DuckDBPyConnection, v1: str, v2: str) -> str:
    """Text of `repool diff V1 V2`: a header, the lineage changes, then the changed ARD rows side by side."""
    ard1, lin1 = read_version(con, v1)
    ard2, lin2 = read_version(con, v2)
    lineage_diff = compute_lineage_diff(lin1, lin2)
    unchanged = sorted((set(lin1["study"]) & set(lin2["study"])) - set(lineage_diff["study"]))
    return render_diff_text(compute_ard_diff(ard1, ard2), lineage_diff, v1, v2,
                            read_version_info(con, v1), read_version_info(con, v2), unchanged)


def _e(x) -> str:
    return "—" if x is None else html.escape(str(x))


def render_diff_html(ard_diff: pd.DataFrame, lineage_diff: pd.DataFrame, *, old_version: str | None = None,
                     new_version: str | None = None) -> str:
    """An HTML fragment (no external URL) with the lineage changes and the changed ARD rows side by side."""
    parts = []
    if old_version or new_version:
        parts.append(f'<p class="diff-versions">Compared with result version <code>{_e(old_version)}</code>'
                     + (f" → <code>{_e(new_version)}</code>" if new_version else "") + ".</p>")
    if ard_diff.empty and lineage_diff.empty:
        parts.append('<p class="diff-none">No differences.</p>')
        return "\n".join(parts)
    if lineage_diff.empty:
        parts.append("<p>No delivery changed.</p>")
    else:
        head = "".join(f"<th>{h}</th>" for h in ("Study", "Old delivery", "New delivery", "Change", "Files changed"))
        body = []
        for r in lineage_diff.itertuples(index=False):
            files = ", ".join(r.files_changed) if r.files_changed else "none"
            cells = [r.study, r.old_delivery_id, r.new_delivery_id, r.change, files]
            body.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
        parts.append('<table class="plain diff-lineage"><thead><tr>' + head + "</tr></thead><tbody>\n"
                     + "\n".join(body) + "\n</tbody></table>")
    if ard_diff.empty:
        parts.append("<p>No ARD row changed.</p>")
    else:
        parts.append(f"<p>{html.escape(_counts(ard_diff))}.</p>")
        head = "".join(f"<th>{h.capitalize()}</th>" for h in _ARD_HEAD)
        body = []
        for row in _display_rows(ard_diff):
            body.append(f'<tr class="diff-{html.escape(row[-1])}">' + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
        parts.append('<table class="plain diff-ard"><thead><tr>' + head + "</tr></thead><tbody>\n"
                     + "\n".join(body) + "\n</tbody></table>")
    return "\n".join(parts)


def compute_version_diff_html(con: duckdb.DuckDBPyConnection, previous_version: str | None,
                              ard_new: pd.DataFrame, lineage_new: list[dict],
                              new_version: str | None = None) -> str:
    """The report fragment of a version about to be published (rows not stored yet) vs a stored one.

    `ard_new`: the new ARD rows (with or without result_version); `lineage_new`: lineage rows
    (study, delivery_id, file, sha256[, rows]). With no previous version, says so.
    """
    if not previous_version:
        return '<p class="diff-none">No previous result version to compare with.</p>'
    ard_old, lin_old = read_version(con, previous_version)
    return render_diff_html(compute_ard_diff(ard_old, ard_new), compute_lineage_diff(lin_old, lineage_new),
                            old_version=previous_version, new_version=new_version)
