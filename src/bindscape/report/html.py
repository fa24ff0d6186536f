"""One self-contained HTML report per run.

Everything is inline: CSS in a ``<style>`` block, figures as ``data:`` URIs (PNG, or SVG), no JavaScript and
no external URL, so ``report.html`` can be mailed, archived or opened offline and still look the same.

    r = Report(title="bindscape run: demo", subtitle="...", command="bindscape run demo.yaml")
    sec = r.section("Data", intro="...")
    sec.text("**bold** and `code` are supported; everything else is escaped")
    sec.table(df, caption="...", float_format="{:.3f}", highlight_max=["auPRC"])
    sec.figure(fig, caption="...")          # a matplotlib Figure (closed after rendering), a PNG/SVG path or bytes
    sec.metrics({"auROC": 0.91, "auPRC": 0.55})
    r.write("runs/demo/report.html")        # atomic; returns the path

All user text is escaped with `html.escape`. Figures are rendered when added (and the Figure is closed, so a
report with many figures does not keep them all in memory); tables and text are rendered when written, and
the file is written atomically, so a failure half way leaves no file (and an older report untouched).
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import math
import numbers
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from bindscape._util import atomic_path

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+?)`")
_BULLET = re.compile(r"^\s*[-*] ")
_ITAL = re.compile(r"(?<![\w*])\*(?!\s)([^*]+?)(?<!\s)\*(?![\w*])")


def _inline(text: str) -> str:
    """Escape, then apply the minimal inline markup: `code`, **bold**, *italic*."""
    out, last = [], 0
    # code spans first, so ** inside backticks stays literal
    for m in _CODE.finditer(text):
        out.append(_emph(_esc(text[last : m.start()])))
        out.append(f"<code>{_esc(m.group(1))}</code>")
        last = m.end()
    out.append(_emph(_esc(text[last:])))
    return "".join(out)


def _emph(escaped: str) -> str:
    escaped = _BOLD.sub(r"<strong>\1</strong>", escaped)
    return _ITAL.sub(r"<em>\1</em>", escaped)


def markdown(text: str) -> str:
    """A very small markdown subset to HTML: paragraphs (blank lines), ``- `` bullet lists, `code`,
    **bold** and *italic*. Everything else is escaped, so user text can never inject markup.

    Returns HTML: one ``<p>`` or ``<ul>`` per block of `text`.
    """
    blocks = re.split(r"\n\s*\n", str(text).strip())
    html_blocks = []
    for block in blocks:
        lines = [ln.rstrip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        if all(_BULLET.match(ln) for ln in lines):
            items = "".join(f"<li>{_inline(_BULLET.sub('', ln))}</li>" for ln in lines)
            html_blocks.append(f"<ul>{items}</ul>")
        else:
            html_blocks.append("<p>" + "<br>".join(_inline(ln.strip()) for ln in lines) + "</p>")
    return "\n".join(html_blocks)


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s or "section"


# ---------------------------------------------------------------------------------------------- values


def _is_missing(v: Any) -> bool:
    """None, NaN, pd.NA, NaT (scalars only)."""
    if v is None:
        return True
    if isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral):
        return math.isnan(float(v))
    if "pandas" in sys.modules:
        import pandas as pd

        try:
            return bool(pd.isna(v)) if pd.api.types.is_scalar(v) else False
        except (TypeError, ValueError):
            return False
    return False


def _format_value(v: Any, float_format: str | Callable[[float], str] | None) -> str:
    """Format one cell: floats with `float_format`, integers with thousands separators, text as is."""
    if _is_missing(v):
        return "\u2013"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, numbers.Integral):
        return f"{int(v):,}"
    if isinstance(v, numbers.Real):
        if float_format is None:
            return f"{float(v):.4g}"
        if callable(float_format):
            return str(float_format(float(v)))
        return float_format.format(float(v))
    return str(v)


def _format_metric(v: Any, fmt: str) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        return f"{int(v):,}"
    if isinstance(v, numbers.Real) and not isinstance(v, bool):
        return "\u2013" if math.isnan(float(v)) else fmt.format(float(v))
    return str(v)


# ---------------------------------------------------------------------------------------------- figures


def _figure_payload(fig: Any, fmt: str = "png", dpi: int | None = None) -> tuple[str, bytes, int | None]:
    """(mime, bytes, natural width in CSS px or None) for a Figure, a path, or raw PNG/SVG/JPEG bytes."""
    if hasattr(fig, "savefig"):
        buf = io.BytesIO()
        fmt = fmt.lower()
        if fmt not in ("png", "svg"):
            raise ValueError(f"figure format must be 'png' or 'svg', got {fmt!r}")
        kw: dict[str, Any] = {"format": fmt, "bbox_inches": "tight", "pad_inches": 0.08, "facecolor": "white"}
        if fmt == "png":
            kw["dpi"] = dpi or 110
            kw["metadata"] = {"Software": None}
        else:
            kw["metadata"] = {"Date": None, "Creator": None}
        try:
            fig.savefig(buf, **kw)
        finally:
            if "matplotlib.pyplot" in sys.modules:
                import matplotlib.pyplot as plt

                plt.close(fig)
        data = buf.getvalue()
        return ("image/png" if fmt == "png" else "image/svg+xml"), data, _png_width(data) if fmt == "png" else None
    if isinstance(fig, str | os.PathLike):
        path = Path(fig)
        if not path.exists():
            from bindscape.errors import InputError

            raise InputError(f"figure file not found: {path}")
        data = path.read_bytes()
    elif isinstance(fig, bytes | bytearray | memoryview):
        data = bytes(fig)
    else:
        raise TypeError(f"figure must be a matplotlib Figure, a PNG/SVG path or bytes, not {type(fig).__name__}")
    if data.startswith(_PNG_MAGIC):
        return "image/png", data, _png_width(data)
    if data.startswith(_JPEG_MAGIC):
        return "image/jpeg", data, None
    head = data[:2048].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        return "image/svg+xml", _clean_svg(data), None
    raise ValueError("figure bytes are neither PNG, JPEG nor SVG")


def _png_width(data: bytes) -> int | None:
    """Width in pixels from the PNG header (IHDR), or None."""
    if len(data) >= 24 and data.startswith(_PNG_MAGIC):
        return int.from_bytes(data[16:20], "big")
    return None


def _clean_svg(data: bytes) -> bytes:
    """Drop the XML prolog, DOCTYPE and metadata (external DTD/RDF URLs) from an SVG."""
    text = data.decode("utf-8", errors="replace")
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    text = re.sub(r"<!DOCTYPE[^>]*>", "", text, flags=re.I)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text.strip().encode("utf-8")


# ---------------------------------------------------------------------------------------------- blocks


class Section:
    """One numbered part of a report. Blocks appear in the order they are added; every block method
    (`text`, `heading`, `code`, `note`, `metrics`, `table`, `figure`, `html`) returns the section itself, for
    chaining."""

    def __init__(self, report: Report, title: str, anchor: str, intro: str | None = None):
        self.report = report
        self.title = title
        self.anchor = anchor
        self.intro = intro
        self._blocks: list[tuple[str, Any]] = []

    # -- content
    def text(self, text: str) -> Section:
        """A paragraph (or several, separated by blank lines); **bold**, *italic*, `code`, ``- `` lists (see
        `markdown`)."""
        self._blocks.append(("html", lambda t=text: f'<div class="prose">{markdown(t)}</div>'))
        return self

    def heading(self, text: str) -> Section:
        """A sub-heading inside the section (`text` is escaped, no markup)."""
        self._blocks.append(("html", lambda t=text: f"<h3>{_esc(t)}</h3>"))
        return self

    def code(self, text: str, caption: str | None = None) -> Section:
        """A preformatted block (a config, a command line, a log excerpt): `text` escaped and shown as is, with
        an optional `caption` below it (inline markup allowed)."""

        def render(t=text, c=caption):
            cap = f'<div class="caption">{_inline(c)}</div>' if c else ""
            return f'<div class="codeblock"><pre>{_esc(t)}</pre>{cap}</div>'

        self._blocks.append(("html", render))
        return self

    def note(self, text: str, kind: str = "info") -> Section:
        """A highlighted call-out box of `text` (see `markdown`); `kind` ``warning``, anything else is ``info``."""
        k = "warning" if kind == "warning" else "info"
        self._blocks.append(("html", lambda t=text: f'<div class="callout {k}">{markdown(t)}</div>'))
        return self

    def metrics(self, values: Mapping[str, Any], fmt: str = "{:.3f}", caption: str | None = None,
                notes: Mapping[str, str] | None = None) -> Section:
        """A row of headline numbers (cards): ``{"auROC": 0.91, "auPRC": 0.55}``; ints get separators.

        Parameters
        ----------
        values
            Card name -> value (strings shown as is, NaN as a dash).
        fmt
            Format of real values.
        caption
            Caption below the row (None: none).
        notes
            Card name -> small print under that card.
        """
        values = dict(values)
        notes = dict(notes or {})

        def render():
            cards = []
            for name, v in values.items():
                sub = f'<div class="metric-note">{_esc(notes[name])}</div>' if name in notes else ""
                cards.append(
                    f'<div class="metric"><div class="metric-value">{_esc(_format_metric(v, fmt))}</div>'
                    f'<div class="metric-name">{_esc(name)}</div>{sub}</div>'
                )
            cap = f'<div class="caption">{_inline(caption)}</div>' if caption else ""
            return f'<div class="metrics">{"".join(cards)}</div>{cap}'

        self._blocks.append(("html", render))
        return self

    def table(
        self,
        df: Any,
        caption: str | None = None,
        float_format: str | Callable[[float], str] | Mapping[str, Any] | None = "{:.3f}",
        highlight_max: Iterable[str] | None = None,
        highlight_min: Iterable[str] | None = None,
        index: bool | None = None,
        max_rows: int | None = 200,
    ) -> Section:
        """A pandas DataFrame as a styled table.

        `float_format`: a format string, a callable, or a ``{column: format}`` dict (others use ``{:.3f}``).
        `highlight_max`/`highlight_min`: columns whose best cell is emphasised. `index`: show the index
        (default: only when it is not a plain 0..n-1 range). Long tables are cut at `max_rows` with a note.

        Parameters
        ----------
        df
            The table (anything `pandas.DataFrame` accepts).
        caption
            Caption (None: none).
        float_format, highlight_max, highlight_min, index, max_rows
            See above (highlight columns must exist).
        """
        import pandas as pd

        df = pd.DataFrame(df)
        hmax = list(highlight_max or [])
        hmin = list(highlight_min or [])
        unknown = [c for c in hmax + hmin if c not in df.columns]
        if unknown:
            raise ValueError(f"highlight column(s) {unknown} not in the table; columns: {list(df.columns)}")
        self._blocks.append(("html", lambda: _render_table(df, caption, float_format, hmax, hmin, index, max_rows)))
        return self

    def figure(self, fig: Any, caption: str | None = None, fmt: str = "png", width: int | None = None,
               alt: str | None = None) -> Section:
        """A figure: a matplotlib Figure (rendered now and closed), or a PNG/SVG/JPEG path or bytes.

        `fmt`: 'png' (default, small and fast) or 'svg' for a Figure. `width`: display width in CSS pixels
        (default: the image's natural width, capped by the page).

        Parameters
        ----------
        fig
            See above.
        caption
            Caption (inline markup allowed; None: none).
        fmt, width
            See above.
        alt
            Alternative text (None: the caption, else ``figure <n>``).
        """
        mime, data, natural = _figure_payload(fig, fmt)
        b64 = base64.b64encode(data).decode("ascii")
        w = width or natural
        alt_text = alt if alt is not None else (caption or f"figure {self.report._next_figure_number()}")
        width_attr = f' width="{int(w)}"' if w else ""
        cap = f"<figcaption>{_inline(caption)}</figcaption>" if caption else ""
        img = f'<img src="data:{mime};base64,{b64}"{width_attr} alt="{_esc(_strip_markup(alt_text))}">'
        wide = ' class="wide"' if (w or 0) > 700 else ""
        self._blocks.append(("figure", f"<figure{wide}>{img}{cap}</figure>"))
        return self

    def html(self, raw: str) -> Section:
        """Trusted raw HTML fragment `raw` (not escaped): only for markup bindscape itself generates."""
        self._blocks.append(("html", lambda r=raw: r))
        return self

    # -- rendering
    def _render(self, number: int) -> str:
        parts = [
            f'<section id="{self.anchor}">',
            f'<h2><span class="secnum">{number}</span>{_esc(self.title)}</h2>',
        ]
        if self.intro:
            parts.append(f'<div class="intro prose">{markdown(self.intro)}</div>')
        figrow: list[str] = []
        for kind, block in self._blocks:
            if kind == "figure":
                figrow.append(block)
                continue
            if figrow:
                parts.append(_figrow(figrow))
                figrow = []
            parts.append(block())
        if figrow:
            parts.append(_figrow(figrow))
        if not self._blocks and not self.intro:
            parts.append('<p class="empty">(nothing to show)</p>')
        parts.append("</section>")
        return "\n".join(parts)


def _figrow(figs: list[str]) -> str:
    cls = "figrow multi" if len(figs) > 1 else "figrow"
    return f'<div class="{cls}">{"".join(figs)}</div>'


def _strip_markup(text: str) -> str:
    return re.sub(r"\*\*|`", "", str(text))


def _render_table(df, caption, float_format, hmax, hmin, index, max_rows) -> str:
    import numpy as np
    import pandas as pd

    if index is None:
        index = not (isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1)

    def col_label(c):
        return " / ".join(str(x) for x in c) if isinstance(c, tuple) else str(c)

    def fmt_for(c):
        if isinstance(float_format, Mapping):
            return float_format.get(c, "{:.3f}")
        return float_format

    best: dict[Any, set[int]] = {}
    for cols, fn in ((hmax, np.nanmax), (hmin, np.nanmin)):
        for c in cols:
            vals = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
            if np.isfinite(vals).any():
                target = fn(vals)
                best.setdefault(c, set()).update(int(i) for i in np.flatnonzero(vals == target))

    numeric = {c: pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c]) for c in df.columns}
    n = len(df)
    shown = df if max_rows is None or n <= max_rows else df.iloc[:max_rows]

    head = []
    if index:
        iname = df.index.name if df.index.name is not None else ""
        head.append(f'<th class="idx">{_esc(iname)}</th>')
    for c in df.columns:
        cls = ' class="num"' if numeric[c] else ""
        head.append(f"<th{cls}>{_esc(col_label(c))}</th>")
    rows = []
    for i, (idx, row) in enumerate(zip(shown.index, shown.itertuples(index=False, name=None), strict=True)):
        cells = []
        if index:
            label = " / ".join(map(str, idx)) if isinstance(idx, tuple) else idx
            cells.append(f'<th class="idx" scope="row">{_esc(_format_value(label, None))}</th>')
        for c, v in zip(df.columns, row, strict=True):
            classes = []
            if numeric[c]:
                classes.append("num")
            if i in best.get(c, ()):
                classes.append("best")
            if _is_missing(v):
                classes.append("na")
            cls = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{cls}>{_esc(_format_value(v, fmt_for(c)))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = ""
    if len(shown) < n:
        more = f'<div class="caption more">showing the first {len(shown):,} of {n:,} rows</div>'
    cap = f"<caption>{_inline(caption)}</caption>" if caption else ""
    return (
        f'<div class="table-wrap"><table>{cap}<thead><tr>{"".join(head)}</tr></thead>'
        f'<tbody>{"".join(rows)}</tbody></table>{more}</div>'
    )


# ---------------------------------------------------------------------------------------------- report


class Report:
    """A self-contained HTML report: a header, a table of contents, numbered sections, a footer."""

    def __init__(self, title: str, subtitle: str | None = None, command: str | None = None,
                 date: _dt.datetime | str | None = None, version: str | None = None):
        self.title = title
        self.subtitle = subtitle
        self.command = command
        self.date = date if date is not None else _dt.datetime.now().astimezone()
        if version is None:
            from bindscape import __version__ as version
        self.version = version
        self.sections: list[Section] = []
        self._anchors: set[str] = set()
        self._figures = 0

    def _next_figure_number(self) -> int:
        self._figures += 1
        return self._figures

    def section(self, title: str, intro: str | None = None) -> Section:
        """Add a section (sections appear, numbered, in the order they are added) and return it.

        Parameters
        ----------
        title
            Section title (its anchor is made unique).
        intro
            Introductory text (see `markdown`; None: none).

        Returns
        -------
        Section
        """
        base = _slug(title)
        anchor, k = base, 2
        while anchor in self._anchors:
            anchor, k = f"{base}-{k}", k + 1
        self._anchors.add(anchor)
        sec = Section(self, title, anchor, intro)
        self.sections.append(sec)
        return sec

    def __getitem__(self, title: str) -> Section:
        for s in self.sections:
            if s.title == title:
                return s
        raise KeyError(title)

    # -- rendering
    def _date_text(self) -> str:
        if isinstance(self.date, _dt.datetime):
            return self.date.strftime("%Y-%m-%d %H:%M %Z").strip()
        return str(self.date)

    def _head(self) -> str:
        sub = f'<p class="subtitle">{_inline(self.subtitle)}</p>' if self.subtitle else ""
        meta = [f"<span>{_esc(self._date_text())}</span>", f"<span>bindscape {_esc(self.version)}</span>"]
        if self.sections:
            meta.append(f"<span>{len(self.sections)} section{'s' if len(self.sections) != 1 else ''}</span>")
        toc = ""
        if self.sections:
            items = "".join(
                f'<li><a href="#{s.anchor}"><span class="secnum">{i}</span>{_esc(s.title)}</a></li>'
                for i, s in enumerate(self.sections, 1)
            )
            toc = f'<nav class="toc" aria-label="Contents"><div class="toc-title">Contents</div><ol>{items}</ol></nav>'
        return (
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta name="generator" content="bindscape {_esc(self.version)}">\n'
            f"<title>{_esc(self.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f'<header class="page-header"><div class="container"><div class="brand">bindscape report</div>'
            f'<h1>{_esc(self.title)}</h1>{sub}<div class="meta">{"".join(meta)}</div></div></header>\n'
            f'<div class="container layout">{toc}<main>\n'
        )

    def _foot(self) -> str:
        cmd = (f'<div class="cmd"><span class="label">produced by</span><code>{_esc(self.command)}</code></div>'
               if self.command else "")
        return (
            "</main></div>\n"
            f'<footer class="page-footer"><div class="container">{cmd}'
            f'<div class="small">Generated by bindscape {_esc(self.version)} on {_esc(self._date_text())}. '
            "This file is self-contained: no network access is needed to view it.</div></div></footer>\n"
            "</body>\n</html>\n"
        )

    def _chunks(self) -> Iterable[str]:
        yield self._head()
        for i, sec in enumerate(self.sections, 1):
            yield sec._render(i) + "\n"
        yield self._foot()

    def to_html(self) -> str:
        """The whole page as a string."""
        return "".join(self._chunks())

    def write(self, path: str | os.PathLike) -> Path:
        """Write the report atomically (temp file + rename); returns the path.

        Parameters
        ----------
        path
            The HTML file (written with the umask's permissions, not 0600).

        Returns
        -------
        Path
        """
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "w", encoding="utf-8") as fh:
                for chunk in self._chunks():
                    fh.write(chunk)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is meant to be shared
        return path

    def __repr__(self) -> str:
        return f"Report(title={self.title!r}, sections={[s.title for s in self.sections]})"


CSS = """
:root{--fg:#1f2933;--muted:#616e7c;--line:#e4e7eb;--bg:#ffffff;--soft:#f5f7fa;--accent:#0072B2;
--accent-soft:#e6f1f8;--best:#fff3d6;--warn:#fff4e5;--warn-line:#E69F00;}
*{box-sizing:border-box}
html{scroll-behavior:smooth}
body{margin:0;color:var(--fg);background:var(--soft);font:15px/1.55 -apple-system,BlinkMacSystemFont,"Segoe UI",
Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif;-webkit-font-smoothing:antialiased}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono","DejaVu Sans Mono",monospace;
font-size:.88em}
code{background:#eef2f6;padding:.1em .35em;border-radius:4px}
.container{max-width:1100px;margin:0 auto;padding:0 24px}
.page-header{background:linear-gradient(135deg,#0b3954 0%,#0072B2 100%);color:#fff;padding:28px 0 24px}
.page-header .brand{font-size:12px;letter-spacing:.12em;text-transform:uppercase;opacity:.8}
.page-header h1{margin:4px 0 6px;font-size:28px;line-height:1.2;font-weight:650}
.page-header .subtitle{margin:0 0 10px;font-size:16px;opacity:.92}
.page-header .subtitle code{background:rgba(255,255,255,.18);color:#fff}
.meta{display:flex;flex-wrap:wrap;gap:8px;font-size:12.5px}
.meta span{background:rgba(255,255,255,.16);border-radius:999px;padding:2px 10px}
.layout{padding-top:22px;padding-bottom:24px}
.toc{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:12px 16px;margin:0 0 22px;
font-size:14px}
.toc-title{font-weight:650;font-size:11.5px;text-transform:uppercase;letter-spacing:.08em;color:var(--muted);
margin:0 0 8px}
.toc ol{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:6px 10px}
.toc li a{display:flex;align-items:center;gap:7px;padding:4px 10px 4px 5px;border-radius:999px;color:var(--fg);
text-decoration:none;background:var(--soft);border:1px solid var(--line)}
.toc li a:hover{background:var(--accent-soft);color:var(--accent);border-color:#b3d4ea}
.toc .secnum{min-width:1.5em;height:1.5em;font-size:11.5px;margin:0}
main{min-width:0}
section{background:var(--bg);border:1px solid var(--line);border-radius:10px;padding:20px 24px 22px;margin:0 0 22px;
scroll-margin-top:16px}
h2{display:flex;align-items:center;gap:10px;margin:0 0 12px;font-size:20px;font-weight:650}
h3{font-size:16px;margin:20px 0 8px;font-weight:650}
.secnum{display:inline-flex;align-items:center;justify-content:center;min-width:1.6em;height:1.6em;border-radius:50%;
background:var(--accent);color:#fff;font-size:13px;font-weight:700;flex:none}
.intro{color:var(--muted)}
.prose p{margin:.45em 0 .7em}
.prose ul{margin:.3em 0 .8em;padding-left:1.3em}
.empty{color:var(--muted);font-style:italic}
.metrics{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.metric{flex:1 1 130px;max-width:220px;background:var(--soft);border:1px solid var(--line);border-left:4px solid var(--accent);
border-radius:8px;padding:10px 14px}
.metric-value{font-size:24px;font-weight:650;font-variant-numeric:tabular-nums;line-height:1.2}
.metric-name{font-size:13px;color:var(--muted)}
.metric-note{font-size:11.5px;color:var(--muted);margin-top:2px}
.table-wrap{overflow-x:auto;margin:14px 0}
table{border-collapse:collapse;font-size:13.5px;min-width:50%;font-variant-numeric:tabular-nums}
caption{caption-side:bottom;text-align:left;color:var(--muted);font-size:13px;padding-top:8px}
th,td{padding:6px 12px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
thead th{background:var(--soft);border-bottom:2px solid #cbd2d9;font-weight:650}
th.idx{font-weight:600;color:var(--fg)}
tbody tr:nth-child(even){background:#fafbfc}
tbody tr:hover{background:var(--accent-soft)}
.num{text-align:right}
td.best{font-weight:700;background:var(--best)}
td.na{color:#9aa5b1}
.caption{color:var(--muted);font-size:13px;margin-top:6px}
.figrow{display:flex;flex-wrap:wrap;gap:18px;margin:14px 0;align-items:flex-start}
figure{margin:0;flex:0 1 auto;max-width:100%;min-width:0;background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
.figrow.multi figure{flex:0 1 calc(50% - 9px)}
.figrow.multi figure.wide{flex:1 1 100%}
@media (max-width:800px){.figrow.multi figure{flex:1 1 100%}}
figcaption{color:var(--muted);font-size:13px;margin-top:6px;max-width:560px}
.codeblock pre{background:#1f2933;color:#e4e7eb;padding:12px 14px;border-radius:8px;overflow-x:auto;font-size:12.5px;
line-height:1.5;margin:12px 0 4px}
.callout{border-left:4px solid var(--accent);background:var(--accent-soft);padding:8px 14px;border-radius:6px;margin:12px 0}
.callout.warning{border-left-color:var(--warn-line);background:var(--warn)}
.callout p{margin:.3em 0}
.page-footer{border-top:1px solid var(--line);background:var(--bg);padding:18px 0 26px;color:var(--muted);font-size:13px}
.page-footer .cmd{display:flex;flex-wrap:wrap;align-items:center;gap:10px;margin-bottom:6px}
.page-footer .label{text-transform:uppercase;letter-spacing:.08em;font-size:11px}
.page-footer code{font-size:13px;color:var(--fg)}
@media print{body{background:#fff}.toc{display:none}section{break-inside:avoid;border:none}
.page-header{background:#fff;color:#000}}
"""
