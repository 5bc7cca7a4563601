"""exchange.py: the conversation GUID in Thread-Index and a comparable Thread-Topic."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import NoReturn

import pytest
from hypothesis import given
from hypothesis import strategies as st
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail import exchange
from followupd.mail.exchange import thread_index_guid, thread_index_info, thread_topic_key
from followupd.mail.headers import base_subject


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when a reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


GUID = bytes.fromhex("55bd609bd909484ab7571d5cd8a5f194")


def index(guid: bytes = GUID, children: int = 0, first: int = 0x01) -> str:
    head = bytes([first]) + bytes.fromhex("d43b7e6678") + guid  # FILETIME of 24 Aug 2018
    return base64.b64encode(head + b"\x00\x01\x02\x03\x04" * children).decode()


def test_outlook_index_and_its_replies_share_the_guid() -> None:
    original, reply, reply_to_reply = index(), index(children=1), index(children=2)

    assert thread_index_guid(original) == thread_index_guid(reply) == thread_index_guid(reply_to_reply)
    assert thread_index_guid(original) == GUID.hex()


def test_real_outlook_value() -> None:
    info = thread_index_info("AdQ7fmZ4Vb1gm9kJSEq3Vx1c2KXxlA==")

    assert info is not None
    assert info.guid == "55bd609bd909484ab7571d5cd8a5f194"
    assert info.depth == 0
    assert info.started is not None and info.started.date() == datetime(2018, 8, 24, tzinfo=UTC).date()


def test_sample_header_value_from_the_fixtures() -> None:
    """The header samples' value: 38 characters with padding a strict decoder rejects, 27 bytes of content."""
    assert thread_index_guid("AQHabc1234567890abcdefABCDEFGHIJKLMN==") == "df8e7aefcf7469b71d79f00108310518"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not base64 at all!",
        base64.b64encode(b"\x01" * 21).decode(),               # too short
        base64.b64encode(b"\x01" + b"\x02" * 23).decode(),     # 24 bytes: not 22 + 5n
        index(first=0x02),                                     # reserved byte is not 0x01
        index(guid=bytes(16)),                                 # all-zero GUID
        "AQHabc1234567890abcdefABCDEFGHIJKLMNAAAAB",           # a length no base64 text can have
        "AQHa=bc1234567890abcdefABCDEFGHIJKLMN",               # padding in the middle
        "A" * 5000,                                            # absurdly long
    ],
)
def test_malformed_values_are_refused(value: str) -> None:
    assert thread_index_guid(value) is None


def test_whitespace_from_folding_is_ignored() -> None:
    value = index(children=1)

    assert thread_index_guid(f" {value[:10]}\r\n\t{value[10:]} ") == GUID.hex()


@pytest.mark.parametrize(
    ("topic", "subject"),
    [
        ("Proposal for Q3", "Re: Proposal for Q3"),
        ("RE: Proposal  for Q3", "AW: Proposal for q3"),
        ("=?utf-8?q?Angebot_f=C3=BCr_Q3?=", "AW: Angebot für Q3"),
        ("=?x-unknown?q?Devis?=", "Réponse automatique : Devis"),
    ],
)
def test_topic_key_meets_the_base_subject(topic: str, subject: str) -> None:
    assert thread_topic_key(topic) == base_subject(subject)


@given(st.text(max_size=200))
def test_never_raises(value: str) -> None:
    guid = thread_index_guid(value)
    assert guid is None or (len(guid) == 32 and int(guid, 16) >= 0)
    assert isinstance(thread_topic_key(value), str)
    assert_no_internal_error()


@given(st.binary(min_size=16, max_size=16).filter(any), st.integers(min_value=0, max_value=10))
def test_any_well_formed_index_round_trips(guid: bytes, children: int) -> None:
    info = thread_index_info(index(guid=guid, children=children))

    assert info is not None and (info.guid, info.depth) == (guid.hex(), children)


# --------------------------------------------------------------------------------- a bug is seen, not hidden

def _boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise ZeroDivisionError("a bug planted by the test")


def test_a_bug_in_the_reader_gives_the_default_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    value = index(guid=GUID)
    monkeypatch.setattr(exchange, "_decode", _boom)
    assert thread_index_info(value) is None
    monkeypatch.setattr(exchange, "base_subject", _boom)
    assert thread_topic_key("Quote") == ""
    assert take_internal_errors() == {"exchange": 2}
