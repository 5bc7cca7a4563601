"""The digest's HTML part as a phone shows it (issue 15 point 4): laid out by a real headless Chromium at 390 px.

What a user would notice on a phone: a digest wider than the screen (sideways scrolling, a page zoomed out to
tiny text, or a subject cut off at the edge), a section heading missing or hidden, text cut off by a box, a count
or a date broken over two lines, a broken-image icon. The sample digest
has every section filled (``tests/digest_sample.py``), once as a real week reads and once with a 200-character
subject without a space, a long address and five-digit counts in every place they can go. The headings checked
are the ones the builder says it produced (``Digest.headings``), so a section added later is checked too.

Without ``chromium`` these tests are skipped with the fix named, except under CI (``CI`` set): they fail, so a
CI image that lost the browser cannot turn the check into a silent pass. Nothing leaves the machine
(``tests/chromium.py``: an empty network namespace, no background services, local files only, and the page is
checked to have loaded nothing).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from chromium import (
    INSTALL_HINT,
    BrowserError,
    Page,
    browser,
    can_isolate_network,
    chromium_binary,
    layout_report,
)
from digest_sample import (
    LONG_ADDRESS,
    ROOT,
    SNAPSHOT,
    SOURCE_KEY,
    UNBREAKABLE_SUBJECT,
    empty_fields,
    png_size,
    png_texts,
    sample,
    sample_html_digest,
    worst_case,
)

from followupd.compose.digest import MAX_LINE, DigestInput, build_digest

PHONE = 390


def need_chromium() -> None:
    """Skip without the browser, naming the fix; under CI fail instead."""
    if chromium_binary() is None:
        reason = f"chromium not found: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must render the digest, not skip it", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(scope="module")
def phone() -> Iterator[Page]:
    """One browser for the module (a start costs seconds), its tab laid out 390 CSS px wide."""
    need_chromium()
    with browser(width=PHONE) as page:
        yield page


def render(page: Page, html: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "digest.html"
    path.write_text(html, encoding="utf-8")
    page.load(path)
    return layout_report(page)


SAMPLES: dict[str, Callable[[], DigestInput]] = {"sample": sample, "worst_case": worst_case}


@pytest.mark.parametrize("name", SAMPLES)
def test_the_samples_fill_every_section_the_builder_knows(name: str) -> None:
    """A section added to DigestInput later and left empty here would go unchecked: the field is named."""
    data = SAMPLES[name]()
    assert empty_fields(data) == [], f"fill these in tests/digest_sample.py: {empty_fields(data)}"
    digest = build_digest(data)
    assert digest is not None
    assert len(digest.headings) == len(digest.sections) and "stats" in digest.sections
    assert digest.headings[digest.sections.index("stats")] == "Last 90 days"


def test_the_counts_beside_the_bars_are_kept_whole_without_a_browser() -> None:
    """The fix the browser check found (five-digit counts broken over two lines), held without a browser too."""
    digest = build_digest(worst_case())
    assert digest is not None
    for count in ("99999", "8333"):
        assert f'white-space:nowrap;min-width:2.5em;margin-left:6px">{count}</span>' in digest.html


@pytest.mark.parametrize("name", SAMPLES)
def test_the_digest_fits_a_phone_with_every_heading_visible_nothing_cut_and_no_images(
        phone: Page, tmp_path: Path, name: str) -> None:
    digest = build_digest(SAMPLES[name]())
    assert digest is not None
    report = render(phone, digest.html, tmp_path)
    assert report["width"] == PHONE  # laid out at the phone's width, not the browser's 500 px minimum
    assert (report["innerWidth"], report["zoom"]) == (PHONE, 1)  # a phone zooms out of a page too wide
    assert report["scrollWidth"] <= PHONE, report["beyond"]
    assert report["beyond"] == []
    assert report["clipped"] == []
    assert report["split"] == []  # a count over two lines reads as two numbers; "Wed 02" and "Dec" as two dates
    assert [h["text"] for h in report["headings"]] == list(digest.headings)
    assert [h["text"] for h in report["headings"] if not h["visible"]] == []
    assert report["images"] == []
    assert report["loaded"] == []  # nothing fetched: no fonts, styles or pictures from anywhere


@pytest.mark.parametrize("name", SAMPLES)
def test_the_text_part_fits_a_phone_too(name: str) -> None:
    digest = build_digest(SAMPLES[name]())
    assert digest is not None
    too_long = [line for line in digest.text.splitlines() if len(line) > MAX_LINE]
    assert too_long == []
    assert all(heading in digest.text for heading in digest.headings)


def test_the_long_subject_and_address_are_shown_whole_not_cut(phone: Page, tmp_path: Path) -> None:
    """Wrapped, never shortened: every character of the long subject and address is on the page."""
    digest = build_digest(worst_case())
    assert digest is not None
    render(phone, digest.html, tmp_path)
    shown = phone.evaluate("document.body.innerText")
    assert isinstance(shown, str)
    flat = "".join(shown.split())
    assert UNBREAKABLE_SUBJECT in flat and LONG_ADDRESS in flat
    assert "...and4more(followupdstatus)" in flat


def test_the_check_itself_sees_a_wide_table_cut_text_a_hidden_heading_and_an_image(
        phone: Page, tmp_path: Path) -> None:
    """The measurement can fail: a page with each fault the digest must not have is caught on each count."""
    bad = ('<!DOCTYPE html><html><head><meta name="viewport" content="width=device-width"></head><body>'
           '<h3>Seen</h3><h3 style="visibility:hidden">Hidden</h3>'
           '<table style="width:600px"><tr><td>wide</td></tr></table>'
           '<div style="width:100px;overflow:hidden;white-space:nowrap">' + "cut " * 40 + "</div>"
           '<p>' + "x" * 300 + '</p><p style="width:3em;overflow-wrap:anywhere">1234567890</p>'
           '<p style="width:6em">due on Wed 02 Dec</p>'
           '<img alt="" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
           "</body></html>")
    report = render(phone, bad, tmp_path)
    assert report["scrollWidth"] > PHONE and report["innerWidth"] > PHONE and report["zoom"] < 1
    assert any(item["what"].startswith("table") for item in report["beyond"])
    assert any(item["what"].startswith("text: xxx") for item in report["beyond"])
    assert [c["what"][:8] for c in report["clipped"]] == ["div: cut"]
    assert report["split"] == ["1234567890", "Wed 02 Dec"]
    assert [(h["text"], h["visible"]) for h in report["headings"]] == [("Seen", True), ("Hidden", False)]
    assert report["images"] == ["img: "]


def test_a_browser_that_does_not_answer_is_an_error_not_a_hang() -> None:
    """Every call has a deadline; a dead pipe is reported with chromium's own words, not waited on forever."""
    need_chromium()
    with browser(width=PHONE) as page:
        page._process.kill()  # the browser dies under the test
        with pytest.raises(BrowserError, match=r"chromium closed its pipe|no answer from chromium"):
            page.evaluate("1")


def test_the_browser_that_rendered_the_digest_has_no_network_not_even_our_own_loopback(phone: Page) -> None:
    """Run as root (CI), the browser is in an empty network namespace: told to open a page served on this
    machine's 127.0.0.1, it gets no connection through, so nothing could reach anything farther either. (Outside
    the namespace the same navigation does connect: the probe can tell the two apart.)"""
    if not can_isolate_network():
        pytest.skip("unshare -n is not allowed here (not root): the browser runs with its flags only")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        answer = phone.call("Page.navigate", {"url": f"http://127.0.0.1:{listener.getsockname()[1]}/"})
        assert answer.get("errorText", "").startswith("net::ERR_"), answer
        listener.settimeout(1)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_the_readme_shows_a_snapshot_of_the_sample_digest_as_the_builder_makes_it_now() -> None:
    """docs/digest.png is the sample digest at 390 px, made from today's HTML (no browser needed to check that)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "](docs/digest.png)" in readme
    assert SNAPSHOT.is_file(), "no docs/digest.png: run ./scripts/digest-snapshot"
    png = SNAPSHOT.read_bytes()
    width, height = png_size(png)
    assert width == PHONE and height > PHONE
    assert png_texts(png).get(SOURCE_KEY) == sample_html_digest(), (
        "the digest's HTML changed since docs/digest.png was made: run ./scripts/digest-snapshot and commit it")
