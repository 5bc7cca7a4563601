"""The self-test: a message from the user to their own addresses only, with the tracking address in Bcc.

Doctor advises sending one when it finds no proof that the tracking address reaches the mailbox. Such a message
has nobody to follow up with, so the engine never makes a thread of it (it would wait "to nobody" until stopped
by hand); doctor reads it instead, as evidence: did a copy arrive, and does a copy say it came through the
tracking address? When copies arrived but none says so, the delivery setup drops the trace (Postfix handing
several recipients to Dovecot's LMTP at once is the usual cause), and doctor names the cause and the fix from
the copy's Received chain (:func:`followupd.mail.traces.explain_missing_trace`).

Reading only: SEARCH and header fields (``BODY.PEEK``) of the few newest candidates, in folders opened read-only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser

from followupd.adapters.imap import Mailbox
from followupd.mail.headers import FETCH_HEADER_FIELDS, MessageMeta, parse_headers
from followupd.mail.traces import MissingTrace, addresses_in, explain_missing_trace, received_for
from followupd.planning.matching import is_own_address
from followupd.planning.tracking import is_tracking_address

#: How many of the newest candidates are read in a folder: the newest self-test is what the user just sent.
NEWEST = 3
#: What doctor reads of a candidate and its copies: the engine's fields and the Received chain; headers only.
_FIELDS = (*FETCH_HEADER_FIELDS, "RECEIVED")
#: Header fields, in the order they are reported, that can name the tracking address on a delivered copy.
_TRACE_NAMES = ("Delivered-To", "X-Original-To", "X-Delivered-To", "Envelope-To", "X-Envelope-To",
                "X-Forwarded-To", "X-Forwarded-For", "Received", "To", "Cc")


def is_self_test(meta: MessageMeta, tracking_address: str, own_addresses: frozenset[str]) -> bool:
    """From the user, and every To/Cc/Bcc recipient is the user's own address or the tracking address.

    Pure. The tracking address itself need not show (a delivered copy has no Bcc); a message without any
    recipient is not a test of anything."""
    if meta.from_ is None or not is_own_address(meta.from_.email, own_addresses):
        return False
    recipients = [a.email for a in meta.all_recipients()]
    return bool(recipients) and all(is_tracking_address(email, tracking_address)
                                    or is_own_address(email, own_addresses) for email in recipients)


def traced_by(raw: bytes, tracking_address: str) -> str | None:
    """The header field of a delivered copy that names the tracking address (a suffixed form counts), or None."""
    msg = BytesHeaderParser().parsebytes(raw)
    for name in _TRACE_NAMES:
        values = [str(value) for key, value in msg.raw_items() if key.lower() == name.lower()]
        found = received_for(values) if name == "Received" else addresses_in(values)
        if any(is_tracking_address(email, tracking_address) for email in found):
            return name
    return None


@dataclass(frozen=True)
class SelfTest:
    """The newest self-test doctor found, and what became of it."""

    subject: str
    sent: datetime | None
    folder: str              # where it was found: the Sent folder, or a watched folder (client dropped the Bcc)
    from_sent: bool          # found in Sent with the tracking address in Bcc: certainly a self-test
    copies: int              # delivered copies in the watched folders (same Message-ID)
    trace: str | None        # the header naming the tracking address on a copy; None when none does
    missing: MissingTrace | None  # why no copy names it (copies arrived, none carries any trace)
    others: tuple[str, ...] = ()  # addresses the copies' traces name instead (only those copies arrived)

    def describe(self) -> str:
        when = f" of {self.sent:%Y-%m-%d %H:%M}" if self.sent else ""
        what = "your self-test" if self.from_sent else "your newest message to yourself"
        return f"{what} {self.subject!r}{when}"


def find_self_test(box: Mailbox, *, sent: str | None, watch: Sequence[str], tracking_address: str,
                   own_addresses: frozenset[str]) -> SelfTest | None:
    """The newest self-test: in Sent (the Bcc kept) first, else a message to yourself in a watched folder.

    Raises FollowupdError when the server fails a SEARCH or FETCH (doctor reports it as a warning)."""
    local = tracking_address.partition("@")[0]
    needle = local if "+" in local else tracking_address
    if sent is not None:
        blocks = box.fetch_header_fields(sent, box.search_header(sent, "BCC", needle)[-NEWEST:], _FIELDS)
        for uid in sorted(blocks, reverse=True):
            meta = parse_headers(blocks[uid])
            if is_self_test(meta, tracking_address, own_addresses):
                return _follow(box, meta, sent, watch, tracking_address, from_sent=True)
    newest: tuple[datetime, bytes, str, MessageMeta] | None = None
    for folder in watch:
        for raw in _newest_from_you(box, folder, own_addresses):
            meta = parse_headers(raw)
            if meta.date is None or not is_self_test(meta, tracking_address, own_addresses):
                continue
            if newest is None or meta.date > newest[0]:
                newest = (meta.date, raw, folder, meta)
    if newest is None:
        return None
    _date, _raw, folder, meta = newest
    return _follow(box, meta, folder, watch, tracking_address, from_sent=False)


def _newest_from_you(box: Mailbox, folder: str, own_addresses: Iterable[str]) -> list[bytes]:
    uids: set[int] = set()
    for address in own_addresses:
        uids.update(box.search_header(folder, "FROM", address))
    return list(box.fetch_header_fields(folder, sorted(uids)[-NEWEST:], _FIELDS).values())


def _follow(box: Mailbox, meta: MessageMeta, folder: str, watch: Sequence[str], tracking_address: str, *,
            from_sent: bool) -> SelfTest:
    """Find the delivered copies of a self-test (by Message-ID) and whether one of them names the address."""
    copies: list[bytes] = []
    if meta.message_id is not None:
        for watched in watch:
            found = box.fetch_header_fields(watched, box.search_header(watched, "MESSAGE-ID", meta.message_id),
                                            _FIELDS)
            copies += [raw for raw in found.values() if raw]
    traces = [name for name in (traced_by(raw, tracking_address) for raw in copies) if name]
    if traces or not copies:
        return SelfTest(meta.subject, meta.date, folder, from_sent, len(copies), traces[0] if traces else None,
                        None)
    # No copy names the tracking address. Copies that name another address of yours were delivered for that
    # address (To: yourself), so the tracking address's own copy never came; copies naming nothing lost it.
    others: dict[str, None] = {}
    untraced: bytes | None = None
    for raw in copies:
        named = _named(raw)
        others.update(dict.fromkeys(named))
        if not named and untraced is None:
            untraced = raw
    missing = explain_missing_trace(untraced, tracking_address) if untraced is not None else None
    return SelfTest(meta.subject, meta.date, folder, from_sent, len(copies), None, missing, tuple(others))


def _named(raw: bytes) -> tuple[str, ...]:
    """Every envelope recipient a delivered copy's traces name (its own Received hop only for "for")."""
    meta = parse_headers(raw)
    return tuple(dict.fromkeys([*meta.delivered_to, *meta.received_for]))

