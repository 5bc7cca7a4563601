"""Commands by mail, the pure parts (issue 15 point 3): the command grammar of the tracking suffix, reading what
a forward forwards (Outlook, Gmail and Apple Mail formats, and an attached message/rfc822), and the list of
commands that were not applied. No server: plain data in, plain data out."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage

import pytest
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail.forwarded import read_forwarded
from followupd.planning.commands import (
    MAX_ORPHANS,
    OrphanCommand,
    Verb,
    add_orphan,
    decode_orphans,
    find_command,
    parse_command,
    recent_orphans,
)
from followupd.planning.tracking import find_tracking

WEDNESDAY = date(2026, 11, 4)
TRACKING = "me+followup@example.com"


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when the forward reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


@pytest.mark.parametrize(("suffix", "verb", "until"), [
    ("stop", Verb.STOP, None),
    ("STOP", Verb.STOP, None),
    ("done", Verb.DONE, None),
    ("snooze-2w", Verb.SNOOZE, date(2026, 11, 18)),
    ("snooze-5d", Verb.SNOOZE, date(2026, 11, 9)),
    ("snooze-3bd", Verb.SNOOZE, date(2026, 11, 9)),   # Thu, Fri, (weekend), Mon
    ("snooze.fri", Verb.SNOOZE, date(2026, 11, 6)),
    ("snooze-dec15", Verb.SNOOZE, date(2026, 12, 15)),
    ("snooze_2026-12-01", Verb.SNOOZE, date(2026, 12, 1)),
])
def test_command_words_are_read_with_the_suffix_grammar(suffix: str, verb: Verb, until: date | None) -> None:
    command = parse_command(suffix, sent_on=WEDNESDAY)
    assert command is not None
    assert (command.verb, command.until, command.problem) == (verb, until, None)


@pytest.mark.parametrize(("suffix", "words"), [
    ("snooze-xyz", "snooze-xyz"),
    ("snooze", "needs a duration"),
    ("snooze-99999d", "more than"),
    ("stop-now", "takes nothing after it"),
    ("done-5d", "takes nothing after it"),
])
def test_a_malformed_command_is_a_command_with_a_problem_never_a_tracking_suffix(suffix: str, words: str) -> None:
    command = parse_command(suffix, sent_on=WEDNESDAY)
    assert command is not None and command.until is None
    assert command.problem is not None and words in command.problem


@pytest.mark.parametrize("suffix", ["5d", "fri", "dec15", "me", "me-3d", "actions", "all", "stopp", "stops",
                                    "someday", "doner"])
def test_tracking_suffixes_are_no_commands(suffix: str) -> None:
    assert parse_command(suffix, sent_on=WEDNESDAY) is None


def test_find_command_looks_only_at_the_tracking_address_and_prefers_one_that_obeys() -> None:
    assert find_command(["bob@example.org", "me+followup@example.com"], TRACKING, sent_on=WEDNESDAY) is None
    assert find_command(["me+followup-stop@elsewhere.org"], TRACKING, sent_on=WEDNESDAY) is None
    found = find_command(["Me <me+followup-snooze-xyz@example.com>", "me+followup-stop@example.com"], TRACKING,
                         sent_on=WEDNESDAY)
    assert found is not None and found.verb is Verb.STOP and found.problem is None


def test_existing_tracking_suffixes_still_track_as_before() -> None:
    request = find_tracking(["me+followup-5d@example.com"], TRACKING, sent_on=WEDNESDAY)
    assert request is not None and request.promised == date(2026, 11, 9) and request.problem is None


# ------------------------------------------------------------------------------------------ forwards
ORIGINAL_ID = "<quote-1234@example.com>"


def original() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Me <me@example.com>"
    message["To"] = "Bob Builder <bob@example.org>"
    message["Subject"] = "Quote for the garden shed"
    message["Message-ID"] = ORIGINAL_ID
    message.set_content("Hi Bob, could you send the quote?\n")
    return message


def forward(body: str) -> bytes:
    message = EmailMessage()
    message["From"] = "me@example.com"
    message["To"] = "me+followup-stop@example.com"
    message["Subject"] = "Fwd: Quote for the garden shed"
    message.set_content(body)
    return message.as_bytes()


def test_an_attached_message_gives_its_message_id() -> None:
    message = EmailMessage()
    message["From"] = "me@example.com"
    message["Subject"] = "FW: Quote for the garden shed"
    message.set_content("see attached\n")
    message.add_attachment(original())  # message/rfc822, as Outlook's and Apple Mail's "as attachment"
    found = read_forwarded(message.as_bytes())
    assert found.message_ids == (ORIGINAL_ID,)


GMAIL = """stop this one

---------- Forwarded message ---------
From: Me <me@example.com>
Date: Wed, Nov 4, 2026 at 10:00 AM
Subject: Quote for the garden shed
To: Bob Builder <bob@example.org>


Hi Bob, could you send the quote?
"""
OUTLOOK_HTML = """<p>stop</p><hr><div><b>From:</b> Me &lt;me@example.com&gt;<br><b>Sent:</b> Wednesday,
November 4, 2026 10:00 AM<br><b>To:</b> Bob Builder &lt;bob@example.org&gt;<br><b>Subject:</b> Quote for the
garden shed</div><p>Hi Bob, could you send the quote?</p>"""
APPLE = """Begin forwarded message:

> From: Me <me@example.com>
> Subject: Quote for the garden shed
> Date: 4 November 2026 at 10:00:00 CET
> To: Bob Builder <bob@example.org>
>
> Hi Bob, could you send the quote?
"""
THUNDERBIRD = """-------- Forwarded Message --------
Subject: 	Quote for the garden shed
Date: 	Wed, 4 Nov 2026 10:00:00 +0100
From: 	Me <me@example.com>
To: 	Bob Builder <bob@example.org>
Message-ID: 	<quote-1234@example.com>

Hi Bob
"""


@pytest.mark.parametrize("body", [GMAIL, APPLE], ids=["gmail", "apple-mail"])
def test_inline_forwards_without_message_id_give_their_header_block(body: str) -> None:
    found = read_forwarded(forward(body))
    assert found.message_ids == ()
    assert [(b.sender, b.subject, b.recipients) for b in found.blocks] == [
        ("me@example.com", "Quote for the garden shed", ("bob@example.org",))]


def test_an_outlook_html_forward_gives_its_header_block() -> None:
    message = EmailMessage()
    message["From"] = "me@example.com"
    message["Subject"] = "FW: Quote for the garden shed"
    message.set_content(OUTLOOK_HTML, subtype="html")  # Outlook sends HTML; the block is bold labels and <br>
    found = read_forwarded(message.as_bytes())
    assert [(b.sender, b.subject, b.recipients) for b in found.blocks] == [
        ("me@example.com", "Quote for the garden shed", ("bob@example.org",))]


def test_an_inline_forward_that_shows_the_message_id_gives_it() -> None:
    found = read_forwarded(forward(THUNDERBIRD))
    assert found.message_ids == (ORIGINAL_ID,)


def test_broken_or_empty_input_forwards_nothing() -> None:
    for raw in (None, b"", b"\xff\xfe garbage without headers", b"Content-Type: multipart/mixed\r\n\r\n--x"):
        found = read_forwarded(raw)
        assert found.message_ids == ()


# ------------------------------------------------------------------------------------------ not applied
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def orphan(message_id: str, at: datetime = NOW) -> OrphanCommand:
    return OrphanCommand(message_id=message_id, at=at.isoformat(), where="Sent:3", suffix="stop",
                         problem="it refers to no tracked thread")


def test_a_command_not_applied_is_kept_once_and_shown_for_a_while() -> None:
    stored = add_orphan(None, orphan("<a@x>"))
    assert stored is not None
    assert add_orphan(stored, orphan("<a@x>")) is None  # its other copy (Sent vs delivered)
    stored = add_orphan(stored, orphan("<old@x>", NOW - timedelta(days=40)))
    assert stored is not None
    assert [o.message_id for o in decode_orphans(stored)] == ["<a@x>", "<old@x>"]
    assert [o.message_id for o in recent_orphans(stored, NOW)] == ["<a@x>"]


def test_the_list_keeps_only_the_newest_and_survives_garbage() -> None:
    stored: str | None = None
    for number in range(MAX_ORPHANS + 5):
        stored = add_orphan(stored, orphan(f"<{number}@x>")) or stored
    assert len(decode_orphans(stored)) == MAX_ORPHANS
    assert decode_orphans(stored)[-1].message_id == f"<{MAX_ORPHANS + 4}@x>"
    assert decode_orphans("not json") == [] and decode_orphans('[{"x": 1}]') == []


# ------------------------------------------------------------------------------------------ the lifecycle
def test_a_moved_check_in_is_the_promise_before_any_follow_up_and_a_floor_after() -> None:
    from test_state_owner import FakeThread, FakeTouch

    from followupd.planning import lifecycle
    from followupd.planning.lifecycle import ThreadState, TouchState

    until = NOW + timedelta(days=3)
    draft = FakeTouch(state=TouchState.QUEUED)
    fresh = FakeThread(touch_rows=[draft])
    assert lifecycle.check_in_moved(fresh, day=until.date(), until=until, now=NOW)
    assert (fresh.promised, fresh.snoozed_until) == (until.date(), until)
    assert draft.state == TouchState.WITHDRAWN  # it was for the old date

    touched = FakeThread(steps=2, snoozed_until=NOW + timedelta(days=30))
    assert lifecycle.check_in_moved(touched, day=until.date(), until=until, now=NOW)
    assert (touched.promised, touched.snoozed_until) == (None, until)  # the user's word replaces an old hold

    stopped = FakeThread(state=ThreadState.STOPPED)
    assert not lifecycle.check_in_moved(stopped, day=until.date(), until=until, now=NOW)
    assert stopped.snoozed_until is None
