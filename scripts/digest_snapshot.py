#!/usr/bin/env python3
"""Photographs the sample weekly digest at a phone's width for the README: ``./scripts/digest-snapshot``.

Writes ``docs/digest.png``: the HTML part of the digest of ``tests/digest_sample.py``'s sample week, laid out by
headless Chromium at 390 CSS px (one pixel each) from top to bottom, exactly as ``tests/test_digest_render.py``
checks it. The picture is taken only when that same check passes (nothing wider than the screen, nothing cut,
every heading visible, no images), so the README never shows a broken layout. The PNG records the SHA-256 of the
HTML it shows; the test says when the digest has changed since and this script should be run again.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from chromium import INSTALL_HINT, BrowserError, browser, chromium_binary, layout_report
from digest_sample import SNAPSHOT, SOURCE_KEY, png_size, sample, sample_html_digest, with_png_text

from followupd.compose.digest import build_digest

WIDTH = 390


def problems(report: dict[str, Any], headings: tuple[str, ...]) -> list[str]:
    """What the layout check found wrong, in words; empty when the digest may be photographed."""
    found = []
    if report["width"] != WIDTH or report["scrollWidth"] != WIDTH:
        found.append(f"laid out {report['scrollWidth']} px wide, not {WIDTH}")
    for key in ("beyond", "clipped", "split", "images", "loaded"):
        if report[key]:
            found.append(f"{key}: {report[key]}")
    shown = [h["text"] for h in report["headings"] if h["visible"]]
    if shown != list(headings):
        found.append(f"headings seen {shown}, expected {list(headings)}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SNAPSHOT, help=f"where to write the PNG (default {SNAPSHOT})")
    args = parser.parse_args()
    if chromium_binary() is None:
        print(f"digest-snapshot: chromium not found: {INSTALL_HINT}", file=sys.stderr)
        return 1
    digest = build_digest(sample())
    assert digest is not None
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "digest.html"
        page_file.write_text(digest.html, encoding="utf-8")
        try:
            with browser(width=WIDTH) as page:
                page.load(page_file)
                wrong = problems(layout_report(page), digest.headings)
                png = page.screenshot(WIDTH)
        except BrowserError as error:
            print(f"digest-snapshot: {error}", file=sys.stderr)
            return 1
    if wrong:
        print("digest-snapshot: the sample digest does not fit a phone; no picture taken:\n  "
              + "\n  ".join(wrong), file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(with_png_text(png, SOURCE_KEY, sample_html_digest()))
    width, height = png_size(png)
    print(f"wrote {args.out} ({width} x {height} px, {len(png) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
