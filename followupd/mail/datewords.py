"""Dates written in words, in seven languages: "Friday", "15 March", "15.3.", "3-14 Dec", "tomorrow",
"next week", resolved to the first such day from a given day on.

Pure and dependency free. Shared by the out-of-office reader (ooo.py: "back on Monday") and the reply
intent reader (intent.py: "I'll get back to you by Friday"); the cue words that say what a date means stay
with each of them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from followupd.mail import internal_errors
from followupd.mail.patterns import lazy_pattern

__all__ = ["LANGUAGES", "date_expression_at"]

logger = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt")


#: A cue and its date may be this far apart (filler words only).
MAX_GAP = 50


def date_expression_at(text: str, pos: int, *, lang: str, today: date, strict: bool = True,
                       horizon_days: int = 366) -> tuple[date, int] | None:
    """A date expression starting at ``text[pos]`` (after filler words), resolved into the future.

    Returns the date and where the expression ends, or None. ``strict``: a bare weekday is the next one
    *after* ``today`` (else today counts). For reading promises ("I'll get back to you by Friday").
    """
    try:
        clean = normalise(text)
        tables = TABLES.get(lang)
        if tables is None:
            return None
        start = FILLER.match(clean, pos, pos + MAX_GAP + 1)
        where = start.end() if start and start.end() - pos <= MAX_GAP else pos
        found = read_element(clean, where, tables)
        if found is None:
            return None
        dates = dates_of(found, today, strict=strict)
        limit = today + timedelta(days=horizon_days)
        inside = sorted({d for d in dates if today <= d <= limit})
        return (inside[0], found.end) if len(inside) == 1 else None
    except Exception as exc:
        internal_errors.record("datewords", exc, logger=logger, doing="reading a date; none is read")
        return None


# ----------------------------------------------------------------------------------------------- tables

_MONTH_NAMES: dict[str, dict[str, int]] = {
    "en": {"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
           "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
           "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12},
    "de": {"januar": 1, "jänner": 1, "jan": 1, "jän": 1, "februar": 2, "feber": 2, "feb": 2, "märz": 3,
           "maerz": 3, "mär": 3, "mrz": 3, "april": 4, "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7,
           "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9, "oktober": 10, "okt": 10,
           "november": 11, "nov": 11, "dezember": 12, "dez": 12},
    "fr": {"janvier": 1, "janv": 1, "février": 2, "fevrier": 2, "févr": 2, "fevr": 2, "fév": 2, "mars": 3,
           "avril": 4, "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juil": 7, "août": 8, "aout": 8,
           "septembre": 9, "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11, "décembre": 12,
           "decembre": 12, "déc": 12},
    "es": {"enero": 1, "ene": 1, "febrero": 2, "feb": 2, "marzo": 3, "mar": 3, "abril": 4, "abr": 4,
           "mayo": 5, "may": 5, "junio": 6, "jun": 6, "julio": 7, "jul": 7, "agosto": 8, "ago": 8,
           "septiembre": 9, "setiembre": 9, "sept": 9, "sep": 9, "set": 9, "octubre": 10, "oct": 10,
           "noviembre": 11, "nov": 11, "diciembre": 12, "dic": 12},
    "it": {"gennaio": 1, "gen": 1, "febbraio": 2, "feb": 2, "marzo": 3, "mar": 3, "aprile": 4, "apr": 4,
           "maggio": 5, "mag": 5, "giugno": 6, "giu": 6, "luglio": 7, "lug": 7, "agosto": 8, "ago": 8,
           "settembre": 9, "sett": 9, "set": 9, "ottobre": 10, "ott": 10, "novembre": 11, "nov": 11,
           "dicembre": 12, "dic": 12},
    "nl": {"januari": 1, "jan": 1, "februari": 2, "feb": 2, "maart": 3, "mrt": 3, "april": 4, "apr": 4,
           "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "augustus": 8, "aug": 8, "september": 9,
           "sept": 9, "sep": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11, "december": 12, "dec": 12},
    "pt": {"janeiro": 1, "jan": 1, "fevereiro": 2, "fev": 2, "março": 3, "marco": 3, "mar": 3, "abril": 4,
           "abr": 4, "maio": 5, "mai": 5, "junho": 6, "jun": 6, "julho": 7, "jul": 7, "agosto": 8, "ago": 8,
           "setembro": 9, "set": 9, "outubro": 10, "out": 10, "novembro": 11, "nov": 11, "dezembro": 12,
           "dez": 12},
}

#: Full weekday names: a weekday alone is a date ("back on Monday").
_WEEKDAY_NAMES: dict[str, dict[str, int]] = {
    "en": {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6},
    "de": {"montag": 0, "dienstag": 1, "mittwoch": 2, "donnerstag": 3, "freitag": 4, "samstag": 5,
           "sonnabend": 5, "sonntag": 6},
    "fr": {"lundi": 0, "mardi": 1, "mercredi": 2, "jeudi": 3, "vendredi": 4, "samedi": 5, "dimanche": 6},
    "es": {"lunes": 0, "martes": 1, "miércoles": 2, "miercoles": 2, "jueves": 3, "viernes": 4, "sábado": 5,
           "sabado": 5, "domingo": 6},
    "it": {"lunedì": 0, "lunedi": 0, "martedì": 1, "martedi": 1, "mercoledì": 2, "mercoledi": 2,
           "giovedì": 3, "giovedi": 3, "venerdì": 4, "venerdi": 4, "sabato": 5, "domenica": 6},
    "nl": {"maandag": 0, "dinsdag": 1, "woensdag": 2, "donderdag": 3, "vrijdag": 4, "zaterdag": 5,
           "zondag": 6},
    "pt": {"segunda-feira": 0, "segunda": 0, "terça-feira": 1, "terca-feira": 1, "terça": 1, "terca": 1,
           "quarta-feira": 2, "quarta": 2, "quinta-feira": 3, "quinta": 3, "sexta-feira": 4, "sexta": 4,
           "sábado": 5, "sabado": 5, "domingo": 6},
}
#: Abbreviations ("Fr", "Mo", "so"...) are too often ordinary words: they count only before a date.
_WEEKDAY_ABBREVIATIONS: dict[str, dict[str, int]] = {
    "en": {"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4, "sat": 5,
           "sun": 6},
    "de": {"mo": 0, "di": 1, "mi": 2, "do": 3, "fr": 4, "sa": 5, "so": 6},
    "fr": {"lun": 0, "mar": 1, "mer": 2, "jeu": 3, "ven": 4, "sam": 5, "dim": 6},
    "es": {"lun": 0, "mar": 1, "mié": 2, "mie": 2, "jue": 3, "vie": 4, "sáb": 5, "sab": 5, "dom": 6},
    "it": {"lun": 0, "mar": 1, "mer": 2, "gio": 3, "ven": 4, "sab": 5, "dom": 6},
    "nl": {"ma": 0, "di": 1, "wo": 2, "do": 3, "vr": 4, "za": 5, "zo": 6},
    "pt": {"seg": 0, "ter": 1, "qua": 2, "qui": 3, "sex": 4, "sáb": 5, "sab": 5, "dom": 6},
}
_TOMORROW = {"en": "tomorrow", "de": "morgen", "fr": "demain", "it": "domani", "nl": "morgen", "pt": "amanhã"}
_NEXT_WEEK = {
    "en": r"next\s+week", "de": r"(?:nächste|kommende)[nr]?\s+woche", "fr": r"(?:la\s+)?semaine\s+prochaine",
    "es": r"(?:la\s+)?(?:semana\s+que\s+viene|próxima\s+semana|semana\s+próxima)",
    "it": r"(?:la\s+)?(?:settimana\s+prossima|prossima\s+settimana)", "nl": r"volgende\s+week",
    "pt": r"(?:a\s+)?(?:próxima\s+semana|semana\s+que\s+vem)",
}


#: What may stand between a cue and its date (any language; never a digit except a time of day).
_FILLER_WORDS = (
    # en
    "the", "on", "and", "including", "inclusive", "incl", "of", "next", "this", "coming", "in", "to", "at",
    "office", "work", "my", "desk", "from", "approximately", "approx", "around", "about", "again", "be",
    "will", "i", "am", "day", "date", "end", "close", "business", "cob", "eod", "noon", "by", "d'ici", "bis",
    # de
    "dem", "den", "der", "zum", "zur", "einschließlich", "einschliesslich", "einschl", "inklusive", "inkl",
    "und", "mit", "am", "ab", "im", "ins", "büro", "buero", "hause", "haus", "wieder", "voraussichtlich",
    "nächsten", "nächster", "kommenden", "uhr",
    # fr
    "le", "la", "l", "du", "au", "inclus", "compris", "y", "bureau", "travail", "prochain", "partir",
    # es
    "el", "al", "del", "día", "dia", "incluido", "inclusive", "oficina", "trabajo", "próximo", "proximo",
    # it
    "il", "lo", "dal", "giorno", "compreso", "incluso", "ufficio", "lavoro", "prossimo",
    # nl
    "op", "en", "met", "kantoor", "werk", "aanstaande", "volgende",
    # pt
    "o", "a", "ao", "do", "da", "de", "em", "no", "na", "escritório", "escritorio", "próxima", "proxima",
)
_TIME = r"\d{1,2}(?:[:.h]\d{2})?\s*(?:a\.?m\.?|p\.?m\.?|uhr|h|hrs)(?!\w)|\d{1,2}:\d{2}(?!\d)"
FILLER = lazy_pattern(
    r"(?:[\s,:;()\u2013\u2014-]+|(?<!\w)(?:" + "|".join(sorted(map(re.escape, _FILLER_WORDS), key=len, reverse=True))
    + r")(?!\w)\.?|" + _TIME + ")*",
    re.IGNORECASE,
)
NEXT_WORD = lazy_pattern(r"(?<!\w)(?:next|nächste[nrs]?|kommende[nrs]?|prochain|próximo|proximo|prossimo|volgende"
                        r"|aanstaande|próxima|proxima)(?!\w)", re.IGNORECASE)

#: Filler words that may also begin a date expression ("next week", "the 18th", "la semaine prochaine").
STARTER = lazy_pattern(r"(?<!\w)(?:next|the|la|a|nächste[nr]?|kommende[nr]?|volgende|próxima|proxima)(?!\w)",
                      re.IGNORECASE)
_D = r"(?:3[01]|[12]\d|0?[1-9])"
_ORDINAL = r"(?:st|nd|rd|th|er|e|º|°|ª)"
_YEAR = r"(?:19|20)\d\d"
_ISO = lazy_pattern(rf"({_YEAR})-(0?[1-9]|1[0-2])-({_D})(?!\d)")
# "14.12.2024", "14.12.24", "14. 12. 2024", "14.12." (a year-less one needs its closing dot: "10.30" is a time).
_DOTTED = lazy_pattern(rf"({_D})\.\s?(0?[1-9]|1[0-2])\.(?:\s?({_YEAR}|\d\d)(?!\d|\.\d))?(?!\d)")
_SLASHED = lazy_pattern(rf"(\d{{1,2}})/(\d{{1,2}})(?:/({_YEAR}|\d\d))?(?![\d/])")
_DASHED = lazy_pattern(rf"(\d{{1,2}})-(\d{{1,2}})-({_YEAR})(?!\d)")
_BARE_DAY = lazy_pattern(rf"({_D})(?:{_ORDINAL}|\.)?(?![\d:/]|\.\d)")
_EN_ORDINAL_DAY = lazy_pattern(rf"(?:the\s+)?({_D})(?:st|nd|rd|th)(?!\w)", re.IGNORECASE)
_RANGE_SEP = lazy_pattern(
    r"\s*(?:[-\u2013\u2014]|(?:to|till|until|thru|through|and|bis(?:\s+(?:zum|einschließlich|inkl\.))?|au"
    r"|al|a|fino\s+al|fino\s+a|tot\s+en\s+met|tot|t/m|até\s+ao|até\s+o|até|ao|à|y|e|en|hasta\s+el|hasta"
    r"|jusqu'au)(?!\w))\s*",
    re.IGNORECASE,
)
_WEEKDAY_JOIN = lazy_pattern(r"\.?,?\s*(?:(?:the|den|der|le|el|il|o|de)\s+)?", re.IGNORECASE)


def _alternation(names: Iterable[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


@dataclass(frozen=True)
class Tables:
    lang: str
    months: dict[str, int]
    weekdays: dict[str, int]
    abbreviations: dict[str, int]
    day_month: re.Pattern[str]
    month_day: re.Pattern[str]
    weekday: re.Pattern[str]
    tomorrow: re.Pattern[str] | None
    next_week: re.Pattern[str]


def _tables(lang: str) -> Tables:
    months = _alternation(_MONTH_NAMES[lang])
    weekdays = _alternation({**_WEEKDAY_NAMES[lang], **_WEEKDAY_ABBREVIATIONS[lang]})
    letter_after = r"(?![^\W\d_])"
    return Tables(
        lang=lang,
        months=_MONTH_NAMES[lang],
        weekdays=_WEEKDAY_NAMES[lang],
        abbreviations=_WEEKDAY_ABBREVIATIONS[lang],
        day_month=lazy_pattern(
            rf"({_D}){_ORDINAL}?\.?\s*(?:of\s+|de\s+|di\s+)?({months})\.?{letter_after}"
            rf"(?:,?\s*(?:de\s+|del\s+)?({_YEAR})(?!\d))?",
            re.IGNORECASE),
        month_day=lazy_pattern(
            rf"({months})\.?{letter_after}\s*(?:the\s+)?({_D}){_ORDINAL}?(?![\d:]|\.\d)"
            rf"(?:,?\s+({_YEAR})(?!\d))?",
            re.IGNORECASE),
        weekday=lazy_pattern(rf"({weekdays}){letter_after}", re.IGNORECASE),
        tomorrow=lazy_pattern(rf"{_TOMORROW[lang]}(?!\w)", re.IGNORECASE) if lang in _TOMORROW else None,
        next_week=lazy_pattern(rf"{_NEXT_WEEK[lang]}(?!\w)", re.IGNORECASE),
    )


TABLES: dict[str, Tables] = {lang: _tables(lang) for lang in LANGUAGES}


@dataclass(frozen=True)
class Element:
    """A parsed date expression before it is resolved against the received day."""

    end: int
    ymd: tuple[tuple[int | None, int, int], ...] = ()  # (year or None, month, day) readings
    weekday: int | None = None                         # a bare weekday name
    offset: int | None = None                          # "tomorrow": 1
    next_week: bool = False
    day: int | None = None                             # a bare day number ("3" in "3-14 Dec")


def normalise(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2019", "'")


# ------------------------------------------------------------------------------------------------ parsing

def read_element(text: str, pos: int, tables: Tables, *, after_separator: bool = False) -> Element | None:
    """A single date expression at ``pos``: weekday + date, date, "tomorrow", "next week", weekday.

    Never inside a word or a number ("1.14.12." is no date), unless a range separator just ended there.
    """
    if pos >= len(text) or (pos > 0 and not after_separator
                            and (text[pos - 1].isalnum() or text[pos - 1] in "./-")):
        return None
    weekday = tables.weekday.match(text, pos)
    if weekday is not None:
        join = _WEEKDAY_JOIN.match(text, weekday.end())
        after = join.end() if join else weekday.end()
        absolute = _absolute(text, after, tables)
        if absolute is not None:
            return absolute
        name = weekday.group(1).lower()
        if name in tables.weekdays:
            return Element(end=weekday.end(), weekday=tables.weekdays[name])
        return None
    absolute = _absolute(text, pos, tables)
    if absolute is not None:
        return absolute
    if tables.tomorrow is not None and (match := tables.tomorrow.match(text, pos)):
        return Element(end=match.end(), offset=1)
    if match := tables.next_week.match(text, pos):
        return Element(end=match.end(), next_week=True)
    if tables.lang == "en" and (match := _EN_ORDINAL_DAY.match(text, pos)):
        return Element(end=match.end(), day=int(match.group(1)))
    return None


def _absolute(text: str, pos: int, tables: Tables) -> Element | None:
    """A calendar date at ``pos`` (month names of the cue's language, or numeric)."""
    if match := _ISO.match(text, pos):
        return Element(end=match.end(), ymd=((int(match.group(1)), int(match.group(2)), int(match.group(3))),))
    if match := _DOTTED.match(text, pos):
        return Element(end=match.end(), ymd=((_year(match.group(3)), int(match.group(2)), int(match.group(1))),))
    for pattern in (_SLASHED, _DASHED):
        if match := pattern.match(text, pos):
            return _numeric(match, tables.lang)
    if match := tables.day_month.match(text, pos):
        month = tables.months[match.group(2).lower()]
        return Element(end=match.end(), ymd=((_year(match.group(3)), month, int(match.group(1))),))
    if match := tables.month_day.match(text, pos):
        month = tables.months[match.group(1).lower()]
        return Element(end=match.end(), ymd=((_year(match.group(3)), month, int(match.group(2))),))
    return None


def _numeric(match: re.Match[str], lang: str) -> Element | None:
    """DD/MM(/YYYY) outside English; in English both readings, and the window decides (or refuses)."""
    first, second, year = int(match.group(1)), int(match.group(2)), _year(match.group(3))
    readings: list[tuple[int | None, int, int]] = []
    if 1 <= second <= 12 and 1 <= first <= 31:
        readings.append((year, second, first))
    if lang == "en" and 1 <= first <= 12 and 1 <= second <= 31 and first != second:
        readings.append((year, first, second))
    return Element(end=match.end(), ymd=tuple(readings)) if readings else None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + 2000 if value < 100 else value


def read_range(text: str, pos: int, tables: Tables) -> Element | None:
    """A range ("3-14 Dec", "Dec 3-14", "3. bis 14.12.", "du 4 au 15 mars"), as an element for its end."""
    first = read_element(text, pos, tables)
    if first is None or first.weekday is not None or first.offset is not None or first.next_week:
        if first is not None:
            return None
        bare = _BARE_DAY.match(text, pos)
        if bare is None or (pos > 0 and text[pos - 1].isalnum()):
            return None
        first = Element(end=bare.end(), day=int(bare.group(1)))
    sep = _RANGE_SEP.match(text, first.end)
    if sep is None or sep.end() == first.end:
        return None
    second = read_element(text, sep.end(), tables, after_separator=True)
    if second is not None and second.ymd:
        if first.day is not None and not first.ymd:
            ends = tuple(r for r in second.ymd if first.day <= r[2] or r[1] > 1 or r[0] is None)
            return Element(end=second.end, ymd=ends) if ends else None
        if first.ymd and not _ordered(first.ymd, second.ymd):
            return None
        return second
    if first.ymd and len(first.ymd) == 1:  # "Dec 3-14": the end borrows month and year from the start
        bare = _BARE_DAY.match(text, sep.end())
        if bare is None:
            return None
        year, month, start_day = first.ymd[0]
        day = int(bare.group(1))
        if day <= start_day:
            if month == 12:
                year, month = (year + 1 if year else None), 1
            else:
                month += 1
        return Element(end=bare.end(), ymd=((year, month, day),))
    return None


def _ordered(first: tuple[tuple[int | None, int, int], ...], second: tuple[tuple[int | None, int, int], ...]) -> bool:
    """A range whose start and end both carry a year must not run backwards."""
    start, end = first[0], second[0]
    if start[0] is None or end[0] is None:
        return True
    return (start[0], start[1], start[2]) <= (end[0], end[1], end[2])


def dates_of(element: Element, today: date, *, strict: bool) -> list[date]:
    """Every calendar date an element can mean, resolved into the future from ``today``."""
    if element.offset is not None:
        return [today + timedelta(days=element.offset)]
    if element.next_week:
        return [today + timedelta(days=7 - today.weekday())]
    if element.weekday is not None:
        ahead = (element.weekday - today.weekday()) % 7
        if ahead == 0 and strict:
            ahead = 7
        return [today + timedelta(days=ahead)]
    if element.day is not None and not element.ymd:
        return [d for d in (_month_day(today, element.day, 0), _month_day(today, element.day, 1)) if d][:1]
    out: list[date] = []
    for year, month, day in element.ymd:
        resolved = _resolve(year, month, day, today)
        if resolved is not None:
            out.append(resolved)
    return out


def _resolve(year: int | None, month: int, day: int, today: date) -> date | None:
    try:
        if year is not None:
            return date(year, month, day)
    except ValueError:
        return None
    for candidate_year in (today.year, today.year + 1, today.year + 2, today.year + 3, today.year + 4):
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue  # 29 February: the next leap year
        if candidate >= today:
            return candidate
    return None


def _month_day(today: date, day: int, months_ahead: int) -> date | None:
    """Day ``day`` of this month (or the next), if that is not before today."""
    month = today.month + months_ahead
    year = today.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    try:
        candidate = date(year, month, day)
    except ValueError:
        return None
    return candidate if candidate >= today else None
