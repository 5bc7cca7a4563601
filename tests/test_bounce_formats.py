"""Bounces of every format family, read without a server: our own fixtures (tests/data/mail/bounces/), the rule
that ties a report naming no message to a thread, and the shared real-mail collection read in place.

The collection (``<repo>/../shared/corpora/bounces``, public data kept outside the repository) is measured by
bench/bounces.py; the last test here runs the same measure and holds the targets of issue 17. It skips, saying
why, when the folder is absent, and fails instead under ``CI=true``, where it is always present.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from followupd.mail.dsn import INTERNAL_ERROR, DeliveryReport, RecipientStatus, classify_notice, parse_dsn
from followupd.mail.headers import MessageKind, parse_headers
from followupd.planning.bouncetie import MAX_REPORT_DELAY, tie_report
from followupd.planning.matching import ThreadIndex, ThreadKey

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "mail" / "bounces"
MAIL = ROOT / "tests" / "data" / "mail"
SHARED_CORPUS = ROOT.parent / "shared" / "corpora" / "bounces"
ORIGINAL = "<CAK7x9Q3proposal@mail.gmail.com>"

#: fixture -> (address, action, status, permanent, the original's id as the report gives it)
EXPECTED: dict[str, list[tuple[str, str, str, bool, str | None]]] = {
    "appliance_filter.eml": [("bob@acme.example", "failed", "5.7.1", True, ORIGINAL)],
    "carrier_japanese_base64.eml": [("bob@keitai.example", "failed", "5.1.1", True, ORIGINAL)],
    "carrier_postmaster_re.eml": [("0000000000@mms.carrier.example", "failed", "5.0.0", True, ORIGINAL)],
    "domino_text.eml": [("bob.builder@notes-acme.example", "failed", "5.0.0", True, ORIGINAL)],
    "dragonfly_text.eml": [("bob@dmarc-acme.example", "failed", "5.7.26", True, ORIGINAL)],
    "exchange2003_text.eml": [("bob@acme.example", "failed", "5.0.0", True, ORIGINAL)],
    "exchange_german_html.eml": [("bob@hosted-acme.example", "failed", "5.1.10", True, ORIGINAL)],
    "google_groups_no_permission.eml": [("board@googlegroups.example", "failed", "5.0.0", True, ORIGINAL)],
    "mdaemon_text.eml": [("bob@smallco-partner.example", "failed", "5.1.1", True, ORIGINAL)],
    "exim_german_x_failed.eml": [("bob@nirgends.example", "failed", "5.1.1", True, ORIGINAL)],
    "fields_in_base64_text.eml": [("bob@acme.example", "failed", "5.2.1", True, ORIGINAL)],
    "fields_in_qp_text.eml": [("bob@acme.example", "failed", "5.1.1", True, ORIGINAL)],
    "french_orange_text.eml": [("bob@fai-client.example.fr", "failed", "5.1.1", True, ORIGINAL)],
    "gave_up_4xx_failed.eml": [("bob@slow-acme.example", "failed", "4.4.1", True, ORIGINAL)],
    "groupwise_text.eml": [("bob@gw.acme.example", "failed", "5.0.0", True, ORIGINAL)],
    "java_mailserver_re.eml": [("5550100@txt.carrier.example", "failed", "5.0.0", True, ORIGINAL)],
    "mangled_original_headers.eml": [("bob@acme.example", "failed", "5.1.1", True, ORIGINAL)],
    "provider_notice_no_id.eml": [("bob@acme.example", "failed", "5.1.1", True, None)],
    "reply_shaped_status_part.eml": [("5550123@mms.carrier.example", "failed", "5.1.1", True, ORIGINAL)],
    "run_together_blocks.eml": [("carol@acme.example", "failed", "5.2.2", True, ORIGINAL),
                                ("bob@acme.example", "failed", "5.1.1", True, ORIGINAL)],
    "sendmail_v5_transcript.eml": [("bob@old-acme.example", "failed", "5.0.0", True, ORIGINAL)],
    "sendmail_warning_delayed.eml": [("bob@slow-acme.example", "delayed", "4.4.7", False, ORIGINAL)],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_format_family_names_who_failed_and_the_original(name: str) -> None:
    report = parse_dsn((FIXTURES / name).read_bytes())
    assert report is not None
    assert not report.internal_error
    got = [(r.address, r.action, r.status, r.permanent, report.original_message_id) for r in report.recipients]
    assert got == EXPECTED[name]


def test_every_fixture_has_a_row() -> None:
    on_disk = {path.name for path in FIXTURES.glob("*.eml")}
    assert on_disk == set(EXPECTED) | {"list_not_a_member.eml"}


#: Looks like a person's answer by every header: only its text says what it is (see the next tests).
REPLY_SHAPED = "reply_shaped_status_part.eml"


@pytest.mark.parametrize("name", sorted(path.name for path in FIXTURES.glob("*.eml") if path.name != REPLY_SHAPED))
def test_no_notice_is_a_persons_mail_by_its_headers(name: str) -> None:
    """What the engine fetches for every message is the header block: it must already say "not a person"."""
    raw = (FIXTURES / name).read_bytes()
    head = raw.partition(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert parse_headers(head).kind is not MessageKind.PERSONAL


def test_a_reply_shaped_notice_is_a_notice_by_its_text() -> None:
    raw = (FIXTURES / REPLY_SHAPED).read_bytes()
    meta = parse_headers(raw)
    assert meta.kind is MessageKind.PERSONAL and meta.in_reply_to == (ORIGINAL,)
    evidence = classify_notice(raw, meta)
    assert evidence is not None and "5550123@mms.carrier.example" in evidence


@pytest.mark.parametrize("name", ["carrier_postmaster_re.eml", "java_mailserver_re.eml"])
def test_a_postmaster_answering_re_subject_is_a_notice_by_its_text(name: str) -> None:
    raw = (FIXTURES / name).read_bytes()
    meta = parse_headers(raw)
    assert meta.in_reply_to == (ORIGINAL,) and meta.subject.lower().startswith("re")
    assert meta.kind is MessageKind.BOUNCE
    evidence = classify_notice(raw, meta)
    assert evidence is not None and "delivery report" in evidence


def test_a_list_managers_rejection_is_never_a_reply_nor_a_failure_of_its_owner() -> None:
    raw = (FIXTURES / "list_not_a_member.eml").read_bytes()
    assert parse_headers(raw).kind is MessageKind.BOUNCE
    report = parse_dsn(raw)
    assert report is None or not any("owner" in r.address for r in report.recipients)


@pytest.mark.parametrize("name", sorted(str(p.relative_to(MAIL)) for p in (MAIL / "body").glob("*.eml")))
def test_a_persons_reply_is_no_notice(name: str) -> None:
    assert classify_notice((MAIL / name).read_bytes()) is None


def test_a_person_forwarding_a_bounce_is_no_notice() -> None:
    assert classify_notice((MAIL / "dsn" / "forwarded_bounce.eml").read_bytes()) is None


def test_quoted_local_part() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example.org\r\nTo: me@example.com\r\nSubject: Undelivered Mail\r\n"
           b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
           b"--b\r\nContent-Type: text/plain\r\n\r\nnot delivered\r\n"
           b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
           b'Final-Recipient: rfc822; "bob..builder"@acme.example\r\nAction: failed\r\nStatus: 5.1.1\r\n'
           b"--b--\r\n")
    report = parse_dsn(raw)
    assert report is not None
    assert [(r.address, r.permanent) for r in report.recipients] == [('"bob..builder"@acme.example', True)]


# ---------------------------------------------------------------------------------------------- tying

SENT = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def key(thread_id: str, to: str, subject: str = "proposal for q3", sent: datetime = SENT) -> ThreadKey:
    return ThreadKey(thread_id=thread_id, message_ids=frozenset({f"<{thread_id}@x>"}), participants=frozenset({to}),
                     base_subject=subject, sent_at=sent)


def report(address: str = "bob@acme.example", original_id: str | None = None, subject: str = "") -> DeliveryReport:
    return DeliveryReport(recipients=(RecipientStatus(address, "failed", "5.1.1", "", True),),
                          original_message_id=original_id, original_recipients=(), original_subject=subject)


def test_a_named_original_ties_for_certain() -> None:
    index = ThreadIndex([key("t1", "bob@acme.example"), key("t2", "bob@acme.example")])
    tie = tie_report(report(original_id="<t2@x>"), index, SENT + timedelta(minutes=5))
    assert tie is not None and (tie.thread_id, tie.probable) == ("t2", False)


def test_a_named_original_followupd_does_not_track_ties_nothing() -> None:
    index = ThreadIndex([key("t1", "bob@acme.example")])
    assert tie_report(report(original_id="<elsewhere@x>"), index, SENT + timedelta(minutes=5)) is None


def test_no_id_exactly_one_thread_fits_recipient_subject_and_time() -> None:
    index = ThreadIndex([key("t1", "bob@acme.example"), key("t2", "carol@acme.example"),
                         key("t3", "bob@acme.example", subject="invoice")])
    tie = tie_report(report(subject="Proposal for Q3"), index, SENT + timedelta(hours=2))
    assert tie is not None and tie.thread_id == "t1" and tie.probable
    assert "probable" in tie.evidence and "bob@acme.example" in tie.evidence and "proposal for q3" in tie.evidence


@pytest.mark.parametrize(
    ("threads", "arrived", "subject"),
    [
        ([key("t1", "bob@acme.example"), key("t2", "bob@acme.example")], SENT + timedelta(hours=1), "Proposal for Q3"),
        ([key("t1", "bob@acme.example"), key("t2", "bob@acme.example", subject="invoice")], SENT + timedelta(hours=1),
         ""),  # no subject given: two threads to bob fit
        ([key("t1", "bob@acme.example")], SENT + MAX_REPORT_DELAY + timedelta(days=1), ""),  # too long after
        ([key("t1", "bob@acme.example")], SENT - timedelta(days=1), ""),  # before it was sent
        ([key("t1", "bob@acme.example", subject="invoice")], SENT + timedelta(hours=1), "Proposal for Q3"),
        ([key("t1", "carol@acme.example")], SENT + timedelta(hours=1), ""),  # nobody it names
    ],
)
def test_no_id_and_not_exactly_one_fit_ties_nothing(threads: list[ThreadKey], arrived: datetime,
                                                    subject: str) -> None:
    assert tie_report(report(subject=subject), ThreadIndex(threads), arrived) is None


# ---------------------------------------------------------------------------------------------- real mail

def test_the_shared_collection_meets_the_targets() -> None:
    if not (SHARED_CORPUS / "expected.json").is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the shared bounce collection must be present under CI: {SHARED_CORPUS}")
        pytest.skip(f"the shared bounce collection is not here ({SHARED_CORPUS}); bench/bounces.py reads it")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bounces  # bench/bounces.py: the same measure the accuracy report prints
    finally:
        sys.path.remove(str(ROOT / "bench"))
    result = bounces.measure(SHARED_CORPUS)
    total = result["total"]
    assert total.get("crashes", 0) == 0, [m for m in result["misses"] if "CRASH" in m or INTERNAL_ERROR in m]
    assert total.get("replies", 0) == 0, [m for m in result["misses"] if "reply" in m]
    assert total.get("false_failures", 0) == 0, [m for m in result["misses"] if "read as a permanent" in m]
    final = total["permanent"] - total.get("delay_labelled_expired", 0)
    assert total["recognised"] / final >= bounces.TARGET_RECOGNISED, result["misses"]
