"""Provider thread signals we cannot get from Dovecot: Gmail's X-GM ids and Exchange's Thread-Index/Topic.

The IMAP response parsing and the key derivation are pure, so they are tested against what those servers send.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from followupd.adapters.imap import Mailbox
from followupd.engine.cycle import conversation_keys
from followupd.mail.headers import parse_headers
from followupd.planning.matching import EventKind, ThreadIndex, ThreadKey, match_message


def test_gmail_fetch_attributes_are_read() -> None:
    data = {b"BODY[HEADER.FIELDS (SUBJECT)]": b"Subject: hi\r\n\r\n", b"INTERNALDATE": datetime(2026, 11, 4),
            b"RFC822.SIZE": 42, b"FLAGS": (b"\\Seen",), b"X-GM-MSGID": 1278455344230334865,
            b"X-GM-THRID": 1266894439832287888}
    fetched = Mailbox._header_from(7, data)
    assert (fetched.gm_msgid, fetched.gm_thrid) == (1278455344230334865, 1266894439832287888)
    assert fetched.internaldate == datetime(2026, 11, 4, tzinfo=UTC)


def _thread_index(guid: bytes, *children: bytes) -> str:
    return base64.b64encode(b"\x01\x01\xd9\x4a\x2b\x3c" + guid + b"".join(children)).decode()


def test_conversation_keys_from_gmail_and_exchange() -> None:
    guid = bytes(range(16))
    meta = parse_headers(f"Thread-Index: {_thread_index(guid, b'12345')}\r\nSubject: x\r\n\r\n".encode())
    keys = conversation_keys(meta, 99)
    assert keys == ("<gmail-thread-99@x-gm-thrid.invalid>",
                    f"<exchange-conversation-{guid.hex()}@thread-index.invalid>")
    assert conversation_keys(parse_headers(b"Thread-Index: garbage\r\n\r\n"), None) == ()


def test_a_reply_in_the_same_gmail_conversation_matches_its_thread() -> None:
    key = ThreadKey(thread_id="t1", message_ids=frozenset({"<orig@x>", "<gmail-thread-99@x-gm-thrid.invalid>"}),
                    participants=frozenset({"bob@example.org"}), base_subject="quote",
                    sent_at=datetime(2026, 11, 4, tzinfo=UTC))
    reply = parse_headers(b"From: bob@example.org\r\nSubject: something else\r\nMessage-ID: <r@x>\r\n\r\n")
    assert match_message(reply, ThreadIndex([key]), own_addresses=frozenset({"me@example.com"})) == []
    with_key = reply.__class__(**{**reply.__dict__, "references": ("<gmail-thread-99@x-gm-thrid.invalid>",)})
    (event,) = match_message(with_key, ThreadIndex([key]), own_addresses=frozenset({"me@example.com"}))
    assert event.kind is EventKind.REPLY and event.thread_id == "t1" and not event.probable


def test_thread_topic_is_read() -> None:
    meta = parse_headers(b"Thread-Topic: =?utf-8?q?Angebot_f=C3=BCr_den_Schuppen?=\r\nSubject: AW: x\r\n\r\n")
    assert meta.thread_topic == "Angebot für den Schuppen"
