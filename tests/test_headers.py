"""headers.py: what followupd understands of a message from its header block alone.

Samples under tests/data/mail/ are header blocks shaped like the real thing (CRLF, folding, vendor headers).
"""

from __future__ import annotations

import email.header
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail import classify, subjects
from followupd.mail import headers as hdr
from followupd.mail.headers import (
    Address,
    MessageKind,
    base_subject,
    classify_headers,
    extract_message_ids,
    parse_headers,
)


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when a reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


MAIL = Path(__file__).parent / "data" / "mail"
TRACKED_ID = "<CAK7x9Q3proposal@mail.gmail.com>"
DASH = "\u2013"  # an en dash: a multi-byte character the samples carry


def sample(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def headers(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


# ----------------------------------------------------------------------------------------- real samples

def test_thunderbird_reply_with_comment_in_in_reply_to() -> None:
    meta = parse_headers(sample("thunderbird_reply.eml"))

    assert meta.message_id == "<b7e1c2d4-5f60-4a1b-9c3d-2e8f7a6b5c4d@acme.example>"
    assert meta.in_reply_to == (TRACKED_ID,)
    assert meta.references == (TRACKED_ID,)
    assert meta.from_ == Address("bob@acme.example", "Bob Builder")
    assert meta.to == (Address("me@example.com", "Alice Example"),)
    assert meta.cc == (Address("carol@acme.example", "Carol Finance"),)
    assert meta.subject == "Re: Proposal for Q3"
    assert meta.date == datetime(2024, 3, 5, 9, 12, 44, tzinfo=UTC)
    assert meta.kind is MessageKind.PERSONAL
    assert meta.problems == ()


def test_apple_mail_reply_with_encoded_subject_names_and_envelope_recipients() -> None:
    meta = parse_headers(sample("apple_mail_reply.eml"))

    assert meta.subject == f"AW: Angebot für Q3 {DASH} Rückfrage"
    assert meta.from_ == Address("juergen@mueller.example", "Jürgen Müller")
    assert meta.cc == (Address("jane.doe@mueller.example", "Doe, Jane"),)
    # X-Original-To is where a BCC'd tracking address shows up on the delivered copy.
    assert set(meta.delivered_to) == {"me@example.com", "me+followup@example.com"}
    assert meta.message_id == "<A1B2C3D4-E5F6-7890-ABCD-EF1234567890@mueller.example>"
    assert meta.kind is MessageKind.PERSONAL


def test_iso_2022_jp_subject_and_name_are_decoded() -> None:
    meta = parse_headers(sample("japanese_reply.eml"))

    assert meta.subject == "Re: 見積もりの件"
    assert meta.from_ == Address("yamada@example.jp", "山田 太郎")
    assert base_subject(meta.subject) == "見積もりの件"


def test_character_split_across_two_encoded_words_is_joined() -> None:
    meta = parse_headers(sample("split_word.eml"))

    assert meta.subject == f"Proposal for Q3 {DASH} pricing"
    assert meta.from_ is not None and meta.from_.name == "Zoë Adámek"
    assert "\ufffd" not in meta.subject


@pytest.mark.parametrize(
    ("name", "kind", "evidence"),
    [
        ("thunderbird_reply.eml", MessageKind.PERSONAL, ""),
        ("apple_mail_reply.eml", MessageKind.PERSONAL, ""),
        ("exchange_ooo.eml", MessageKind.AUTO_REPLY, "X-MS-Exchange-Inbox-Rules-Loop"),
        ("gmail_vacation.eml", MessageKind.AUTO_REPLY, "Auto-Submitted: auto-replied"),
        ("postfix_bounce.eml", MessageKind.BOUNCE, "report-type=delivery-status"),
        ("exim_bounce.eml", MessageKind.BOUNCE, "X-Failed-Recipients: bob@typo-acme.example"),
        ("exchange_ndr.eml", MessageKind.BOUNCE, "report-type=delivery-status"),
        ("gmail_bounce.eml", MessageKind.BOUNCE, "report-type=delivery-status"),
        ("gmail_delay.eml", MessageKind.AUTOMATED, "no failure"),
        ("thunderbird_mdn.eml", MessageKind.RECEIPT, "disposition-notification"),
        ("outlook_read_receipt.eml", MessageKind.RECEIPT, "disposition-notification"),
        ("mailman_list.eml", MessageKind.LIST, "List-Id: Developers <dev.lists.example.org>"),
        ("github_notification.eml", MessageKind.LIST, "List-Id"),
        ("gitlab_notification.eml", MessageKind.AUTOMATED, "Auto-Submitted: auto-generated"),
        ("exchange_to_group.eml", MessageKind.PERSONAL, "X-Auto-Response-Suppress"),
    ],
)
def test_samples_are_classified(name: str, kind: MessageKind, evidence: str) -> None:
    meta = parse_headers(sample(name))

    assert (meta.kind, meta.problems) == (kind, ())
    assert evidence in meta.kind_evidence


def test_bounces_and_ooo_keep_their_threading_headers() -> None:
    """Classification must not throw away ids: matching needs them to know which thread bounced."""
    assert parse_headers(sample("exchange_ndr.eml")).references == (TRACKED_ID,)
    assert parse_headers(sample("exchange_ooo.eml")).in_reply_to == (TRACKED_ID,)


def test_classify_headers_on_a_parsed_message() -> None:
    msg = BytesHeaderParser().parsebytes(sample("postfix_bounce.eml"))

    assert classify_headers(msg) == (MessageKind.BOUNCE,
                                     "Content-Type: multipart/report; report-type=delivery-status")


# -------------------------------------------------------------------------------------- classification

def kind_of(*lines: str) -> MessageKind:
    return parse_headers(headers("From: Bob <bob@acme.example>", *lines)).kind


@pytest.mark.parametrize(
    "content_type",
    [
        "multipart/report; report-type=delivery-status; boundary=\"b\"",
        "Multipart/Report; boundary=\"b\"; Report-Type=\"Delivery-Status\"",
        "multipart/report;\r\n\tboundary=\"b\";\r\n\treport-type=delivery-status",
        "MULTIPART/REPORT ; REPORT-TYPE = delivery-status",
    ],
)
def test_delivery_status_report_is_a_bounce_whatever_the_parameter_order(content_type: str) -> None:
    assert kind_of("Subject: Returned", f"Content-Type: {content_type}") is MessageKind.BOUNCE


def test_bounce_wins_over_the_auto_replied_marker_bounces_also_carry() -> None:
    assert kind_of("Auto-Submitted: auto-replied", "X-Failed-Recipients: x@y.example",
                   "Subject: Mail delivery failed") is MessageKind.BOUNCE


@pytest.mark.parametrize(
    ("sender", "subject", "kind"),
    [
        ("MAILER-DAEMON@mx.example.org", "failure notice", MessageKind.BOUNCE),  # qmail, text/plain
        ("postmaster@contoso.example", "Undeliverable: Proposal", MessageKind.BOUNCE),
        ("Mailer-Daemon@mx.example.org", "Returned mail: see transcript for details", MessageKind.BOUNCE),
        ("postmaster@contoso.example", "Unzustellbar: Angebot", MessageKind.BOUNCE),
        ("MAILER-DAEMON@mx.example.org", "Delayed Mail (still being retried)", MessageKind.AUTOMATED),
        ("postmaster@contoso.example", "Your mailbox is almost full", MessageKind.AUTOMATED),
        ("bob@acme.example", "Undeliverable: the parcel came back", MessageKind.PERSONAL),
    ],
)
def test_mail_system_sender_needs_a_failure_subject_to_be_a_bounce(sender: str, subject: str,
                                                                   kind: MessageKind) -> None:
    meta = parse_headers(headers(f"From: {sender}", f"Subject: {subject}", "Content-Type: text/plain"))

    assert meta.kind is kind


@pytest.mark.parametrize(
    "subject",
    [
        "Delivery Status Notification (Delay)",
        "Delayed Mail (still being retried)",
        "Warning: message 1rh4Zf-0001AB-Cd delayed 24 hours",
        "Delivery delayed:Proposal for Q3",
        "Delivered: Proposal for Q3",
        "Relayed: Proposal for Q3",
    ],
)
def test_delay_and_success_reports_are_not_bounces(subject: str) -> None:
    """A delay warning must not mark an address as failed: the message may still arrive."""
    assert kind_of(f"Subject: {subject}",
                   "Content-Type: multipart/report; report-type=delivery-status") is MessageKind.AUTOMATED


def test_failure_report_mentioning_delay_in_its_subject_is_still_a_bounce() -> None:
    assert kind_of("Subject: Undeliverable: Re: Delayed shipment",
                   "Content-Type: multipart/report; report-type=delivery-status") is MessageKind.BOUNCE


@pytest.mark.parametrize(
    "lines",
    [
        ("Subject: Read: Proposal", "Auto-Submitted: auto-replied"),
        ("Subject: Gelesen: Angebot", "Content-Type: multipart/report; boundary=x"),
        ("Subject: Lu : Devis", "X-MS-Exchange-Generated-Message-Source: Mailbox Transport"),
        ("Subject: Whatever", "Content-Type: multipart/report; report-type=disposition-notification"),
    ],
)
def test_read_receipts(lines: tuple[str, ...]) -> None:
    assert kind_of(*lines) is MessageKind.RECEIPT


def test_read_subject_alone_is_a_persons_mail() -> None:
    assert kind_of("Subject: Read: chapter 3 before Monday") is MessageKind.PERSONAL


@pytest.mark.parametrize(
    "lines",
    [
        ("Auto-Submitted: auto-replied",),
        ("Auto-Submitted: auto-replied (vacation)",),
        ("X-Autoreply: yes",),
        ("X-Autorespond: Bob is away",),
        ("Precedence: auto_reply",),
        ("X-MS-Exchange-Inbox-Rules-Loop: bob@acme.example",),
        ("X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent",),
        ("Precedence: bulk", "X-Autoreply: yes"),  # vacation programs also say bulk: auto-reply wins
        ("Auto-Submitted: auto-generated", "Subject: Automatic reply: Proposal"),
        ("List-Id: <dev.lists.example.org>", "Auto-Submitted: auto-replied"),
    ],
)
def test_auto_reply_markers(lines: tuple[str, ...]) -> None:
    assert kind_of(*lines) is MessageKind.AUTO_REPLY


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Proposal for Q3",
        "Automatische Antwort: Angebot",
        "Réponse automatique : Devis",
        "Out of Office: Proposal",
        "Abwesenheitsnotiz: Angebot",
        "Respuesta automática: Presupuesto",
        "AUTOMATIC REPLY:Proposal",
        "[EXTERNAL] Automatic reply: Proposal",
        "=?utf-8?q?R=C3=A9ponse_automatique_:_Devis?=",
    ],
)
def test_localized_auto_reply_subjects_without_any_header(subject: str) -> None:
    meta = parse_headers(headers("From: bob@acme.example", f"Subject: {subject}"))

    assert meta.kind is MessageKind.AUTO_REPLY
    assert meta.kind_evidence.startswith("subject starts with")


@pytest.mark.parametrize(
    "subject",
    ["Out of office hours support", "Automatic replies are broken again", "Re: out of office policy"],
)
def test_subjects_that_only_mention_absence_are_personal(subject: str) -> None:
    assert kind_of(f"Subject: {subject}") is MessageKind.PERSONAL


@pytest.mark.parametrize(
    ("lines", "kind"),
    [
        (("Precedence: bulk",), MessageKind.LIST),
        (("Precedence: junk",), MessageKind.LIST),
        (("Precedence: list",), MessageKind.LIST),
        (("List-Id: Developers <dev.lists.example.org>",), MessageKind.LIST),
        (("Auto-Submitted: auto-generated",), MessageKind.AUTOMATED),
        (("Auto-Submitted: auto-notified",), MessageKind.AUTOMATED),
        (("Auto-Submitted: no",), MessageKind.PERSONAL),
        (("X-Autoreply: no",), MessageKind.PERSONAL),
        # Exchange stamps it on people's mail sent to groups; alone it must not hide a real reply.
        (("X-Auto-Response-Suppress: DR, OOF, AutoReply",), MessageKind.PERSONAL),
        (("X-Auto-Response-Suppress: All", "Auto-Submitted: auto-generated"), MessageKind.AUTOMATED),
    ],
)
def test_list_automated_and_personal(lines: tuple[str, ...], kind: MessageKind) -> None:
    assert kind_of(*lines) is kind


# ------------------------------------------------------------------------------------ individual fields

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@example.com>", "<abc@example.com>"),
        ("  <abc@example.com>  (sent from my phone)", "<abc@example.com>"),
        ("abc@example.com", "<abc@example.com>"),  # some clients leave the brackets out
        ("<abc@example.com> <def@example.com>", "<abc@example.com>"),
    ],
)
def test_message_id_is_normalised(value: str, expected: str) -> None:
    assert parse_headers(headers(f"Message-ID: {value}")).message_id == expected


@pytest.mark.parametrize("lines", [(), ("Message-ID: hello",), ("Message-ID: <no-at-sign>",)])
def test_missing_or_unusable_message_id_is_none_and_noted(lines: tuple[str, ...]) -> None:
    meta = parse_headers(headers("Subject: x", *lines))

    assert meta.message_id is None
    assert any("Message-ID" in problem for problem in meta.problems)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 5 Mar 2024 10:12:44 +0100", datetime(2024, 3, 5, 9, 12, 44, tzinfo=UTC)),
        ("Tue, 5 Mar 2024 10:12:44 -0000", datetime(2024, 3, 5, 10, 12, 44, tzinfo=UTC)),  # "unknown zone"
        ("5 Mar 2024 10:12:44", datetime(2024, 3, 5, 10, 12, 44, tzinfo=UTC)),
        ("Tue, 05 Mar 2024 10:12:44 PST", datetime(2024, 3, 5, 18, 12, 44, tzinfo=UTC)),
    ],
)
def test_dates_are_aware(value: str, expected: datetime) -> None:
    date = parse_headers(headers(f"Date: {value}")).date

    assert date == expected
    assert date is not None and date.tzinfo is not None


@pytest.mark.parametrize("value",
                         ["yesterday", "Tue, 45 Foo 2024 99:99:99 +0100", "Mon, 1 Jan 2024 10:00 +9999"])
def test_bad_date_is_none_and_noted(value: str) -> None:
    meta = parse_headers(headers(f"Date: {value}"))

    assert meta.date is None
    assert any("Date" in problem for problem in meta.problems)


def test_keeps_the_offset_it_was_given() -> None:
    date = parse_headers(headers("Date: Wed, 6 Mar 2024 09:00:00 +0900")).date

    assert date is not None and date.utcoffset() == timedelta(hours=9)
    assert date.tzinfo == timezone(timedelta(hours=9))


def test_subject_whitespace_and_smuggled_line_breaks_become_single_spaces() -> None:
    meta = parse_headers(headers("Subject: =?utf-8?q?Hello=0D=0ABcc:_evil@x.example=09?=",
                                 "\tand  more"))

    assert meta.subject == "Hello Bcc: evil@x.example and more"


def test_raw_utf8_and_latin1_subjects_are_read() -> None:
    utf8 = parse_headers(b"Subject: Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n")
    latin1 = parse_headers(b"Subject: Gr\xfc\xdfe aus K\xf6ln\r\n")

    assert utf8.subject == latin1.subject == "Grüße aus Köln"
    assert not any("cp1252" in problem for problem in utf8.problems)  # RFC 6532 allows raw UTF-8
    assert any("cp1252" in problem for problem in latin1.problems)


def test_unknown_charset_and_broken_base64_degrade_without_raising() -> None:
    meta = parse_headers(headers("Subject: =?x-no-such-charset?q?abc?= =?utf-8?b?###?= tail",
                                 "From: =?idna?q?=FF?= <bob@acme.example>"))

    assert meta.subject.startswith("abc")
    assert meta.subject.endswith("tail")
    assert meta.from_ is not None and meta.from_.email == "bob@acme.example"
    assert any("charset" in problem for problem in meta.problems)


def test_nul_bytes_are_noted_and_never_reach_the_subject() -> None:
    meta = parse_headers(b"Subject: a\x00b\r\nMessage-ID: <x@y>\r\n")

    assert meta.subject == "a b"
    assert any("NUL" in problem for problem in meta.problems)


def test_a_whole_message_is_read_for_its_headers_only() -> None:
    raw = headers("Subject: real", "Message-ID: <real@x>", "", "Subject: fake in the body", "List-Id: <no>")

    meta = parse_headers(raw)

    assert (meta.subject, meta.message_id, meta.kind) == ("real", "<real@x>", MessageKind.PERSONAL)


def test_addresses_are_lower_cased_and_junk_entries_dropped() -> None:
    meta = parse_headers(headers('To: "Smith, Ann" <Ann@Example.COM>, undisclosed-recipients:;,',
                                 " Bob <BOB@x.org>"))

    assert meta.to == (Address("ann@example.com", "Smith, Ann"), Address("bob@x.org", "Bob"))


def test_repeated_delivered_to_and_x_original_to() -> None:
    meta = parse_headers(headers("Delivered-To: me+followup@example.com", "Delivered-To: Me@Example.com",
                                 "X-Original-To: me+followup-5d@example.com"))

    assert meta.delivered_to == ("me+followup@example.com", "me@example.com", "me+followup-5d@example.com")


def test_followupd_and_exchange_parent_ids() -> None:
    meta = parse_headers(headers("X-Followupd-Id: t-1a2b3c/2",
                                 f"X-MS-Exchange-Parent-Message-Id: {TRACKED_ID}"))

    assert meta.followupd_id == "t-1a2b3c/2"
    assert meta.exchange_parent_id == TRACKED_ID
    assert meta.referenced_ids == (TRACKED_ID,)


def test_hostile_sizes_are_cut_and_noted() -> None:
    meta = parse_headers(b"Subject: " + b"x" * 1_000_000 + b"\r\nTo: " + b"a@b.example, " * 100_000 + b"\r\n")

    assert len(meta.subject) == 1000
    assert any("large" in problem for problem in meta.problems)
    assert any("To longer" in problem for problem in meta.problems)


def test_nested_comments_in_an_address_do_not_blow_the_stack() -> None:
    meta = parse_headers(b"From: " + b"(" * 5000 + b"bob@acme.example\r\nSubject: hi\r\n")

    assert meta.subject == "hi"
    assert not any(problem.startswith("internal") for problem in meta.problems)


# --------------------------------------------------------------------------------- extract_message_ids

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<a@x> <b@y>", ("<a@x>", "<b@y>")),
        ("<a@x>\r\n <b@y>\r\n\t<a@x>", ("<a@x>", "<b@y>")),
        ('<a@x> (Bob\'s message of "Wed, 1 Jan 2020 10:00:00 +0100")', ("<a@x>",)),
        ("<a@x> (message from Bob Builder <bob@acme.example> on Wed, 1 Jan)", ("<a@x>",)),
        ('Your message of "Wed, 1 Jan 2020" <a@x>', ("<a@x>",)),
        ("a@x", ("<a@x>",)),
        ("  a@x  ", ("<a@x>",)),
        ("<no-at-sign> <@x> <x@> <a@x>", ("<a@x>",)),
        ("(unclosed comment <a@x>", ("<a@x>",)),
        ("a@x b@y", ()),  # bare ids only count when one is the whole value
        ("", ()),
        ("<a@x>", ("<a@x>",)),
    ],
)
def test_extract_message_ids(value: str, expected: tuple[str, ...]) -> None:
    assert extract_message_ids(value) == expected


ID_PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_$+=", min_size=1,
                  max_size=20)


@given(st.lists(st.tuples(ID_PART, ID_PART), min_size=1, max_size=8),
       st.lists(st.sampled_from(['(Bob\'s message of "Wed")', "\r\n ", "junk", "(x (nested) y)", "\t"]),
                max_size=8))
def test_ids_survive_comments_and_folding_in_order(pairs: list[tuple[str, str]], noise: list[str]) -> None:
    ids = [f"<{left}@{right}>" for left, right in pairs]
    text = " ".join(part for pair in zip(ids, [*noise, *[""] * len(ids)], strict=False) for part in pair)

    assert extract_message_ids(text) == tuple(dict.fromkeys(ids))


# --------------------------------------------------------------------------------------- base_subject

@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Proposal for Q3", "proposal for q3"),
        ("Re: Proposal for Q3", "proposal for q3"),
        ("RE: RE: Fwd: FW: Proposal  for\tQ3", "proposal for q3"),
        ("Re[2]: Re(3): Re^4: RE [5]: x", "x"),
        ("AW: WG: Antwort: SV: VS: Antw: Odp: RIF: RES: RV: ENC: TR: YNT: x", "x"),
        ("Re : Devis", "devis"),  # French typography puts a space before the colon
        ("Réf : Re: Devis", "devis"),
        ("I: R: Preventivo", "preventivo"),
        ("回复\uff1a关于报价", "关于报价"),  # full-width colon
        ("答复: 转发: 关于报价", "关于报价"),
        ("Отв: Ответ: Предложение", "предложение"),
        ("ΑΠ: ΣΧΕΤ: Πρόταση", "πρόταση"),
        ("[dev] Re: [dev] Proposal", "proposal"),
        ("Re: [EXTERNAL] Proposal", "proposal"),
        ("Automatic reply: RE: Proposal for Q3", "proposal for q3"),
        ("Automatische Antwort: AW: Angebot", "angebot"),
        ("Réponse automatique : Devis", "devis"),
        ("Out of Office: Proposal", "proposal"),
        ("Abwesenheitsnotiz: Angebot", "angebot"),
        ("Respuesta automática: Presupuesto", "presupuesto"),
        ("Proposal (fwd)", "proposal"),
        ("Re:", ""),
        # Words that merely start a subject stay.
        ("Return policy", "return policy"),
        ("Research update", "research update"),
        ("I think we should talk", "i think we should talk"),
        ("R2-D2 repairs", "r2-d2 repairs"),
        ("Fwd thinking", "fwd thinking"),
        ("Trip report", "trip report"),
        ("Resume: Bob", "resume: bob"),
        ("Out of office hours", "out of office hours"),
        ("STRASSE vs Straße", "strasse vs strasse"),
    ],
)
def test_base_subject(subject: str, expected: str) -> None:
    assert base_subject(subject) == expected


def test_reply_and_ooo_subjects_meet_the_original() -> None:
    original = base_subject(f"Proposal for Q3 {DASH} pricing")

    for seen in (f"Re: Proposal for Q3 {DASH} pricing", f"AW: Re[2]: proposal FOR q3 {DASH} pricing",
                 f"Automatic reply: Re: Proposal for Q3 {DASH} pricing",
                 f"[acme] RE : Proposal for Q3 {DASH}  pricing"):
        assert base_subject(seen) == original


@given(st.text())
def test_base_subject_is_stable(subject: str) -> None:
    once = base_subject(subject)

    assert base_subject(once) == once
    assert "\n" not in once and "\r" not in once
    assert_no_internal_error()


# ------------------------------------------------------------------------------------ hostile input

SAMPLES = sorted(MAIL.glob("*.eml"))


def assert_parsed_cleanly(raw: bytes) -> None:
    meta = parse_headers(raw)
    assert not any(problem.startswith("internal error") for problem in meta.problems), meta.problems
    assert "\r" not in meta.subject and "\n" not in meta.subject
    assert meta.date is None or meta.date.tzinfo is not None
    for address in (*meta.all_recipients(), *((meta.from_,) if meta.from_ else ())):
        assert address.email == address.email.lower()
    assert_no_internal_error()


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_parse_headers_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    assert_parsed_cleanly(raw)


NASTY_BYTES = st.sampled_from([b"\x00", b"\r\n", b"\r", b"\n ", b"=?", b"?=", b"?q?", b"?b?", b"<", b">",
                               b"(", b")", b"\"", b":", b";", b"\xff\xfe", b"\xc3", b"=?utf-8?b?", b"@",
                               b"\\"])


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SAMPLES),
       st.lists(st.tuples(st.integers(min_value=0, max_value=3000), NASTY_BYTES | st.binary(max_size=12)),
                max_size=10))
def test_parse_headers_never_raises_on_mutated_real_headers(path: Path,
                                                            edits: list[tuple[int, bytes]]) -> None:
    raw = bytearray(path.read_bytes())
    for position, insert in edits:
        at = position % (len(raw) + 1)
        raw[at:at] = insert
    assert_parsed_cleanly(bytes(raw))


SAFE_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=200)


@settings(max_examples=300)
@given(SAFE_TEXT, st.sampled_from(["utf-8", "iso-8859-1", "utf-16"]))
def test_subjects_encoded_by_the_stdlib_come_back(text: str, charset: str) -> None:
    """Whatever a standard encoder produces (splitting long text over several words) decodes back.

    Byte-order marks are dropped on purpose: joined UTF-16 words would leave one inside the text.
    """
    try:
        encoded = email.header.Header(text, charset).encode()
    except UnicodeEncodeError:
        return  # not representable in that charset
    meta = parse_headers(b"Subject: " + encoded.encode("ascii") + b"\r\n")

    assert meta.subject == " ".join(text.replace("\ufeff", "").split())[:1000]


# ------------------------------------------------------------------------ fast paths give the same answer
# parse_headers runs once per message of a mailbox: plain address lists skip the stdlib parser, short address
# fields are parsed once per process, and plain text skips the squeeze. Each shortcut must give exactly what
# the slow path gives; these tests run both over every header value of the samples and over generated input.

HOSTILE = Path(__file__).parent / "data" / "hostile"
ALL_SAMPLES = sorted({*MAIL.rglob("*.eml"), *HOSTILE.glob("*.eml")})
ADDRESS_FIELDS = ("from", "sender", "to", "cc", "bcc", "reply-to", "delivered-to", "x-original-to",
                  "return-path")


def sample_fields(path: Path) -> list[tuple[str, str]]:
    """Every header field of a sample as parse_headers sees it (8-bit bytes recovered)."""
    msg = BytesHeaderParser().parsebytes(path.read_bytes())
    return [(str(name).lower(), hdr._unescape(str(value))[0]) for name, value in msg.raw_items()]


def assert_same_as_getaddresses(values: list[str]) -> bool:
    """The fast path gives exactly getaddresses' pairs, or declines; returns whether it answered."""
    fast = hdr._simple_addresses(", ".join(values))
    if fast is not None:
        assert fast == getaddresses(values), values
    return fast is not None


def test_simple_address_path_matches_getaddresses_on_every_sample_header() -> None:
    answered: dict[str, int] = {}
    for path in ALL_SAMPLES:
        fields = sample_fields(path)
        for name, value in fields:  # every field, address or not: the fast path must never guess
            if assert_same_as_getaddresses([value]):
                answered[name] = answered.get(name, 0) + 1
        for field_name in ADDRESS_FIELDS:  # repeated fields are joined, as _addresses does
            assert_same_as_getaddresses([value for name, value in fields if name == field_name])
    # The samples' plain From/To must take the fast path, or it silently stopped working.
    assert answered.get("from", 0) >= 30 and answered.get("to", 0) >= 30, answered


def test_parse_headers_is_the_same_without_its_shortcuts(monkeypatch: pytest.MonkeyPatch) -> None:
    raws = [path.read_bytes() for path in ALL_SAMPLES]
    raws += GENERATED_BLOCKS
    fast = [parse_headers(raw) for raw in raws]
    again = [parse_headers(raw) for raw in raws]  # now from the address cache
    with monkeypatch.context() as patch:
        patch.setattr(hdr, "_simple_addresses", lambda text: None)
        patch.setattr(hdr, "_CACHED_ADDRESS_FIELD", -1)
        patch.setattr(hdr, "_squeeze", subjects.squeeze_any)
        patch.setattr(classify, "squeeze", subjects.squeeze_any)
        slow = [parse_headers(raw) for raw in raws]

    assert fast == slow
    assert again == slow


GENERATED_BLOCKS = [
    headers('From: "Doe, Jane" <Jane.Doe@Acme.Example>', "To: a@b.example,  Bob <bob@b.example>,\r\n\t"
            '"Carol (Finance)" <carol@c.example>', "Cc: =?utf-8?q?Zo=C3=AB?= <zoe@z.example>",
            "Subject: plain  spaced\tsubject ", "Date: Tue, 5 Mar 2024 09:12:44 +0000"),
    headers("From: Bob <bob@x.example> (work)", "To: team: a@x.example, b@x.example;",
            "Cc: a@x.example,, <b@x.example>,", "Bcc: =?x-unknown?q?hi?= <c@x.example>",
            "Reply-To: \"back\\\\slash\" <d@x.example>", "Delivered-To: me@x.example"),
]


def test_cached_address_problems_are_reported_every_time() -> None:
    raw = headers("To: =?x-unknown?q?hi?= <c@x.example>", "Subject: s")

    first, second = parse_headers(raw), parse_headers(raw)

    assert "unknown charset 'x-unknown' in To" in first.problems
    assert second == first


ATOM = st.text("abcXYZ019!#$%&'*+/=?^_`{|}~-", min_size=1, max_size=6)
ADDR_SPEC = st.builds(lambda local, domain: f"{'.'.join(local)}@{'.'.join(domain)}",
                      st.lists(ATOM, min_size=1, max_size=3), st.lists(ATOM, min_size=1, max_size=3))
ENCODED_NAME = st.sampled_from(["=?utf-8?q?Zo=C3=AB?=", "=?UTF-8?B?SsO8cmdlbg==?=", "=?iso-8859-1?q?M=FCller?="])
NAME_WORD = ATOM | st.sampled_from(["Q.", "Jr.", ".x"]) | ENCODED_NAME
QUOTED = st.text("abc XYZ,.;:<>@()[]'", max_size=12).map(lambda text: f'"{text}"')
SPACE = st.sampled_from([" ", "  ", "\t", "\r\n ", "\r\n\t"])
PHRASE = st.lists(st.tuples(NAME_WORD | QUOTED, SPACE), min_size=1, max_size=4).map(
    lambda parts: "".join(word + space for word, space in parts))
PLAIN_ITEM = ADDR_SPEC | st.builds(lambda phrase, addr: f"{phrase}<{addr}>", PHRASE | st.just(""), ADDR_SPEC)
PLAIN_LIST = st.lists(st.tuples(st.sampled_from(["", " ", "\r\n "]), PLAIN_ITEM, st.sampled_from(["", " "])),
                      min_size=1, max_size=5).map(lambda items: ",".join(a + item + b for a, item, b in items))
#: What the fast path must leave to getaddresses: comments, groups, routes, literals, escapes, odd spacing.
ODD = st.sampled_from(["(", ")", "(c)", ":", ";", "\\", '"', "<", ">", "@", ",", ",,", " ", "\r", "\n", ".",
                       "[1.2.3.4]", "é", "\x00", "\x7f", "@x", "a@b@c", "<@route:a@b>", "<>", "\u00a0"])


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(PLAIN_LIST)
def test_plain_address_lists_take_the_fast_path_and_match_getaddresses(text: str) -> None:
    assert hdr._simple_addresses(text) == getaddresses([text])


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(PLAIN_LIST, st.lists(st.tuples(st.integers(min_value=0, max_value=200), ODD), min_size=1, max_size=4))
def test_odd_address_lists_match_getaddresses_or_fall_back(text: str, edits: list[tuple[int, str]]) -> None:
    for position, insert in edits:
        at = position % (len(text) + 1)
        text = text[:at] + insert + text[at:]
    assert_same_as_getaddresses([text])
    assert_same_as_getaddresses([text, text])


@settings(max_examples=300)
@given(st.lists(st.text(max_size=40), max_size=3))
def test_arbitrary_address_text_matches_getaddresses_or_falls_back(values: list[str]) -> None:
    assert_same_as_getaddresses(values)


@given(st.text(st.characters(max_codepoint=0x2000)), st.integers(min_value=0, max_value=60))
def test_squeeze_shortcut_matches_the_full_squeeze(text: str, limit: int) -> None:
    assert subjects.squeeze(text, limit) == subjects.squeeze_any(text, limit)


def test_squeeze_shortcut_matches_on_every_sample_header() -> None:
    for path in ALL_SAMPLES:
        for _, value in sample_fields(path):
            assert subjects.squeeze(value, 200) == subjects.squeeze_any(value, 200)


# --------------------------------------------------------------------------------- a bug is seen, not hidden

def _boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise ZeroDivisionError("a bug planted by the test")


def test_a_bug_in_the_parser_gives_the_default_and_is_recorded(monkeypatch: pytest.MonkeyPatch,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(hdr, "_parse", _boom)

    first, second = parse_headers(b"Subject: x\r\n\r\n"), parse_headers(b"Subject: y\r\n\r\n")

    assert first.message_id is None and first.problems == ("internal error parsing headers: ZeroDivisionError",)
    assert second == first
    assert take_internal_errors() == {"headers": 2}
    assert len([r for r in caplog.records if "internal error" in r.getMessage()]) == 1  # logged once
