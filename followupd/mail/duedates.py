"""Due dates of action items, read relative to the recap's own day: "Friday", "next Wednesday", "next week",
"EOW", "in two weeks", "12/15" or "15.12." by locale, "Dec 11", in English, German, French and Spanish.

Pure and dependency free. Calendar dates and weekdays are :mod:`followupd.mail.datewords`' job (seven
languages already); this module adds what only deadlines say: end of day/week/month, "in N days/weeks",
"this week", and a reading of "next week" as its Friday (a task due "next week" is late only once that week
is over; the out-of-office reader means the Monday someone is back). Slashed dates follow the recap's
language: month first in English ("12/11" is December 11), day first elsewhere; a number above 12 decides
on its own.

Why hand-written: dateparser reads many of these, but it is a third-party library in the pure core, and
FACTS.md measured its false hits in free text; here the words come after a cue ("by", "due", "bis") or
from a due column, so a small table of phrases is both enough and predictable.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from followupd.mail import datewords
from followupd.mail.patterns import lazy_pattern

__all__ = ["DueSplit", "read_due", "read_due_cell", "split_due"]

LANGS = ("en", "de", "fr", "es")

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "couple of": 2, "few": 3,
    "ein": 1, "einer": 1, "einem": 1, "eine": 1, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6,
    "sieben": 7, "acht": 8, "neun": 9, "zehn": 10,
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7, "huit": 8, "neuf": 9,
    "dix": 10, "quinze": 15,
    "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10, "quince": 15,
}
_NUMBER = r"(\d{1,3}|" + "|".join(sorted(map(re.escape, _NUMBERS), key=len, reverse=True)) + ")"
_UNITS = {
    "day": 1, "days": 1, "business day": 1, "business days": 1, "tag": 1, "tage": 1, "tagen": 1, "jour": 1,
    "jours": 1, "día": 1, "días": 1, "dia": 1, "dias": 1,
    "week": 7, "weeks": 7, "woche": 7, "wochen": 7, "semaine": 7, "semaines": 7, "semana": 7, "semanas": 7,
    "month": 30, "months": 30, "monat": 30, "monaten": 30, "mois": 30, "mes": 30, "meses": 30,
}
_UNIT = "(" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + ")"
_IN_N = lazy_pattern(rf"(?:in|within|inside|innerhalb(?:\s+von)?|binnen|dans|sous|d'ici|en|dentro\s+de)\s+"
                   rf"(?:the\s+next\s+|den\s+nächsten\s+|les\s+|las\s+|los\s+)?{_NUMBER}\s+{_UNIT}(?!\w)",
                   re.IGNORECASE)
# Fortnights and "15 jours" are two weeks in any calendar.
_FORTNIGHT = lazy_pattern(r"(?:in\s+a\s+fortnight|in\s+14\s+tagen|dans\s+(?:quinze|15)\s+jours"
                        r"|en\s+(?:quince|15)\s+días)(?!\w)", re.IGNORECASE)

_END_OF_DAY = lazy_pattern(r"(?:eod|end\s+of\s+(?:the\s+)?(?:business\s+)?day|cob|close\s+of\s+business|today"
                         r"|heute|aujourd'hui|ce\s+soir|hoy|tagesende|fin\s+de\s+(?:la\s+)?journée)(?!\w)",
                         re.IGNORECASE)
_END_OF_WEEK = lazy_pattern(r"(?:eow|end\s+of\s+(?:the\s+|this\s+)?week|this\s+week|ende\s+der\s+woche"
                          r"|wochenende|diese\s+woche|fin\s+de\s+(?:la\s+)?semaine|cette\s+semaine"
                          r"|(?:el\s+)?(?:fin|final)\s+de\s+(?:la\s+|esta\s+)?semana|esta\s+semana)(?!\w)",
                          re.IGNORECASE)
_END_OF_MONTH = lazy_pattern(r"(?:eom|end\s+of\s+(?:the\s+|this\s+)?month|monatsende|ende\s+des\s+monats"
                           r"|fin\s+du\s+mois|(?:el\s+)?(?:fin|final)\s+de(?:l)?\s+(?:este\s+)?mes)(?!\w)",
                           re.IGNORECASE)
_NEXT_WEEK = lazy_pattern(r"(?:next\s+week|(?:nächste|kommende)[nr]?\s+woche|(?:la\s+)?semaine\s+prochaine"
                        r"|(?:la\s+)?(?:semana\s+que\s+viene|próxima\s+semana|proxima\s+semana))(?!\w)",
                        re.IGNORECASE)
_TOMORROW = lazy_pattern(r"(?:tomorrow|morgen|demain|mañana|manana)(?!\w)", re.IGNORECASE)
_WEEKDAY_GAP = lazy_pattern(r"\.?,?\s*")
_SLASHED = lazy_pattern(r"(\d{1,2})/(\d{1,2})(?:/((?:19|20)?\d\d))?(?![\d/])")

#: Words that say "no date on purpose": not a reading failure.
_NO_DATE = lazy_pattern(r"(?:tbd|tbc|n/?a|-+|\u2013|\u2014|\?+|ongoing|laufend|offen|en\s+cours|à\s+définir"
                        r"|por\s+definir"
                      r"|pendiente|none|\u2014)\.?", re.IGNORECASE)

#: Cue words before a due date. Strong cues promise a date, so words after them that do not read are a problem.
_STRONG_CUE = (r"due(?:\s+(?:date|on|by))?|deadline|target(?:\s+date)?|eta|fällig(?:\s+(?:am|bis))?|frist|termin"
               r"|échéance|pour\s+le|fecha(?:\s+límite)?|plazo|vence(?:\s+el)?")
_WEAK_CUE = (r"by|before|until|till|no\s+later\s+than|on|bis(?:\s+(?:zum|spätestens|ende))?|spätestens(?:\s+am)?"
             r"|vor|am|d'ici(?:\s+(?:le|à|la))?|avant(?:\s+le|\s+la)?|pour|jusqu'au|le|para(?:\s+el)?"
             r"|antes\s+del?|hasta(?:\s+el)?|el")
_CUE = lazy_pattern(rf"(?<!\w)(?:({_STRONG_CUE})|({_WEAK_CUE}))\s*:?\s*", re.IGNORECASE)


def read_due(text: str, pos: int, *, lang: str, today: date) -> tuple[date, int] | None:
    """A due date starting at ``text[pos]``, resolved from ``today`` (the recap's day), and where it ends.

    ``lang`` is the recap's language; the others are tried after it (a French recap with an English heading
    still means "vendredi").
    """
    text = datewords.normalise(text)
    while pos < len(text) and text[pos] in " \t(,":
        pos += 1
    for pattern, resolve in _PHRASES:
        if match := pattern.match(text, pos):
            return resolve(match, today), match.end()
    for language in (lang, *LANGS):   # "Wed 12/9": the weekday only confirms the slashed date after it
        weekday = datewords.TABLES[language].weekday.match(text, pos)
        after = _WEEKDAY_GAP.match(text, weekday.end()) if weekday is not None else None
        if after is not None and _SLASHED.match(text, after.end()):
            pos = after.end()
            break
    if match := _SLASHED.match(text, pos):
        slashed = _slashed(match, lang, today)
        return (slashed, match.end()) if slashed else None
    for language in (lang, *(other for other in LANGS if other != lang)):
        found = datewords.date_expression_at(text, pos, lang=language, today=today, strict=True)
        if found is not None:
            return found
    # "due Mon", "- Fri": an abbreviated weekday alone is a date here, where a cue or a due column says one
    # follows (datewords takes it only before a date: in free text "Fr" or "so" are ordinary words).
    tables = datewords.TABLES.get(lang)
    abbreviation = tables.weekday.match(text, pos) if tables is not None else None
    if tables is not None and abbreviation is not None:
        day_number = tables.abbreviations.get(abbreviation.group(1).lower())
        if day_number is not None:
            end = abbreviation.end() + (text[abbreviation.end():abbreviation.end() + 1] == ".")
            return today + timedelta(days=(day_number - today.weekday()) % 7 or 7), end
    return None


@dataclass(frozen=True)
class DueSplit:
    """A task line with its due date taken out: ``unread`` holds words a cue promised as a date but that did
    not read as one (for the item's problem)."""

    task: str
    due: date | None
    unread: str | None


def split_due(task: str, *, lang: str, today: date) -> DueSplit:
    """Find the due date in a task line ("send the deck by Friday", "(due Dec 11)") and take it out."""
    task = datewords.normalise(task)
    unread: str | None = None
    for cue in _CUE.finditer(task):
        found = read_due(task, cue.end(), lang=lang, today=today)
        if found is not None:
            return DueSplit(_cut(task, cue.start(), found[1]), found[0], None)
        if cue.group(1) and unread is None:
            unread = _words_after(task, cue.end())
            # "(due after the board meeting)" or a trailing "due sometime soon": the words leave the task
            tail = re.match(r"[^()]{1,60}?(?=\)\s*\.?\s*$)|[^()]{1,60}$", task[cue.end():])
            if tail is not None and len(tail.group().split()) <= 6:
                task = _cut(task, cue.start(), cue.end() + tail.end())
    # No cue: a self-evident phrase ("in two weeks", "EOW", "next week") or a trailing parenthesis/dash part.
    for pattern, resolve in _PHRASES:
        if (match := pattern.search(task)) and _at_word_start(task, match.start()):
            return DueSplit(_cut(task, match.start(), match.end()), resolve(match, today), unread)
    tail = re.search(r"(?:\(([^()]{1,40})\)|[-\u2013\u2014,]\s+([^-\u2013\u2014,]{1,30}))\s*$", task)
    if tail is not None:
        words = tail.group(1) or tail.group(2) or ""
        found = read_due(words, 0, lang=lang, today=today)
        if found is not None and not words[found[1]:].strip(" .)"):
            return DueSplit(task[: tail.start()].rstrip(" ,-\u2013\u2014"), found[0], unread)
    return DueSplit(task.strip(), None, unread)


def read_due_cell(text: str, *, lang: str, today: date) -> tuple[date | None, str | None]:
    """A due column's cell: its date, or the words that did not read (None when it says "no date")."""
    text = datewords.normalise(text).strip().strip("*_")
    if not text or _NO_DATE.fullmatch(text):
        return None, None
    cue = _CUE.match(text)
    found = read_due(text, cue.end() if cue else 0, lang=lang, today=today)
    if found is None:
        found = read_due(text, 0, lang=lang, today=today)
    return (found[0], None) if found is not None else (None, text)


# ------------------------------------------------------------------------------------------------ helpers

def _friday(today: date, weeks: int = 0) -> date:
    """The Friday of this week (or of ``weeks`` later); a weekend's "this week" is the coming one."""
    ahead = (4 - today.weekday()) % 7 if today.weekday() <= 4 else 4 + 7 - today.weekday()
    return today + timedelta(days=ahead + 7 * weeks)


def _end_of_month(today: date) -> date:
    first_next = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def _in_n(match: re.Match[str], today: date) -> date:
    amount = match.group(1).lower()
    count = int(amount) if amount.isdigit() else _NUMBERS.get(amount, 1)
    unit = _UNITS[re.sub(r"\s+", " ", match.group(2).lower())]
    return today + timedelta(days=min(count * unit, 3650))


def _next_week(match: re.Match[str], today: date) -> date:
    return _friday(today, 1) if today.weekday() <= 4 else _friday(today)


#: The phrases only deadlines use, in the order they are tried, each with how it resolves from the recap's day.
_PHRASES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], date], date]], ...] = (
    (_IN_N, _in_n),
    (_FORTNIGHT, lambda m, today: today + timedelta(days=14)),
    (_END_OF_DAY, lambda m, today: today),
    (_END_OF_WEEK, lambda m, today: _friday(today)),
    (_END_OF_MONTH, lambda m, today: _end_of_month(today)),
    (_NEXT_WEEK, _next_week),
    (_TOMORROW, lambda m, today: today + timedelta(days=1)),
)


def _slashed(match: re.Match[str], lang: str, today: date) -> date | None:
    first, second = int(match.group(1)), int(match.group(2))
    month_first = first <= 12 and (second > 12 or lang == "en")
    month, day = (first, second) if month_first else (second, first)
    year_text = match.group(3)
    try:
        if year_text:
            year = int(year_text)
            return date(year + 2000 if year < 100 else year, month, day)
        candidate = date(today.year, month, day)
        if candidate < today - timedelta(days=14):   # well past: next year's ("1/15" written in December)
            candidate = date(today.year + 1, month, day)
        return candidate
    except ValueError:
        return None


def _at_word_start(text: str, pos: int) -> bool:
    return pos == 0 or not text[pos - 1].isalnum()


def _words_after(text: str, pos: int) -> str:
    return " ".join(text[pos:].strip(" ()").split()[:4]).rstrip(".,;)")


def _cut(task: str, start: int, end: int) -> str:
    """The task without the due words; a parenthesis left empty and dangling punctuation go too."""
    before, after = task[:start], task[end:]
    if before.rstrip().endswith("(") and after.lstrip().startswith(")"):
        before, after = before.rstrip()[:-1], after.lstrip()[1:]
    joined = before.rstrip(" ,;-\u2013\u2014") + " " + after.strip(" .,;-\u2013\u2014")
    return re.sub(r"\s+", " ", joined).strip()
