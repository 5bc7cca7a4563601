"""The rules for names learned from mail (followupd.planning.known_names): which display names count as a
person's name, which source wins, and that the newest name is kept. Pure: no server, no database."""

from __future__ import annotations

import pytest

from followupd.compose.render import first_name_of
from followupd.planning.known_names import (
    GIVEN,
    OWN,
    KnownName,
    clean_name,
    decode,
    encode,
    is_role_name,
    learn,
    meta_key,
)

BOB = "bob@example.com"


@pytest.mark.parametrize("display, expected", [
    ("Bob Builder", "Bob Builder"),
    ('"Bob Builder"', "Bob Builder"),
    ("'Bob Builder'", "Bob Builder"),
    ("\u201cBob Builder\u201d", "Bob Builder"),
    ('  Bob   Builder ', "Bob Builder"),
    ('\\"Bob Builder\\"', "Bob Builder"),
    ("Builder, Bob", "Builder, Bob"),
    ("Bob", "Bob"),              # a capitalised name that happens to be the local part is a name
    ("Zoë Ólafsdóttir", "Zoë Ólafsdóttir"),
])
def test_a_persons_display_name_is_kept_evened_out(display: str, expected: str) -> None:
    assert clean_name(display, BOB) == expected


@pytest.mark.parametrize("display", [
    "", "   ", '""',
    "bob@example.com", "'bob@example.com'", "Bob <bob@example.com>",  # an address again
    "bob",                                                           # the local part, machine-written
    "=?utf-8?q?Bob?=",                                               # never decoded
    "12345", "---",
    "No-Reply", "noreply", "Do Not Reply", "DoNotReply", "MAILER-DAEMON", "Mail Delivery System",
    "Support Team", "ACME Billing", "Bob Builder via LinkedIn", "Notifications", "info",
    "x" * 81,
])
def test_what_is_no_name_is_refused(display: str) -> None:
    assert clean_name(display, BOB) == ""


def test_role_words_are_whole_words_not_pieces_of_names() -> None:
    assert not is_role_name("Tiffany Salesky")   # "sales" inside a surname
    assert not is_role_name("Bob Teamster")
    assert is_role_name("Sales")


def test_their_own_name_wins_over_the_one_the_user_typed() -> None:
    known = learn(KnownName(), "Bobby B", BOB, 200, source=GIVEN)
    assert known.best() == ("Bobby B", GIVEN)
    known = learn(known, "Bob Builder", BOB, 100, source=OWN)  # older, but their own
    assert known.best() == ("Bob Builder", OWN)
    assert known.given == "Bobby B"  # kept: used if their own is ever refused by a later rule


def test_the_most_recent_name_is_kept_per_source() -> None:
    known = learn(KnownName(), "Robert Builder", BOB, 100, source=OWN)
    known = learn(known, "Bob Builder", BOB, 300, source=OWN)
    assert known.best() == ("Bob Builder", OWN)
    older = learn(known, "Robert Builder", BOB, 200, source=OWN)  # a mail from before, read later
    assert older.best() == ("Bob Builder", OWN)


def test_an_unusable_name_never_replaces_a_good_one() -> None:
    known = learn(KnownName(), "Bob Builder", BOB, 100, source=OWN)
    assert learn(known, "bob@example.com", BOB, 500, source=OWN) == known
    assert learn(known, "No-Reply", BOB, 500, source=OWN) == known


def test_quoting_alone_does_not_count_as_a_new_name() -> None:
    known = learn(KnownName(), '"Bob Builder"', BOB, 100, source=OWN)
    again = learn(known, "Bob Builder", BOB, 100, source=OWN)
    assert again == known


def test_the_greeting_takes_the_first_name_of_a_learned_name() -> None:
    assert first_name_of(clean_name('"Bob Builder"', BOB)) == "Bob"
    assert first_name_of(clean_name("Builder, Bob", BOB)) == "Bob"


def test_stored_names_round_trip_and_junk_reads_as_nothing() -> None:
    known = KnownName("Zoë Ólafsdóttir", 100, "Zoe O", 50)
    assert decode(encode(known)) == known
    for junk in (None, "", "not json", "[1, 2]", '{"o": 5, "ot": "x"}', '{"o": "No-Reply", "ot": 3}'):
        assert decode(junk).best() is None


def test_the_key_fits_the_meta_column_and_ignores_case() -> None:
    assert len(meta_key(BOB)) <= 64
    assert meta_key(" Bob@Example.com ") == meta_key(BOB)
    assert BOB not in meta_key(BOB)


def test_an_unknown_source_is_a_bug() -> None:
    with pytest.raises(ValueError):
        learn(KnownName(), "Bob", BOB, 1, source="elsewhere")
