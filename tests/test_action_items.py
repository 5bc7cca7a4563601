"""Reading a meeting recap's action items (issue 13, the reading part): the corpus and each form on its own.

The corpus (tests/data/recaps/) holds recaps as real clients write them: Thunderbird and Outlook plain text,
Gmail's multipart/alternative, Outlook's Word HTML (MsoNormal paragraphs, MsoListParagraph bullets, tables),
Google Docs, Teams/Zoom/Meet summaries, German, French and Spanish recaps, most with quoted history below.
Each ``.eml`` has a ``.json`` beside it with the items a person reads in it (owner email, task, due date).
The recipients are the message's own To and Cc, the recap's day is its own Date, read in Berlin time.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail.duedates import read_due_cell, split_due
from followupd.mail.headers import Address, parse_headers
from followupd.planning.action_items import NO_ITEMS, ActionItem, ActionReading, read_action_items
from followupd.planning.owners import match_owner, split_owner

RECAPS = Path(__file__).parent / "data" / "recaps"
BERLIN = ZoneInfo("Europe/Berlin")
THURSDAY = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)   # Thursday 3 December 2026
PEOPLE = (Address("bob@acme.example", "Bob Smith"), Address("carol@acme.example", "Carol Jones"),
          Address("dave.miller@acme.example"), Address("erin@partner.example", "Erin Lee"))


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when a reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


# ------------------------------------------------------------------------------------------------ corpus

def recap_cases() -> list[Path]:
    return sorted(RECAPS.glob("*.eml"))


def read_recap(path: Path) -> tuple[ActionReading, dict[str, object]]:
    """The reading of one corpus recap, with its recipients and day taken from its own header."""
    raw = path.read_bytes()
    meta = parse_headers(raw)   # the header reader the engine uses: names decoded, addresses lower-cased
    assert meta.date is not None
    expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    reading = read_action_items(raw, recipients=(*meta.to, *meta.cc), sent_at=meta.date, tz=BERLIN,
                                explicit=bool(expected.get("explicit", False)))
    return reading, expected


def as_row(item: ActionItem) -> tuple[str | None, str, str | None]:
    return item.owner_email, " ".join(item.task.casefold().split()), item.due.isoformat() if item.due else None


def expected_rows(expected: dict[str, object]) -> list[tuple[str | None, str, str | None]]:
    items = expected["items"]
    assert isinstance(items, list)
    return [(e["owner"], " ".join(e["task"].casefold().split()), e["due"]) for e in items]


def test_the_corpus_is_large_and_varied_enough() -> None:
    cases = recap_cases()
    assert len(cases) >= 20
    assert all(path.with_suffix(".json").exists() for path in cases)


@pytest.mark.parametrize("path", recap_cases(), ids=lambda p: p.stem)
def test_each_recap_reads_as_a_person_reads_it(path: Path) -> None:
    reading, expected = read_recap(path)
    assert [as_row(item) for item in reading.items] == expected_rows(expected)
    assert list(reading.problems) == expected.get("problems", [])
    for item, wanted in zip(reading.items, expected["items"], strict=True):
        for problem in wanted.get("problems", []):
            assert any(problem in found for found in item.problems), (item, problem)
        if not wanted.get("problems"):
            assert not item.problems, item
        assert item.evidence, item


def corpus_score() -> tuple[int, int]:
    """(items read exactly right, items expected) over the whole corpus: the figure the report gives."""
    right = total = 0
    for path in recap_cases():
        reading, expected = read_recap(path)
        rows = [as_row(item) for item in reading.items]
        wanted = expected_rows(expected)
        total += len(wanted)
        right += sum(1 for row in wanted if row in rows)
    return right, total


# --------------------------------------------------------------------------------------------- the forms

def items_of(body: str, *, explicit: bool = False, people: tuple[Address, ...] = PEOPLE) -> ActionReading:
    raw = ("From: me@example.com\nTo: bob@acme.example\nSubject: recap\nDate: Thu, 3 Dec 2026 15:00:00 +0000\n"
           "Content-Type: text/plain; charset=utf-8\n\n" + body).encode()
    return read_action_items(raw, recipients=people, sent_at=THURSDAY, tz=BERLIN, explicit=explicit)


@pytest.mark.parametrize(("line", "owner", "task", "due"), [
    ("- Bob: send the revised pricing by Friday", "bob@acme.example", "send the revised pricing", date(2026, 12, 4)),
    ("* [ ] @bob update the forecast (due Dec 11)", "bob@acme.example", "update the forecast", date(2026, 12, 11)),
    ("1. Carol - book the venue - 12/15", "carol@acme.example", "book the venue", date(2026, 12, 15)),
    ("- Dave to draft the contract by next Wednesday", "dave.miller@acme.example", "draft the contract",
     date(2026, 12, 9)),
    ("- ACTION: Erin will share the slides", "erin@partner.example", "share the slides", None),
    ("- Send the minutes (Carol)", "carol@acme.example", "Send the minutes", None),
    ("- [Erin Lee] Book the room: Erin Lee will book the room by Monday", "erin@partner.example", "book the room",
     date(2026, 12, 7)),
    ("- bob@acme.example: renew the licence in two weeks", "bob@acme.example", "renew the licence",
     date(2026, 12, 17)),
    ("- Smith: call the auditor EOW", "bob@acme.example", "call the auditor", date(2026, 12, 4)),
])
def test_each_written_form_gives_owner_task_and_due(line: str, owner: str, task: str, due: date | None) -> None:
    reading = items_of(f"Action items:\n{line}\n")
    assert [(i.owner_email, i.task, i.due, i.problems) for i in reading.items] == [(owner, task, due, ())]
    assert reading.items[0].evidence == line


def test_two_owners_on_one_line_get_an_item_each() -> None:
    reading = items_of("Next steps:\n- Bob & Carol: review the deck next week\n- @bob and @erin: call the client\n")
    assert [(i.owner_email, i.task) for i in reading.items] == [
        ("bob@acme.example", "review the deck"), ("carol@acme.example", "review the deck"),
        ("bob@acme.example", "call the client"), ("erin@partner.example", "call the client")]
    assert reading.items[0].due == date(2026, 12, 11)   # "next week": that week's Friday


def test_an_owner_who_is_not_a_recipient_keeps_the_item_with_a_problem() -> None:
    [item] = items_of("Action items:\n- Zoe: sign the NDA by Friday\n").items
    assert (item.owner_email, item.owner_name, item.due) == (None, "Zoe", date(2026, 12, 4))
    assert item.problems == ("'Zoe' is not one of the recap's recipients",)


def test_a_name_that_fits_two_recipients_is_never_guessed() -> None:
    people = (*PEOPLE, Address("bob.jones@other.example", "Bob Jones"))
    [item] = items_of("Action items:\n- Bob: send the pricing\n", people=people).items
    assert item.owner_email is None
    assert item.problems == ("'Bob' matches more than one recipient: bob.jones@other.example, bob@acme.example",)
    # The full name still tells them apart.
    [item] = items_of("Action items:\n- Bob Jones: send the pricing\n", people=people).items
    assert item.owner_email == "bob.jones@other.example"


def test_a_line_without_an_owner_stays_with_a_problem() -> None:
    [item] = items_of("To do:\n- Update the wiki page by Friday\n").items
    assert (item.owner_email, item.task, item.due, item.problems) == (
        None, "Update the wiki page", date(2026, 12, 4), ("no owner named",))


def test_an_unreadable_date_keeps_the_item_and_names_the_words() -> None:
    [item] = items_of("Action items:\n- Carol: file the report (due after the board meeting)\n").items
    assert (item.owner_email, item.due) == ("carol@acme.example", None)
    assert item.problems == ("could not read the date 'after the board meeting'",)


def test_no_list_is_a_visible_problem_and_explicit_mode_takes_any_list() -> None:
    body = "Hi all,\n\nnotes from today:\n- Bob: send the pricing by Friday\n- Carol: book the venue\n\nAlice\n"
    assert items_of(body).items == ()
    assert items_of(body).problems == (NO_ITEMS,)
    explicit = items_of(body, explicit=True)
    assert [i.owner_email for i in explicit.items] == ["bob@acme.example", "carol@acme.example"]
    assert explicit.problems == ()


def test_quoted_history_is_not_the_recap() -> None:
    body = ("Thanks all, nothing new from me.\n\nOn Tue, Dec 1, 2026 at 9:00 AM Bob <bob@acme.example> wrote:\n"
            "> Action items:\n> - Bob: send the pricing\n")
    assert items_of(body).problems == (NO_ITEMS,)


def test_plain_text_tables_pipes_and_aligned_columns() -> None:
    pipes = items_of("| Owner | Task | Due |\n|---|---|---|\n| Bob | Send the pricing | Friday |\n"
                     "| Carol | Book the venue | 12/15 |\n")
    assert [(i.owner_email, i.task, i.due) for i in pipes.items] == [
        ("bob@acme.example", "Send the pricing", date(2026, 12, 4)),
        ("carol@acme.example", "Book the venue", date(2026, 12, 15))]
    aligned = items_of("Who      What                 When\nErin     Share the slides     next week\n")
    assert [(i.owner_email, i.task, i.due) for i in aligned.items] == [
        ("erin@partner.example", "Share the slides", date(2026, 12, 11))]


@pytest.mark.parametrize(("words", "lang", "due"), [
    ("Friday", "en", date(2026, 12, 4)), ("next Wednesday", "en", date(2026, 12, 9)),
    ("next week", "en", date(2026, 12, 11)), ("EOW", "en", date(2026, 12, 4)),
    ("in two weeks", "en", date(2026, 12, 17)), ("12/15", "en", date(2026, 12, 15)),
    ("12/11", "en", date(2026, 12, 11)), ("12/11", "de", date(2027, 11, 12)), ("15.12.", "de", date(2026, 12, 15)),
    ("Dec 11", "en", date(2026, 12, 11)), ("tomorrow", "en", date(2026, 12, 4)),
    ("end of month", "en", date(2026, 12, 31)), ("nächste Woche", "de", date(2026, 12, 11)),
    ("in zwei Wochen", "de", date(2026, 12, 17)), ("Ende der Woche", "de", date(2026, 12, 4)),
    ("vendredi", "fr", date(2026, 12, 4)), ("la semaine prochaine", "fr", date(2026, 12, 11)),
    ("dans deux semaines", "fr", date(2026, 12, 17)), ("el viernes", "es", date(2026, 12, 4)),
    ("la próxima semana", "es", date(2026, 12, 11)), ("en dos semanas", "es", date(2026, 12, 17)),
    ("11 dic", "es", date(2026, 12, 11)), ("TBD", "en", None),
])
def test_due_words_read_from_the_recaps_day(words: str, lang: str, due: date | None) -> None:
    assert read_due_cell(words, lang=lang, today=date(2026, 12, 3)) == (due, None)


def test_due_split_takes_the_date_out_of_the_task() -> None:
    split = split_due("Angebot überarbeiten bis Freitag", lang="de", today=date(2026, 12, 3))
    assert (split.task, split.due, split.unread) == ("Angebot überarbeiten", date(2026, 12, 4), None)


def test_owner_forms_and_matching_rules() -> None:
    assert split_owner("Bob: send it") == (("Bob",), "send it")
    assert split_owner("We will send it") == ((), "We will send it")
    assert split_owner("Note: the room is booked") == ((), "Note: the room is booked")
    assert match_owner("dave", PEOPLE).address == PEOPLE[2]            # the local part's first name
    assert match_owner("@dave.miller", PEOPLE).address == PEOPLE[2]    # a handle
    assert match_owner("Erin Lee", PEOPLE).address == PEOPLE[3]        # the full name
    assert match_owner("ERIN@partner.example", PEOPLE).address == PEOPLE[3]


# --------------------------------------------------------------------------------------------- hostile

PIECES = st.sampled_from([
    "Action items:\n", "Next steps\n", "- ", "* [ ] ", "1. ", "Bob", "@bob", " & ", "Carol", ": ", " - ",
    " to ", " will ", "send the deck", " by ", "Friday", " (due ", ")", "12/15", "15.12.", "in two weeks",
    "| Owner | Task | Due |\n", "|", "\t", "   ", "\n", "\n\n", "> ", "On Mon wrote:\n", "<li>", "<td>", "[",
    "]", "é", "\u2013", "ACTION: ",
])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(PIECES, max_size=30), st.booleans())
def test_the_reader_never_raises_and_swallows_no_bug(pieces: list[str], explicit: bool) -> None:
    reading = items_of("".join(pieces), explicit=explicit)
    assert isinstance(reading, ActionReading)
    assert reading.items or reading.problems == (NO_ITEMS,)
    assert_no_internal_error()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=600), st.booleans())
def test_random_bytes_never_raise(raw: bytes, explicit: bool) -> None:
    read_action_items(raw, recipients=PEOPLE, sent_at=THURSDAY, tz=BERLIN, explicit=explicit)
    assert_no_internal_error()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=600), st.booleans())
def test_any_text_never_raises(body: str, explicit: bool) -> None:
    items_of("Action items:\n" + body, explicit=explicit)
    assert_no_internal_error()


#: Far above a normal run on a loaded CI machine; a quadratic pattern on these inputs takes minutes.
PATHOLOGICAL_SECONDS = 5.0


@pytest.mark.parametrize(("content_type", "body"), [
    ("plain", "Action items:\n" + ("- " + "Ab Cd Ef Gh & " * 400 + "xx\n") * 50),   # owner-like words
    ("plain", "Action items:\n" + ("- Bob: " + "by due " * 3000 + "\n") * 10),       # cue words
    ("plain", "| Owner | Task | Due |\n" + "| Bob | x | y |\n" * 5000),
    ("plain", "Action items:\n" + "- Bob: x\n" * 100_000),
    ("html", "<td>" * 100_000),
    ("html", "<li><p><span>" * 30_000),
])
def test_hostile_recaps_stay_fast(content_type: str, body: str) -> None:
    raw = f"From: a@b.example\nContent-Type: text/{content_type}; charset=utf-8\n\n{body}".encode()
    started = time.perf_counter()
    reading = read_action_items(raw, recipients=PEOPLE, sent_at=THURSDAY, tz=BERLIN, explicit=True)
    assert time.perf_counter() - started < PATHOLOGICAL_SECONDS
    assert len(reading.items) <= 200 * 6   # at most 200 lines of one list, at most six owners a line


def test_mail_that_is_no_recap_has_no_items() -> None:
    """Replies, bounces, auto-replies and hostile mail of the other readers' corpora: no heading, no items."""
    others = [path for path in sorted((RECAPS.parent).rglob("*.eml")) if RECAPS not in path.parents]
    assert len(others) > 50
    found = {path.name: reading.items for path in others
             if (reading := read_action_items(path.read_bytes(), recipients=PEOPLE, sent_at=THURSDAY,
                                              tz=BERLIN)).items}
    assert found == {}


if __name__ == "__main__":   # a quick look at the corpus figure: python tests/test_action_items.py
    for case in recap_cases():
        got, want = read_recap(case)
        rows, wanted = [as_row(i) for i in got.items], expected_rows(want)
        if rows != wanted:
            print(case.stem, "\n  got ", rows, got.problems, "\n  want", wanted)
    right, total = corpus_score()
    print(f"corpus: {right}/{total} items read right")
