"""The HTML report of a result version, in a reader's order: a table of contents; tables 1–4 and the
Kaplan–Meier figures; the study-level results (table 5 and the forest plot, when the ARD has them);
then lineage, parameters, the reproduction of the publication and the extra sections (run summary,
changes).

Reads the ARD and the KM step tables only; no statistic is computed here. The output is one
self-contained file (inline CSS, PNGs as base64 data URIs, no external URL) whose bytes depend
only on the inputs: great_tables gets fixed ids, matplotlib writes PNGs without metadata. Every
figure is also written beside the report as PNG and SVG (`km_os.png`/`.svg`, ...), the SVG with a
fixed `svg.hashsalt` and no date, so the same inputs give the same bytes.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import re
from pathlib import Path

import pandas as pd
from great_tables import GT, html as gt_html
from matplotlib import rc_context, ticker as matplotlib_ticker
from matplotlib.figure import Figure

from repool.tasks.render.display import (
    ArdStats,
    GROUPS,
    LATER,
    STUDIES_TABLE,
    TABLE_IDS,
    conventions_of,
    display_conventions,
    format_estimate_ci,
    format_level,
    has_table,
    level_of,
    study_levels,
    table_note,
    TABLE_TITLES,
    create_display_table,
    split_column,
)
from repool.tasks.render.reproduce import render_reproduction_html
from repool.tasks.render.trace import read_trace_index, trace_links_html

REPORT_TITLE = "Blinatumomab as first vs second or later salvage: pooled analysis"
KM_FILES = {"OS": "km_os.png", "RFS": "km_rfs.png"}  # each also as .svg
FOREST_FILE = "forest_os.png"  # also as forest_os.svg
FOREST_TITLE = "Overall survival: hazard ratio by study, second or later vs first salvage"
KM_TITLES = {"OS": "Overall survival by salvage group", "RFS": "Relapse-free survival by salvage group"}
GROUP_COLORS = {"First salvage": "#1b6ca8", "Second or later salvage": "#c0392b"}
RISK_STEPS_MONTHS = (3, 6, 12, 24)
MAX_RISK_TICKS = 12
PNG_DPI = 100
# SVG ids (clip paths, glyphs) are salted hashes: a fixed salt and no date make the bytes reproducible
SVG_RC = {"svg.hashsalt": "repool", "svg.fonttype": "path"}
CSS = """
body { font-family: -apple-system, 'Segoe UI', Roboto, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
code, .sha { font-family: Menlo, Consolas, monospace; font-size: .9em; }
table.plain, table.repro { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
table.plain th, table.plain td, table.repro th, table.repro td { border: 1px solid #ddd; padding: .25em .5em;
       text-align: left; vertical-align: top; }
table.plain th, table.repro th { background: #f3f3f3; }
table.repro tr.flag td { background: #fdecea; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption { font-size: .85em; color: #555; }
pre { background: #f7f7f7; padding: .6em; overflow-x: auto; font-size: .85em; }
nav.toc { background: #f7f7f7; padding: .4em 1em; border: 1px solid #ddd; }
nav.toc h2 { border: none; margin-top: .4em; font-size: 1.1em; } nav.toc ol { margin: .3em 0; }
"""


# ---------------------------------------------------------------- tables

def _gt_table4_labels(gt: GT, columns: list[str]) -> GT:
    """Group the '<group>: <grade>' columns of table4 under one spanner per salvage group."""
    spanners: dict[str, list[str]] = {}
    for col in columns:
        spanner, _label = split_column(col)
        if spanner is not None:
            spanners.setdefault(spanner, []).append(col)
    for spanner, cols in spanners.items():
        gt = gt.tab_spanner(label=spanner, columns=cols)
    return gt.cols_label(**{c: split_column(c)[1] for c in columns if split_column(c)[0]})


def render_table_html(ard: pd.DataFrame, table_id: str, confidence_level: float = 0.95,
                      conventions: str | None = None) -> str:
    """One table as great_tables HTML (inline style, fixed id so the bytes are reproducible);
    numbers round, and the footnote names the profile, per `conventions` (None: the active one)."""
    df = create_display_table(ard, table_id, confidence_level, conventions)
    stub = df.columns[0]  # 'Characteristic'; 'Study' in table 5
    gt = (GT(df, rowname_col=stub, id=table_id)
          .tab_header(title=TABLE_TITLES[table_id])
          .tab_stubhead(label=stub)
          .tab_source_note(table_note(table_id, confidence_level, conventions))
          .cols_align(align="center", columns=[c for c in df.columns if c != stub]))
    if table_id == "table4":
        gt = _gt_table4_labels(gt, [c for c in df.columns if c != stub])
    else:
        gt = gt.cols_label(**{c: gt_html(html.escape(c).replace(" (N=", "<br>(N=")) for c in df.columns if c != stub})
    return gt.as_raw_html()


# ---------------------------------------------------------------- Kaplan–Meier figures

def number_at_risk(curve: pd.DataFrame, t: float) -> int:
    """Subjects with time ≥ t, from a step table with one row per distinct time (events and
    censor-only): n_risk of the first row at or after t (n_risk counts time ≥ that row's time,
    and no one's time lies in between); 0 past the last time."""
    later = curve.loc[curve["time"] >= t, "n_risk"]
    return int(later.iloc[0]) if len(later) else 0


def _select_curve(km: pd.DataFrame, variable: str, group: str) -> pd.DataFrame:
    mask = km["variable"].eq(variable) & km["group1_level"].eq(group) & km["group2_level"].isna()
    return km.loc[mask].sort_values("time")


def _risk_times(max_time: float) -> list[int]:
    """x ticks and number-at-risk times: every 3/6/12/24 months, at most about 13 of them."""
    step = next((s for s in RISK_STEPS_MONTHS if max_time / s <= MAX_RISK_TICKS), RISK_STEPS_MONTHS[-1])
    last = step * max(1, math.ceil(max_time / step))
    return list(range(0, last + 1, step))


def _plot_curve(ax, curve: pd.DataFrame, label: str, color: str) -> None:
    def values(column: str) -> list[float]:
        return [1.0] + pd.to_numeric(curve[column], errors="coerce").astype(float).tolist()

    times = [0.0] + curve["time"].astype(float).tolist()
    ax.step(times, values("surv"), where="post", color=color, label=label, linewidth=1.6)
    ax.fill_between(times, values("surv_lcl"), values("surv_ucl"), step="post", color=color, alpha=0.12, linewidth=0)
    censored = curve[curve["n_censor"] > 0]
    ax.plot(censored["time"], censored["surv"], linestyle="none", marker="|", markersize=5, color=color)


def _draw_risk_table(ax, rows: list[tuple[str, str, list[int]]], times: list[float]) -> None:
    """Numbers at risk under the x axis: one line per group, aligned to the x ticks."""
    xaxis = ax.get_xaxis_transform()  # x in data, y in axes fraction
    ax.text(-0.06, -0.22, "Number at risk", transform=ax.transAxes, ha="right", fontsize=8, weight="bold")
    for i, (label, color, counts) in enumerate(rows):
        y = -0.29 - 0.07 * i
        ax.text(-0.06, y, label, transform=ax.transAxes, ha="right", fontsize=8, color=color)
        for t, n in zip(times, counts):
            ax.text(t, y, str(n), transform=xaxis, ha="center", fontsize=8, color=color)


def save_figure(fig: Figure) -> tuple[bytes, bytes]:
    """(PNG, SVG) bytes of a figure, both without date or software metadata, SVG ids from a fixed salt."""
    png, svg = io.BytesIO(), io.BytesIO()
    fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
    with rc_context(SVG_RC):
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    return png.getvalue(), svg.getvalue()


def render_km_png(km: pd.DataFrame, variable: str) -> bytes:
    """PNG of the KM curves of `variable` (see `render_km_figure`)."""
    return save_figure(render_km_figure(km, variable))[0]


def render_km_figure(km: pd.DataFrame, variable: str) -> Figure:
    """The KM curves of `variable` by salvage group with numbers at risk below the axes;
    the legend gives each curve's n (at risk at time 0: the group's N for OS, remissions for RFS)."""
    fig = Figure(figsize=(8, 5.6))
    fig.subplots_adjust(left=0.24, right=0.97, top=0.92, bottom=0.33)
    ax = fig.add_subplot()
    curves = {g: _select_curve(km, variable, g) for g in GROUPS}
    curves = {g: c for g, c in curves.items() if not c.empty}
    times = _risk_times(max((float(c["time"].max()) for c in curves.values()), default=0.0))
    risk_rows = []
    for group, curve in curves.items():
        color = GROUP_COLORS[group]
        _plot_curve(ax, curve, f"{group} (n={number_at_risk(curve, 0)})", color)
        risk_rows.append((group, color, [number_at_risk(curve, t) for t in times]))
    ax.set(xlim=(0, times[-1]), ylim=(0, 1.02), xticks=times, xlabel="Months",
           ylabel="Probability", title=KM_TITLES.get(variable, variable))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", frameon=False, fontsize=9)
    _draw_risk_table(ax, risk_rows, times)
    return fig


def _write_figure(fig: Figure, out_dir: Path, png_name: str) -> bytes:
    """Write `png_name` and its .svg twin into `out_dir`; return the PNG bytes (embedded in the report)."""
    png, svg = save_figure(fig)
    (out_dir / png_name).write_bytes(png)
    (out_dir / png_name).with_suffix(".svg").write_bytes(svg)
    return png


def _files_note(png_name: str) -> str:
    svg_name = Path(png_name).with_suffix(".svg").name
    return (f' Files: <a href="{html.escape(png_name)}">{html.escape(png_name)}</a>, '
            f'<a href="{html.escape(svg_name)}">{html.escape(svg_name)}</a>.')


def _figure_html(png: bytes, variable: str, confidence_level: float, png_name: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    title = html.escape(KM_TITLES.get(variable, variable))
    return (f'<figure id="km-{variable.lower()}"><img src="data:image/png;base64,{data}" alt="{title}">'
            f"<figcaption>{title}: Kaplan–Meier estimates with pointwise {format_level(confidence_level)} bands; | = censored; "
            f"numbers at risk below the axes.{_files_note(png_name)}</figcaption></figure>")


# ---------------------------------------------------------------- forest plot (table 5)

FOREST_TICKS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 50, 100,
                200, 500, 1000)
POOLED_COLOR, STUDY_COLOR = "#c0392b", "#1b6ca8"


def _number(x) -> float | None:
    """An ARD statistic as a positive float; NULL (NE) and absent rows as None."""
    return float(x) if isinstance(x, float) and math.isfinite(x) and x > 0 else None


def forest_rows(ard: pd.DataFrame) -> list[tuple[str, float | None, float | None, float | None, bool]]:
    """(label, hr, lcl, ucl, pooled) of the OS forest plot, top to bottom, read from the `studies`
    rows of the ARD: each study's Cox HR, then the stratified HR and the fixed / random effects."""
    stats = ArdStats(ard)

    def hr_of(variable: str, group: str, level: str | None = None, group2: str | None = None):
        return tuple(_number(stats.get(STUDIES_TABLE, variable, k, group, level, group2))
                     for k in ("hr", "hr_lcl", "hr_ucl"))

    rows = []
    for study in study_levels(ard):
        n = stats.get(STUDIES_TABLE, "PATIENTS", "n", study)
        label = f"{study} (n={int(n)})" if isinstance(n, float) else study
        rows.append((label, *hr_of("OS", study, None, LATER), False))
    k = stats.get(STUDIES_TABLE, "OS_META", "k", LATER)
    studies = f", k={int(k)}" if isinstance(k, float) else ""
    rows.append(("Cox model stratified by study", *hr_of("OS_STRATIFIED", LATER), True))
    rows.append((f"Fixed effect (inverse variance{studies})", *hr_of("OS_META", LATER, "FIXED"), True))
    rows.append((f"Random effects (DerSimonian–Laird{studies})", *hr_of("OS_META", LATER, "RANDOM"), True))
    return rows


def _forest_ticks(lo: float, hi: float) -> list[float]:
    """At most 9 ticks: every FOREST_TICKS value within the limits, else the 1-2-5 ones, else decades."""
    ticks = [t for t in FOREST_TICKS if lo <= t <= hi]
    for mantissas in ((1, 2, 5), (1,)):
        if len(ticks) <= 9:
            break
        ticks = [t for t in ticks if round(t / 10 ** math.floor(math.log10(t)), 6) in mantissas]
    return ticks


def _forest_limits(rows) -> tuple[float, float]:
    """x limits: the ticks just outside every HR and limit shown (and 1)."""
    values = [v for _, hr, lcl, ucl, _ in rows for v in (hr, lcl, ucl) if v is not None] + [1.0]
    low, high = min(values) / 1.05, max(values) * 1.05
    lo = max((t for t in FOREST_TICKS if t <= low), default=low)
    hi = min((t for t in FOREST_TICKS if t >= high), default=high)
    return lo, hi


def render_forest_png(ard: pd.DataFrame, confidence_level: float = 0.95) -> bytes:
    """PNG of the forest plot (see `render_forest_figure`)."""
    return save_figure(render_forest_figure(ard, confidence_level))[0]


def render_forest_figure(ard: pd.DataFrame, confidence_level: float = 0.95) -> Figure:
    """Forest plot of the OS hazard ratios (log x axis): per study a square with its CI, the
    pooled estimates as diamonds spanning their CI; the values printed on the right."""
    rows = forest_rows(ard)
    height = 1.8 + 0.42 * (len(rows) + 1)
    fig = Figure(figsize=(10, height))
    fig.subplots_adjust(left=0.36, right=0.78, top=1 - 0.8 / height, bottom=0.75 / height)
    ax = fig.add_subplot()
    n_studies = sum(1 for r in rows if not r[4])
    # y positions top-down, with a gap between the studies and the pooled estimates
    ys = [len(rows) - i - (0 if pooled else -1) for i, (*_, pooled) in enumerate(rows)]
    for y, (label, hr, lcl, ucl, pooled) in zip(ys, rows):
        color = POOLED_COLOR if pooled else STUDY_COLOR
        if hr is None:
            continue
        if pooled and lcl is not None and ucl is not None:
            ax.fill([lcl, hr, ucl, hr], [y, y + 0.25, y, y - 0.25], color=color, linewidth=0)
            continue
        if lcl is not None or ucl is not None:
            ax.plot([lcl or hr, ucl or hr], [y, y], color=color, linewidth=1.4)
        ax.plot([hr], [y], marker="D" if pooled else "s", markersize=7, color=color, linestyle="none")
    lo, hi = _forest_limits(rows)
    ax.set_xscale("log")
    ticks = _forest_ticks(lo, hi)
    ax.set_xticks(ticks, labels=[f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_locator(matplotlib_ticker.NullLocator())
    ax.set_xlim(lo, hi)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axvline(1.0, color="#555", linewidth=0.9)
    if n_studies:
        ax.axhline((ys[n_studies - 1] + ys[n_studies]) / 2, color="#bbb", linewidth=0.8, linestyle="--")
    ax.set_yticks(ys, labels=[r[0] for r in rows])
    ax.tick_params(axis="y", length=0)
    text = ax.get_yaxis_transform()  # x in axes fraction, y in data
    ax.text(1.03, max(ys) + 0.8, f"HR ({format_level(confidence_level)} CI)", transform=text, ha="left",
            va="bottom", fontsize=9, weight="bold")
    for y, (_, hr, lcl, ucl, _) in zip(ys, rows):
        value = "NE" if hr is None else format_estimate_ci(hr, lcl, ucl, decimals=2)
        ax.text(1.03, y, value, transform=text, ha="left", va="center", fontsize=9)
    ax.set_xlabel("Hazard ratio (log scale); < 1 favours second or later salvage, > 1 first salvage")
    ax.set_title(FOREST_TITLE, fontsize=10, pad=18)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _forest_html(ard: pd.DataFrame, out_dir: Path, confidence_level: float) -> str:
    png = _write_figure(render_forest_figure(ard, confidence_level), out_dir, FOREST_FILE)
    data = base64.b64encode(png).decode("ascii")
    title = html.escape(FOREST_TITLE)
    return (f'<figure id="forest-os"><img src="data:image/png;base64,{data}" alt="{title}">'
            f"<figcaption>{title}: Cox hazard ratio per study (squares) with Wald {format_level(confidence_level)} "
            "CIs; diamonds: the Cox model stratified by study and the two-stage meta-analysis (fixed effect, "
            "DerSimonian–Laird random effects), from the version's table 5 rows; NE = not estimable."
            f"{_files_note(FOREST_FILE)}</figcaption></figure>")


# ---------------------------------------------------------------- version and lineage

def _text(value) -> str:
    return "—" if value is None else html.escape(str(value))


def _version_html(meta: dict) -> str:
    return ("<p>Result version <code>{}</code> · created {} · code version <code>{}</code></p>"
            .format(_text(meta.get("result_version")), _text(meta.get("created")), _text(meta.get("code_version"))))


def _lineage_summary(deliveries: list[dict]) -> str:
    files = [f for d in deliveries for f in d.get("files", [])]
    rows = sum(int(f.get("rows") or 0) for f in files)
    studies = sorted({str(d.get("study")) for d in deliveries})
    return (f"{len(deliveries)} deliveries from {len(studies)} studies ({', '.join(studies)}); "
            f"{len(files)} files, {rows:,} rows.")


def _lineage_html(meta: dict) -> str:
    deliveries = meta.get("deliveries") or []
    if not deliveries:
        return "<p>No lineage recorded.</p>"
    body = []
    for d in deliveries:
        for f in d.get("files") or [{}]:
            cells = [_text(d.get("study")), _text(d.get("delivery_id")), _text(f.get("file")),
                     f'<span class="sha">{_text(f.get("sha256"))}</span>', _text(f.get("rows"))]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("Study", "Delivery", "File", "sha256", "Rows"))
    return (f"<p>{html.escape(_lineage_summary(deliveries))}</p>\n"
            f'<table class="plain"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(body) + "\n</tbody></table>")


def _parameters_html(meta: dict) -> str:
    params = meta.get("parameters")
    if params is None:
        return "<p>—</p>"
    if isinstance(params, str):
        try:
            params = json.loads(params)
        except ValueError:
            return f"<pre>{html.escape(params)}</pre>"
    level = f"<p>Every interval is a {format_level(level_of(params))} interval (alpha = {params.get('alpha', 0.05)}).</p>\n"
    return level + f"<pre>{html.escape(json.dumps(params, indent=2, sort_keys=True, default=str, ensure_ascii=False))}</pre>"


# ---------------------------------------------------------------- the report

def _anchor(title: str, taken: set[str]) -> str:
    """A unique HTML id for a section title: lower-case words joined by '-' ('Run summary' -> 'run-summary')."""
    base = "-".join(re.findall(r"[a-z0-9]+", title.lower())) or "section"
    anchor, n = base, 1
    while anchor in taken:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _toc_html(entries: list[tuple[str, str, list[tuple[str, str]]]]) -> str:
    """The table of contents: (anchor, title, [(anchor, title) of the entries inside]) per section."""
    items = []
    for anchor, title, inner in entries:
        sub = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in inner)
        items.append(f'<li><a href="#{anchor}">{html.escape(title)}</a>' + (f"<ol>{sub}</ol>" if sub else "") + "</li>")
    return '<nav class="toc" id="contents">\n<h2>Contents</h2>\n<ol>\n' + "\n".join(items) + "\n</ol>\n</nav>"


def _has_curves(km_curves: pd.DataFrame | None, variable: str) -> bool:
    return (km_curves is not None and not km_curves.empty
            and bool((km_curves["variable"].eq(variable) & km_curves["group2_level"].isna()).any()))


def _figures_html(km_curves: pd.DataFrame | None, out_dir: Path, confidence_level: float) -> str:
    if km_curves is None or km_curves.empty:
        return "<p>No Kaplan–Meier curves were supplied.</p>"
    parts = []
    for variable, filename in KM_FILES.items():
        if not _has_curves(km_curves, variable):
            parts.append(f"<p>No {variable} curves.</p>")
            continue
        png = _write_figure(render_km_figure(km_curves, variable), out_dir, filename)
        parts.append(_figure_html(png, variable, confidence_level, filename))
    return "\n".join(parts)


def render_report(
    ard: pd.DataFrame,
    km_curves: pd.DataFrame | None,
    meta: dict,
    out_dir: Path,
    reproduction: pd.DataFrame | None = None,
    extra_sections: list[tuple[str, str]] | None = None,
) -> Path:
    """Write `out_dir/report.html` (plus km_os, km_rfs and, where the ARD has table 5's rows,
    forest_os, each as .png and .svg) and return the report's path.

    `meta`: result_version, created, code_version, deliveries [{study, delivery_id, files:
    [{file, sha256, rows}]}], parameters. `reproduction`: the frame of
    `repool.tasks.render.reproduce.compare_with_publication`. `extra_sections`: (title, trusted HTML)
    appended after the reproduction (the run summary, the changes since the previous version).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    level = level_of(meta.get("parameters"))
    with display_conventions(conventions_of(meta.get("parameters"))):  # rounding and footnotes per the version
        return _write_report(ard, km_curves, meta, out_dir, level, reproduction, extra_sections)


def _write_report(ard: pd.DataFrame, km_curves: pd.DataFrame | None, meta: dict, out_dir: Path, level: float,
                  reproduction: pd.DataFrame | None, extra_sections: list[tuple[str, str]] | None) -> Path:
    taken = {"contents", "forest-os"} | set(TABLE_IDS) | {f"km-{v.lower()}" for v in KM_FILES}
    tables = [tid for tid in TABLE_IDS if tid != STUDIES_TABLE]
    trace = read_trace_index(out_dir)  # each number -> the listing of its patients (trace/, written with the version)
    # (title, body, [(anchor, title) inside it] for the table of contents), in the reader's order
    parts = [
        ("Tables", "\n".join(render_table_html(ard, tid, level) + trace_links_html(trace, tid) for tid in tables),
         [(tid, TABLE_TITLES[tid]) for tid in tables]),
        ("Kaplan–Meier curves", _figures_html(km_curves, out_dir, level),
         [(f"km-{v.lower()}", KM_TITLES[v]) for v in KM_FILES if _has_curves(km_curves, v)]),
    ]
    if has_table(ard, STUDIES_TABLE):  # versions published before table 5 have no study-level rows
        parts.append(("Results by study",
                      render_table_html(ard, STUDIES_TABLE, level) + trace_links_html(trace, STUDIES_TABLE) + "\n"
                      + _forest_html(ard, out_dir, level),
                      [(STUDIES_TABLE, TABLE_TITLES[STUDIES_TABLE]), ("forest-os", FOREST_TITLE)]))
    parts += [
        ("Lineage", _lineage_html(meta), []),
        ("Parameters", _parameters_html(meta), []),
        ("Reproduction of the publication",
         render_reproduction_html(reproduction) if reproduction is not None else "<p>Not run for this report.</p>", []),
    ]
    parts += [(title, body, []) for title, body in (extra_sections or [])]
    anchors = [_anchor(title, taken) for title, _, _ in parts]
    toc = _toc_html([(a, title, inner) for a, (title, _, inner) in zip(anchors, parts)])
    sections = [_section(a, title, body) for a, (title, body, _) in zip(anchors, parts)]
    title = f"{REPORT_TITLE} — {meta.get('result_version', '')}".strip(" —")
    document = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(REPORT_TITLE)}</h1>\n{_version_html(meta)}\n"
        "<p>Reproduction of Topp MS, et al. Cancer Medicine 2021;10(8):2601–2610 "
        "(doi:10.1002/cam4.3731). Every figure below is read from the result version's ARD.</p>\n"
        + toc + "\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )
    path = out_dir / "report.html"
    path.write_text(document, encoding="utf-8")
    return path
