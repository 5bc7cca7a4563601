"""Out-of-office text -> the last day the person is away, read only next to words that announce it.

Pure: no network, no clock (the caller passes the received time), no database. Dependency free on purpose:
dateparser finds dates anywhere, which is the problem (FACTS.md: "Je" read as a date, phone numbers as
years); here a date only counts when it directly follows a cue ("until", "back on", "bis", "jusqu'au",
"hasta", "fino al", "tot en met", "até", ...) with nothing but small filler words ("the", "on", "dem",
"le", "in the office", a time of day) in between, and only when it falls inside
``[received date, received date + horizon_days]``. A miss costs a follow-up that arrives during the absence
(the default postponement still applies); a false hit costs a follow-up weeks late, so misses are preferred.

What the date means (``return_date`` always answers "the LAST day of absence"):

* "until X", "through X", "bis X", "jusqu'au X", "hasta X", "fino al X", "tot en met X", "até X": absent
  through X, so X. ("until Monday" sometimes means "back on Monday"; reading it as the last day away makes
  us at most one business day late, never early.)
* "back on X", "returning X", "zurück am X", "ab dem X wieder", "de retour le X", "regreso el X", "rientro
  il X", "terug op X", "regresso a X": X is the first day back, so the weekday before X (Monday -> Friday),
  never before the received day.
* "from 3 to 14 December", "out 3-14 Dec", "vom 3. bis 14.12.", "du 4 au 15 mars": the end of the range.
* Several readings: the latest wins (a day late is harmless, a nudge during the absence is not).

The caller turns it into a due date: the first business day after the last day of absence, plus a grace.

Dates: month names (and abbreviations) in en/de/fr/es/it/nl/pt in the cue's language, day-month and
month-day order, ISO ``2024-12-14``, ``DD.MM.YYYY`` / ``DD.MM.`` (any language), ``DD/MM/YYYY`` and
``DD-MM-YYYY`` for every language but English, where a numeric date counts only when a single reading
(``MM/DD`` or ``DD/MM``) lands in the window. Weekday names alone are the next such day (after the received
day for "back", from it for "until"); "tomorrow" and "next week" (the Monday) are understood. A year-less
date is its next occurrence. Times (``10.30``), lone years, phone and order numbers are never dates: a
numeric date needs its separators and valid ranges, a year-less dotted date its closing dot.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from followupd.mail import internal_errors
from followupd.mail.datewords import (
    FILLER,
    LANGUAGES,
    MAX_GAP,
    NEXT_WORD,
    STARTER,
    TABLES,
    Element,
    Tables,
    date_expression_at,
    dates_of,
    normalise,
    read_element,
    read_range,
)
from followupd.mail.patterns import lazy_pattern

__all__ = ["LANGUAGES", "ReturnInfo", "date_expression_at", "find_return", "return_date"]

logger = logging.getLogger(__name__)


#: Only the start of a long text is read: an out-of-office says its dates early.
_MAX_TEXT = 100_000
#: At most this many cue words are read (a real out-of-office has a handful; hostile text has thousands).
_MAX_CUES = 1000
#: "from X ... wieder/again": the confirming word must follow the date this closely.
_MAX_CONFIRM = 60


@dataclass(frozen=True)
class ReturnInfo:
    """What an out-of-office says about the absence; ``last_absent`` is what :func:`return_date` returns."""

    last_absent: date  # the last day of absence
    back: date         # the first day back as stated ("back on X": X), else the day after ``last_absent``
    language: str      # the language of the cue that matched
    evidence: str      # the words read, e.g. "until Friday, 15 March 2024"


def return_date(text: str, *, received: datetime, tz: ZoneInfo, horizon_days: int = 90) -> date | None:
    """The last day of absence an out-of-office text names, or None; never raises.

    Pass the subject and the body (``f"{subject}\\n{message_text(raw)}"``). ``received`` is when the message
    arrived (naive is read as UTC); the result is in ``[received day, received day + horizon_days]`` in
    ``tz``. See the module docstring for what "last day" means for each wording.
    """
    info = find_return(text, received=received, tz=tz, horizon_days=horizon_days)
    return info.last_absent if info else None


def find_return(text: str, *, received: datetime, tz: ZoneInfo, horizon_days: int = 90) -> ReturnInfo | None:
    """Like :func:`return_date`, with the first day back, the language and the words that said so."""
    try:
        moment = received if received.tzinfo is not None else received.replace(tzinfo=UTC)
        today = moment.astimezone(tz).date()
        return _find(normalise(text[:_MAX_TEXT]), today, today + timedelta(days=max(0, horizon_days)))
    except Exception as exc:  # last resort for a bug here: never let one odd message stop a cycle
        internal_errors.record("ooo", exc, logger=logger, doing="reading an out-of-office; no return date is read")
        return None


# Cue kinds.
_UNTIL = "until"   # absent through the date
_BACK = "back"     # first day back on the date
_RANGE = "range"   # a "from X to Y" range follows; absent through Y
_FROM = "from"     # "ab dem X ... wieder": back on X, but only with a confirming word after the date

_CUES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        _UNTIL: ("until", "till", "til", "through", "thru", "up to and including", "up to"),
        _BACK: ("back", "returning", "return", "will return", "be returning", "resume work", "in the office again",
                "available again", "reachable again"),
        _RANGE: ("out of (?:the )?office", "out", "away", "absent", "off", "on (?:annual |parental |sick )?leave",
                 "on vacation", "on holidays?", "travelling", "traveling", "unavailable", "not available",
                 "not in the office", "vacation", "holidays?", "ooo", "pto", "from", "between"),
        _FROM: ("from", "as of", "starting", "beginning"),
    },
    "de": {
        _UNTIL: ("bis", "bis einschließlich", "bis einschl\\.", "bis inkl\\.", "bis und mit", "bis zum",
                 "bis einschliesslich"),
        _BACK: ("zurück", "wieder im büro", "wieder erreichbar", "wieder da", "wieder im hause", "wieder zurück",
                "wieder an meinem arbeitsplatz", "wieder für sie da", "wieder für sie erreichbar"),
        _RANGE: ("abwesend", "nicht im büro", "nicht im hause?", "außer haus", "ausser haus", "im urlaub",
                 "urlaub", "nicht erreichbar", "nicht anwesend", "auf dienstreise", "dienstreise", "vom",
                 "von", "zwischen"),
        _FROM: ("ab", "ab dem", "ab den", "am"),
    },
    "fr": {
        _UNTIL: ("jusqu'au", "jusqu'à", "jusqu'a", "jusqu'à ce que"),
        _BACK: ("de retour", "retour le", "je reviendrai", "je rentre", "reprendrai", "rentrerai",
                "je serai à nouveau", "je serai de nouveau"),
        _RANGE: ("absente?", "en congés?", "en vacances", "hors du bureau", "en déplacement", "indisponible",
                 "absence", "du", "entre"),
        _FROM: ("à partir du", "a partir du", "à compter du", "dès le", "des le"),
    },
    "es": {
        _UNTIL: ("hasta", "hasta el", "hasta el día"),
        _BACK: ("regreso", "regresaré", "regresare", "de regreso", "vuelvo", "volveré", "volvere",
                "me reincorporo", "me reincorporaré", "de vuelta", "estaré de vuelta", "retorno"),
        _RANGE: ("fuera de la oficina", "fuera de oficina", "ausente", "de vacaciones", "de viaje", "del",
                 "entre"),
        _FROM: ("a partir del", "desde el"),
    },
    "it": {
        _UNTIL: ("fino al", "fino a", "fino all'", "sino al", "fino a tutto il", "fino a tutto"),
        _BACK: ("rientro", "rientrerò", "rientrero", "di ritorno", "tornerò", "tornero", "sarò di nuovo",
                "saro di nuovo"),
        _RANGE: ("assente", "fuori ufficio", "fuori sede", "in ferie", "ferie", "in viaggio", "dal", "tra"),
        _FROM: ("a partire dal", "a partire da", "dal"),
    },
    "nl": {
        _UNTIL: ("tot en met", "t/m", "t\\.m\\.", "tot"),
        _BACK: ("terug", "weer aanwezig", "weer op kantoor", "weer bereikbaar", "ben ik weer"),
        _RANGE: ("afwezig", "op vakantie", "met vakantie", "niet op kantoor", "niet aanwezig", "vakantie",
                 "van", "tussen"),
        _FROM: ("vanaf", "per"),
    },
    "pt": {
        _UNTIL: ("até", "até ao", "até o", "até dia", "até ao dia", "até o dia"),
        _BACK: ("regresso", "regressarei", "retorno", "retornarei", "volto", "voltarei", "de volta",
                "estarei de volta"),
        _RANGE: ("ausente", "fora do escritório", "fora do escritorio", "de férias", "férias", "de"),
        _FROM: ("a partir de", "a partir do", "a partir do dia"),
    },
}

_INDEFINITE = lazy_pattern(
    r"until further notice|bis auf weiteres|jusqu'à nouvel ordre|jusqu'à nouvel avis|hasta nuevo aviso"
    r"|fino a nuovo avviso|tot nader bericht|até novo aviso|on (?:long[- ]term|extended|indefinite) leave"
    r"|no longer (?:with|at|work)|nicht mehr (?:im unternehmen|bei|für)|ne fait plus partie",
    re.IGNORECASE,
)
#: Words confirming that "from X" is the return, not the start of the absence.
_CONFIRM = lazy_pattern(
    r"(?<!\w)(?:wieder|zurück|again|back|return|de retour|de nouveau|à nouveau|de vuelta|de nuevo|nuevamente"
    r"|di nuovo|nuovamente|weer|terug|novamente|de volta|regresso)(?!\w)",
    re.IGNORECASE,
)


def _cue_body(words: Iterable[str]) -> str:
    """Cue words as a regex alternation: longest first, any whitespace run, either apostrophe."""
    return "|".join(sorted((w.replace("'", "['\u2019]").replace(" ", r"\s+") for w in words), key=len,
                           reverse=True))


#: (language, kind, pattern) for every cue list; a cue word may be in several ("from": a range or a return).
_CUE_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (lang, kind, lazy_pattern(_cue_body(words), re.IGNORECASE))
    for lang, kinds in _CUES.items() for kind, words in kinds.items()
)
_CUE = lazy_pattern(
    r"(?<!\w)(?:" + "|".join(_cue_body(words) for kinds in _CUES.values() for words in kinds.values())
    + r")(?!\w)",
    re.IGNORECASE,
)


# ------------------------------------------------------------------------------------------------ search


def _find(text: str, today: date, limit: date) -> ReturnInfo | None:
    if _INDEFINITE.search(text):
        return None  # an open-ended absence; any date in it is someone else's ("my colleague is back on ...")
    found: list[ReturnInfo] = []
    for count, cue in enumerate(_cues(text)):
        if count >= _MAX_CUES:
            break
        word = cue.group()
        for lang, kind, pattern in _CUE_PATTERNS:
            if pattern.fullmatch(word):
                info = _read(text, cue, lang, kind, today, limit)
                if info is not None:
                    found.append(info)
                    break
    if not found:
        return None
    return max(found, key=lambda info: info.last_absent)


def _cues(text: str) -> Iterable[re.Match[str]]:
    """Every cue, overlapping ones too: "bis" inside "vom 3. bis 14." and "vom ... bis" both matter."""
    pos = 0
    while (match := _CUE.search(text, pos)) is not None:
        yield match
        pos = match.start() + 1


def _read(text: str, cue: re.Match[str], lang: str, kind: str, today: date, limit: date) -> ReturnInfo | None:
    tables = TABLES[lang]
    filler = FILLER.match(text, cue.end(), cue.end() + MAX_GAP + 1)
    pos = filler.end() if filler else cue.end()
    if pos - cue.end() > MAX_GAP or (pos > 0 and text[pos - 1].isdigit()):
        return None
    element: Element | None = None
    # Filler words may start the expression itself ("next week", "the 18th"): try each word start, then pos.
    for start in (*(m.start() for m in STARTER.finditer(text, cue.end(), pos)), pos):
        element = read_range(text, start, tables) if kind == _RANGE else read_element(text, start, tables)
        if element is not None:
            break
    if element is None:
        return None
    strict = bool(NEXT_WORD.search(text, cue.end(), pos))
    if element.weekday is not None and _after_weekday(text, cue.start(), tables):
        return None  # "Monday to Friday", "Mo bis Fr": office hours, not an absence
    if kind == _FROM:
        confirm = _CONFIRM.search(text, element.end, element.end + _MAX_CONFIRM)
        if confirm is None or any(ch.isdigit() for ch in text[element.end : confirm.start()]):
            return None
    back_kind = kind in (_BACK, _FROM) or element.next_week
    dates = dates_of(element, today, strict=strict or back_kind)
    readings: set[tuple[date, date]] = set()
    for stated in dates:
        if back_kind:
            last = max(_weekday_before(stated), today)
            back = stated
            if stated <= today:
                continue
        else:
            last, back = stated, stated + timedelta(days=1)
        if today <= last <= limit:
            readings.add((last, back))
    if len(readings) != 1:
        return None  # nothing in the window, or an ambiguous numeric date with two readings in it
    (last, back), = readings
    evidence = " ".join(text[cue.start() : element.end].split())[:120]
    return ReturnInfo(last_absent=last, back=back, language=lang, evidence=evidence)


def _after_weekday(text: str, cue_start: int, tables: Tables) -> bool:
    before = text[max(0, cue_start - 20) : cue_start].rstrip(" \t,-\u2013").lower()
    words = re.findall(r"[^\W\d_]+", before)
    return bool(words) and (words[-1] in tables.weekdays or words[-1] in tables.abbreviations)


def _weekday_before(day: date) -> date:
    """The last Monday-to-Friday strictly before ``day``."""
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day
