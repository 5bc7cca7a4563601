"""Date phrases and name lists in the template's own language (followupd.compose.dates, through Babel's CLDR data)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followupd.compose.dates import day_month, human_day, join_names, month_phrase
from followupd.compose.render import RenderContext, render, template_variables
from followupd.compose.scan import read_template
from followupd.mail.headers import Address

TODAY = date(2026, 3, 11)  # a Wednesday


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", ["on 3 March", "last Sunday", "on Monday", "yesterday", "today", "tomorrow", "on Friday",
            "next Monday", "on 20 March"]),
    ("de", ["am 3. März", "letzten Sonntag", "am Montag", "gestern", "heute", "morgen", "am Freitag",
            "nächsten Montag", "am 20. März"]),
    ("fr", ["le 3 mars", "dimanche dernier", "lundi", "hier", "aujourd\u2019hui", "demain", "vendredi",
            "lundi prochain", "le 20 mars"]),
    ("es", ["el 3 de marzo", "el domingo pasado", "el lunes", "ayer", "hoy", "mañana", "el viernes",
            "el próximo lunes", "el 20 de marzo"]),
])
def test_day_phrases_read_naturally_after_a_verb_in_each_language(lang: str, expected: list[str]) -> None:
    days = [date(2026, 3, d) for d in (3, 8, 9, 10, 11, 12, 13, 16, 20)]
    assert [human_day(day, TODAY, lang) for day in days] == expected


def test_dates_carry_the_year_only_when_it_is_not_this_year() -> None:
    assert day_month(date(2025, 11, 3), TODAY, "en") == "3 November 2025"
    assert day_month(date(2025, 11, 3), TODAY, "de") == "3. November 2025"
    assert day_month(date(2025, 11, 3), TODAY, "fr") == "3 novembre 2025"
    assert day_month(date(2025, 11, 3), TODAY, "es") == "3 de noviembre de 2025"
    assert human_day(date(2025, 11, 3), TODAY, "es") == "el 3 de noviembre de 2025"
    assert human_day(date(2026, 2, 1), TODAY, "fr") == "le 1er février"
    assert [month_phrase(date(2026, 1, 5), TODAY, lang) for lang in ("en", "de", "fr", "es")] == [
        "January", "Januar", "janvier", "enero"]
    assert month_phrase(date(2025, 11, 5), TODAY, "en") == "November 2025"


def test_names_are_joined_in_the_language_of_the_note() -> None:
    names = ["Ana", "", "Bob", "Cy"]
    assert [join_names(names, lang) for lang in ("en", "de", "fr", "es")] == [
        "Ana, Bob and Cy", "Ana, Bob und Cy", "Ana, Bob et Cy", "Ana, Bob y Cy"]
    assert join_names([], "fr") == ""


def test_an_unknown_language_code_gets_english_words_rather_than_an_error() -> None:
    assert human_day(date(2026, 3, 3), TODAY, "zz") == "on 3 March"
    assert human_day(date(2026, 3, 8), TODAY, "zz") == "last Sunday"


def test_a_template_gets_date_phrases_in_its_own_language(tmp_path: Path) -> None:


    folder = tmp_path / "fr" / "first"
    folder.mkdir(parents=True)
    path = folder / "x.txt"
    path.write_text("Subject: {{ reply_subject }}\n\nJe vous ai écrit {{ sent_when }} ({{ sent_date }}), "
                    "à {{ first_names }}, depuis {{ sent_month }}.\n", encoding="utf-8")
    variant = read_template(path, stage="first", lang="fr")
    tz = ZoneInfo("Europe/Paris")
    ctx = RenderContext(recipients=(Address("ana@example.com", "Ana Lima"), Address("bob@example.org", "Bob")),
                        cc=(), original_subject="Devis", sent_at=datetime(2026, 3, 8, 9, 0, tzinfo=tz),
                        now=datetime(2026, 3, 11, 9, 0, tzinfo=tz), tz=tz, touch_number=2, total_touches=4,
                        promised=None, user_name="Zoé", signature="Zoé", note=None)
    body = render(variant, ctx).body
    assert body == "Je vous ai écrit dimanche dernier (8 mars), à Ana et Bob, depuis mars.\n"
    english = template_variables(ctx)
    assert (english["sent_when"], english["first_names"], english["touches_sent"]) == ("last Sunday", "Ana and Bob", 1)
