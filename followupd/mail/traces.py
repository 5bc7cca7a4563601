"""Delivery traces: which envelope address brought a delivered copy, and why a copy may say nothing at all.

A Bcc header is never delivered (RFC 5322 §3.6.3), so the INBOX copy of a message BCC'd to the tracking address
shows that address only where the delivering software chose to write the envelope recipient. Who writes what
(measured here on Dovecot 2.3, or from the cited documentation):

===========================================  ===================================================================
Dovecot LMTP, one recipient per transaction  ``Delivered-To: <rcpt>``; ``Received: ... with LMTP ... for <rcpt>``
Dovecot LMTP, several recipients at once     neither: no Delivered-To, and its Received has no ``for`` clause
                                             (what Postfix does unless ``lmtp_destination_recipient_limit = 1``)
dovecot-lda                                  nothing at all; the program calling it must add a header (Postfix
                                             pipe(8) ``flags=D`` -> Delivered-To, ``O`` -> X-Original-To)
Postfix local(8) / virtual(8)                ``Delivered-To`` and ``X-Original-To`` (postconf(5),
                                             ``enable_original_recipient``)
Exim appendfile / pipe / lmtp transports     ``Envelope-to: a, b`` with ``envelope_to_add = true`` (Exim spec,
                                             ch. 24 generic transport options); ``Received: ... (Exim 4.x) ...
                                             for a`` (no angle brackets) when the message had one recipient
Gmail auto-forwarding                        ``X-Forwarded-To: target``, ``X-Forwarded-For: original target``
                                             and the original ``Delivered-To`` kept below the new one
Fastmail                                     ``X-Delivered-to`` (envelope recipient), ``X-Resolved-to``
Sendmail-style and hosting setups            ``X-Envelope-To``; a Received ``for <rcpt>`` per hop
===========================================  ===================================================================

A Received ``for`` clause names the recipient *of that hop*: an earlier hop (a forwarder, a list) may name
someone else entirely, so these addresses are only ever compared with the tracking address, never taken for
recipients or participants.

Why hand-written: these fields are not RFC 5322 address lists (X-Forwarded-For is space separated, a
Received ``for`` clause is an RFC 5321 path inside free-form trace text), so ``email.utils.getaddresses`` merges
or splits them wrongly; only the addr-spec tokens are wanted, which one small regular expression finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.parser import BytesHeaderParser

from followupd.mail.patterns import lazy_pattern

#: Fields that carry envelope recipients besides Delivered-To and X-Original-To (which headers.py reads with the
#: RFC 5322 address parser, as before). Lower-case, as headers.py keys them.
EXTRA_RECIPIENT_FIELDS = ("x-delivered-to", "envelope-to", "x-envelope-to", "x-forwarded-to", "x-forwarded-for")

#: Every trace field followupd reads (doctor searches them all; the bulk FETCH all but Received, which the
#: engine reads apart for the few messages that need it: RECEIVED_FIELDS).
TRACE_FETCH_FIELDS = ("DELIVERED-TO", "X-ORIGINAL-TO", "X-DELIVERED-TO", "ENVELOPE-TO", "X-ENVELOPE-TO",
                      "X-FORWARDED-TO", "X-FORWARDED-FOR", "RECEIVED")
RECEIVED_FIELDS = ("RECEIVED",)

# An addr-spec token: no spaces, brackets, quotes or separators; one "@" with text on both sides.
_ADDR = lazy_pattern(r"[^\s<>,;:\"()\[\]@]+@[^\s<>,;:\"()\[\]@]+")
# RFC 5321 §4.4: ``For = CFWS "FOR" FWS ( Path / Mailbox )``; Exim writes the mailbox without angle brackets.
_FOR = lazy_pattern(r"(?:^|[\s)])for\s+<?([^\s<>;]+)>?", re.IGNORECASE)
_COMMENT = lazy_pattern(r"\([^()]*\)")
_WITH_LMTP = lazy_pattern(r"\bwith\s+LMTPS?A?\b", re.IGNORECASE)
_LONGEST_FIELD = 4096  # a trace field longer than this is junk: cut before the regexes run


def addresses_in(values: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased addr-spec tokens in trace field values (``a@x b@y``, ``<a@x>``, ``a@x, b@y``), in order."""
    found: dict[str, None] = {}
    for value in values:
        for token in _ADDR.findall(value[:_LONGEST_FIELD]):
            found.setdefault(token.lower().rstrip("."), None)
    return tuple(found)


def received_for(values: Iterable[str]) -> tuple[str, ...]:
    """Addresses named in the ``for`` clauses of Received fields (``for <a@x>`` or Exim's ``for a@x``).

    Only the part before the ``;`` that starts the date is read, with comments removed first, so text like
    ``(envelope-from <x@y>)`` or a date is never taken for a clause."""
    found: dict[str, None] = {}
    for value in values:
        clauses = _COMMENT.sub(" ", value[:_LONGEST_FIELD].rpartition(";")[0] or value[:_LONGEST_FIELD])
        for match in _FOR.finditer(clauses):
            for token in _ADDR.findall(match.group(1)):
                found.setdefault(token.lower().rstrip("."), None)
    return tuple(found)


def received_for_in(raw: bytes) -> tuple[str, ...]:
    """:func:`received_for` of every Received field in a header block (e.g. a narrow ``HEADER.FIELDS`` fetch)."""
    if not raw:
        return ()
    msg = BytesHeaderParser().parsebytes(raw)
    return received_for(str(value) for name, value in msg.raw_items() if name.lower() == "received")


def extra_recipients(fields: Mapping[str, Sequence[str]]) -> tuple[str, ...]:
    """Envelope recipients named in X-Delivered-To, Envelope-To, X-Envelope-To, X-Forwarded-To/-For."""
    return addresses_in(value for name in EXTRA_RECIPIENT_FIELDS for value in fields.get(name, ()))


# ------------------------------------------------------------------------------------------ why no trace


@dataclass(frozen=True)
class MissingTrace:
    """Why a delivered copy names no envelope recipient (``cause``) and what the user can change (``fix``)."""

    cause: str
    fix: str


def sieve_fix(tracking_address: str) -> str:
    """The one fix that works whatever delivers into Dovecot: Sieve runs once per recipient, with that recipient
    as the envelope "to" even when several came in one LMTP transaction (editheader is off by default in
    Pigeonhole, hence the setting)."""
    local, _, domain = tracking_address.lower().partition("@")
    return ("or, with Dovecot's Sieve (Pigeonhole): set sieve_extensions = +editheader and add to the user's "
            f'script: require ["envelope", "variables", "editheader"]; if envelope :matches "to" "{local}*@{domain}" '
            '{ addheader "X-Original-To" "${0}"; }')

_POSTFIX_LMTP = ("Postfix: set lmtp_destination_recipient_limit = 1 in main.cf (for a master.cf transport of another "
                 "name, e.g. dovecot, dovecot_destination_recipient_limit = 1), then postfix reload; Dovecot then "
                 "writes Delivered-To on every copy")
_EXIM_LMTP = ("Exim: deliver to Dovecot with the lmtp transport and batch_max = 1 (its default), or set "
              "max_rcpt = 1 on an smtp transport with protocol = lmtp; or add envelope_to_add = true to it")
_GENERIC_LMTP = ("make the mail server hand Dovecot's LMTP one recipient per transaction (Postfix: "
                 "lmtp_destination_recipient_limit = 1; Exim: batch_max = 1 on the lmtp transport)")
_POSTFIX_PIPE = ("Postfix: give the master.cf pipe that runs dovecot-lda the D flag (flags=DRhu writes "
                 "Delivered-To) and pass -a ${recipient}, with dovecot_destination_recipient_limit = 1 in main.cf; "
                 "if it delivers over LMTP instead, set lmtp_destination_recipient_limit = 1")
_EXIM_LOCAL = ("Exim: add envelope_to_add = true to the transport that delivers into the mailbox (appendfile, or "
               "the pipe/lmtp transport to Dovecot); Debian's default local_delivery already has it")
_NO_RECEIVED = ("whatever calls dovecot-lda (or files the message) must write the envelope recipient: Postfix "
                "pipe flags=DRhu, Exim envelope_to_add = true, procmail/fetchmail a Delivered-To; or deliver over "
                "LMTP one recipient at a time")


def _received(raw: bytes) -> list[str]:
    """The Received fields, newest (topmost) first, unfolded."""
    msg = BytesHeaderParser().parsebytes(raw)
    return [" ".join(str(value).split()) for name, value in msg.raw_items() if name.lower() == "received"]


def explain_missing_trace(raw: bytes, tracking_address: str) -> MissingTrace:
    """Read a delivered copy's Received chain and say which delivery step dropped the envelope recipient.

    Pure; ``raw`` is a header block (or whole message) that carries no trace of the tracking address. The top
    Received is the last hop, the one that put the message into the mailbox."""
    received = _received(raw)
    sieve = sieve_fix(tracking_address)
    if not received:
        return MissingTrace(
            "the copy has no Received header at all: it was filed by a program that records no envelope "
            "recipient, such as dovecot-lda (measured: it writes no header) or an IMAP APPEND",
            f"{_NO_RECEIVED}\n{sieve}")
    top = received[0]
    below = received[1] if len(received) > 1 else ""
    if _WITH_LMTP.search(top) and not received_for([top]):
        handed = ("Postfix" if "(Postfix)" in below else "Exim" if "(Exim " in below else "the mail server")
        fix = _POSTFIX_LMTP if handed == "Postfix" else _EXIM_LMTP if handed == "Exim" else _GENERIC_LMTP
        return MissingTrace(
            f"{handed} handed the message to Dovecot's LMTP together with other recipients in one transaction "
            "(its Received says \"with LMTP\" without \"for\"), and Dovecot then writes no Delivered-To",
            f"{fix}\n{sieve}")
    if "(Exim " in top:
        return MissingTrace("Exim delivered it without an Envelope-to header (envelope_to_add is off) and the "
                            "message had several recipients, so its Received names none",
                            f"{_EXIM_LOCAL}\n{sieve}")
    if "(Postfix" in top:
        return MissingTrace("Postfix handed it to the mailbox without writing Delivered-To or X-Original-To "
                            "(a pipe to dovecot-lda without the D flag, or LMTP without Dovecot's Received)",
                            f"{_POSTFIX_PIPE}\n{sieve}")
    return MissingTrace("the last delivery step wrote no Delivered-To, X-Original-To, Envelope-To or Received "
                        "\"for\" naming the address it delivered to",
                        f"ask the server's administrator to record the envelope recipient ({_GENERIC_LMTP})\n"
                        f"{sieve}")
