"""matching.py: which open thread a message belongs to, and what it means for that thread."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followupd.mail.headers import Address, MessageKind, MessageMeta, base_subject, parse_headers
from followupd.planning.matching import (
    EventKind,
    MatchEvent,
    ThreadIndex,
    ThreadKey,
    is_own_address,
    match_message,
)

MAIL = Path(__file__).parent / "data" / "mail"
TRACKED_ID = "<CAK7x9Q3proposal@mail.gmail.com>"
SENT = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
OWN = frozenset({"me@example.com", "me+followup@example.com"})
BOB = Address("bob@acme.example", "Bob Builder")
ME = Address("me@example.com", "Alice Example")


def thread(thread_id: str = "t1", *, ids: tuple[str, ...] = (TRACKED_ID,),
           participants: tuple[str, ...] = ("bob@acme.example",), subject: str = "Proposal for Q3",
           sent_at: datetime = SENT) -> ThreadKey:
    return ThreadKey(thread_id=thread_id, message_ids=frozenset(ids), participants=frozenset(participants),
                     base_subject=base_subject(subject), sent_at=sent_at)


def message(*, message_id: str | None = "<new@acme.example>", from_: Address | None = BOB,
            to: tuple[Address, ...] = (ME,), subject: str = "Re: Proposal for Q3",
            date: datetime | None = SENT + timedelta(days=1), in_reply_to: tuple[str, ...] = (),
            references: tuple[str, ...] = (), kind: MessageKind = MessageKind.PERSONAL,
            kind_evidence: str = "", exchange_parent_id: str | None = None) -> MessageMeta:
    return MessageMeta(message_id=message_id, from_=from_, to=to, subject=subject, date=date,
                       in_reply_to=in_reply_to, references=references, kind=kind, kind_evidence=kind_evidence,
                       exchange_parent_id=exchange_parent_id)


def match(meta: MessageMeta, *threads: ThreadKey, arrived_at: datetime | None = None) -> list[MatchEvent]:
    index = ThreadIndex(threads or (thread(),))
    return match_message(meta, index, own_addresses=OWN, arrived_at=arrived_at)


def match_sample(name: str, *threads: ThreadKey) -> list[MatchEvent]:
    return match(parse_headers((MAIL / name).read_bytes()), *threads)


# ------------------------------------------------------------------------------------ replies by id

def test_reply_by_in_reply_to_with_a_comment() -> None:
    assert match_sample("thunderbird_reply.eml") == [
        MatchEvent(EventKind.REPLY, "t1", probable=False, evidence=f"In-Reply-To {TRACKED_ID}"),
    ]


def test_reply_by_references_only() -> None:
    events = match(message(references=("<root@x>", TRACKED_ID, "<other@y>")))

    assert events == [MatchEvent(EventKind.REPLY, "t1", False, f"References {TRACKED_ID}")]


def test_reply_to_a_follow_up_we_drafted_counts() -> None:
    followup = "<followupd.t1.1@example.com>"
    events = match(message(in_reply_to=(followup,)), thread(ids=(TRACKED_ID, followup)))

    assert [event.kind for event in events] == [EventKind.REPLY]


def test_colleague_answering_for_bob_is_a_reply() -> None:
    carol = Address("carol@acme.example", "Carol Finance")

    events = match(message(from_=carol, in_reply_to=(TRACKED_ID,)))

    assert events == [MatchEvent(EventKind.REPLY, "t1", False, f"In-Reply-To {TRACKED_ID}")]


def test_reply_all_to_a_group_with_x_auto_response_suppress_is_a_reply() -> None:
    """Exchange stamps X-Auto-Response-Suppress on mail to groups; Bob's real answer must still count."""
    assert [event.kind for event in match_sample("exchange_to_group.eml")] == [EventKind.REPLY]


def test_one_message_answering_two_tracked_threads() -> None:
    other = thread("t2", ids=("<second@example.com>",), subject="Contract")

    events = match(message(references=(TRACKED_ID, "<second@example.com>")), thread(), other)

    assert [(event.thread_id, event.kind) for event in events] == [("t1", EventKind.REPLY),
                                                                   ("t2", EventKind.REPLY)]


def test_id_shared_by_two_threads_reaches_both() -> None:
    first, second = thread("t1"), thread("t2", ids=(TRACKED_ID, "<t2@example.com>"))

    events = match(message(in_reply_to=(TRACKED_ID,)), first, second)

    assert {event.thread_id for event in events} == {"t1", "t2"}


def test_unrelated_mail_matches_nothing() -> None:
    assert match(message(subject="Lunch?", in_reply_to=("<elsewhere@x>",))) == []


# ------------------------------------------------------------------------------- precedence of kinds

def test_exchange_ooo_with_in_reply_to_is_an_auto_reply_not_a_reply() -> None:
    events = match_sample("exchange_ooo.eml")

    assert [(event.kind, event.probable) for event in events] == [(EventKind.AUTO_REPLY, False)]
    assert events[0].evidence.startswith(f"In-Reply-To {TRACKED_ID}; X-MS-Exchange-Inbox-Rules-Loop")


def test_gmail_vacation_from_another_recipient_is_an_auto_reply() -> None:
    assert [event.kind for event in match_sample("gmail_vacation.eml")] == [EventKind.AUTO_REPLY]


def test_ooo_tied_only_by_exchange_parent_id() -> None:
    events = match(message(subject="Automatic reply: Proposal for Q3", kind=MessageKind.AUTO_REPLY,
                           exchange_parent_id=TRACKED_ID))

    assert events == [MatchEvent(EventKind.AUTO_REPLY, "t1", False,
                                 f"X-MS-Exchange-Parent-Message-Id {TRACKED_ID}")]


@pytest.mark.parametrize("name", ["exchange_ndr.eml", "gmail_bounce.eml"])
def test_bounce_with_references_is_a_bounce(name: str) -> None:
    assert [event.kind for event in match_sample(name)] == [EventKind.BOUNCE]


def test_bounce_without_ids_is_not_guessed() -> None:
    """Postfix names the original only in the body; a subject guess could fail the wrong thread."""
    assert match_sample("postfix_bounce.eml") == []


def test_delay_warning_changes_nothing() -> None:
    assert match_sample("gmail_delay.eml") == []


@pytest.mark.parametrize("name", ["thunderbird_mdn.eml", "outlook_read_receipt.eml"])
def test_read_receipts(name: str) -> None:
    assert [event.kind for event in match_sample(name)] == [EventKind.RECEIPT]


@pytest.mark.parametrize("name", ["mailman_list.eml", "github_notification.eml", "gitlab_notification.eml"])
def test_list_and_automated_mail_never_reply(name: str) -> None:
    meta = parse_headers((MAIL / name).read_bytes())
    # Even when it names the tracked message and comes from a participant with the same subject.
    meta = replace(meta, in_reply_to=(TRACKED_ID,), from_=BOB, subject="Re: Proposal for Q3")

    assert match(meta) == []


# ------------------------------------------------------------------------------------ the user's mail

def test_users_own_follow_up_is_a_touch_not_a_reply() -> None:
    events = match(message(from_=ME, to=(BOB,), in_reply_to=(TRACKED_ID,)))

    assert events == [MatchEvent(EventKind.OWN_TOUCH, "t1", False, f"In-Reply-To {TRACKED_ID}, sent by you")]


def test_own_follow_up_from_a_plus_address_and_other_case() -> None:
    me_tagged = Address("Me+Work@Example.COM")

    assert [event.kind for event in match(message(from_=me_tagged, to=(BOB,), references=(TRACKED_ID,)))] == [
        EventKind.OWN_TOUCH]


def test_forwarding_the_thread_to_someone_outside_it_is_no_touch() -> None:
    boss = Address("boss@example.com")

    forward = message(from_=ME, to=(boss,), subject="Fwd: Proposal for Q3", references=(TRACKED_ID,))

    assert match(forward) == []


def test_own_mail_without_threading_headers_is_nothing() -> None:
    """The subject fallback is for other people's replies; the user's own mail never closes a thread."""
    assert match(message(from_=ME, to=(BOB,))) == []


def test_users_own_autoresponder_is_nothing() -> None:
    meta = message(from_=ME, to=(BOB,), in_reply_to=(TRACKED_ID,), kind=MessageKind.AUTO_REPLY)

    assert match(meta) == []


@pytest.mark.parametrize("kind", list(MessageKind))
def test_a_copy_of_a_message_the_thread_knows_is_nothing(kind: MessageKind) -> None:
    """The tracked message's other copy, our own draft, a reply seen in an earlier cycle."""
    meta = message(message_id=TRACKED_ID, from_=ME, to=(BOB,), in_reply_to=(TRACKED_ID,), kind=kind)

    assert match(meta) == []
    assert match(replace(meta, from_=BOB, message_id="<seen-reply@acme.example>"),
                 thread(ids=(TRACKED_ID, "<seen-reply@acme.example>"))) == []


# -------------------------------------------------------------------------------- probable replies

def test_same_subject_from_a_participant_without_threading_headers_is_a_probable_reply() -> None:
    events = match(message(subject="RE: Proposal for Q3"))

    evidence = 'same subject "proposal for q3" from bob@acme.example, no threading headers'
    assert events == [MatchEvent(EventKind.REPLY, "t1", True, evidence)]


def test_probable_reply_with_threading_headers_pointing_elsewhere_says_so() -> None:
    events = match(message(in_reply_to=("<older@acme.example>",)))

    assert [(event.kind, event.probable) for event in events] == [(EventKind.REPLY, True)]
    assert "threading headers name none of its messages" in events[0].evidence


@pytest.mark.parametrize("date", [SENT - timedelta(hours=1), SENT])
def test_same_subject_written_before_the_tracked_message_is_not_a_reply(date: datetime) -> None:
    assert match(message(date=date)) == []


def test_missing_date_falls_back_to_arrival_time() -> None:
    undated = message(date=None)

    assert match(undated) == []
    assert match(undated, arrived_at=SENT - timedelta(minutes=5)) == []
    assert [event.probable for event in match(undated, arrived_at=SENT + timedelta(minutes=5))] == [True]
    # Naive INTERNALDATEs are read as UTC rather than crashing the comparison.
    assert [event.probable for event in match(undated, arrived_at=datetime(2024, 3, 4, 9, 5))] == [True]


def test_same_subject_from_someone_outside_the_thread_is_not_a_reply() -> None:
    assert match(message(from_=Address("stranger@other.example"))) == []


def test_different_subject_from_a_participant_is_not_a_reply() -> None:
    assert match(message(subject="Re: Lunch on Friday?")) == []


def test_empty_base_subject_never_matches() -> None:
    assert match(message(subject="Re:"), thread(subject="")) == []


def test_probable_reply_goes_to_the_newest_thread_sent_before_it() -> None:
    older = thread("t-old", ids=("<old@example.com>",), sent_at=SENT - timedelta(days=30))
    newer = thread("t-new", ids=("<new@example.com>",), sent_at=SENT)
    future = thread("t-future", ids=("<future@example.com>",), sent_at=SENT + timedelta(days=5))

    events = match(message(date=SENT + timedelta(days=1)), older, newer, future)

    assert [event.thread_id for event in events] == ["t-new"]
    assert "newest of 2" in events[0].evidence


def test_ooo_without_ids_is_tied_by_subject_and_sender() -> None:
    meta = parse_headers(
        b"From: Bob Builder <bob@acme.example>\r\nSubject: Automatische Antwort: AW: Proposal for Q3\r\n"
        b"Date: Mon, 4 Mar 2024 09:01:00 +0000\r\nMessage-ID: <ooo@acme.example>\r\n"
    )

    events = match(meta)

    assert [(event.kind, event.probable) for event in events] == [(EventKind.AUTO_REPLY, True)]
    assert 'subject starts with "Automatische Antwort:"' in events[0].evidence


def test_bounce_or_receipt_never_matched_by_subject() -> None:
    for kind in (MessageKind.BOUNCE, MessageKind.RECEIPT):
        assert match(message(kind=kind)) == []


# ------------------------------------------------------------------------------------------ the index

def test_index_add_replace_remove() -> None:
    index = ThreadIndex([thread("t1")])
    assert len(index) == 1 and index.thread_for_message_id(TRACKED_ID) == "t1"

    index.add(thread("t1", ids=("<replaced@example.com>",), participants=("dan@x.example",)))
    assert len(index) == 1
    assert index.thread_for_message_id(TRACKED_ID) is None
    assert index.thread_for_message_id("<replaced@example.com>") == "t1"
    assert index.candidates("bob@acme.example", "proposal for q3") == ()
    assert [key.thread_id for key in index.candidates("DAN@x.example", "proposal for q3")] == ["t1"]

    index.remove("t1")
    index.remove("never-added")
    assert len(index) == 0
    assert index.thread_for_message_id("<replaced@example.com>") is None
    assert match_message(message(in_reply_to=("<replaced@example.com>",)), index, own_addresses=OWN) == []


def test_removing_one_of_two_threads_sharing_an_id_keeps_the_other() -> None:
    index = ThreadIndex([thread("t1"), thread("t2")])

    index.remove("t1")

    assert index.thread_for_message_id(TRACKED_ID) == "t2"


def test_thread_key_normalises_what_a_database_may_hand_back() -> None:
    key = thread(participants=("Bob@ACME.example ",), sent_at=datetime(2024, 3, 4, 9, 0))

    assert key.participants == frozenset({"bob@acme.example"})
    assert key.sent_at == SENT


# ------------------------------------------------------------------------------------- own addresses

@pytest.mark.parametrize(
    ("email", "own"),
    [
        ("me@example.com", True),
        ("ME@Example.COM", True),
        ("me+followup@example.com", True),
        ("me+anything@example.com", True),
        ("  me@example.com ", True),
        ("me@example.org", False),
        ("mee@example.com", False),
        ("bob+me@example.com", False),
        ("", False),
    ],
)
def test_is_own_address(email: str, own: bool) -> None:
    assert is_own_address(email, frozenset({"Me+FollowUp@example.com"})) is own


# ------------------------------------------------------------------------------------------ properties

KINDS = st.sampled_from(list(MessageKind))
IDS = st.lists(st.sampled_from([TRACKED_ID, "<other@x>", "<follow@example.com>", "<reply@acme.example>"]),
               max_size=4).map(tuple)
SENDERS = st.sampled_from([BOB, ME, Address("me+x@example.com"), Address("carol@acme.example"), None])
SUBJECTS = st.sampled_from(["Re: Proposal for Q3", "Automatic reply: Proposal for Q3", "Lunch", "Re:", ""])
DATES = st.none() | st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2024, 6, 1),
                                 timezones=st.just(UTC))


@given(KINDS, IDS, IDS, SENDERS, SUBJECTS, DATES, st.sampled_from([None, TRACKED_ID, "<fresh@x>"]))
def test_invariants(kind: MessageKind, in_reply_to: tuple[str, ...], references: tuple[str, ...],
                    sender: Address | None, subject: str, date: datetime | None,
                    message_id: str | None) -> None:
    meta = message(message_id=message_id, from_=sender, to=(BOB,), subject=subject, date=date,
                   in_reply_to=in_reply_to, references=references, kind=kind)
    index = ThreadIndex([thread(ids=(TRACKED_ID, "<follow@example.com>"))])

    events = match_message(meta, index, own_addresses=OWN)

    kinds = {event.kind for event in events}
    if kind in (MessageKind.LIST, MessageKind.AUTOMATED) or message_id == TRACKED_ID:
        assert events == []
    if sender is not None and is_own_address(sender.email, OWN):
        assert kinds <= {EventKind.OWN_TOUCH}
    if EventKind.REPLY in kinds:
        assert kind is MessageKind.PERSONAL
    for event in events:
        assert event.probable == (not set(meta.referenced_ids) & {TRACKED_ID, "<follow@example.com>"})
        assert event.evidence
        if event.probable:
            assert date is not None and date > SENT
