#!/usr/bin/env python
"""Screenshot an HTML report (or any local HTML file) to PNG with headless Chromium.

    python scripts/render_report.py runs/demo/report.html report.png [--width 1200] [--height 2400]

Uses `chromium` (Debian: ``apt-get install -y chromium``), `chromium-browser` or `google-chrome`, whichever is
found first, or the binary named by ``--chromium`` / ``$CHROMIUM``. Network features are switched off: the
report is self-contained and the page is loaded from a file:// URL.

``--full-page`` captures the whole page (up to 12,000 px): headless Chromium cannot size the window to the page
without JavaScript, so it renders a very tall window and crops the blank rows below the content (needs
matplotlib, which bindscape installs).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CANDIDATES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def find_chromium(explicit: str | None = None) -> str:
    for name in ([explicit] if explicit else []) + ([os.environ["CHROMIUM"]] if os.environ.get("CHROMIUM") else []) + CANDIDATES:
        path = shutil.which(name) if name else None
        if path:
            return path
    raise SystemExit(
        "error: headless Chromium not found (looked for " + ", ".join(CANDIDATES) + ").\n"
        "hint: on Debian/Ubuntu run `apt-get install -y chromium`, or pass --chromium /path/to/chrome"
    )


def crop_trailing_white(png: Path) -> None:
    """Trim uniform background rows at the bottom (for --full-page). Needs matplotlib; skips otherwise."""
    try:
        import numpy as np
        from matplotlib import image as mpimg
    except ImportError:  # pragma: no cover
        return
    img = mpimg.imread(png)
    rgb = img[..., :3]
    bg = rgb[-1, -1]
    rows = np.where(np.abs(rgb - bg).max(axis=(1, 2)) > 1e-3)[0]
    if rows.size and rows[-1] + 20 < img.shape[0]:
        mpimg.imsave(png, img[: rows[-1] + 20])


def render(html: Path, png: Path, width: int = 1200, height: int = 2400, chromium: str | None = None,
           full_page: bool = False, timeout: float = 120.0) -> Path:
    html = Path(html).resolve()
    if not html.exists():
        raise SystemExit(f"error: {html} does not exist")
    png = Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    exe = find_chromium(chromium)
    h = max(height, 12000) if full_page else height
    with tempfile.TemporaryDirectory(prefix="bindscape-chromium-") as profile:
        cmd = [exe, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={width},{h}",
               html.as_uri()]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SystemExit(f"error: chromium did not finish within {timeout:.0f} s") from None
    if res.returncode != 0 or not png.exists():
        tail = "\n".join((res.stderr or "").strip().splitlines()[-8:])
        raise SystemExit(f"error: chromium failed (exit {res.returncode}):\n{tail}")
    if full_page:
        crop_trailing_white(png)
    return png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html", type=Path, help="HTML file to render")
    ap.add_argument("png", type=Path, nargs="?", help="output PNG (default: next to the HTML, .png)")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("--height", type=int, default=2400)
    ap.add_argument("--full-page", action="store_true", help="render a tall window and crop the blank bottom")
    ap.add_argument("--chromium", default=None, help="path or name of the Chromium/Chrome binary")
    args = ap.parse_args(argv)
    out = render(args.html, args.png or args.html.with_suffix(".png"), args.width, args.height, args.chromium,
                 args.full_page)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
