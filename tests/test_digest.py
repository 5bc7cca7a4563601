"""The weekly digest's builder and period (issue 15 point 1), from plain records: no server, no database.

What a user would notice: a section appears only when it has something to say, nothing at all means no digest,
the text part fits a phone (every line <= 78 characters, even with a very long subject), the HTML part is one
narrow column without tables or images, and the digest's period starts at the configured weekday and time in
the user's own time zone.
"""

from __future__ import annotations

import email
from datetime import UTC, date, datetime, time
from email import policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.compose.digest import (
    MAX_LINE,
    DigestClosed,
    DigestCommand,
    DigestDraft,
    DigestInput,
    DigestItem,
    DigestPromise,
    DigestThread,
    build_digest,
)
from followupd.compose.message import build_digest_message
from followupd.config import load_config
from followupd.engine.digest import digest_marker, is_digest_id, period_start
from followupd.errors import ConfigError
from followupd.mail.headers import Address
from followupd.planning.stats import ThreadStats, TouchCount

TODAY = date(2026, 11, 30)  # a Monday
LONG = "Quote for the new roof, the gutters, the chimney and " + "a subject that never ends " * 6

STATS = ThreadStats(tracked=10, replied=4, reply_rate=0.4,
                    by_touch=(TouchCount(0, 2), TouchCount(1, 1), TouchCount(2, 1)), by_template=(),
                    median_days_to_reply=3.0, median_touches_to_reply=1.0, declined=1, bounced=0)


def full() -> DigestInput:
    return DigestInput(
        today=TODAY, user_name="Alex Example",
        waiting=[DigestThread("Bob Builder", LONG, 9, 1, date(2026, 12, 2)),
                 DigestThread("ann@example.org", "Lunch?", 2, 0, None)],
        drafts=[DigestDraft("Carol", "Re: Contract", date(2026, 11, 28)),
                DigestDraft("Dan", "Re: Older one", date(2026, 11, 20))],
        promises=[DigestPromise("Hal", "Garden shed", date(2026, 12, 3)),
                  DigestPromise("Ida", "Budget", date(2026, 11, 26))],
        items=[DigestItem("Dana", "Send the slides", date(2026, 11, 27)),
               DigestItem("Dana", "Book the room", None)],
        closed=[DigestClosed("Invoice", "Eve", "replied", by="eve@example.org", touches=2),
                DigestClosed("Old plan", "Fay", "unanswered", touches=4),
                DigestClosed("Offer", "Gus", "declined"), DigestClosed("Typo", "nobody@nowhere", "bounced")],
        stats=STATS)


def test_every_section_with_data_appears_in_both_parts_and_lines_fit_a_phone() -> None:
    digest = build_digest(full())
    assert digest is not None
    assert digest.sections == ("waiting", "drafts", "promises", "items", "closed", "stats")
    assert digest.subject == "Your follow-ups this week: 2 waiting, 2 drafts, 2 promises, 2 open items, 4 closed"
    for title in ("Who owes you a reply", "Drafts waiting for your review", "Your promises due this week",
                  "Action items by owner",
                  "Closed since the last digest", "Last 90 days"):
        assert title in digest.text and title in digest.html
    lines = digest.text.splitlines()
    assert max(len(line) for line in lines) <= MAX_LINE
    assert "9 days waiting, 1 follow-up so far, next check-in Wed 02 Dec" in " ".join(digest.text.split())
    assert "overdue since Fri 27 Nov" in digest.text
    assert "Ida: Budget (overdue since Thu 26 Nov)" in digest.text
    assert "Hal: Garden shed (due Thu 03 Dec)" in digest.text
    assert "eve@example.org replied after 2 follow-ups" in digest.text
    assert "no reply after 4 follow-ups" in digest.text and "Offer (Gus): declined" in digest.text
    assert "Typo (nobody@nowhere): bounced" in digest.text
    assert "4 of 10 threads replied (40 %)" in digest.text and "█" in digest.text
    # Oldest draft first; the thread waiting longest first.
    assert digest.text.index("Re: Older one") < digest.text.index("Re: Contract")
    assert digest.text.index("Bob Builder") < digest.text.index("ann@example.org")


def test_the_html_is_one_narrow_column_without_tables_or_images_and_escapes_what_people_wrote() -> None:
    data = full()
    data = DigestInput(today=data.today, waiting=[DigestThread("<script>x</script>", "A & B", 3, 0, None)],
                       stats=STATS)
    digest = build_digest(data)
    assert digest is not None
    assert "max-width:600px" in digest.html and 'name="viewport"' in digest.html
    assert "<table" not in digest.html and "<img" not in digest.html
    assert "<script>" not in digest.html and "&lt;script&gt;" in digest.html and "A &amp; B" in digest.html
    assert "width:100%" in digest.html and "width:50%" in digest.html  # CSS bars: 2, 1, 1 replies
    assert digest.text.startswith("Hello,\n")


def test_sections_without_data_are_left_out() -> None:
    digest = build_digest(DigestInput(today=TODAY, drafts=[DigestDraft("Carol", "Re: Contract", TODAY)]))
    assert digest is not None
    assert digest.sections == ("drafts",)
    assert "Who owes you a reply" not in digest.text and "Last 90 days" not in digest.text
    assert "Action items" not in digest.html and "Closed since" not in digest.html


def test_nothing_to_report_is_no_digest_even_with_old_stats() -> None:
    assert build_digest(DigestInput(today=TODAY)) is None
    assert build_digest(DigestInput(today=TODAY, stats=STATS)) is None


def test_a_long_list_is_cut_short_and_says_how_many_more() -> None:
    many = [DigestThread(f"person{n}@example.org", f"Subject {n}", n, 0, None) for n in range(20)]
    digest = build_digest(DigestInput(today=TODAY, waiting=many))
    assert digest is not None
    assert "... and 8 more (followupd status)" in digest.text
    assert digest.text.count("person") == 12


def test_the_message_is_multipart_alternative_from_the_user_with_our_marker() -> None:
    digest = build_digest(full())
    assert digest is not None
    raw = build_digest_message(subject=digest.subject, text=digest.text, html=digest.html,
                               from_=Address("alex@example.com", "Alex Example"),
                               message_id="<followupd.digest-1@example.com>", followupd_id="digest-ab12cd34-2026-11-30",
                               date=datetime(2026, 11, 30, 8, tzinfo=UTC))
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == ["text/plain", "text/html"]
    assert message["From"] == message["To"] == "Alex Example <alex@example.com>"
    assert message["X-Followupd-Id"] == "digest-ab12cd34-2026-11-30"
    assert message["Auto-Submitted"] == "auto-generated"
    plain = message.get_body(("plain",))
    assert plain is not None and plain.get_content().replace("\r\n", "\n") == digest.text  # CRLF on the wire
    assert raw.isascii()


def _config(tmp_path: Path, digest: str = "", zone: str = "Europe/Berlin") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[account]
host = "imap.example.com"
username = "alex@example.com"
password_env = "X"
[identity]
timezone = "{zone}"
[tracking]
address = "alex+followup@example.com"
[database]
url = "sqlite:///{tmp_path / 'state.db'}"
{digest}
""")
    return path


def test_the_period_starts_on_the_configured_day_and_local_time(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    assert (config.digest.enabled, config.digest.weekday, config.digest.at) == (True, 0, time(8, 0))
    berlin = ZoneInfo("Europe/Berlin")
    monday_8 = datetime(2026, 11, 30, 8, 0, tzinfo=berlin)
    assert period_start(monday_8, config) == monday_8
    assert period_start(datetime(2026, 11, 30, 7, 59, tzinfo=berlin), config) == datetime(2026, 11, 23, 8,
                                                                                          tzinfo=berlin)
    assert period_start(datetime(2026, 12, 6, 23, 0, tzinfo=berlin), config) == monday_8
    friday = load_config(_config(tmp_path, '[digest]\nday = "friday"\ntime = "17:30"\nenabled = false'))
    assert (friday.digest.enabled, friday.digest.weekday, friday.digest.at) == (False, 4, time(17, 30))
    assert period_start(datetime(2026, 12, 1, 12, tzinfo=UTC), friday) == datetime(2026, 11, 27, 17, 30,
                                                                                   tzinfo=berlin)


def test_markers_name_the_account_and_period_and_never_look_like_a_touch_or_reminder(tmp_path: Path) -> None:
    config = load_config(_config(tmp_path))
    marker = digest_marker(config, "2026-11-30")
    assert marker.startswith("digest-") and marker.endswith("-2026-11-30") and is_digest_id(marker)
    assert not is_digest_id("0123456789abcdef-001") and not is_digest_id("0123456789abcdef.r001")
    path = _config(tmp_path)
    path.write_text(path.read_text().replace('username = "alex@example.com"', 'username = "bob@example.com"'))
    assert digest_marker(load_config(path), "2026-11-30") != marker  # another account, another marker


@pytest.mark.parametrize(("section", "key", "hint"), [
    ('[digest]\nday = "someday"', "day", "mon..sun"),
    ('[digest]\ntime = "8am"', "time", "HH:MM"),
    ('[digest]\ntime = "24:00"', "time", "HH:MM"),
    ("[digest]\nenabled = \"yes\"", "enabled", "true or false"),
])
def test_bad_digest_settings_name_the_key_the_value_and_the_fix(tmp_path: Path, section: str, key: str,
                                                                hint: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(_config(tmp_path, section))
    assert f"[digest] {key}" in str(raised.value) and hint in str(raised.value)


def test_commands_by_mail_are_confirmed_and_unapplied_ones_said_with_why() -> None:
    """A command sent from a phone is news by itself: the digest confirms it, or says why it was not applied."""
    digest = build_digest(DigestInput(today=TODAY, commands=[
        DigestCommand("+followup-stop", LONG, "you stopped following up on this thread by mail"),
        DigestCommand("+followup-snooze-xyz", "", "'xyz' is not a date form; use 2w, 5d, fri or dec15",
                      applied=False),
    ]))
    assert digest is not None and "commands" in digest.sections
    assert "Your commands by mail" in digest.text and "2 commands" in digest.subject
    assert "+followup-stop on Quote for the new roof" in digest.text
    assert "+followup-snooze-xyz: not applied: 'xyz' is not a date form" in " ".join(digest.text.split())
    assert all(len(line) <= MAX_LINE for line in digest.text.splitlines())
    assert "not applied" in digest.html and "&#x27;xyz&#x27;" in digest.html
