"""End to end over the realistic mail corpus (tests/data/mail/): every out-of-office notice, delivery report and
reply text the unit tests parse is delivered by LMTP to the real Dovecot and read by the real ``followupd``.

Each case gets its own mailbox user: a tracked message (Bcc the tracking address) is filed in Sent, the fixture
is rewritten to answer it (its In-Reply-To/References/X-MS-Exchange-Parent-Message-Id and the original's id
inside a report now name the tracked message, its To is the test user, a report's failed recipient is the
thread's recipient; every other byte is the fixture's own) and delivered, then ONE ``followupd poll`` (Sent is
read before INBOX, so the thread exists before its answer is matched) and ``followupd status`` say what came of
it. One poll per case instead of two keeps ~35 cases inside a minute; test_e2e_real_mail.py covers the
seed-then-poll-again rhythm. Notices and reports without threading headers stay without them (they must be
found by subject or by the copy of the original inside the report, as in real life); reply texts without
one get an In-Reply-To, since what they test is how their words are read.

The corpus has fixed dates (4 March 2024, the originals say "Mon, 4 Mar 2024 10:00:00 +0100"), so the tracked
message is dated then and FOLLOWUPD_NOW is pinned an hour after each fixture's own Date: the return dates lie
two weeks out, well inside the 90-day horizon. Expected outcomes come from the tables below, written from what
each message says, not from the code under test.
"""

from __future__ import annotations

import email
import email.utils
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

CORPUS = Path(__file__).parent / "data" / "mail"
SENT_AT = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # Monday 4 March 2024, 10:00 +0100 as in the corpus's copies
#: The ids the corpus's answers refer to (one per conversation in it).
FIXTURE_IDS = ("<CAK7x9Q3proposal@mail.gmail.com>", "<20240304090000.GA1234@example.com>", "<devis-1@example.com>",
               "<offerte-1@example.com>")
#: Who the delivery-report threads were sent to; each report's failed address is rewritten to it.
RECIPIENT = "robin@partner.example"
THREADING_HEADERS = (b"in-reply-to", b"references", b"x-ms-exchange-parent-message-id")

# ---------------------------------------------------------------------------------------------- the tables

#: Out-of-office notices: fixture, subject of the tracked message, first working day back as the notice says it
#: (None: it names no return date, so the documented default of one week applies).
OOO_CASES: list[tuple[str, str, date | None]] = [
    ("ooo/dovecot_vacation.eml", "Proposal for Q3", date(2024, 3, 18)),  # "back in the office on Monday 18 March"
    ("ooo/exchange_oof_de.eml", "Angebot", date(2024, 3, 18)),  # "bis einschließlich 15.03.2024", "Ab dem 18.03."
    ("ooo/exchange_oof_en.eml", "Proposal for Q3", date(2024, 3, 18)),  # "until Friday, 15 March 2024"
    ("ooo/exchange_oof_fr.eml", "Devis", date(2024, 3, 18)),  # "du 4 au 15 mars 2024 inclus", "le lundi 18 mars"
    ("ooo/gmail_vacation.eml", "Proposal for Q3", date(2024, 3, 18)),  # only the subject: "Away until 18 March"
    ("ooo/no_date_ooo.eml", "Proposal for Q3", None),  # "15.03.2024-77" is an order number, not a date
    ("ooo/yahoo_vacation.eml", "Proposta", date(2024, 3, 18)),  # "até 15 de março", "Regresso no dia 18"
    ("ooo/zimbra_ooo.eml", "Offerte", date(2024, 3, 18)),  # "tot en met 15 maart", "Vanaf maandag 18 maart"
    ("exchange_ooo.eml", "Proposal for Q3", None),  # headers only
    ("gmail_vacation.eml", "Proposal for Q3", date(2024, 3, 18)),  # headers only: "Away until 18 March"
]

#: Delivery reports: fixture, the address it reports on (rewritten to RECIPIENT), and either ("failed", words
#: that must show in the thread's problems: the status the report gives, else its own words) or ("waiting", None).
DSN_CASES: list[tuple[str, str, str, str | None]] = [
    ("dsn/dovecot_quota_reject.eml", "carol@acme.example", "failed", "Quota exceeded"),
    ("dsn/dovecot_sieve_reject.eml", "bob@acme.example", "failed", "not accepting messages from unknown senders"),
    ("dsn/exchange_ndr.eml", "bob.b@acme.example", "failed", "5.1.10"),
    ("dsn/exchange_text_ndr.eml", "bob@contoso.example", "failed", "5.1.1"),
    ("dsn/exim_delayed.eml", "bob@slow-acme.example", "waiting", None),
    ("dsn/exim_report.eml", "bob@typo-acme.example", "failed", "5.0.0"),
    ("dsn/exim_text_failed.eml", "bob@typo-acme.example", "failed", "5.1.1"),
    ("dsn/forwarded_bounce.eml", "dave@gone-acme.example", "waiting", None),  # a person forwarding a bounce
    ("dsn/gmail_delayed.eml", "bob@slow-acme.example", "waiting", None),
    ("dsn/gmail_failed.eml", "bob@acme.example", "failed", "5.1.1"),
    ("dsn/gmail_old_text.eml", "bob@typo-acme.example", "failed", "5.1.1"),
    ("dsn/not_read_receipt.eml", "bob@acme.example", "waiting", None),  # deleted unread: still no answer
    ("dsn/postfix_delayed.eml", "bob@slow-acme.example", "waiting", None),
    ("dsn/postfix_failed.eml", "bob@typo-acme.example", "failed", "5.1.1"),
    ("dsn/qmail_failure.eml", "bob@typo-acme.example", "failed", "5.1.2"),
    ("dsn/read_receipt.eml", "bob@acme.example", "waiting", None),
    ("dsn/yahoo_failure.eml", "bob.builder@yahoo.example", "failed", "554"),
]

#: Reply texts: fixture, subject of the tracked message, and what the words say: "replied", ("holding", the
#: last day of the promise: no check-in before the day after it), or "declined".
BODY_CASES: list[tuple[str, str, str, date | None]] = [
    ("body/apple_mail_fr.eml", "Devis", "holding", date(2024, 3, 15)),  # Wed 6 Mar: "la semaine prochaine"
    ("body/bad_charset.eml", "Proposal", "replied", None),
    ("body/gmail_reply.eml", "Proposal for Q3", "replied", None),
    ("body/mislabelled_latin1.eml", "x", "replied", None),
    ("body/mixed_with_attachments.eml", "Proposal for Q3", "replied", None),  # the signed pages are attached
    ("body/outlook_de_plain.eml", "Angebot", "declined", None),  # "Wir haben kein Interesse."
    ("body/outlook_html_only.eml", "Proposal for Q3", "holding", date(2024, 3, 15)),  # Tue 5 Mar: "next week"
    ("body/thunderbird_bottom_post.eml", "Proposal for Q3", "replied", None),
]


#: Bugs the corpus found in followupd, now fixed (strict xfails go here while one is open):
#: Dovecot/Pigeonhole rejections classified as read receipts were never read as delivery reports; "next week" in
#: a holding reply was taken as its Monday, so the check-in came one day into the promised week.
DSN_BUGS: dict[str, str] = {}   # fixed: REJECT_AS_RECEIPT (reports are read for receipts too)
BODY_BUGS: dict[str, str] = {}  # fixed: NEXT_WEEK_IS_MONDAY ("next week" is owed by its Friday)


def _id(name: str) -> str:
    return name.removesuffix(".eml")


# ---------------------------------------------------------------------------------------------- helpers

def _fields(head: bytes) -> list[bytes]:
    """Header fields with their folded continuation lines (RFC 5322 §2.2.3), CRLF kept."""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\r\n" + line
        else:
            fields.append(line)
    return fields


def rewrite(raw: bytes, *, tracked_id: str, to: str, addresses: Mapping[str, str] = {},
            add_in_reply_to: bool = False) -> bytes:
    """The fixture answering ``tracked_id`` and delivered to ``to``; every other byte left as it is."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:  # a headers-only sample: it still needs the blank line that ends the header block
        head, sep, body = raw.rstrip(b"\r\n"), b"\r\n\r\n", b""
    out: list[bytes] = []
    threaded = False
    for field in _fields(head):
        name = field.split(b":", 1)[0].strip().lower()
        if name == b"to":
            field = b"To: " + to.encode()
        elif name in THREADING_HEADERS:
            field = field.split(b":", 1)[0] + b": " + tracked_id.encode()
            threaded = True
        out.append(field)
    if add_in_reply_to and not threaded:
        out.append(b"In-Reply-To: " + tracked_id.encode())
    message = b"\r\n".join(out) + sep + body
    for fixture_id in FIXTURE_IDS:  # the original's id inside a report (rfc822 part, Original-Message-ID, ...)
        message = message.replace(fixture_id.encode(), tracked_id.encode())
    for old, new in addresses.items():
        message = message.replace(old.encode(), new.encode())
    return message


def header(raw: bytes, name: str) -> str | None:
    value = email.message_from_bytes(raw)[name]
    return str(make_header(decode_header(value))) if value is not None else None


def envelope_sender(raw: bytes) -> str:
    """The MTA's MAIL FROM: the fixture's Return-Path (``<>`` for automatic mail), else its From."""
    return_path = header(raw, "Return-Path")
    if return_path is not None:
        return email.utils.parseaddr(return_path)[1]
    return email.utils.parseaddr(header(raw, "From") or "")[1]


def written_at(raw: bytes) -> datetime | None:
    """The fixture's Date; "-0000" (time zone unknown, RFC 5322 §3.3) read as UTC."""
    written = header(raw, "Date")
    if written is None:
        return None
    when = email.utils.parsedate_to_datetime(written)
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def poll_time(raw: bytes) -> datetime:
    """An hour after the fixture was written (a day after the tracked message when it has no Date)."""
    when = written_at(raw) or SENT_AT + timedelta(days=1)
    return max(when, SENT_AT) + timedelta(hours=1)


def play(account: Account, fixture: bytes, *, to: str, subject: str, addresses: Mapping[str, str] = {},
         add_in_reply_to: bool = False) -> tuple[dict[str, Any], bytes]:
    """Track a message to ``to``, deliver the fixture as the answer to it, poll once; the thread and the mail."""
    tracked_id = f"<corpus-{re.sub(r'[^a-z0-9]+', '-', account.user.username)}@mail.example.test>"
    sent = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=SENT_AT,
                        bcc=account.tracking, message_id=tracked_id, body="Hello,\n\nhere it is.\n\nAlex\n")
    account.server.append(account.user, "Sent", sent, date=SENT_AT, flags=[b"\\Seen"])
    delivered = rewrite(fixture, tracked_id=tracked_id, to=f"Alex Example <{account.user.address}>",
                        addresses=addresses, add_in_reply_to=add_in_reply_to)
    account.server.deliver_lmtp(account.user, delivered, sender=envelope_sender(fixture))
    account.poll(now=poll_time(fixture))
    (thread,) = account.status()
    assert thread["message_id"] == tracked_id
    return thread, delivered


def due(thread: Mapping[str, Any]) -> datetime:
    assert thread["next_due"], f"no next check-in: {thread}"
    return datetime.fromisoformat(thread["next_due"])


def params(cases: list[Any], xfails: Mapping[str, str] | None = None) -> list[Any]:
    marks = xfails or {}
    return [pytest.param(*case, id=_id(case[0]),
                         marks=[pytest.mark.xfail(strict=True, reason=marks[case[0]])] if case[0] in marks else [])
            for case in cases]


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


@pytest.fixture(scope="module")
def undisturbed_due(dovecot: DovecotServer, tmp_path_factory: pytest.TempPathFactory) -> datetime:
    """The first check-in of a tracked message nobody answered (same date, same config as every case)."""
    quiet = Account(dovecot, dovecot.add_user(), tmp_path_factory.mktemp("quiet"))
    sent = make_message(from_=quiet.user.address, to=RECIPIENT, subject="Proposal for Q3", date=SENT_AT,
                        bcc=quiet.tracking)
    quiet.server.append(quiet.user, "Sent", sent, date=SENT_AT, flags=[b"\\Seen"])
    quiet.poll(now=SENT_AT + timedelta(hours=1))
    (thread,) = quiet.status()
    return due(thread)


# ---------------------------------------------------------------------------------------------- out of office

@pytest.mark.parametrize(("name", "subject", "back"), params(OOO_CASES))
def test_out_of_office_postpones_and_never_closes(account: Account, undisturbed_due: datetime, name: str,
                                                  subject: str, back: date | None) -> None:
    fixture = (CORPUS / name).read_bytes()
    sender = email.utils.parseaddr(header(fixture, "From") or "")[1]
    thread, delivered = play(account, fixture, to=sender, subject=subject)
    assert thread["state"] == "waiting", thread  # an out-of-office is never a reply
    assert thread["replied_by"] is None
    next_due = due(thread)
    assert next_due > undisturbed_due
    if back is not None:
        assert back < next_due.date() <= back + timedelta(days=7), (back, thread["next_due"])
    else:  # no return date: ooo_default_postpone (one week) from the notice
        written = written_at(delivered)
        assert written is not None
        assert next_due.date() == (written + timedelta(weeks=1)).date(), thread["next_due"]
    explained = account.run("explain", thread["id"]).stdout
    assert "postponed" in explained and "out of office" in explained.lower(), explained
    if back is not None:
        assert "no return date" not in explained, explained


# ---------------------------------------------------------------------------------------------- delivery reports

@pytest.mark.parametrize(("name", "reported", "outcome", "words"), params(DSN_CASES, DSN_BUGS))
def test_delivery_report(account: Account, name: str, reported: str, outcome: str, words: str | None) -> None:
    fixture = (CORPUS / name).read_bytes()
    assert reported.encode() in fixture
    thread, _ = play(account, fixture, to=f"Robin Recipient <{RECIPIENT}>", subject="Proposal for Q3",
                     addresses={reported: RECIPIENT})
    if outcome == "failed":
        assert thread["state"] == "failed", thread
        assert thread["failed_recipients"] == [RECIPIENT]
        assert thread["next_due"] is None
        assert any(words in problem and RECIPIENT in problem for problem in thread["problems"]), thread["problems"]
    else:
        assert thread["state"] == "waiting", thread
        assert thread["failed_recipients"] == []
        assert not any("undeliverable" in problem for problem in thread["problems"]), thread["problems"]
        assert thread["next_due"] is not None


# ---------------------------------------------------------------------------------------------- reply texts

@pytest.mark.parametrize(("name", "subject", "meaning", "promise_ends"), params(BODY_CASES, BODY_BUGS))
def test_reply_text(account: Account, undisturbed_due: datetime, name: str, subject: str, meaning: str,
                    promise_ends: date | None) -> None:
    fixture = (CORPUS / name).read_bytes()
    sender = email.utils.parseaddr(header(fixture, "From") or "")[1]
    thread, _ = play(account, fixture, to=sender, subject=subject, add_in_reply_to=True)
    if meaning == "replied":
        assert thread["state"] == "replied", thread
        assert thread["replied_by"] == sender
        assert thread["reply_probable"] is False
    elif meaning == "declined":
        assert thread["state"] == "declined", thread
        assert thread["next_due"] is None
    else:
        assert meaning == "holding" and promise_ends is not None
        assert thread["state"] == "waiting", thread
        next_due = due(thread)
        assert next_due > undisturbed_due
        assert next_due.date() > promise_ends, (promise_ends, thread["next_due"], thread["state_reason"])


def test_the_tables_cover_the_whole_corpus() -> None:
    """A fixture added to ooo/, dsn/ or body/ must get a row here, with its expected outcome."""
    tabled = {c[0] for c in OOO_CASES} | {c[0] for c in DSN_CASES} | {c[0] for c in BODY_CASES}
    on_disk = {str(path.relative_to(CORPUS)) for folder in ("ooo", "dsn", "body")
               for path in (CORPUS / folder).glob("*.eml")}
    assert on_disk <= tabled, sorted(on_disk - tabled)
    assert all((CORPUS / name).is_file() for name in tabled)
