"""Issue 18, point 6: ``[cadence] recipient_time = true`` applies send hours on the recipient's clock, learned
from the UTC offsets in the Date headers of their own mail, and ``preview`` and ``explain`` say so.

The rules of learning are pure (planning.recipient_clock); the rest runs the real ``followupd`` command against
the real Dovecot, with the recipient's mail delivered over LMTP as it would arrive.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config
from mailfactory import make_message

from followupd.planning.recipient_clock import (
    REMEMBERED,
    decode,
    describe,
    encode,
    likely_offset,
    meta_key,
    remember,
    utc_offset_minutes,
    zone_for,
)

BOB = "bob@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
# 3 business days later, Monday 9 November: 09:00 in New York (UTC-05:00) is 14:00 UTC.
THEIR_NINE = datetime(2026, 11, 9, 14, 0, tzinfo=UTC)


# ------------------------------------------------------------------------------------------------ pure rules


def test_the_most_frequent_offset_wins_and_a_tie_goes_to_the_latest() -> None:
    assert likely_offset([]) is None
    assert likely_offset([-300, -300, 60]) == -300          # one message from a trip does not move the clock
    assert likely_offset([-300, 60]) == 60                   # a tie: the latest
    assert likely_offset([-300, -300, -240, -240, -240]) == -240  # a DST change, after a few messages
    kept = remember(list(range(-REMEMBERED, 0)), [330, 330])
    assert len(kept) == REMEMBERED and kept[-2:] == [330, 330]


def test_offsets_are_read_from_dates_and_stored_safely() -> None:
    assert utc_offset_minutes(datetime(2026, 1, 1, tzinfo=zone_for(330))) == 330
    assert utc_offset_minutes(None) is None
    assert utc_offset_minutes(datetime(2026, 1, 1)) is None  # no zone at all
    assert utc_offset_minutes(datetime(2026, 1, 1, tzinfo=zone_for(20 * 60))) is None  # no such zone on Earth
    assert describe(-300) == "UTC-05:00" and describe(330) == "UTC+05:30" and describe(0) == "UTC+00:00"
    assert decode(encode([60, -300])) == [60, -300]
    for junk in (None, "", "{", '{"a": 1}', '["x", 99999, 60]'):
        assert decode(junk) in ([], [60])
    assert len(meta_key("Someone.With.A.Very.Long.Name@" + "sub." * 60 + "example.org")) <= 64
    assert meta_key("Bob@Example.org") == meta_key("bob@example.org")


# ------------------------------------------------------------------------------------------------ end to end


def make_account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path, *, recipient_time: bool) -> Account:
    acct = Account(dovecot, mail_user, tmp_path / "acct")
    acct.write_config(default_config(mail_user, acct.workdir, cadence=f"""
[cadence]
gaps = ["3bd", "1w", "2w", "4w"]
send_days = ["mon", "tue", "wed", "thu", "fri"]
send_hours = "09:00-17:00"
jitter = "0m"
recipient_time = {str(recipient_time).lower()}
"""))
    return acct


def bob_writes_from_new_york(account: Account) -> None:
    for day, subject in ((2, "Lunch?"), (3, "Re: Lunch?")):
        account.server.deliver_lmtp(account.user, make_message(
            from_=f"Bob Builder <{BOB}>", to=account.user.address, subject=subject,
            date=f"{['Mon', 'Tue'][day - 2]}, 0{day} Nov 2026 08:15:00 -0500"))
    # An auto-reply from his server, in UTC, teaches nothing.
    account.server.deliver_lmtp(account.user, make_message(
        from_=f"Bob Builder <{BOB}>", to=account.user.address, subject="Automatic reply: Lunch?",
        auto_submitted="auto-replied", date="Tue, 03 Nov 2026 13:20:00 +0000"))


def seed(account: Account) -> None:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>",
                       subject="Quote for the garden shed", date=SENT_AT, bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])


@pytest.mark.parametrize("recipient_time", [True, False])
def test_send_hours_follow_the_recipients_clock(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                                 recipient_time: bool) -> None:
    account = make_account(dovecot, mail_user, tmp_path, recipient_time=recipient_time)
    bob_writes_from_new_york(account)
    seed(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    (thread,) = account.status()
    due = datetime.fromisoformat(thread["next_due"])
    explained = account.run("explain", thread["id"], now=SENT_AT + timedelta(hours=1)).stdout
    previewed = account.run("preview", "--thread", thread["id"], now=SENT_AT + timedelta(hours=1)).stdout
    if not recipient_time:  # the user's own zone (UTC): Monday 10:00, the time of day of the original
        assert due == datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
        assert "recipient's clock" not in explained and "theirs" not in previewed
        return
    assert due == THEIR_NINE  # Monday 05:00 in New York waits for their 09:00
    assert "recipient's clock: UTC-05:00 (bob@example.org, from the Date headers of their mail)" in explained
    assert "recipient's clock: UTC-05:00" in previewed
    assert "Mon 09 Nov 2026 14:00 (09:00 theirs)" in previewed

    account.poll(now=datetime(2026, 11, 9, 10, 30, tzinfo=UTC))  # inside the user's hours, not Bob's
    assert account.drafts() == []
    account.poll(now=THEIR_NINE + timedelta(minutes=1))
    assert len(account.drafts()) == 1


def test_without_mail_from_the_recipient_the_users_zone_is_used_and_said(dovecot: DovecotServer,
                                                                         mail_user: MailUser,
                                                                         tmp_path: Path) -> None:
    account = make_account(dovecot, mail_user, tmp_path, recipient_time=True)
    seed(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    (thread,) = account.status()
    assert datetime.fromisoformat(thread["next_due"]) == datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
    explained = account.run("explain", thread["id"], now=SENT_AT + timedelta(hours=1)).stdout
    assert "recipient's clock: not known yet; send hours apply in your zone (UTC)" in explained

    bob_writes_from_new_york(account)  # Bob writes (about something else): his clock is learned, the plan moves
    account.poll(now=SENT_AT + timedelta(hours=2))
    assert datetime.fromisoformat(account.status()[0]["next_due"]) == THEIR_NINE
