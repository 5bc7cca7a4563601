"""Delivery traces (pure): which header shapes each delivery setup writes, and what doctor says when none is left.

The header blocks below are the shapes these setups write; where a setup could not be run here, the source is
named beside it. The Dovecot ones are copied from what Dovecot 2.3 wrote in this test environment (LMTP with one
and with two recipients; dovecot-lda writes nothing); tests/test_delivery_setups.py runs those for real.
"""

from __future__ import annotations

from datetime import date

import pytest

from followupd.mail.headers import FETCH_HEADER_FIELDS, parse_headers
from followupd.mail.traces import TRACE_FETCH_FIELDS, explain_missing_trace, received_for
from followupd.planning.tracking import find_tracking
from followupd.runtime.selftest import is_self_test, traced_by

TRACKING = "alex+followup@example.com"
OWN = frozenset({"alex@example.com"})
SENT_ON = date(2026, 12, 1)

MESSAGE = (b"From: Alex <alex@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: Quote\r\n"
           b"Date: Tue, 01 Dec 2026 09:00:00 +0000\r\nMessage-ID: <q1@example.com>\r\n")

# Postfix virtual(8)/local(8): Delivered-To always, X-Original-To with enable_original_recipient = yes
# (postconf(5), virtual(8) "Delivered-To:" and "X-Original-To:" in DELIVERY RIGHTS/HEADERS).
POSTFIX_VIRTUAL = (b"Return-Path: <alex@example.com>\r\nX-Original-To: alex+followup-5d@example.com\r\n"
                   b"Delivered-To: alex+followup-5d@example.com\r\n"
                   b"Received: by mail.example.com (Postfix, from userid 1000)\r\n\tid 4ZbQ3k0XyZz9sWf; "
                   b"Tue,  1 Dec 2026 09:00:01 +0000 (UTC)\r\n")
# Exim appendfile with envelope_to_add (Exim spec ch. 24; Debian's local_delivery sets it), several recipients
# in one batch, so the Received has no "for".
EXIM_ENVELOPE_TO = (b"Envelope-to: bob@example.com, alex+followup@example.com\r\n"
                    b"Delivery-date: Tue, 01 Dec 2026 09:00:01 +0000\r\n"
                    b"Received: from [192.0.2.7] (helo=laptop)\r\n\tby mail.example.com with esmtpsa  "
                    b"(TLS1.3) tls TLS_AES_256_GCM_SHA384\r\n\t(Exim 4.96)\r\n\t(envelope-from <alex@example.com>)"
                    b"\r\n\tid 1vQx2k-000Abc-1D;\r\n\tTue, 01 Dec 2026 09:00:01 +0000\r\n")
# Exim's default received_header_text with one recipient: "for $received_for", no angle brackets.
EXIM_RECEIVED_FOR = (b"Received: from [192.0.2.7] (helo=laptop)\r\n\tby mail.example.com with esmtpsa (Exim 4.96)"
                     b"\r\n\t(envelope-from <alex@example.com>)\r\n\tid 1vQx2k-000Abc-1D\r\n\tfor "
                     b"alex+followup-fri@example.com; Tue, 01 Dec 2026 09:00:01 +0000\r\n")
# Gmail auto-forwarding alex+followup@ -> alex@elsewhere: a new Delivered-To on top, X-Forwarded-To/-For, the
# original Delivered-To kept below (ajaxtower.jp/gmail/auto-forwarding/index3.html).
GMAIL_FORWARD = (b"Delivered-To: alex@elsewhere.example\r\nReceived: by 2002:a05:6400:1:b0:2a1 with SMTP id x;\r\n"
                 b"\tTue, 1 Dec 2026 01:00:02 -0800 (PST)\r\nX-Forwarded-To: alex@elsewhere.example\r\n"
                 b"X-Forwarded-For: alex+followup@example.com alex@elsewhere.example\r\n")
# Fastmail: X-Delivered-to is the envelope recipient, X-Resolved-to the final mailbox
# (fastmail.com/help/technical/emaildelivery.html).
FASTMAIL = (b"X-Resolved-to: alex@example.com\r\nX-Delivered-to: alex+followup@example.com\r\n"
            b"X-Mail-from: alex@example.com\r\n")
# Sendmail-style hosting: X-Envelope-To.
X_ENVELOPE_TO = b"X-Envelope-To: <alex+followup@example.com>\r\n"
# A forwarder's earlier hop: Postfix's Received with one recipient names it in angle brackets.
FORWARDED_HOP = (b"Delivered-To: alex@new.example\r\n"
                 b"Received: from mx.example.com (mx.example.com [192.0.2.1])\r\n\tby mx.new.example (Postfix) "
                 b"with ESMTPS id 4Zc\r\n\tfor <alex@new.example>; Tue,  1 Dec 2026 09:00:03 +0000 (UTC)\r\n"
                 b"Received: from laptop (unknown [192.0.2.7])\r\n\tby mx.example.com (Postfix) with ESMTPSA id 4Zb"
                 b"\r\n\tfor <alex+followup@example.com>; Tue,  1 Dec 2026 09:00:01 +0000 (UTC)\r\n")

# What Dovecot 2.3's LMTP wrote here for two recipients in one transaction, under the Received Postfix adds.
DOVECOT_LMTP_MULTI = b"Received: from mail.example.com\r\n\tby mail.example.com with LMTP\r\n\tid 2LCbA6sz\r\n" \
                     b"\t(envelope-from <alex@example.com>); Tue, 01 Dec 2026 09:00:01 +0000\r\n"
POSTFIX_SUBMISSION = (b"Received: from laptop (unknown [192.0.2.7])\r\n\t(Authenticated sender: alex)\r\n\tby "
                      b"mail.example.com (Postfix) with ESMTPSA id 4ZbQ3k0XyZ;\r\n\tTue,  1 Dec 2026 09:00:01 +0000 "
                      b"(UTC)\r\n")
EXIM_SUBMISSION = (b"Received: from [192.0.2.7] (helo=laptop)\r\n\tby mail.example.com with esmtpsa (Exim 4.96)"
                   b"\r\n\t(envelope-from <alex@example.com>)\r\n\tid 1vQx2k-000Abc-1D;\r\n\tTue, 01 Dec 2026 "
                   b"09:00:01 +0000\r\n")


def tracked_as(raw: bytes) -> str | None:
    """What the engine does with a delivered copy: To/Cc, then every trace, through find_tracking."""
    meta = parse_headers(raw)
    candidates = [*(a.email for a in (*meta.to, *meta.cc)), *meta.delivered_to, *meta.received_for]
    request = find_tracking(candidates, TRACKING, sent_on=SENT_ON)
    return request.address if request else None


@pytest.mark.parametrize(("trace", "address"), [
    (POSTFIX_VIRTUAL, "alex+followup-5d@example.com"),
    (EXIM_ENVELOPE_TO, "alex+followup@example.com"),
    (EXIM_RECEIVED_FOR, "alex+followup-fri@example.com"),
    (GMAIL_FORWARD, "alex+followup@example.com"),
    (FASTMAIL, "alex+followup@example.com"),
    (X_ENVELOPE_TO, "alex+followup@example.com"),
    (FORWARDED_HOP, "alex+followup@example.com"),
], ids=["postfix-virtual", "exim-envelope-to", "exim-received-for", "gmail-forward", "fastmail",
        "x-envelope-to", "forwarded-hop"])
def test_every_setups_trace_tracks_the_delivered_copy(trace: bytes, address: str) -> None:
    assert tracked_as(trace + MESSAGE) == address
    assert traced_by(trace + MESSAGE, TRACKING) is not None


def test_without_any_trace_the_copy_is_not_tracked() -> None:
    assert tracked_as(DOVECOT_LMTP_MULTI + POSTFIX_SUBMISSION + MESSAGE) is None
    assert traced_by(DOVECOT_LMTP_MULTI + POSTFIX_SUBMISSION + MESSAGE, TRACKING) is None


def test_a_received_for_clause_naming_someone_else_makes_nobody_a_recipient() -> None:
    """An earlier hop's "for" names that hop's recipient: never a participant, never the tracking address."""
    meta = parse_headers(FORWARDED_HOP + MESSAGE)
    assert meta.received_for == ("alex@new.example", "alex+followup@example.com")
    assert [a.email for a in meta.all_recipients()] == ["bob@example.org"]
    other = FORWARDED_HOP.replace(b"alex+followup@example.com", b"carol@example.org")
    assert tracked_as(other + MESSAGE) is None


def test_received_for_reads_clauses_not_comments_or_dates() -> None:
    assert received_for(["from x by y with ESMTP id 1 for <a@x.org>; Tue, 1 Dec 2026"]) == ("a@x.org",)
    assert received_for(["by y (Exim 4.96) (envelope-from <s@x.org>) id 1 for b@x.org; Tue"]) == ("b@x.org",)
    assert received_for(["by y with LMTP id 2 (envelope-from <s@x.org>); Tue, 1 Dec 2026"]) == ()
    assert received_for(["from x (comment for <c@x.org>) by y; date for <d@x.org>"]) == ()
    assert received_for(["by y for multiple recipients; Tue"]) == ()


def test_every_trace_field_but_received_is_in_the_bulk_fetch() -> None:
    """Received chains are the bulkiest fields (they double the fetched bytes of bench/mailgen.py's realistic
    mail): the engine reads them apart, only for the user's own delivered mail without another trace."""
    assert set(TRACE_FETCH_FIELDS) - set(FETCH_HEADER_FIELDS) == {"RECEIVED"}


@pytest.mark.parametrize(("received", "cause", "fix"), [
    (DOVECOT_LMTP_MULTI + POSTFIX_SUBMISSION, "Postfix handed the message to Dovecot's LMTP together with other",
     "lmtp_destination_recipient_limit = 1"),
    (DOVECOT_LMTP_MULTI + EXIM_SUBMISSION, "Exim handed the message to Dovecot's LMTP", "max_rcpt = 1"),
    (DOVECOT_LMTP_MULTI, "the mail server handed the message to Dovecot's LMTP", "one recipient per transaction"),
    (EXIM_SUBMISSION, "Exim delivered it without an Envelope-to", "envelope_to_add = true"),
    (POSTFIX_SUBMISSION, "Postfix handed it to the mailbox without writing Delivered-To", "flags=DRhu"),
    (b"", "no Received header at all", "Postfix pipe flags=DRhu"),
], ids=["postfix-lmtp", "exim-lmtp", "lmtp", "exim-local", "postfix-pipe-lda", "lda-alone"])
def test_doctor_names_the_step_that_dropped_the_trace_and_its_fix(received: bytes, cause: str, fix: str) -> None:
    missing = explain_missing_trace(received + MESSAGE, TRACKING)
    assert cause in missing.cause
    assert fix in missing.fix
    # Whatever the MTA, the per-recipient Sieve rule works; it names this user's tracking address.
    assert 'if envelope :matches "to" "alex+followup*@example.com"' in missing.fix


def test_a_message_to_your_own_addresses_only_is_a_self_test() -> None:
    def meta(to: str, bcc: str = TRACKING) -> bytes:
        return f"From: alex@example.com\r\nTo: {to}\r\nBcc: {bcc}\r\nSubject: t\r\n".encode()

    assert is_self_test(parse_headers(meta("Alex <alex@example.com>")), TRACKING, OWN)
    assert is_self_test(parse_headers(meta("alex+notes@example.com")), TRACKING, OWN)  # a tag is still you
    assert not is_self_test(parse_headers(meta("alex@example.com, bob@example.org")), TRACKING, OWN)
    assert not is_self_test(parse_headers(b"From: bob@example.org\r\nTo: alex@example.com\r\n"), TRACKING, OWN)
