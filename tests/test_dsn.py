"""dsn.py: who a bounce is about, how final it is, and which sent message bounced.

Samples under tests/data/mail/dsn/ follow RFC 3464 / RFC 6522 / RFC 8098 and what Postfix, Exim (report and
plain text), qmail, Yahoo, Gmail (current and old), Exchange / Office 365 (report and plain text) and
Dovecot (LDA quota, Pigeonhole reject) send.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail import dsn as dsn_module
from followupd.mail.dsn import DeliveryReport, RecipientStatus, classify_notice, parse_dsn


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when a reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


# Far above any normal run even on a loaded CI machine; a quadratic regex on 1 MB takes minutes.
PATHOLOGICAL_SECONDS = 5.0

DSN = Path(__file__).parent / "data" / "mail" / "dsn"
TRACKED_ID = "<CAK7x9Q3proposal@mail.gmail.com>"


def report(name: str) -> DeliveryReport:
    found = parse_dsn((DSN / name).read_bytes())
    assert found is not None, name
    return found


def statuses(found: DeliveryReport) -> list[tuple[str, str, str, bool]]:
    return [(r.address, r.action, r.status, r.permanent) for r in found.recipients]


# ----------------------------------------------------------------------------------------- real samples

@pytest.mark.parametrize(
    ("name", "source", "expected"),
    [
        ("postfix_failed.eml", "rfc3464", [("bob@typo-acme.example", "failed", "5.1.1", True)]),
        ("postfix_delayed.eml", "rfc3464", [("bob@slow-acme.example", "delayed", "4.4.1", False)]),
        ("exim_report.eml", "rfc3464", [("bob@typo-acme.example", "failed", "5.0.0", True)]),
        ("exim_text_failed.eml", "exim", [("bob@typo-acme.example", "failed", "5.1.1", True),
                                          ("dave@gone-acme.example", "failed", "5.0.0", True)]),
        ("exim_delayed.eml", "exim", [("bob@slow-acme.example", "delayed", "4.7.1", False)]),
        ("qmail_failure.eml", "qmail", [("bob@typo-acme.example", "failed", "5.1.2", True),
                                        ("carol@acme.example", "failed", "5.1.1", True)]),
        ("yahoo_failure.eml", "qmail", [("bob.builder@yahoo.example", "failed", "5.0.0", True)]),
        ("gmail_failed.eml", "rfc3464", [("bob@acme.example", "failed", "5.1.1", True)]),
        ("gmail_delayed.eml", "rfc3464", [("bob@slow-acme.example", "delayed", "4.7.1", False)]),
        ("gmail_old_text.eml", "gmail", [("bob@typo-acme.example", "failed", "5.1.1", True)]),
        ("exchange_ndr.eml", "rfc3464", [("bob.b@acme.example", "failed", "5.1.10", True)]),
        ("exchange_text_ndr.eml", "exchange", [("bob@contoso.example", "failed", "5.1.1", True),
                                               ("sales@contoso.example", "failed", "5.7.1", True)]),
        ("dovecot_sieve_reject.eml", "dovecot-reject", [("bob@acme.example", "failed", "5.7.1", True)]),
        ("dovecot_quota_reject.eml", "dovecot-reject", [("carol@acme.example", "failed", "5.2.2", True)]),
    ],
)
def test_samples(name: str, source: str, expected: list[tuple[str, str, str, bool]]) -> None:
    found = report(name)

    assert found.source == source
    assert statuses(found) == expected


@pytest.mark.parametrize(
    ("name", "recipients"),
    [
        ("postfix_failed.eml", ("bob@typo-acme.example", "carol@acme.example")),  # message/rfc822
        ("postfix_delayed.eml", ("bob@slow-acme.example",)),                     # text/rfc822-headers
        ("exim_text_failed.eml", ("bob@typo-acme.example", "dave@gone-acme.example")),  # inline copy
        ("qmail_failure.eml", ("bob@typo-acme.example", "carol@acme.example")),
        ("gmail_old_text.eml", ("bob@typo-acme.example",)),
        ("exchange_ndr.eml", ("bob.b@acme.example",)),
        ("exchange_text_ndr.eml", ("bob@contoso.example", "sales@contoso.example")),  # "Original message headers:"
        ("dovecot_sieve_reject.eml", ("bob@acme.example",)),
    ],
)
def test_the_original_message_is_found(name: str, recipients: tuple[str, ...]) -> None:
    found = report(name)

    assert found.original_message_id == TRACKED_ID
    assert found.original_recipients == recipients
    assert found.original_subject == "Proposal for Q3"


def test_diagnostics_are_the_servers_words_squeezed() -> None:
    postfix = report("postfix_failed.eml").recipients[0]
    qmail = report("qmail_failure.eml").recipients[0]

    assert postfix.diagnostic == ("550 5.1.1 <bob@typo-acme.example>: Recipient address rejected: User unknown in "
                                  "virtual mailbox table")
    assert qmail.diagnostic == "Sorry, I couldn't find any host named typo-acme.example. (#5.1.2)"
    assert report("dovecot_quota_reject.eml").recipients[0].diagnostic == "Quota exceeded (mailbox for user is full)"


def test_report_fields_and_helpers() -> None:
    found = report("gmail_failed.eml")

    assert found.reporting_mta == "googlemail.com"
    assert found.is_failure and found.failed == found.permanent_failures == found.recipients
    delayed = report("gmail_delayed.eml")
    assert not delayed.is_failure and delayed.permanent_failures == ()


# ----------------------------------------------------------------------------------------- not bounces

@pytest.mark.parametrize("name", ["read_receipt.eml", "not_read_receipt.eml", "forwarded_bounce.eml"])
def test_receipts_and_a_forwarded_bounce_are_not_reports(name: str) -> None:
    assert parse_dsn((DSN / name).read_bytes()) is None


def test_ordinary_mail_is_not_a_report() -> None:
    raw = (b"From: Bob <bob@acme.example>\r\nSubject: Re: Proposal\r\nMessage-ID: <r@acme.example>\r\n\r\n"
           b"The following address(es) failed: none, we are all fine.\r\n")

    assert parse_dsn(raw) is None


# ------------------------------------------------------------------------------------------ RFC 3464 rules

def dsn(*recipient_blocks: str, per_message: str = "Reporting-MTA: dns; mx.example.org", headers: str = "",
        encoding: str = "") -> bytes:
    body = "\r\n\r\n".join((per_message, *recipient_blocks))
    cte = f"Content-Transfer-Encoding: {encoding}\r\n" if encoding else ""
    if encoding == "base64":
        import base64
        body = base64.encodebytes(body.encode()).decode()
    text = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: me@example.com\r\nSubject: Undelivered Mail\r\n"
        f"{headers}Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
        "--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        f"--b\r\nContent-Type: message/delivery-status\r\n{cte}\r\n{body}\r\n--b--\r\n"
    )
    return text.encode()


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("Final-Recipient: rfc822; Bob@Acme.Example\r\nAction: failed\r\nStatus: 5.1.1",
         ("bob@acme.example", "failed", "5.1.1", True)),
        ("Final-Recipient: rfc822;<bob@acme.example>\r\nAction: failed\r\nStatus: 4.4.7",
         ("bob@acme.example", "failed", "4.4.7", True)),  # expired in the queue: the MTA gave up, it is gone
        ("Final-Recipient: rfc822; bob@acme.example\r\nAction: delayed\r\nStatus: 5.0.0",
         ("bob@acme.example", "delayed", "5.0.0", False)),  # delayed is never permanent
        ("Final-Recipient: rfc822; bob@acme.example\r\nAction: delivered\r\nStatus: 2.0.0",
         ("bob@acme.example", "delivered", "2.0.0", False)),
        ("Final-Recipient: rfc822; bob@acme.example\r\nAction: relayed\r\nStatus: 2.0.0",
         ("bob@acme.example", "relayed", "2.0.0", False)),
        ("Final-Recipient: rfc822; list@acme.example\r\nAction: expanded\r\nStatus: 2.0.0",
         ("list@acme.example", "expanded", "2.0.0", False)),
        ("Final-Recipient: rfc822; bob@acme.example\r\nAction: failed\r\nDiagnostic-Code: smtp; 550 5.2.1 disabled",
         ("bob@acme.example", "failed", "5.2.1", True)),  # status missing: read from the diagnostic
        ("Final-Recipient: rfc822; bob@acme.example\r\nAction: failed\r\nDiagnostic-Code: smtp; 452 too many",
         ("bob@acme.example", "failed", "4.0.0", True)),  # gave up on a 452: as final as a 5.x.x
        ("Final-Recipient: rfc822; bob@acme.example\r\nAction: failed",
         ("bob@acme.example", "failed", "5.0.0", True)),  # gave up without saying why
        ("Original-Recipient: rfc822; bob@acme.example\r\nAction: FAILED (bad)\r\nStatus: 5.1.1 (unknown user)",
         ("bob@acme.example", "failed", "5.1.1", True)),
        ("Final-Recipient: rfc822; bob@acme.example\r\nAction: bounced\r\nStatus: 4.2.2",
         ("bob@acme.example", "delayed", "4.2.2", False)),  # unknown action: the status class decides
    ],
)
def test_recipient_fields(block: str, expected: tuple[str, str, str, bool]) -> None:
    found = parse_dsn(dsn(block))

    assert found is not None and statuses(found) == [expected]


def test_several_recipients_folded_fields_and_duplicates() -> None:
    found = parse_dsn(dsn(
        "Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1\r\n  user unknown",
        "Final-Recipient: rfc822; b@x.example\r\nAction: delayed\r\nStatus: 4.4.1",
        "Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\nStatus: 5.1.1",
    ))

    assert found is not None
    assert found.recipients == (
        RecipientStatus("a@x.example", "failed", "5.1.1", "550 5.1.1 user unknown", True),
        RecipientStatus("b@x.example", "delayed", "4.4.1", "", False),
    )


def test_base64_status_part_is_decoded() -> None:
    found = parse_dsn(dsn("Final-Recipient: rfc822; a@x.example\r\nAction: failed\r\nStatus: 5.1.1",
                          encoding="base64"))

    assert found is not None and statuses(found) == [("a@x.example", "failed", "5.1.1", True)]


@pytest.mark.parametrize(
    ("per_message", "headers", "expected"),
    [
        ("Reporting-MTA: dns; mx\r\nX-Original-Message-ID: <orig@x.example>", "", "<orig@x.example>"),
        ("Reporting-MTA: dns; mx", "X-MS-Exchange-Parent-Message-Id: <parent@x.example>\r\n", "<parent@x.example>"),
        ("Reporting-MTA: dns; mx", "In-Reply-To: <irt@x.example>\r\nReferences: <a@x> <b@x>\r\n", "<irt@x.example>"),
        ("Reporting-MTA: dns; mx", "References: <a@x> <last@x>\r\n", "<last@x>"),
        ("Reporting-MTA: dns; mx", "", None),
    ],
)
def test_original_id_without_a_returned_message(per_message: str, headers: str, expected: str | None) -> None:
    found = parse_dsn(dsn("Final-Recipient: rfc822; a@x.example\r\nAction: failed", per_message=per_message,
                          headers=headers))

    assert found is not None and found.original_message_id == expected


def test_a_report_without_recipient_blocks_falls_back_to_x_failed_recipients() -> None:
    found = parse_dsn(dsn(headers="X-Failed-Recipients: gone@x.example\r\n"))

    assert found is not None and statuses(found) == [("gone@x.example", "failed", "5.0.0", True)]


def test_text_bounce_with_only_x_failed_recipients() -> None:
    raw = (b"From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nX-Failed-Recipients: a@x.example, "
           b"b@x.example\r\nSubject: Mail delivery failed\r\n\r\nSomething went wrong: 550 5.1.1 no such user\r\n")
    found = parse_dsn(raw)

    assert found is not None and found.source == "x-failed-recipients"
    assert statuses(found) == [("a@x.example", "failed", "5.1.1", True), ("b@x.example", "failed", "5.1.1", True)]


# ------------------------------------------------------------------------------------------ speed, fuzz

def test_a_one_megabyte_bounce_is_fast() -> None:
    raw = (DSN / "postfix_failed.eml").read_bytes()
    big = raw.replace(b"here is the proposal", b"here is the proposal " + b"x" * 1_000_000)
    many = dsn(*[f"Final-Recipient: rfc822; u{i}@x.example\r\nAction: failed\r\nStatus: 5.1.1" for i in range(20000)])
    text = (b"From: MAILER-DAEMON@mx.example.org\r\nSubject: failure notice\r\n\r\n"
            b"I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
            + b"<a@x.example>:\r\nno\r\n\r\n" * 40000)
    for raw_report in (big, many, text):
        start = time.perf_counter()
        assert parse_dsn(raw_report) is not None
        assert time.perf_counter() - start < PATHOLOGICAL_SECONDS  # no quadratic blow-up; speed: bench/


SAMPLES = sorted(DSN.glob("*.eml"))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=3000))
def test_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    found = parse_dsn(raw)
    assert found is None or all(r.permanent == (r.action == "failed" and r.status.startswith("5"))
                                for r in found.recipients)
    assert found is None or not found.internal_error
    classify_notice(raw)
    assert_no_internal_error()


NASTY = st.sampled_from([b"\r\n\r\n", b"--", b"Action: failed\r\n", b"Status: 4.", b"rfc822;", b"@", b"<", b">",
                         b"\xff", b"Content-Transfer-Encoding: base64\r\n", b"=\r\n", b"\x00", b":"])


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(SAMPLES),
       st.lists(st.tuples(st.integers(min_value=0, max_value=6000), NASTY | st.binary(max_size=10)), max_size=8))
def test_never_raises_on_mutated_samples(path: Path, edits: list[tuple[int, bytes]]) -> None:
    raw = bytearray(path.read_bytes())
    for position, insert in edits:
        at = position % (len(raw) + 1)
        raw[at:at] = insert
    found = parse_dsn(bytes(raw))
    assert found is None or all(r.status[:1] in ("", "2", "4", "5") for r in found.recipients)
    assert found is None or not found.internal_error
    classify_notice(bytes(raw))
    assert_no_internal_error()


# --------------------------------------------------------------------------------- a bug is seen, not hidden

def _boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise ZeroDivisionError("a bug planted by the test")


def test_a_bug_in_the_reader_gives_the_default_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (DSN / "postfix_failed.eml").read_bytes()
    monkeypatch.setattr(dsn_module, "_parse", _boom)

    report = parse_dsn(raw)

    assert report is not None and report.recipients == ()
    assert report.internal_error == "internal error: ZeroDivisionError"
    assert classify_notice(raw) == "internal error: ZeroDivisionError"
    assert take_internal_errors() == {"dsn": 2}
