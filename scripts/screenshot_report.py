"""A PNG of an HTML report as headless Chromium shows it (docs/report.png is made this way).

    .venv/bin/python scripts/screenshot_report.py REPORT.html OUT.png [--height 2600]
        [--scale 0.6] [--flag truncated] [--hide provenance,significance]

The window is 1,400 CSS pixels wide; ``--scale`` shrinks the picture (device pixels per CSS
pixel) to keep the file small, ``--height`` is how much of the page, in CSS pixels, it shows.
``--flag`` sets the first segment browser's flag filter first, ``--hide`` leaves sections out
of the picture (by their id), so that more of the rest fits.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.devtools.chromium import Browser  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--height", type=int, default=2600)
    parser.add_argument("--scale", type=float, default=0.6)
    parser.add_argument("--flag", default="")
    parser.add_argument("--hide", default="")
    args = parser.parse_args()
    with Browser(width=1400, height=900) as browser:
        browser.goto(args.report.resolve().as_uri())
        if browser.console_errors():
            raise SystemExit(f"errors in the page: {browser.console_errors()}")
        for section in filter(None, args.hide.split(",")):
            browser.evaluate(f"document.getElementById({json.dumps(section)}).remove()")
        if args.flag:
            browser.evaluate(
                "(() => { const v = Object.values(window.__report.views)[0];"
                f" v.showFlag({json.dumps(args.flag)}, -1); window.scrollTo(0, 0); }})()"
            )
        browser.screenshot(args.out, clip_height=args.height, scale=args.scale)
    print(f"{args.out}: {args.out.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
