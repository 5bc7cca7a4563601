"""Date phrases and name lists in a template's own language: "last Tuesday", "mardi dernier", "el 3 de noviembre".

Pure: the caller passes both the day and "today". The words come from CLDR through Babel rather than from tables
of our own: Babel carries the relative day words ("yesterday", "gestern", "hier", "ayer"), the relative weekday
phrases ("last Tuesday", "letzten Dienstag", "mardi dernier", "el martes pasado"), month names, each
language's day-month order ("3 November", "3. November", "3 de noviembre") and list joining ("Ana, Bob und Cy")
for every language a user might add a template set for. What CLDR lacks is the little word that turns a day
into an adverbial after a verb ("I wrote *on* Tuesday", "ich schrieb *am* Dienstag", "je vous ai écrit mardi",
"le escribí *el* martes"); :data:`_ON` holds that one preposition per language, and a language missing from it
gets the bare date, which reads correctly in most languages.

Babel's formatting is slow next to the rest of a render (it matches a skeleton to a pattern on every call), and
the same few dates come back for every template and sample, so each phrase is cached by its inputs.

English uses the en_GB locale ("3 November"): the day-month order followupd has always written, and the one
most English speakers outside the US read without pause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, get_day_names, get_month_names
from babel.lists import format_list

#: Which Babel locale writes a template language's dates; any other code is used as it is.
_LOCALES: Mapping[str, str] = {"en": "en_GB"}
_FALLBACK_LOCALE = "en_GB"

#: The words that make a weekday and a date fit after a verb, ``{}`` standing for the day: "on Tuesday" and
#: "on 3 November"; French says "mardi" but "le 3 novembre". CLDR has no such pattern; a language without an
#: entry gets the bare day.
_ON: Mapping[str, tuple[str, str]] = {
    "en": ("on {}", "on {}"), "de": ("am {}", "am {}"), "fr": ("{}", "le {}"), "es": ("el {}", "el {}"),
}
#: What a greeting says instead of more than a few names ("Hi everyone", "Hallo zusammen", "Bonjour à tous").
_EVERYONE: Mapping[str, str] = {"en": "everyone", "de": "zusammen", "fr": "à tous", "es": "a todos"}
_WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=32)
def locale_for(lang: str) -> Locale:
    """The Babel locale of a template language; English (en_GB) for a code Babel does not know."""
    try:
        return Locale.parse(_LOCALES.get(lang, lang))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(_FALLBACK_LOCALE)


def _base(lang: str) -> str:
    return lang.split("_")[0].split("-")[0].lower()


def _relative(locale: Locale, field: str, offset: int) -> str | None:
    """CLDR's relative phrase for a day or weekday field ("day" -1 -> "yesterday", "tue" -1 -> "last Tuesday").

    Babel exposes these only through the locale's data mapping (there is no public accessor); a locale without
    the entry gives None and the caller writes the date instead.
    """
    try:
        phrase = locale._data["date_fields"][field]["relative"][offset]
    except (KeyError, TypeError):
        return None
    return str(phrase) if phrase else None


@lru_cache(maxsize=4096)
def day_month(day: date, today: date, lang: str = "en") -> str:
    """The date as a noun: "3 November", "3. November", "3 novembre", "3 de noviembre"; with the year only when
    it is not this year ("3 November 2025"). French writes the first of the month as an ordinal ("1er mars"),
    which CLDR's date patterns do not know."""
    skeleton = "dMMMM" if day.year == today.year else "yMMMMd"
    text = str(format_skeleton(skeleton, day, locale=locale_for(lang)))
    if day.day == 1 and _base(lang) == "fr" and text.startswith("1 "):
        text = "1er " + text[2:]
    return text


@lru_cache(maxsize=4096)
def month_phrase(day: date, today: date, lang: str = "en") -> str:
    """The month of a day as a noun: "March", "März", "mars", "marzo"; "March 2025" when not this year, so
    "since {{ sent_month }}" reads right in a thread that has run across New Year."""
    locale = locale_for(lang)
    if day.year == today.year:
        return str(get_month_names("wide", "stand-alone", locale=locale)[day.month])
    return str(format_skeleton("yMMMM", day, locale=locale))


def on_day(text: str, lang: str = "en", *, weekday: bool = False) -> str:
    """A date (or with ``weekday`` a weekday name) as an adverbial: "on 3 November", "am 3. November",
    "le 3 novembre", "el 3 de noviembre"; "mardi". A language Babel does not know is written in English, so
    it gets the English words around it too."""
    base = _base(lang)
    if locale_for(lang).language != base:
        base = "en"
    patterns = _ON.get(base, ("{}", "{}"))
    return (patterns[0] if weekday else patterns[1]).format(text)


@lru_cache(maxsize=4096)
def human_day(day: date, today: date, lang: str = "en") -> str:
    """A phrase for ``day`` that fits after a verb ("I wrote {phrase}"), in ``lang``.

    Weeks start on Monday. Yesterday, today and tomorrow have their own words. Within six days a weekday is
    unambiguous: "on Tuesday" in the current week, "last Tuesday" in the previous one, "next Friday" in the
    following one. Further away the date itself is clearer: "on 3 November".
    """
    locale = locale_for(lang)
    delta = (today - day).days
    if abs(delta) <= 1:
        word = _relative(locale, "day", -delta)
        if word is not None:
            return word
    if abs(delta) <= 6:
        key = _WEEKDAY_KEYS[day.weekday()]
        if day.isocalendar()[:2] == today.isocalendar()[:2]:
            weekday = str(get_day_names("wide", "format", locale=locale)[day.weekday()])
            return on_day(weekday, lang, weekday=True)
        phrase = _relative(locale, key, -1 if delta > 0 else 1)
        if phrase is not None:
            return phrase
    return on_day(day_month(day, today, lang), lang)


def join_names(items: Sequence[str], lang: str = "en") -> str:
    """"Ana", "Ana and Bob", "Ana, Bob and Cy" in the language's own words ("Ana, Bob und Cy", "Ana et Bob")."""
    return _join(tuple(item for item in items if item), lang)


@lru_cache(maxsize=1024)
def _join(items: tuple[str, ...], lang: str) -> str:
    return str(format_list(list(items), style="standard", locale=locale_for(lang))) if items else ""


def everyone(lang: str = "en") -> str:
    """The word a greeting uses for a group ("Hi everyone", "Hallo zusammen"); English for other languages."""
    return _EVERYONE.get(_base(lang), _EVERYONE["en"])
