"""End to end: bounces and notices from mail systems of every family, delivered by LMTP to the real Dovecot and
read by the real ``followupd poll``.

The fixtures (tests/data/mail/bounces/) are written for this project, one per format family learned from the
shared bounce collection (read in place by bench/bounces.py, never copied) and from systems it lacks: DragonFly's
"Message headers follow.", Exim in German with X-Failed-Recipients, a Sendmail V5 transcript, Lotus Domino,
Exchange 2003, RFC 3464 fields inside quoted-printable and base64 text parts, recipient blocks run together,
original headers mangled by a relay, a 4.x.x with ``Action: failed``, a Japanese carrier's base64 notice, a
French provider, a security appliance, GroupWise, a bulk-mail provider's notice naming no Message-ID, and the
three kinds once read as replies (a carrier postmaster's "Re:", a Java mail server's "Re:", a list manager's
"not allowed to post"); beyond the collection: a hosted Exchange NDR in German as HTML only (marked
auto-replied, so once read as an out-of-office), MDaemon, Google Groups, and a gateway's
notice that looks like a person's "Re:" by every header (only its text tells). Each case tracks a message,
delivers the notice as the answer to it (the helpers of test_e2e_corpus.py rewrite ids and the reported
address), polls once and reads ``followupd status``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message
from test_e2e_corpus import RECIPIENT, SENT_AT, play, poll_time, rewrite

FIXTURES = Path(__file__).parent / "data" / "mail" / "bounces"
FIXTURE_ID = "<CAK7x9Q3proposal@mail.gmail.com>"  # the original's id in every fixture that carries one

#: fixture, the address it reports on (rewritten to RECIPIENT), outcome, words that must show in the problems.
CASES: list[tuple[str, str, str, str | None]] = [
    ("appliance_filter.eml", "bob@acme.example", "failed", "5.7.1"),
    ("carrier_japanese_base64.eml", "bob@keitai.example", "failed", "5.1.1"),
    ("carrier_postmaster_re.eml", "0000000000@mms.carrier.example", "failed", "no such user"),
    ("domino_text.eml", "bob.builder@notes-acme.example", "failed", "not listed in Domino Directory"),
    ("dragonfly_text.eml", "bob@dmarc-acme.example", "failed", "5.7.26"),
    ("exchange2003_text.eml", "bob@acme.example", "failed", "recipient name is not recognized"),
    ("exchange_german_html.eml", "bob@hosted-acme.example", "failed", "5.1.10"),
    ("exim_german_x_failed.eml", "bob@nirgends.example", "failed", "5.1.1"),
    ("google_groups_no_permission.eml", "board@googlegroups.example", "failed", "permission to post"),
    ("mdaemon_text.eml", "bob@smallco-partner.example", "failed", "User unknown"),
    ("fields_in_base64_text.eml", "bob@acme.example", "failed", "5.2.1"),
    ("fields_in_qp_text.eml", "bob@acme.example", "failed", "5.1.1"),
    ("french_orange_text.eml", "bob@fai-client.example.fr", "failed", "5.1.1"),
    ("gave_up_4xx_failed.eml", "bob@slow-acme.example", "failed", "4.4.1"),
    ("groupwise_text.eml", "bob@gw.acme.example", "failed", "user not found"),
    ("java_mailserver_re.eml", "5550100@txt.carrier.example", "failed", "no such user here"),
    ("mangled_original_headers.eml", "bob@acme.example", "failed", "5.1.1"),
    ("provider_notice_no_id.eml", "bob@acme.example", "failed", "probable"),
    ("reply_shaped_status_part.eml", "5550123@mms.carrier.example", "failed", "subscriber unknown"),
    ("run_together_blocks.eml", "bob@acme.example", "failed", "5.1.1"),
    ("sendmail_v5_transcript.eml", "bob@old-acme.example", "failed", "User unknown"),
    # never a reply, never a failure of the thread's recipient:
    ("list_not_a_member.eml", "board@lists.acme.example", "not replied", None),
    ("sendmail_warning_delayed.eml", "bob@slow-acme.example", "waiting", None),
]


#: Fixtures whose ids and addresses the byte-level rewrite cannot reach.
AS_WRITTEN = frozenset({"carrier_japanese_base64.eml", "fields_in_base64_text.eml", "exchange_german_html.eml"})


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


@pytest.mark.parametrize(("name", "reported", "outcome", "words"), [pytest.param(*c, id=c[0][:-4]) for c in CASES])
def test_notice_from_a_mail_system(account: Account, name: str, reported: str, outcome: str,
                                   words: str | None) -> None:
    fixture = (FIXTURES / name).read_bytes()
    if name in AS_WRITTEN:  # ids and addresses are encoded (base64, HTML entities): track exactly what it names
        thread, recipient = play_as_written(account, fixture, to=reported), reported
    else:
        thread, recipient = play(account, fixture, to=f"Robin Recipient <{RECIPIENT}>", subject="Proposal for Q3",
                                 addresses={reported: RECIPIENT})[0], RECIPIENT
    assert thread["replied_by"] is None, thread  # a notice is never anybody's answer
    if outcome == "failed":
        assert thread["state"] == "failed", thread
        assert thread["failed_recipients"] == [recipient]
        assert thread["next_due"] is None
        assert any(words and words.lower() in problem.lower() and recipient in problem
                   for problem in thread["problems"]), thread["problems"]
    else:
        assert thread["state"] == "waiting", thread
        assert thread["failed_recipients"] == []
        assert thread["next_due"] is not None


def play_as_written(account: Account, fixture: bytes, *, to: str) -> dict[str, Any]:
    """Track the very message the fixture names (its id, its recipient) and deliver the fixture unchanged."""
    sent = make_message(from_=account.user.address, to=to, subject="Proposal for Q3", date=SENT_AT,
                        bcc=account.tracking, message_id=FIXTURE_ID)
    account.server.append(account.user, "Sent", sent, date=SENT_AT, flags=[b"\\Seen"])
    account.server.deliver_lmtp(account.user, fixture, sender="")
    account.poll(now=poll_time(fixture))
    (thread,) = account.status()
    assert thread["message_id"] == FIXTURE_ID
    return thread


def test_only_failed_recipients_fail_in_a_thread_to_two(account: Account) -> None:
    """Per recipient: the report names bob; carol, also in the thread, is still followed up."""
    fixture = (FIXTURES / "dragonfly_text.eml").read_bytes()
    tracked_id = "<two-recipients@mail.example.test>"
    sent = make_message(from_=account.user.address, to=f"{RECIPIENT}, carol@partner.example",
                        subject="Proposal for Q3", date=SENT_AT, bcc=account.tracking, message_id=tracked_id)
    account.server.append(account.user, "Sent", sent, date=SENT_AT, flags=[b"\\Seen"])
    delivered = rewrite(fixture, tracked_id=tracked_id, to=account.user.address,
                        addresses={"bob@dmarc-acme.example": RECIPIENT}).replace(
        FIXTURE_ID.encode(), tracked_id.encode())
    account.server.deliver_lmtp(account.user, delivered, sender="")
    account.poll(now=poll_time(fixture))
    (thread,) = account.status()
    assert thread["state"] == "waiting", thread
    assert thread["failed_recipients"] == [RECIPIENT]
    assert thread["next_due"] is not None


def test_a_notice_naming_no_message_is_not_tied_when_two_threads_fit(account: Account) -> None:
    """Same recipient, same subject, both sent before the notice: guessing could fail the wrong one."""
    fixture = (FIXTURES / "provider_notice_no_id.eml").read_bytes()
    for n in (1, 2):
        sent = make_message(from_=account.user.address, to=RECIPIENT, subject="Proposal for Q3",
                            date=SENT_AT, bcc=account.tracking, message_id=f"<twin-{n}@mail.example.test>")
        account.server.append(account.user, "Sent", sent, date=SENT_AT, flags=[b"\\Seen"])
    delivered = rewrite(fixture, tracked_id="<none@mail.example.test>", to=account.user.address,
                        addresses={"bob@acme.example": RECIPIENT})
    account.server.deliver_lmtp(account.user, delivered, sender="")
    account.poll(now=poll_time(fixture))
    threads = account.status()
    assert len(threads) == 2
    assert all(t["state"] == "waiting" and t["failed_recipients"] == [] for t in threads), threads
