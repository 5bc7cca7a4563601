"""ooo.py: the last day of absence an out-of-office names, and nothing from numbers that are not dates.

Samples under tests/data/mail/ooo/ are whole auto-replies as Gmail, Exchange (en/de/fr), Dovecot's Sieve
vacation, Zimbra and Yahoo send them. Monday 4 March 2024 is the received day unless a test says otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from swallowed import assert_no_internal_error, take_internal_errors

from followupd.mail import datewords, ooo
from followupd.mail.bodytext import message_text
from followupd.mail.headers import MessageKind, parse_headers
from followupd.mail.ooo import date_expression_at, find_return, return_date


@pytest.fixture(autouse=True)
def _no_swallowed_bug() -> Iterator[None]:
    """Every test here fails when a reader caught its own bug, whatever the test itself checks."""
    take_internal_errors()
    yield
    assert_no_internal_error()


# Far above any normal run even on a loaded CI machine; a quadratic regex on 1 MB takes minutes.
PATHOLOGICAL_SECONDS = 5.0

OOO = Path(__file__).parent / "data" / "mail" / "ooo"
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def back(text: str, received: datetime = MONDAY, horizon: int = 90) -> date | None:
    return return_date(text, received=received, tz=BERLIN, horizon_days=horizon)


# ----------------------------------------------------------------------------------------- real samples

@pytest.mark.parametrize(
    ("name", "last_day", "evidence"),
    [
        ("gmail_vacation.eml", date(2024, 3, 18), "until 18 March"),  # only the subject says it
        ("exchange_oof_en.eml", date(2024, 3, 15), "until Friday, 15 March 2024"),
        ("exchange_oof_de.eml", date(2024, 3, 15), "bis einschließlich 15.03.2024"),
        ("exchange_oof_fr.eml", date(2024, 3, 15), "du 4 au 15 mars 2024"),
        ("dovecot_vacation.eml", date(2024, 3, 15), "from 4 to 15 March"),
        ("zimbra_ooo.eml", date(2024, 3, 15), "tot en met 15 maart"),
        ("yahoo_vacation.eml", date(2024, 3, 15), "até 15 de março"),
        ("no_date_ooo.eml", None, ""),
    ],
)
def test_samples(name: str, last_day: date | None, evidence: str) -> None:
    raw = (OOO / name).read_bytes()
    meta = parse_headers(raw)
    assert meta.kind is MessageKind.AUTO_REPLY and meta.date is not None

    info = find_return(f"{meta.subject}\n{message_text(raw)}", received=meta.date, tz=BERLIN)

    assert (info.last_absent if info else None) == last_day
    assert info is None or evidence in info.evidence


# ------------------------------------------------------------------------------------------- wordings

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # until X: absent through X
        ("I am out of the office until Friday, 15 March 2024.", date(2024, 3, 15)),
        ("Away until 18 March", date(2024, 3, 18)),
        ("Out of the office through March 15th.", date(2024, 3, 15)),
        ("I'm on leave till the 14th.", date(2024, 3, 14)),
        ("Out until 2024-03-20 inclusive.", date(2024, 3, 20)),
        ("I'm away until Friday.", date(2024, 3, 8)),
        ("Out of office until next Monday.", date(2024, 3, 11)),
        ("Out until 5pm on Thursday 7 March.", date(2024, 3, 7)),
        ("Ich bin bis einschließlich 15.03.2024 nicht im Büro.", date(2024, 3, 15)),
        ("Ich bin bis zum 14.03. nicht erreichbar.", date(2024, 3, 14)),
        ("Ich bin bis Freitag, den 15. März unterwegs.", date(2024, 3, 15)),
        ("Je suis absente jusqu'au 15/03.", date(2024, 3, 15)),
        ("Je suis absent jusqu\u2019au vendredi 15 mars inclus.", date(2024, 3, 15)),
        ("Estaré fuera de la oficina hasta el 15 de marzo.", date(2024, 3, 15)),
        ("Sarò fuori ufficio fino al 15 marzo compreso.", date(2024, 3, 15)),
        ("Ik ben afwezig t/m 15-03-2024.", date(2024, 3, 15)),
        ("Estarei ausente até 15/03/2024.", date(2024, 3, 15)),
        # back on X: the weekday before X
        ("I will be back on Monday, March 18th.", date(2024, 3, 15)),
        ("I'm back on Monday.", date(2024, 3, 8)),
        ("Returning 19 March.", date(2024, 3, 18)),
        ("I will be back in the office on Wednesday 13 March.", date(2024, 3, 12)),
        ("Back tomorrow.", date(2024, 3, 4)),
        ("Back next week.", date(2024, 3, 8)),
        ("Ab dem 18.03.2024 bin ich wieder erreichbar.", date(2024, 3, 15)),
        ("Ab Montag, 18. März bin ich wieder im Büro.", date(2024, 3, 15)),
        ("Ich bin am 12.3. zurück.", date(2024, 3, 11)),
        ("Je serai de retour le lundi 18 mars.", date(2024, 3, 15)),
        ("Je serai de retour au bureau le lundi 18 mars.", date(2024, 3, 15)),
        ("Regresaré el lunes 18 de marzo.", date(2024, 3, 15)),
        ("Rientro il 18 marzo.", date(2024, 3, 15)),
        ("Vanaf maandag 18 maart ben ik weer bereikbaar.", date(2024, 3, 15)),
        ("Regresso no dia 18 de março.", date(2024, 3, 15)),
        # ranges: the end
        ("I'm out 3-14 Mar.", date(2024, 3, 14)),
        ("Out Mar 3-14.", date(2024, 3, 14)),
        ("On holiday from 4 to 15 March.", date(2024, 3, 15)),
        ("Away from 1 March to 2 April 2024.", date(2024, 4, 2)),
        ("Ich bin vom 4. bis 15. März im Urlaub.", date(2024, 3, 15)),
        ("Urlaub: 04.03.-15.03.2024", date(2024, 3, 15)),
        ("Absente du 4 au 15 mars.", date(2024, 3, 15)),
        ("De vacaciones del 4 al 15 de marzo.", date(2024, 3, 15)),
        ("In ferie dal 4 al 15 marzo.", date(2024, 3, 15)),
        ("Op vakantie van 4 tot 15 maart.", date(2024, 3, 15)),
        ("De férias de 4 a 15 de março.", date(2024, 3, 15)),
        # several readings: the latest
        ("Out until 15 March. Back on Tuesday 19 March.", date(2024, 3, 18)),
    ],
)
def test_wordings(text: str, expected: date) -> None:
    assert back(text) == expected


def test_year_less_dates_are_the_next_such_day() -> None:
    december = datetime(2024, 12, 20, 9, 0, tzinfo=UTC)

    assert back("Out until 14.12.", received=datetime(2024, 12, 1, tzinfo=UTC)) == date(2024, 12, 14)
    assert back("Out until 3 January", received=december) == date(2025, 1, 3)
    assert back("Bis 6.1. im Urlaub", received=december) == date(2025, 1, 6)
    assert back("Out until 14 December", received=december) is None  # next year: beyond the horizon


def test_the_received_day_is_read_in_the_users_zone() -> None:
    late_sunday_utc = datetime(2024, 3, 3, 23, 30, tzinfo=UTC)  # already Monday in Berlin

    assert back("I'm back on Monday.", received=late_sunday_utc) == date(2024, 3, 8)
    assert back("I'm back on Monday.", received=late_sunday_utc.replace(tzinfo=None)) == date(2024, 3, 8)


def test_back_at_the_weekend_is_never_before_the_received_day() -> None:
    saturday = datetime(2024, 3, 9, 10, 0, tzinfo=UTC)

    assert back("Back on Monday 11 March.", received=saturday) == date(2024, 3, 9)


def test_find_return_says_what_it_read() -> None:
    info = find_return("Je serai de retour le lundi 18 mars.", received=MONDAY, tz=BERLIN)

    assert info is not None
    assert (info.last_absent, info.back, info.language) == (date(2024, 3, 15), date(2024, 3, 18), "fr")
    assert info.evidence == "de retour le lundi 18 mars."


# --------------------------------------------------------------------------------------------- precision

@pytest.mark.parametrize(
    "text",
    [
        "Call me on +49 171 1234567 until further notice.",
        "I am out until further notice. My colleague Carol is back on 12 March.",
        "Ich bin bis auf Weiteres nicht im Büro, Frau Doe ist ab dem 12.3. wieder da.",
        "Merci de vous adresser au 01 23 45 67 89.",
        "I will return your email on 5 March.",
        "Order 15.03.2024-77 ships until further notice.",
        "Bürozeiten: Montag bis Freitag 9 bis 17 Uhr.",
        "Office hours Monday to Friday, until 5pm.",
        "Lundi au vendredi de 9h à 17h.",
        "We are open until 10.30 tonight.",
        "bis 10.12 Uhr erreichbar",
        "Valid until 2024.",
        "Out until 14.13.2024.",
        "Out until 31.02.",
        "Back on 14.12.2019.",
        "I'm out until 15 March 2026.",  # beyond the horizon
        "I was out until 1 March.",  # before the received day
        "Please quote ticket 12/2024 until the case is closed.",
        "Reach me at 030/14 12 20 24 until then.",
        "Version 3.4.5 until 2.0.0 from 1 to 2.",
        "The meeting on 15 March is cancelled.",  # a date without a cue
        "Out of office: 15 March",  # an absence word and a single date: ambiguous, not read
        "until 3/5",  # English numeric: 3 May or 5 March, both inside the window
        "Back after the holidays.",
        "Je suis absent. Je vous répondrai dès que possible.",
        "Ich bin ab dem 4.3. nicht im Büro.",  # "ab" without "wieder": the start of the absence
        "Telefonisch erreichbar Mo bis Fr 8-16 Uhr.",
        "Available Mon - Fri, 9 to 5.",
        "until 2024-13-01",
        "",
    ],
)
def test_no_date_from_things_that_are_not_return_dates(text: str) -> None:
    assert back(text) is None


def test_english_numeric_dates_count_only_with_a_single_reading_in_the_window() -> None:
    assert back("Out until 3/25/2024.") == date(2024, 3, 25)  # only MM/DD works
    assert back("Out until 25/3/2024.") == date(2024, 3, 25)  # only DD/MM works
    assert back("Out until 3/5/2024.") is None  # 3 May or 5 March: both in the window
    assert back("Absent jusqu'au 3/5/2024.") == date(2024, 5, 3)  # French is DD/MM


def test_horizon_bounds_the_answer() -> None:
    assert back("Out until 1 May.", horizon=30) is None
    assert back("Out until 1 May.", horizon=90) == date(2024, 5, 1)
    assert back("Out until 4 March.", horizon=0) == date(2024, 3, 4)


# ------------------------------------------------------------------------------------- date_expression_at

@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("by Friday", "en", date(2024, 3, 8)),
        ("on Monday", "en", date(2024, 3, 11)),  # strict: today is Monday, so the next one
        ("15 March", "en", date(2024, 3, 15)),
        ("bis 15.3.", "de", date(2024, 3, 15)),
        ("d'ici vendredi", "fr", date(2024, 3, 8)),
        ("the 18th", "en", date(2024, 3, 18)),
        ("nonsense", "en", None),
        ("15 March", "xx", None),
    ],
)
def test_date_expression_at(text: str, lang: str, expected: date | None) -> None:
    found = date_expression_at(text, 0, lang=lang, today=date(2024, 3, 4))

    assert (found[0] if found else None) == expected


# ------------------------------------------------------------------------------------------ speed, fuzz

@pytest.mark.parametrize(
    "text",
    ["until " * 200_000, "de la el a o " * 100_000, "out 3 - " * 150_000, "1.2.3.4/5/6-7-8 " * 70_000,
     "from 3 to 4 de 5 " * 60_000, ("Lorem ipsum until the end, back on the road. " * 25_000)],
)
def test_one_megabyte_of_text_is_fast(text: str) -> None:
    start = time.perf_counter()
    back(text)
    assert time.perf_counter() - start < PATHOLOGICAL_SECONDS  # no quadratic blow-up; speed: bench/


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.text(max_size=300), st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
       st.integers(min_value=-5, max_value=400))
def test_never_raises_and_stays_in_the_window(text: str, when: datetime, horizon: int) -> None:
    received = when.replace(tzinfo=UTC)
    found = back(text, received=received, horizon=horizon)
    if found is not None:
        today = received.astimezone(BERLIN).date()
        assert today <= found <= today + timedelta(days=max(0, horizon))
    for lang in ("en", "de"):
        date_expression_at(text, 0, lang=lang, today=received.date())
    assert_no_internal_error()


WORDS = st.sampled_from(["until", "bis", "back on", "from", "to", "-", "3", "14", "14.", "12.", "2024", "Dec",
                         "December", "März", "Monday", "Mo", "next", "week", "the", "de", "du", "au", "/", ".",
                         "wieder", "ab dem", "+49", "10.30", "3/4", "tot en met", "jusqu'au", " "])


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(WORDS, max_size=25))
def test_never_raises_on_cue_soup(words: list[str]) -> None:
    found = back(" ".join(words))
    assert found is None or date(2024, 3, 4) <= found <= date(2024, 6, 2)
    assert_no_internal_error()


# --------------------------------------------------------------------------------- a bug is seen, not hidden

def _boom(*_args: object, **_kwargs: object) -> NoReturn:
    raise ZeroDivisionError("a bug planted by the test")


def test_a_bug_in_the_reader_gives_the_default_and_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "I am out of the office until Friday, 8 March."
    monkeypatch.setattr(ooo, "_find", _boom)
    assert back(text) is None
    assert take_internal_errors() == {"ooo": 1}

    monkeypatch.setattr(datewords, "read_element", _boom)
    assert date_expression_at("by Friday", 3, lang="en", today=date(2024, 3, 4)) is None
    assert take_internal_errors() == {"datewords": 1}
