import base64
import re

import pandas as pd
import pytest

from repool.tasks.render.report import number_at_risk, render_report
from repool.tasks.render.reproduce import compare_with_publication
from tests.fixtures_ard import build_fixture_ard, build_fixture_km

META = {
    "result_version": "v20261124-0001",
    "created": "2026-11-24T02:00:00+00:00",
    "code_version": "3e86d08",
    "deliveries": [
        {"study": "MT103-211", "delivery_id": "2026-11-01", "files": [
            {"file": "adsl.csv", "sha256": "a" * 64, "rows": 189},
            {"file": "adtte.csv", "sha256": "b" * 64, "rows": 378}]},
        {"study": "00103311", "delivery_id": "2026-11-02", "files": [
            {"file": "dm.sas7bdat", "sha256": "c" * 64, "rows": 405}]},
    ],
    "parameters": {"pin": {}, "alpha": 0.05},
}


def _render(out_dir):
    ard = build_fixture_ard()
    return render_report(ard, build_fixture_km(), META, out_dir, reproduction=compare_with_publication(ard),
                         extra_sections=[("Changes since v0", "<p id='diff'>3 rows changed</p>")])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    first = _render(tmp_path_factory.mktemp("a"))
    second = _render(tmp_path_factory.mktemp("b"))
    return first, second


def test_report_is_self_contained(rendered):
    path, _ = rendered
    text = path.read_text(encoding="utf-8")
    assert path.name == "report.html"
    assert text.count('class="gt_table"') == 4
    assert text.count('src="data:image/png;base64,') == 2
    assert not re.search(r"https?:", text, re.IGNORECASE)
    assert not re.search(r"<link|<script|src=\"(?!data:)", text)


def test_report_shows_version_lineage_reproduction_and_extras(rendered):
    text = rendered[0].read_text(encoding="utf-8")
    for needle in ("v20261124-0001", "2026-11-24T02:00:00+00:00", "3e86d08", "MT103-211", "2026-11-02",
                   "a" * 64, "dm.sas7bdat", "2 deliveries from 2 studies", "&quot;alpha&quot;: 0.05",
                   "Reproduction of the publication", 'class="flag"', "Changes since v0", "<p id='diff'>"):
        assert needle in text, needle


def test_figures_saved_and_embedded(rendered):
    path, _ = rendered
    text = path.read_text(encoding="utf-8")
    for name in ("km_os.png", "km_rfs.png"):
        png = (path.parent / name).read_bytes()
        assert png.startswith(b"\x89PNG")
        assert base64.b64encode(png).decode() in text


def test_deterministic_bytes(rendered):
    """Two renderings of the same inputs: identical report, PNGs and SVGs (matplotlib salts its SVG ids
    with a random uuid unless svg.hashsalt is set, and dates the file unless metadata Date is None)."""
    first, second = rendered
    assert first.read_bytes() == second.read_bytes()
    for name in ("km_os.png", "km_rfs.png", "km_os.svg", "km_rfs.svg"):
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes(), name


def test_every_figure_also_as_svg(rendered):
    path, _ = rendered
    text = path.read_text(encoding="utf-8")
    for name in ("km_os", "km_rfs"):
        svg = (path.parent / f"{name}.svg").read_text(encoding="utf-8")
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "</svg>" in svg
        assert "<dc:date>" not in svg  # no creation date
        assert f'href="{name}.png"' in text and f'href="{name}.svg"' in text  # the caption links both files


def _section_order(text: str) -> list[str]:
    return re.findall(r'<section id="([^"]+)">\n<h2>', text)


def test_readers_order_and_table_of_contents(rendered):
    """Tables and figures first, then lineage, parameters, reproduction and the extra sections; every
    entry of the contents points at an id of the page."""
    text = rendered[0].read_text(encoding="utf-8")
    assert _section_order(text) == ["tables", "kaplan-meier-curves", "lineage", "parameters",
                                    "reproduction-of-the-publication", "changes-since-v0"]
    toc = re.search(r'<nav class="toc" id="contents">(.*?)</nav>', text, re.S)
    assert toc and text.index("</nav>") < text.index('<section id="tables">')
    targets = re.findall(r'<a href="#([^"]+)">', toc.group(1))
    assert targets == ["tables", "table1", "table2", "table3", "table4", "kaplan-meier-curves", "km-os", "km-rfs",
                       "lineage", "parameters", "reproduction-of-the-publication", "changes-since-v0"]
    ids = re.findall(r'\sid="([^"]+)"', text)
    assert all(ids.count(t) == 1 for t in targets), [t for t in targets if ids.count(t) != 1]
    tables = text[text.index('<section id="tables">'):text.index('<section id="kaplan-meier-curves">')]
    assert [t for t in ("table1", "table2", "table3", "table4") if f'<div id="{t}"' in tables] == \
        ["table1", "table2", "table3", "table4"]


def test_report_without_curves_or_reproduction(tmp_path):
    path = render_report(build_fixture_ard(), None, {"result_version": "v1"}, tmp_path)
    text = path.read_text(encoding="utf-8")
    assert text.count('class="gt_table"') == 4 and "Not run" in text
    assert not list(tmp_path.glob("km_*")) and 'href="#km-' not in text  # no figure, no entry for one


def test_number_at_risk_from_step_table_with_censor_only_rows():
    # 5 subjects: event at 1, censored at 2 (censor-only row), events at 3 and 3, censored at 5
    curve = pd.DataFrame({"time": [1.0, 2.0, 3.0, 5.0], "n_risk": [5, 4, 3, 1],
                          "n_event": [1, 0, 2, 0], "n_censor": [0, 1, 0, 1]})
    assert [number_at_risk(curve, t) for t in (0, 1, 1.5, 2, 2.5, 3, 4, 5, 6)] == [5, 5, 4, 4, 3, 3, 1, 1, 0]


def test_km_with_missing_bands_and_version_column(tmp_path):
    km = build_fixture_km()
    km.insert(0, "result_version", "v1")
    km["surv_lcl"] = km["surv_lcl"].astype(object).where(km.index % 7 != 0, None)
    path = render_report(build_fixture_ard(), km, {"result_version": "v1"}, tmp_path)
    assert (tmp_path / "km_os.png").exists() and path.exists()


# ---------------------------------------------------------------- table 5 and the forest plot

def test_report_with_table5_shows_the_table_and_the_forest_plot(tmp_path):
    from tests.fixtures_studies_ard import build_fixture_ard_with_studies

    ard = build_fixture_ard_with_studies()
    paths = [render_report(ard, build_fixture_km(), META, tmp_path / d) for d in ("a", "b")]
    text = paths[0].read_text(encoding="utf-8")
    assert text.count('class="gt_table"') == 5 and "Table 5. Results by study" in text
    assert text.count('src="data:image/png;base64,') == 3
    png = (paths[0].parent / "forest_os.png").read_bytes()
    assert png.startswith(b"\x89PNG") and base64.b64encode(png).decode() in text
    assert text.index("<h2>Kaplan–Meier curves") < text.index("<h2>Results by study") < text.index("<h2>Lineage") \
        < text.index("<h2>Reproduction")
    assert _section_order(text)[:4] == ["tables", "kaplan-meier-curves", "results-by-study", "lineage"]
    study_level = text[text.index('<section id="results-by-study">'):text.index('<section id="lineage">')]
    assert '<div id="studies"' in study_level and 'id="forest-os"' in study_level  # table 5 and its plot together
    assert '<a href="#studies">Table 5. Results by study</a>' in text and '<a href="#forest-os">' in text
    assert "Wald 95% CIs" in text and not re.search(r"https?:", text, re.IGNORECASE)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert png == (paths[1].parent / "forest_os.png").read_bytes()
    svg = (paths[0].parent / "forest_os.svg").read_bytes()
    assert svg.startswith(b"<?xml") and svg == (paths[1].parent / "forest_os.svg").read_bytes()
    level90 = render_report(ard, None, {**META, "parameters": {"alpha": 0.1}}, tmp_path / "c").read_text("utf-8")
    assert "Wald 90% CIs" in level90 and "95%" not in level90


def test_no_forest_plot_for_a_version_without_table5(tmp_path):
    render_report(build_fixture_ard(), build_fixture_km(), META, tmp_path)
    assert not (tmp_path / "forest_os.png").exists() and not (tmp_path / "forest_os.svg").exists()


def test_forest_rows_are_read_from_the_ard():
    from repool.tasks.render.report import forest_rows, render_forest_png
    from tests.fixtures_studies_ard import build_fixture_ard_with_studies

    ard = build_fixture_ard_with_studies()
    stored = ard.assign(result_version="v1")  # as read back from results.ard
    assert forest_rows(stored) == forest_rows(ard) == [
        ("A (n=60)", 1.5, 1.1, 2.05, False),
        ("B (n=30)", None, None, None, False),  # not estimable: a label, no marker
        ("Cox model stratified by study", 1.45, 1.08, 1.95, True),
        ("Fixed effect (inverse variance, k=2)", 1.4, 1.05, 1.87, True),
        ("Random effects (DerSimonian–Laird, k=2)", 1.42, 1.0, 2.02, True),
    ]
    assert render_forest_png(ard).startswith(b"\x89PNG")
