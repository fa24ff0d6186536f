"""`bindscape.report`: the self-contained HTML report and the figure functions."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bindscape.report import Report, markdown

EVIL = "<script>alert('x')</script>"


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1], [0, 1])
    return fig


def _sample_report() -> Report:
    r = Report(title="bindscape run: demo", subtitle="a **test** run", command="bindscape run demo.yaml",
               date="2025-01-02 03:04")
    d = r.section("Data", intro="Simulated genome.")
    d.metrics({"regions": 12400, "auROC": 0.91234, "model": "fast"})
    d.table(pd.DataFrame({"model": ["fast", "pwm"], "auROC": [0.91234, 0.7], "auPRC": [0.4, 0.55555],
                          "n": [12000, 7]}), caption="metrics", highlight_max=["auPRC"], highlight_min=["auROC"])
    d.figure(_figure(), caption="a line")
    d.text("plain **bold** and `code <b>`\n\n- item one\n- item two")
    e = r.section("Evaluation")
    e.figure(_figure(), caption="svg one", fmt="svg")
    return r


# ------------------------------------------------------------------------------------------ HTML


def test_write_is_one_self_contained_file(tmp_path):
    out = _sample_report().write(tmp_path / "sub" / "report.html")
    assert out == tmp_path / "sub" / "report.html"
    assert sorted(p.name for p in out.parent.iterdir()) == ["report.html"]  # no temp file left
    html = out.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    # nothing loaded from outside: no http(s) or protocol-relative src/href, no scripts, no stylesheets links
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//)""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:|//)", html, re.I)
    assert "<script" not in html.lower() and "<link" not in html.lower()
    for m in re.finditer(r"""(?:src|href)\s*=\s*["']([^"']*)""", html):
        assert m.group(1).startswith(("#", "data:")), m.group(1)
    assert os.stat(out).st_mode & 0o044  # readable by others (umask permitting), unlike a raw mkstemp file


def test_header_toc_sections_and_footer(tmp_path):
    html = _sample_report().to_html()
    assert "<title>bindscape run: demo</title>" in html and "<h1>bindscape run: demo</h1>" in html
    assert "2025-01-02 03:04" in html and "bindscape 0.1.0" in html
    assert '<a href="#data">' in html and '<a href="#evaluation">' in html
    assert '<section id="data">' in html and '<section id="evaluation">' in html
    assert html.index('id="data"') < html.index('id="evaluation"')
    assert "<code>bindscape run demo.yaml</code>" in html
    assert "max-width" in html  # the container


def test_tables_values_formatting_and_highlights():
    html = _sample_report().to_html()
    table = html[html.index("<table>") : html.index("</table>")]
    for text in ("fast", "pwm", "0.912", "0.556", "12,000", "<caption>metrics</caption>", "<th class=\"num\">auROC</th>"):
        assert text in table, text
    assert re.search(r'<td class="num best">0\.556</td>', table)  # max of auPRC
    assert re.search(r'<td class="num best">0\.700</td>', table)  # min of auROC
    r = Report("t", date="d")
    df = pd.DataFrame({"a": [1.0, np.nan], "b": ["x", "y"], "c": pd.array([3, None], dtype="Int64")},
                      index=pd.Index(["r1", "r2"], name="row"))
    r.section("s").table(df, float_format={"a": "{:.1e}"})
    h = r.to_html()
    assert "1.0e+00" in h and '<td class="num na">\u2013</td>' in h and '<th class="idx" scope="row">r1</th>' in h
    assert h.count('class="num na"') == 2 and "&lt;NA&gt;" not in h
    with pytest.raises(ValueError, match="highlight"):
        r.section("bad").table(df, highlight_max=["nope"])


def test_long_tables_are_cut_with_a_note():
    r = Report("t", date="d")
    r.section("s").table(pd.DataFrame({"i": range(50)}), max_rows=10)
    h = r.to_html()
    assert h.count("<tr>") == 11 and "showing the first 10 of 50 rows" in h


def test_figures_inline_png_svg_path_and_bytes(tmp_path):
    import matplotlib.pyplot as plt

    fig = _figure()
    r = Report("t", date="d")
    sec = r.section("Figures")
    sec.figure(fig, caption="png")
    assert not plt.fignum_exists(fig.number)  # closed after rendering
    png = re.search(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" width="(\d+)"', r.to_html())
    assert png and base64.b64decode(png.group(1)).startswith(b"\x89PNG")
    svg_fig = _figure()
    svg_path = tmp_path / "f.svg"
    svg_fig.savefig(svg_path, format="svg")
    plt.close(svg_fig)
    png_path = tmp_path / "f.png"
    _figure().savefig(png_path, format="png")
    sec.figure(svg_path, caption="svg from a file").figure(png_path.read_bytes(), caption="png bytes")
    sec.figure(str(png_path))
    h = r.to_html()
    assert h.count('<img src="data:image/png;base64,') == 3
    (svg_b64,) = re.findall(r'data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)', h)
    svg = base64.b64decode(svg_b64).decode()
    assert svg.startswith("<svg") and "<!DOCTYPE" not in svg and "<metadata>" not in svg
    assert h.count("<figure") == 4 and '<div class="figrow multi">' in h
    with pytest.raises(TypeError):
        sec.figure(42)
    with pytest.raises(ValueError):
        sec.figure(b"not an image")
    from bindscape.errors import InputError

    with pytest.raises(InputError):
        sec.figure(tmp_path / "missing.png")


def test_user_text_is_escaped_everywhere():
    r = Report(title=EVIL, subtitle=EVIL, command=EVIL, date=EVIL)
    s = r.section(EVIL, intro=EVIL)
    s.text(EVIL).heading(EVIL).code(EVIL, caption=EVIL).note(EVIL)
    s.metrics({EVIL: EVIL}, notes={EVIL: EVIL})
    s.table(pd.DataFrame({EVIL: [EVIL]}), caption=EVIL)
    s.figure(_figure(), caption=EVIL, alt=EVIL)
    h = r.to_html()
    assert "<script" not in h.lower()
    assert h.count("&lt;script&gt;") >= 15


def test_markdown_subset():
    h = markdown("a **b** and `c **d** <e>` *f*\nline 2\n\n- x\n- **y**")
    assert "<strong>b</strong>" in h and "<code>c **d** &lt;e&gt;</code>" in h and "<em>f</em>" in h
    assert "<br>" in h and "<ul><li>x</li><li><strong>y</strong></li></ul>" in h


def test_atomic_write_failure_leaves_no_file(tmp_path):
    target = tmp_path / "report.html"

    def boom(v):
        raise RuntimeError("bad formatter")

    r = _sample_report()
    r.section("Broken").table(pd.DataFrame({"x": [1.5]}), float_format=boom)
    with pytest.raises(RuntimeError, match="bad formatter"):
        r.write(target)
    assert list(tmp_path.iterdir()) == []
    target.write_text("old report")  # an older report survives a failed rewrite
    with pytest.raises(RuntimeError):
        r.write(target)
    assert target.read_text() == "old report" and sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_duplicate_section_titles_get_unique_anchors():
    r = Report("t", date="d")
    a, b = r.section("Motifs"), r.section("Motifs")
    assert a.anchor == "motifs" and b.anchor == "motifs-2" and r["Motifs"] is a
    assert '<p class="empty">' in r.to_html()


def test_import_is_lazy():
    code = "import sys, bindscape.report; print('matplotlib' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# ------------------------------------------------------------------------------------------ figures


@pytest.fixture(scope="module")
def F():
    import matplotlib.pyplot as plt

    from bindscape.report import figures

    yield figures
    plt.close("all")


def _curve(k=50):
    x = np.linspace(0, 1, k)
    return x, np.sqrt(x)


def test_roc_and_pr_curves(F):
    from matplotlib.figure import Figure

    fig = F.roc_curves({"a": (*_curve(), 0.8), "b": (*_curve(), 0.7)})
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert len(ax.lines) == 3  # two models + chance
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "a (auROC 0.800)" and labels[-1] == "chance"
    assert len(F.roc_curves({"a": (*_curve(), None)}, baseline=False).axes[0].lines) == 1
    fig = F.pr_curves({"a": (*_curve(), 0.5), "b": (*_curve(), 0.4)}, prevalence=0.1)
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and np.allclose(ax.lines[-1].get_ydata(), 0.1)
    assert "prevalence 0.100" in ax.get_legend().get_texts()[-1].get_text()
    assert tuple(fig.get_size_inches()) == (5.0, 4.0) and fig.dpi == 110


def test_training_curves(F):
    hist = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1, 0.8, 0.7], "val_loss": [1.1, 0.9, 0.85],
                         "val_auROC": [0.6, 0.7, 0.75]})
    fig = F.training_curves(hist)
    assert len(fig.axes) == 2 and [len(a.lines) for a in fig.axes] == [2, 1]
    fig = F.training_curves(hist, metrics=["val_auROC"])
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="nope"):
        F.training_curves(hist, metrics=["nope"])


def test_heatmap_annotates_cells(F):
    m = pd.DataFrame(np.arange(12, dtype=float).reshape(3, 4), index=list("abc"), columns=list("wxyz"))
    m.iloc[0, 0] = np.nan
    fig = F.heatmap(m, title="cross", fmt="{:.1f}", cmap="magma")
    ax = fig.axes[0]
    assert len(ax.images) == 1 and len(ax.texts) == 11  # one per non-NaN cell
    assert {t.get_text() for t in ax.texts} >= {"1.0", "11.0"} and ax.get_title() == "cross"
    assert len(fig.axes) == 2  # the colour bar


def test_calibration_bars_learning_and_histograms(F):
    fig = F.calibration_curve({"a": ([0.1, 0.5, 0.9], [0.2, 0.5, 0.8]), "b": ([0.1, 0.9], [0.1, 0.9])})
    assert len(fig.axes[0].lines) == 3
    df = pd.DataFrame({"name": ["a", "b", "c"], "value": [0.9, 0.8, 0.7], "lo": [0.85, 0.7, 0.6],
                       "hi": [0.95, 0.85, 0.8]})
    ax = F.bar_with_intervals(df, title="ci").axes[0]
    assert len(ax.patches) == 3 and len(ax.containers) == 2  # bars + error bars
    lc = pd.DataFrame([{"n_positives": n, "metric": 0.5 + 0.01 * n ** 0.5 + s * 0.01, "model": m}
                       for n in (100, 1000) for m in ("x", "y") for s in range(2)])
    ax = F.learning_curve(lc).axes[0]
    assert len(ax.lines) == 2 and len(ax.collections) == 2  # mean lines + seed bands
    ax = F.histograms({"pos": np.random.default_rng(0).random(100), "neg": np.random.default_rng(1).random(300)},
                      bins=20, title="GC").axes[0]
    assert len(ax.patches) == 4 and len(ax.get_legend().get_texts()) == 2  # filled + outline per group


def test_logo_and_attribution_track(F):
    m = np.random.default_rng(0).random((8, 4))
    ax = F.logo(m, title="motif").axes[0]
    assert len(ax.patches) == 32 and ax.get_title() == "motif"  # one glyph per base per position
    assert len(F.logo(m.T).axes[0].patches) == 32  # (4, L) is accepted
    with pytest.raises(ValueError):
        F.logo(np.zeros((5, 5)))
    v = np.random.default_rng(1).normal(size=20) + 0.1
    ax = F.attribution_track(v, "ACGT" * 5, title="track").axes[0]
    assert len(ax.patches) == 20  # one letter per position
    ax = F.attribution_track(np.random.default_rng(2).normal(size=(4, 20)), "ACGT" * 5).axes[0]
    assert len(ax.patches) == 20
    ax = F.attribution_track(v).axes[0]
    assert len(ax.collections) == 2 and len(ax.patches) == 0  # positive and negative fills
    with pytest.raises(ValueError, match="length"):
        F.attribution_track(v, "ACGT")


def test_a_full_report_with_every_figure(tmp_path, F):
    r = Report("all figures", date="d")
    s = r.section("Figures")
    s.figure(F.roc_curves({"a": (*_curve(), 0.8)}), caption="roc")
    s.figure(F.logo(np.random.default_rng(0).random((6, 4))), caption="logo")
    out = r.write(tmp_path / "r.html")
    assert out.read_text().count("data:image/png;base64,") == 2
    assert out.stat().st_size < 400_000


# ------------------------------------------------------------------------------------------ render script


def test_render_script_reports_missing_chromium(tmp_path, monkeypatch):
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "scripts" / "render_report.py"
    spec = importlib.util.spec_from_file_location("render_report", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CHROMIUM", raising=False)
    (tmp_path / "r.html").write_text("<html></html>")
    with pytest.raises(SystemExit) as ei:
        mod.main([str(tmp_path / "r.html"), str(tmp_path / "r.png")])
    assert "chromium not found" in str(ei.value).lower() and "apt-get install -y chromium" in str(ei.value)
