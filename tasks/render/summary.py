"""The run summary shown in the Prefect UI (markdown artifact) and in the report: which delivery of
each study was pooled, which were refused and why, what was quarantined. Aggregates only: counts per
study and reason, never subject ids or patient-level rows.
"""
from __future__ import annotations

import html
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class RunSummary:
    markdown: str
    html: str


def _counts(results) -> Counter:
    c: Counter = Counter()
    for r in results:
        for f in r.failures:
            c[(r.study, r.delivery_id, f["reason"], f.get("action_taken", f.get("action")))] += 1
    return c


def create_run_summary(run_id: str, version: str | None, status: str, message: str, accepted: list,
                       refused: list, pooled_check: dict | None = None) -> RunSummary:
    rows_used = [(r.study, r.delivery_id, r.delivery.format if r.delivery else "", len(r.quarantined)) for r in accepted]
    rows_refused = [(r.study, r.delivery_id, r.public_message) for r in refused]
    counts = sorted(_counts(list(accepted) + list(refused)).items())
    gx = (pooled_check or {}).get("gx") or {}
    md = [f"# repool run `{run_id}`", "", f"**Status:** {status}" + (f" — {message}" if message else ""), ""]
    if version:
        md += [f"**Result version:** `{version}`", ""]
    md += ["## Deliveries pooled", "", "| study | delivery | format | subjects quarantined |", "|---|---|---|---|"]
    md += [f"| {s} | {d} | {f} | {q} |" for s, d, f, q in rows_used] or ["| — | — | — | — |"]
    if rows_refused:
        md += ["", "## Deliveries refused", "", "| study | delivery | why |", "|---|---|---|"]
        md += [f"| {s} | {d} | {m.replace('|', '/')} |" for s, d, m in rows_refused]
    if counts:
        md += ["", "## Validation failures (counts)", "", "| study | delivery | reason | action | cases |", "|---|---|---|---|---|"]
        md += [f"| {s} | {d} | {r} | {a} | {n} |" for (s, d, r, a), n in counts]
    if pooled_check is not None:
        md += ["", "## Pooled datasets", "",
               f"- pandera contract failures: {len(pooled_check.get('contract_failures', []))}",
               f"- cross-dataset warnings: {len(pooled_check.get('warnings', []))}"]
        if gx:
            md += [f"- great-expectations checkpoint: {'passed' if gx.get('success') else 'FAILED'}"]
    return RunSummary(markdown="\n".join(md) + "\n", html=_html(status, message, rows_used, rows_refused, counts, gx))


def _table(headers: list[str], rows: list[tuple]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table class='summary'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(status, message, rows_used, rows_refused, counts, gx) -> str:
    parts = [f"<p><b>Status:</b> {html.escape(status)} {html.escape(message)}</p>",
             "<h4>Deliveries pooled</h4>", _table(["study", "delivery", "format", "subjects quarantined"], rows_used)]
    if rows_refused:
        parts += ["<h4>Deliveries refused</h4>", _table(["study", "delivery", "why"], rows_refused)]
    if counts:
        parts += ["<h4>Validation failures</h4>",
                  _table(["study", "delivery", "reason", "action", "cases"], [(*k, n) for k, n in counts])]
    if gx:
        parts += [f"<p>great-expectations checkpoint: {'passed' if gx.get('success') else 'FAILED'} "
                  "(Data Docs: <a href='data_docs/index.html'>data_docs/index.html</a>)</p>"]
    return "\n".join(parts)
