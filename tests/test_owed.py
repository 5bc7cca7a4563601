"""Replies you owe, the pure parts (issue 14 point 3, issue 15 point 1): which received mail may be one (headers
only, so no body is read for the rest), what answers it, when it is listed, and its digest section.

The end-to-end behaviour on a real Dovecot is in tests/test_e2e_owed.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from mailfactory import make_message

from followupd.compose.digest import MAX_LINE, DigestInput, DigestOwed, DigestThread, build_digest
from followupd.mail.headers import parse_headers
from followupd.planning.cadence import Gap
from followupd.planning.owed import (
    FIRST_LOOK,
    Answer,
    Answers,
    OwedClosing,
    answer_for,
    answer_recipients,
    answered_refs,
    closings,
    due_at,
    due_first,
    header_verdict,
    is_due,
    remember_answer,
    thread_refs,
    waiting_days,
    within_first_look,
)

OWN = frozenset({"alex@example.com", "a.morgan@example.org"})
TRACKING = "alex+followup@example.com"
WHEN = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)  # a Thursday


BOB = "bob@example.net"
TO_BOB = frozenset({BOB})


def verdict(raw: bytes) -> str:
    return header_verdict(parse_headers(raw), own_addresses=OWN, tracking_address=TRACKING)


def question(**headers: object) -> bytes:
    fields: dict[str, object] = {"from_": "Bob Baker <bob@example.net>", "to": "Alex Morgan <alex@example.com>",
                                 "subject": "Budget", "date": WHEN, "body": "Could you send me the figures?\n"}
    fields.update(headers)
    return make_message(**fields)  # type: ignore[arg-type]


def test_a_person_writing_to_the_user_directly_may_be_owed_a_reply() -> None:
    assert verdict(question()) == ""
    assert verdict(question(to="team@example.net", cc="A. Morgan <a.morgan@example.org>")) == ""
    assert verdict(question(to="Alex <ALEX+work@Example.com>")) == ""  # a +tag is still the user


@pytest.mark.parametrize(("headers", "why"), [
    ({"to": "team@example.net", "bcc": "alex@example.com"}, "not addressed to you directly"),
    ({"to": TRACKING}, "not addressed to you directly"),
    ({"from_": "Alex <alex@example.com>", "to": "bob@example.net"}, "from you"),
    ({"from_": "a.morgan@example.org", "to": "alex@example.com"}, "from you"),
    ({"from_": "Shop <no-reply@shop.example>"}, "no-reply address"),
    ({"from_": "GitHub <notifications@github.com>"}, "no-reply address"),
    ({"auto_submitted": "auto-replied"}, "auto reply"),
    ({"list_id": "<dev.lists.example.net>"}, "list"),
    ({"precedence": "bulk"}, "list"),
])
def test_mail_that_can_never_be_owed_is_refused_by_its_headers(headers: dict[str, object], why: str) -> None:
    assert verdict(question(**headers)).startswith(why)


def test_the_refs_a_reply_may_name_are_the_message_and_what_it_answers() -> None:
    meta = parse_headers(question(message_id="<q2@example.net>", in_reply_to="<q1@example.com>",
                                  references="<q0@example.net> <q1@example.com>"))
    assert thread_refs(meta) == ("<q2@example.net>", "<q1@example.com>", "<q0@example.net>")


def test_only_the_users_own_sent_mail_answers_and_a_draft_never_does() -> None:
    reply = parse_headers(make_message(from_="a.morgan@example.org", to="bob@example.net", subject="Re: Budget",
                                       in_reply_to="<q2@example.net>", references="<q0@example.net> <q2@example.net>"))
    assert set(answered_refs(reply, own_addresses=OWN)) == {"<q2@example.net>", "<q0@example.net>"}
    assert answered_refs(reply, own_addresses=OWN, is_draft_folder=True) == ()
    theirs = parse_headers(make_message(from_="carol@example.net", to="bob@example.net", subject="Re: Budget",
                                        in_reply_to="<q2@example.net>"))
    assert answered_refs(theirs, own_addresses=OWN) == ()


def test_an_answer_to_any_ref_closes_the_row_and_names_the_answer() -> None:
    answers: Answers = {}
    remember_answer(answers, ["<q1@x>"], Answer("<reply@example.com>", WHEN + timedelta(hours=1), TO_BOB))
    rows = [("o1", ("<q2@x>", "<q1@x>"), WHEN, BOB), ("o2", ("<other@x>",), WHEN, BOB), ("o3", ("<q1@x>",), WHEN, BOB)]
    found = closings(rows, answers)
    assert found == [OwedClosing("o1", "<reply@example.com>"), OwedClosing("o3", "<reply@example.com>")]
    assert closings(rows, {}) == []


def test_an_earlier_message_of_the_user_never_answers_a_later_question() -> None:
    # Bob <b0>, the user's reply <a1> (References <b0>), then Bob's question <bq> (References <b0> <a1>): all read
    # in one first sync. <a1> names <b0>, one of the question's refs, but was written before it.
    answers: Answers = {}
    remember_answer(answers, ["<b0@x>"], Answer("<a1@example.com>", WHEN - timedelta(days=1), TO_BOB))
    assert answer_for(("<bq@x>", "<a1@example.com>", "<b0@x>"), WHEN, answers, sender=BOB) is None
    remember_answer(answers, ["<b0@x>", "<bq@x>"], Answer("<a2@example.com>", WHEN + timedelta(hours=2), TO_BOB))
    remember_answer(answers, ["<b0@x>"], Answer("<a0@example.com>", WHEN - timedelta(days=3), TO_BOB))  # older
    assert answer_for(("<bq@x>", "<a1@example.com>", "<b0@x>"), WHEN, answers, sender=BOB) == Answer(
        "<a2@example.com>", WHEN + timedelta(hours=2), TO_BOB)
    undated = {"<bq@x>": [Answer("<a3@example.com>", None, TO_BOB)]}
    assert answer_for(("<bq@x>",), WHEN, undated, sender=BOB) is not None  # no date


def test_a_fast_clock_does_not_keep_a_question_open_but_an_answer_it_quotes_is_older_whatever_the_dates() -> None:
    refs = ("<bq@x>", "<a1@example.com>", "<b0@x>")
    quick = {"<bq@x>": [Answer("<a2@example.com>", WHEN - timedelta(minutes=5), TO_BOB)]}  # Bob's clock is fast
    assert answer_for(refs, WHEN, quick, sender=BOB) == quick["<bq@x>"][0]
    early = {"<bq@x>": [Answer("<a2@example.com>", WHEN - timedelta(hours=2), TO_BOB)]}
    assert answer_for(refs, WHEN, early, sender=BOB) is None
    quoted = {"<b0@x>": [Answer("<a1@example.com>", WHEN + timedelta(days=1), TO_BOB)]}  # the user's clock is wrong
    assert answer_for(refs, WHEN, quoted, sender=BOB) is None


def test_a_forward_to_a_colleague_is_no_answer_but_a_reply_to_the_sender_is_even_if_forwarded_later() -> None:
    # Gmail and Apple Mail put In-Reply-To/References on a forward: only the recipients tell it from a reply.
    forward = parse_headers(make_message(from_="alex@example.com", to="Carol <carol@example.net>",
                                         subject="Fwd: Budget", in_reply_to="<bq@x>", references="<bq@x>"))
    answers: Answers = {}
    fwd = Answer("<f1@example.com>", WHEN + timedelta(hours=1), answer_recipients(forward))
    remember_answer(answers, answered_refs(forward, own_addresses=OWN), fwd)
    assert answer_for(("<bq@x>",), WHEN, answers, sender=BOB) is None
    assert closings([("o1", ("<bq@x>",), WHEN, BOB)], answers) == []
    assert answer_for(("<bq@x>",), WHEN, answers, sender="carol@example.net") == fwd  # Carol's own question
    reply = parse_headers(make_message(from_="alex@example.com", to="team@example.net", cc="Bob <Bob@Example.NET>",
                                       subject="Re: Budget", in_reply_to="<bq@x>"))
    mine = Answer("<r1@example.com>", WHEN + timedelta(hours=2), answer_recipients(reply))
    remember_answer(answers, answered_refs(reply, own_addresses=OWN), mine)
    later_fwd = Answer("<f2@example.com>", WHEN + timedelta(hours=3), frozenset({"dave@example.net"}))
    remember_answer(answers, ["<bq@x>"], later_fwd)  # the latest message naming it is a forward: the reply counts
    assert answer_for(("<bq@x>",), WHEN, answers, sender="BOB@example.net") == mine  # Cc counts, any case
    assert closings([("o1", ("<bq@x>",), WHEN, BOB)], answers) == [OwedClosing("o1", "<r1@example.com>")]


def test_after_counts_business_days_on_the_cadence_calendar() -> None:
    tz = ZoneInfo("Europe/Berlin")
    friday = datetime(2026, 11, 6, 16, 0, tzinfo=UTC)
    assert due_at(friday, Gap(2, "bd"), holidays=frozenset(), tz=tz) == datetime(2026, 11, 10, 17, 0, tzinfo=tz)
    holiday = frozenset({date(2026, 11, 9)})
    assert due_at(friday, Gap(2, "bd"), holidays=holiday, tz=tz).date() == date(2026, 11, 11)
    assert not is_due(friday, Gap(2, "bd"), datetime(2026, 11, 10, 15, 59, tzinfo=UTC), holidays=frozenset(), tz=tz)
    assert is_due(friday, Gap(2, "bd"), datetime(2026, 11, 10, 16, 0, tzinfo=UTC), holidays=frozenset(), tz=tz)
    assert is_due(friday, Gap(36, "h"), friday + timedelta(hours=36), holidays=frozenset(), tz=tz)


def test_old_mail_is_never_considered_and_waiting_days_are_never_negative() -> None:
    now = WHEN + FIRST_LOOK
    assert within_first_look(WHEN, now) and not within_first_look(WHEN - timedelta(seconds=1), now)
    assert within_first_look(now + timedelta(days=2), now)  # a sender's clock running ahead
    assert waiting_days(WHEN, WHEN + timedelta(days=3, hours=5)) == 3
    assert waiting_days(WHEN + timedelta(days=1), WHEN) == 0


# ----------------------------------------------------------------------------------------- the digest section

def owed(n: int, days: int = 3, evidence: str = "Could you send me the figures by Friday?") -> DigestOwed:
    return DigestOwed(sender=f"Person {n}", subject=f"Question {n}", days_waiting=days + n, evidence=evidence)


def test_the_digest_lists_replies_you_owe_longest_waiting_first_with_the_question() -> None:
    digest = build_digest(DigestInput(today=date(2026, 11, 30), owed=[owed(1), owed(5)],
                                      waiting=[DigestThread("Ann", "Lunch?", 2, 0, None)]))
    assert digest is not None
    assert digest.sections == ("waiting", "owed")
    assert digest.subject == "Your follow-ups this week: 1 waiting, 2 replies you owe"
    assert "Replies you owe" in digest.text and "Replies you owe" in digest.html
    flat = " ".join(digest.text.split())
    assert 'Person 5: Question 5 (waiting 8 days) "Could you send me the figures by Friday?"' in flat
    assert digest.text.index("Person 5") < digest.text.index("Person 1")
    assert max(len(line) for line in digest.text.splitlines()) <= MAX_LINE


def test_the_owed_section_alone_makes_a_digest_escapes_html_and_shortens_long_questions() -> None:
    long = "Would you <b>please</b> confirm " + "the many details of the offer " * 8 + "by Friday?"
    digest = build_digest(DigestInput(today=date(2026, 11, 30), owed=[owed(0, 1, long)]))
    assert digest is not None and digest.sections == ("owed",)
    assert digest.subject == "Your follow-ups this week: 1 reply you owe"
    assert "<b>please</b>" not in digest.html and "&lt;b&gt;please&lt;/b&gt;" in digest.html
    assert "by Friday?" not in digest.text and "\u2026" in digest.text


def test_no_owed_rows_no_section_and_a_long_list_points_to_the_command() -> None:
    digest = build_digest(DigestInput(today=date(2026, 11, 30), owed=[owed(n) for n in range(15)]))
    assert digest is not None and "... and 3 more (followupd owed)" in digest.text
    plain = build_digest(DigestInput(today=date(2026, 11, 30), waiting=[DigestThread("Ann", "Lunch?", 2, 0, None)]))
    assert plain is not None and "Replies you owe" not in plain.text and "owed" not in plain.sections


def test_the_listing_holds_only_rows_owed_long_enough_oldest_first() -> None:
    from dataclasses import dataclass

    @dataclass
    class Row:
        received_at: datetime

    rows = [Row(WHEN + timedelta(days=1)), Row(WHEN), Row(WHEN + timedelta(days=5))]
    now = WHEN + timedelta(days=5)  # Tuesday 10 Nov: two business days after Thursday and Friday, not Tuesday
    listed = due_first(rows, after=Gap(2, "bd"), now=now, holidays=frozenset(), tz=UTC)
    assert [r.received_at for r in listed] == [WHEN, WHEN + timedelta(days=1)]


def test_a_row_kept_as_answered_from_the_start_is_never_listed_nor_closed_again() -> None:
    from types import SimpleNamespace

    from followupd.planning.lifecycle import awaiting

    row = SimpleNamespace(state="", closed_at=None, closed_by=None, received_at=WHEN)
    awaiting.owed_seen_answered(row, by="<r1@example.com>", at=WHEN)
    assert (row.state, row.closed_by, row.closed_at) == (awaiting.OwedState.ANSWERED, "<r1@example.com>", WHEN)
    assert not awaiting.owed_is_open(row)
    assert not awaiting.owed_done(row, at=WHEN) and row.closed_by == "<r1@example.com>"  # "already answered"
