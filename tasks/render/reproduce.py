"""Published figures (Topp 2021) beside ours, with the disagreements flagged and explained.

The published numbers in `data/reference/topp2021_published.json` are reference values for
comparison only; they are never written into the ARD. Our values are read from the ARD. The
one computation here is the check the publication asks for: a printed percentage is compared
with 100·n/N from OUR counts and OUR N, and when it does not follow by ordinary rounding we
look for the likely reason (rounding up, another denominator).
"""
from __future__ import annotations

import html
import json
import math
from decimal import Decimal
from pathlib import Path

import pandas as pd

from repool.resources import reference_file
from repool.tasks.render.display import ABSENT, ArdStats, format_text_table, round_half_up

DEFAULT_REFERENCE = reference_file()
COLUMNS = ["table", "label", "group", "statistic", "published", "ours", "difference", "agrees", "note"]
COUNT_STATS = {"n", "n_grade3", "N"}
PCT_STATS = {"pct": "n", "pct_grade3": "n_grade3"}  # percentage -> the count it is a share of
P_STATS = {"p_value", "p_logrank"}
LIMIT_STATS = {"ci_lower", "ci_upper"}  # limits of a count's exact CI (Table 3), in percent
MAX_DENOMINATOR_SHIFT = 10  # look for another denominator among N-k .. N+k


def load_published(path: Path | str = DEFAULT_REFERENCE) -> dict:
    """The reference document: {'source', 'group_n', 'figures': [{table, label, printed, coordinates...}]}."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# ---------------------------------------------------------------- comparing one figure

def _ne(x) -> bool:
    return x is None or x is ABSENT or (isinstance(x, float) and math.isnan(x))


def _decimals(printed: str) -> int:
    return len(printed.split(".")[1]) if "." in printed else 0


def _result(ours, difference, agrees: bool, note: str = "") -> dict:
    ours = None if _ne(ours) else float(ours)
    return {"ours": ours, "difference": difference, "agrees": bool(agrees), "note": note}


def _missing(ours) -> dict:
    return _result(None, None, False, "not in our ARD" if ours is ABSENT else "not estimable in ours (NE)")


def compare_count(printed: str, ours) -> dict:
    """Counts must agree exactly."""
    if _ne(ours):
        return _missing(ours)
    diff = ours - int(printed)
    return _result(ours, diff, diff == 0, "" if diff == 0 else f"our count differs by {diff:+g}")


def compare_estimate(printed: str, ours) -> dict:
    """Medians, CIs, HR/OR: agree when ours rounds (half up) to the printed value at its precision."""
    if _ne(ours):
        return _missing(ours)
    agrees = round_half_up(ours, _decimals(printed)) == Decimal(printed)
    note = "" if agrees else f"ours rounds to {round_half_up(ours, _decimals(printed))}"
    return _result(ours, ours - float(printed), agrees, note)


def compare_p(printed: str, ours, logrank=None) -> dict:
    """p as printed: '<0.001' means ours < 0.001; otherwise ours rounded to the printed decimals."""
    if _ne(ours):
        return _missing(ours)
    text = printed.replace(" ", "")
    if text.startswith("<"):
        agrees = ours < float(text[1:])
        difference = None
    else:
        agrees = round_half_up(ours, _decimals(text)) == Decimal(text)
        difference = ours - float(text)
    note = "" if _ne(logrank) else f"log-rank p = {_format_p_value(logrank)}"
    return _result(ours, difference, agrees, note)


def explain_limit(printed: str, ours: float, n, N, published_n: str | None) -> str:
    """The likely reason a printed CI limit of a count (in %) disagrees with ours when our count
    and N reproduce the published count: the publication rounded the limit another way (up,
    down, twice). Ours is read from the ARD; nothing is recomputed."""
    value = Decimal(printed)
    nearest = round_half_up(ours, _decimals(printed))
    if _ne(n) or _ne(N) or published_n is None or int(published_n) != int(n):
        return f"ours rounds to {nearest}"
    step = Decimal(1).scaleb(-_decimals(printed))
    reasons = []
    if round_half_up(round_half_up(ours, _decimals(printed) + 1), _decimals(printed)) == value:
        reasons.append(f"rounded twice ({ours:.2f} → {round_half_up(ours, _decimals(printed) + 1)} → {printed})")
    elif value == nearest - step and Decimal(repr(ours)) > value:
        reasons.append(f"truncated ({ours:.2f} → {printed})")
    elif value == nearest + step and Decimal(repr(ours)) < value:
        reasons.append(f"rounded up ({ours:.2f} → {printed})")
    head = (f"our count {n:.0f}/{N:.0f} equals the published count; our 95% limit from it is {ours:.2f}, "
            f"which rounds to {nearest}, printed {printed}")
    if not reasons:
        return head + "; not a rounding of the same limit (likely another CI method or denominator)"
    return head + "; likely " + " or ".join(reasons)


def percentage_follows(n: float, N: float, printed: int) -> bool:
    """Whether the printed whole-number percentage follows from n/N by ordinary rounding."""
    return N > 0 and int(round_half_up(100.0 * n / N)) == printed


def explain_percentage(n: float, N: int, printed: int, named_denominators: dict[str, int] | None = None) -> str:
    """The likely reason a printed percentage does not follow from n/N: rounding twice (to one
    decimal, then whole), rounding up or down instead of to nearest, and/or another denominator
    (a named population, or N-k / N+k)."""
    exact = 100.0 * n / N
    reasons = []
    one_decimal = round_half_up(exact, 1)
    if int(round_half_up(one_decimal)) == printed:
        reasons.append(f"rounded twice ({exact:.2f} → {one_decimal} → {printed})")
    elif math.ceil(exact) == printed and exact < printed:
        reasons.append(f"rounded up ({exact:.2f} → {printed})")
    elif math.floor(exact) == printed and exact > printed:
        reasons.append(f"truncated ({exact:.2f} → {printed})")
    for name, denom in (named_denominators or {}).items():
        if denom and denom != N and percentage_follows(n, denom, printed):
            reasons.append(f"denominator {name} = {denom}: {n:.0f}/{denom} = {100.0 * n / denom:.2f}")
    shifted = _nearest_denominator(n, N, printed)
    if shifted is not None:
        k = shifted - N
        reasons.append(f"another denominator N{k:+d} = {shifted} (e.g. a safety/evaluable population): "
                       f"{n:.0f}/{shifted} = {100.0 * n / shifted:.2f}")
    if not reasons:
        return f"{n:.0f}/{N} = {exact:.2f}% does not round to {printed}; no nearby denominator reproduces it"
    return f"{n:.0f}/{N} = {exact:.2f}% rounds to {int(round_half_up(exact))}, printed {printed}; likely " + " or ".join(reasons)


def _nearest_denominator(n: float, N: int, printed: int) -> int | None:
    for k in range(1, MAX_DENOMINATOR_SHIFT + 1):
        for candidate in (N - k, N + k):
            if candidate >= n and candidate > 0 and percentage_follows(n, candidate, printed):
                return candidate
    return None


def compare_percentage(printed: str, n, N, ard_pct=None, named_denominators: dict[str, int] | None = None) -> dict:
    """A printed percentage against 100·n/N from our count and our N (never against a copied %)."""
    if _ne(n) or _ne(N):
        return _missing(n if _ne(n) else N)
    value, exact = int(printed), 100.0 * n / N
    agrees = percentage_follows(n, N, value)
    note = "" if agrees else explain_percentage(n, int(N), value, named_denominators)
    if not _ne(ard_pct) and abs(ard_pct - exact) > 0.05:
        note = (note + "; " if note else "") + f"ARD pct {ard_pct:.1f} differs from 100·n/N = {exact:.2f}"
    return _result(exact, exact - value, agrees, note)


# ---------------------------------------------------------------- the whole publication

def _figure_group(fig: dict) -> str:
    group = fig["group1_level"] or "All patients"
    if fig.get("group2_level"):
        group += f", {fig['group2']}={fig['group2_level']}"
    return group


def _denominator(stats: ArdStats, fig: dict):
    """Our N for a percentage: table3's own N row, else the salvage group's N."""
    if fig["table_id"] == "table3":
        return stats.get("table3", fig["variable"], "N", fig["group1_level"], fig["variable_level"])
    n = stats.group_n(fig["group1_level"])
    return ABSENT if n is None else float(n)


def _named_denominators(stats: ArdStats, fig: dict) -> dict[str, int]:
    """Populations other than the group's N that a percentage may have been based on."""
    if fig["variable"] != "BMBLCAT":
        return {}
    known = stats.get("table1", "BMBLAST", "n", fig["group1_level"])
    return {} if _ne(known) else {"patients with a known blast count": int(known)}


def _key(fig: dict) -> tuple:
    return fig["table_id"], fig["variable"], fig["group1_level"], fig["variable_level"], fig["group2_level"]


def printed_counts(reference: dict) -> dict[tuple, str]:
    """The printed counts (stat `n`) of a reference document by their coordinates."""
    return {_key(f): f["printed"] for f in reference["figures"] if f["stat_name"] == "n"}


def compare_figure(stats: ArdStats, fig: dict, counts: dict[tuple, str] | None = None) -> dict:
    """One published figure against our ARD value; `counts` the reference's printed counts (for
    the reason a CI limit of a count disagrees)."""
    get = lambda stat_name: stats.get(  # noqa: E731
        fig["table_id"], fig["variable"], stat_name, fig["group1_level"], fig["variable_level"], fig["group2_level"])
    name, printed = fig["stat_name"], fig["printed"]
    if name in COUNT_STATS:
        return compare_count(printed, get(name))
    if name in PCT_STATS:
        return compare_percentage(printed, get(PCT_STATS[name]), _denominator(stats, fig), get(name),
                                  _named_denominators(stats, fig))
    if name in P_STATS:
        return compare_p(printed, get(name), get("p_logrank") if name == "p_value" else None)
    result = compare_estimate(printed, get(name))
    if name in LIMIT_STATS and not result["agrees"] and result["ours"] is not None:
        result["note"] = explain_limit(printed, result["ours"], get("n"), _denominator(stats, fig),
                                       (counts or {}).get(_key(fig)))
    return result


def _group_n_rows(stats: ArdStats, reference: dict) -> list[dict]:
    rows = []
    for group, printed in reference.get("group_n", {}).items():
        ours = stats.group_n(group)
        row = {"table": "Table 1", "label": "Patients (N)", "group": group, "statistic": "N",
               "published": str(printed)}
        row.update(compare_count(str(printed), ABSENT if ours is None else float(ours)))
        rows.append(row)
    return rows


def compare_with_publication(ard: pd.DataFrame, reference: dict | Path | str | None = None) -> pd.DataFrame:
    """Every published figure beside ours (read from the ARD): columns `COLUMNS`.

    `published` is the printed text; `ours` our value (for percentages 100·n/N from our counts);
    `difference` ours − published (None for '<0.001' or when ours is missing); `agrees` per the
    figure's kind (exact counts, ordinary rounding at the printed precision); `note` the reason
    when it does not agree.
    """
    if reference is None or isinstance(reference, (str, Path)):
        reference = load_published(reference or DEFAULT_REFERENCE)
    counts = printed_counts(reference)
    stats = ArdStats(ard)
    rows = _group_n_rows(stats, reference)
    for fig in reference["figures"]:
        row = {"table": fig["table"], "label": fig["label"], "group": _figure_group(fig),
               "statistic": fig["stat_name"], "published": fig["printed"]}
        row.update(compare_figure(stats, fig, counts))
        if fig.get("source"):
            row["note"] = f"({fig['source']}) {row['note']}".strip()
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


# ---------------------------------------------------------------- rendering

def _format_p_value(p: float) -> str:
    return "<0.0001" if p < 0.0001 else f"{p:.4f}"


def format_ours(statistic: str, published: str, ours) -> str:
    """Our value at one more decimal than printed, so the rounding is visible."""
    if _ne(ours):
        return "—" if ours is ABSENT else "NE"
    if statistic in COUNT_STATS:
        return f"{ours:.0f}"
    if statistic in PCT_STATS:
        return f"{ours:.2f}"
    if statistic in P_STATS:
        return _format_p_value(ours)
    return f"{ours:.{_decimals(published) + 1}f}"


def _format_difference(diff) -> str:
    if _ne(diff):
        return ""
    return "0" if diff == 0 else f"{diff:+.2f}".rstrip("0").rstrip(".")


def reproduction_display_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The comparison with our values and differences formatted as text."""
    out = df.copy()
    out["ours"] = [format_ours(s, p, o) for s, p, o in zip(df["statistic"], df["published"], df["ours"])]
    out["difference"] = [_format_difference(d) for d in df["difference"]]
    out["agrees"] = ["yes" if a else "NO" for a in df["agrees"]]
    return out.fillna("")


def summarize_reproduction(df: pd.DataFrame) -> str:
    """'147 of 154 published figures agree; 7 flagged.'"""
    agree = int(df["agrees"].sum())
    return f"{agree} of {len(df)} published figures agree; {len(df) - agree} flagged."


def render_reproduction_text(df: pd.DataFrame) -> str:
    """The comparison as plain aligned text for `repool reproduce`, flagged rows listed again at the end."""
    shown = reproduction_display_frame(df)
    text = format_text_table(shown[COLUMNS[:-1]])  # notes go below, they are long
    flagged = shown[~df["agrees"].to_numpy(dtype=bool)]
    lines = [f"- {r.table}, {r.label}, {r.group}, {r.statistic}: published {r.published}, ours {r.ours}. {r.note}"
             for r in flagged.itertuples(index=False)]
    parts = ["Reproduction of Topp et al. 2021 (published figures beside ours)", "", text, "",
             summarize_reproduction(df)]
    if lines:
        parts += ["", "Flagged:"] + lines
    return "\n".join(parts) + "\n"


def render_reproduction_html(df: pd.DataFrame) -> str:
    """An HTML fragment (a summary paragraph and a table) for the report; flagged rows marked."""
    shown = reproduction_display_frame(df)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for agrees, row in zip(df["agrees"], shown[COLUMNS].itertuples(index=False, name=None)):
        cls = "agree" if agrees else "flag"
        cells = "".join(f"<td>{html.escape(str(v))}</td>" for v in row)
        body.append(f'<tr class="{cls}">{cells}</tr>')
    return (f'<p class="repro-summary">{html.escape(summarize_reproduction(df))}</p>\n'
            f'<table class="repro"><thead><tr>{head}</tr></thead>\n<tbody>\n' + "\n".join(body)
            + "\n</tbody></table>\n")
