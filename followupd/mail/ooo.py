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

__all__ = ["LANGUAGES", "ReturnInfo", "date_expression_at", "find_return", "return_date"]

logger = logging.getLogger(__name__)

LANGUAGES: tuple[str, ...] = ("en", "de", "fr", "es", "it", "nl", "pt")

#: Only the start of a long text is read: an out-of-office says its dates early.
_MAX_TEXT = 100_000
#: At most this many cue words are read (a real out-of-office has a handful; hostile text has thousands).
_MAX_CUES = 1000
#: A cue and its date may be this far apart (filler words only).
_MAX_GAP = 50
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
        return _find(_normalise(text[:_MAX_TEXT]), today, today + timedelta(days=max(0, horizon_days)))
    except Exception as exc:  # last resort for a bug here: never let one odd message stop a cycle
        internal_errors.record("ooo", exc, logger=logger, doing="reading an out-of-office; no return date is read")
        return None


def date_expression_at(text: str, pos: int, *, lang: str, today: date, strict: bool = True,
                       horizon_days: int = 366) -> tuple[date, int] | None:
    """A date expression starting at ``text[pos]`` (after filler words), resolved into the future.

    Returns the date and where the expression ends, or None. ``strict``: a bare weekday is the next one
    *after* ``today`` (else today counts). For reading promises ("I'll get back to you by Friday").
    """
    try:
        clean = _normalise(text)
        tables = _TABLES.get(lang)
        if tables is None:
            return None
        start = _FILLER.match(clean, pos, pos + _MAX_GAP + 1)
        where = start.end() if start and start.end() - pos <= _MAX_GAP else pos
        found = _element(clean, where, tables)
        if found is None:
            return None
        dates = _dates_of(found, today, strict=strict)
        limit = today + timedelta(days=horizon_days)
        inside = sorted({d for d in dates if today <= d <= limit})
        return (inside[0], found.end) if len(inside) == 1 else None
    except Exception as exc:
        internal_errors.record("ooo", exc, logger=logger, doing="reading a date; none is read")
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

_INDEFINITE = re.compile(
    r"until further notice|bis auf weiteres|jusqu'à nouvel ordre|jusqu'à nouvel avis|hasta nuevo aviso"
    r"|fino a nuovo avviso|tot nader bericht|até novo aviso|on (?:long[- ]term|extended|indefinite) leave"
    r"|no longer (?:with|at|work)|nicht mehr (?:im unternehmen|bei|für)|ne fait plus partie",
    re.IGNORECASE,
)
#: Words confirming that "from X" is the return, not the start of the absence.
_CONFIRM = re.compile(
    r"(?<!\w)(?:wieder|zurück|again|back|return|de retour|de nouveau|à nouveau|de vuelta|de nuevo|nuevamente"
    r"|di nuovo|nuovamente|weer|terug|novamente|de volta|regresso)(?!\w)",
    re.IGNORECASE,
)

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
_FILLER = re.compile(
    r"(?:[\s,:;()\u2013\u2014-]+|(?<!\w)(?:" + "|".join(sorted(map(re.escape, _FILLER_WORDS), key=len, reverse=True))
    + r")(?!\w)\.?|" + _TIME + ")*",
    re.IGNORECASE,
)
_NEXT_WORD = re.compile(r"(?<!\w)(?:next|nächste[nrs]?|kommende[nrs]?|prochain|próximo|proximo|prossimo|volgende"
                        r"|aanstaande|próxima|proxima)(?!\w)", re.IGNORECASE)

#: Filler words that may also begin a date expression ("next week", "the 18th", "la semaine prochaine").
_STARTER = re.compile(r"(?<!\w)(?:next|the|la|a|nächste[nr]?|kommende[nr]?|volgende|próxima|proxima)(?!\w)",
                      re.IGNORECASE)
_D = r"(?:3[01]|[12]\d|0?[1-9])"
_ORDINAL = r"(?:st|nd|rd|th|er|e|º|°|ª)"
_YEAR = r"(?:19|20)\d\d"
_ISO = re.compile(rf"({_YEAR})-(0?[1-9]|1[0-2])-({_D})(?!\d)")
# "14.12.2024", "14.12.24", "14. 12. 2024", "14.12." (a year-less one needs its closing dot: "10.30" is a time).
_DOTTED = re.compile(rf"({_D})\.\s?(0?[1-9]|1[0-2])\.(?:\s?({_YEAR}|\d\d)(?!\d|\.\d))?(?!\d)")
_SLASHED = re.compile(rf"(\d{{1,2}})/(\d{{1,2}})(?:/({_YEAR}|\d\d))?(?![\d/])")
_DASHED = re.compile(rf"(\d{{1,2}})-(\d{{1,2}})-({_YEAR})(?!\d)")
_BARE_DAY = re.compile(rf"({_D})(?:{_ORDINAL}|\.)?(?![\d:/]|\.\d)")
_EN_ORDINAL_DAY = re.compile(rf"(?:the\s+)?({_D})(?:st|nd|rd|th)(?!\w)", re.IGNORECASE)
_RANGE_SEP = re.compile(
    r"\s*(?:[-\u2013\u2014]|(?:to|till|until|thru|through|and|bis(?:\s+(?:zum|einschließlich|inkl\.))?|au"
    r"|al|a|fino\s+al|fino\s+a|tot\s+en\s+met|tot|t/m|até\s+ao|até\s+o|até|ao|à|y|e|en|hasta\s+el|hasta"
    r"|jusqu'au)(?!\w))\s*",
    re.IGNORECASE,
)
_WEEKDAY_JOIN = re.compile(r"\.?,?\s*(?:(?:the|den|der|le|el|il|o|de)\s+)?", re.IGNORECASE)


def _alternation(names: Iterable[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


@dataclass(frozen=True)
class _Tables:
    lang: str
    months: dict[str, int]
    weekdays: dict[str, int]
    abbreviations: dict[str, int]
    day_month: re.Pattern[str]
    month_day: re.Pattern[str]
    weekday: re.Pattern[str]
    tomorrow: re.Pattern[str] | None
    next_week: re.Pattern[str]


def _tables(lang: str) -> _Tables:
    months = _alternation(_MONTH_NAMES[lang])
    weekdays = _alternation({**_WEEKDAY_NAMES[lang], **_WEEKDAY_ABBREVIATIONS[lang]})
    letter_after = r"(?![^\W\d_])"
    return _Tables(
        lang=lang,
        months=_MONTH_NAMES[lang],
        weekdays=_WEEKDAY_NAMES[lang],
        abbreviations=_WEEKDAY_ABBREVIATIONS[lang],
        day_month=re.compile(
            rf"({_D}){_ORDINAL}?\.?\s*(?:of\s+|de\s+|di\s+)?({months})\.?{letter_after}"
            rf"(?:,?\s*(?:de\s+|del\s+)?({_YEAR})(?!\d))?",
            re.IGNORECASE),
        month_day=re.compile(
            rf"({months})\.?{letter_after}\s*(?:the\s+)?({_D}){_ORDINAL}?(?![\d:]|\.\d)"
            rf"(?:,?\s+({_YEAR})(?!\d))?",
            re.IGNORECASE),
        weekday=re.compile(rf"({weekdays}){letter_after}", re.IGNORECASE),
        tomorrow=re.compile(rf"{_TOMORROW[lang]}(?!\w)", re.IGNORECASE) if lang in _TOMORROW else None,
        next_week=re.compile(rf"{_NEXT_WEEK[lang]}(?!\w)", re.IGNORECASE),
    )


_TABLES: dict[str, _Tables] = {lang: _tables(lang) for lang in LANGUAGES}


def _cue_body(words: Iterable[str]) -> str:
    """Cue words as a regex alternation: longest first, any whitespace run, either apostrophe."""
    return "|".join(sorted((w.replace("'", "['\u2019]").replace(" ", r"\s+") for w in words), key=len,
                           reverse=True))


#: (language, kind, pattern) for every cue list; a cue word may be in several ("from": a range or a return).
_CUE_PATTERNS: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (lang, kind, re.compile(_cue_body(words), re.IGNORECASE))
    for lang, kinds in _CUES.items() for kind, words in kinds.items()
)
_CUE = re.compile(
    r"(?<!\w)(?:" + "|".join(_cue_body(words) for kinds in _CUES.values() for words in kinds.values())
    + r")(?!\w)",
    re.IGNORECASE,
)


# ------------------------------------------------------------------------------------------------ search

@dataclass(frozen=True)
class _Element:
    """A parsed date expression before it is resolved against the received day."""

    end: int
    ymd: tuple[tuple[int | None, int, int], ...] = ()  # (year or None, month, day) readings
    weekday: int | None = None                         # a bare weekday name
    offset: int | None = None                          # "tomorrow": 1
    next_week: bool = False
    day: int | None = None                             # a bare day number ("3" in "3-14 Dec")


def _normalise(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2019", "'")


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
    tables = _TABLES[lang]
    filler = _FILLER.match(text, cue.end(), cue.end() + _MAX_GAP + 1)
    pos = filler.end() if filler else cue.end()
    if pos - cue.end() > _MAX_GAP or (pos > 0 and text[pos - 1].isdigit()):
        return None
    element: _Element | None = None
    # Filler words may start the expression itself ("next week", "the 18th"): try each word start, then pos.
    for start in (*(m.start() for m in _STARTER.finditer(text, cue.end(), pos)), pos):
        element = _range(text, start, tables) if kind == _RANGE else _element(text, start, tables)
        if element is not None:
            break
    if element is None:
        return None
    strict = bool(_NEXT_WORD.search(text, cue.end(), pos))
    if element.weekday is not None and _after_weekday(text, cue.start(), tables):
        return None  # "Monday to Friday", "Mo bis Fr": office hours, not an absence
    if kind == _FROM:
        confirm = _CONFIRM.search(text, element.end, element.end + _MAX_CONFIRM)
        if confirm is None or any(ch.isdigit() for ch in text[element.end : confirm.start()]):
            return None
    back_kind = kind in (_BACK, _FROM) or element.next_week
    dates = _dates_of(element, today, strict=strict or back_kind)
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


def _after_weekday(text: str, cue_start: int, tables: _Tables) -> bool:
    before = text[max(0, cue_start - 20) : cue_start].rstrip(" \t,-\u2013").lower()
    words = re.findall(r"[^\W\d_]+", before)
    return bool(words) and (words[-1] in tables.weekdays or words[-1] in tables.abbreviations)


def _weekday_before(day: date) -> date:
    """The last Monday-to-Friday strictly before ``day``."""
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


# ------------------------------------------------------------------------------------------------ parsing

def _element(text: str, pos: int, tables: _Tables, *, after_separator: bool = False) -> _Element | None:
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
            return _Element(end=weekday.end(), weekday=tables.weekdays[name])
        return None
    absolute = _absolute(text, pos, tables)
    if absolute is not None:
        return absolute
    if tables.tomorrow is not None and (match := tables.tomorrow.match(text, pos)):
        return _Element(end=match.end(), offset=1)
    if match := tables.next_week.match(text, pos):
        return _Element(end=match.end(), next_week=True)
    if tables.lang == "en" and (match := _EN_ORDINAL_DAY.match(text, pos)):
        return _Element(end=match.end(), day=int(match.group(1)))
    return None


def _absolute(text: str, pos: int, tables: _Tables) -> _Element | None:
    """A calendar date at ``pos`` (month names of the cue's language, or numeric)."""
    if match := _ISO.match(text, pos):
        return _Element(end=match.end(), ymd=((int(match.group(1)), int(match.group(2)), int(match.group(3))),))
    if match := _DOTTED.match(text, pos):
        return _Element(end=match.end(), ymd=((_year(match.group(3)), int(match.group(2)), int(match.group(1))),))
    for pattern in (_SLASHED, _DASHED):
        if match := pattern.match(text, pos):
            return _numeric(match, tables.lang)
    if match := tables.day_month.match(text, pos):
        month = tables.months[match.group(2).lower()]
        return _Element(end=match.end(), ymd=((_year(match.group(3)), month, int(match.group(1))),))
    if match := tables.month_day.match(text, pos):
        month = tables.months[match.group(1).lower()]
        return _Element(end=match.end(), ymd=((_year(match.group(3)), month, int(match.group(2))),))
    return None


def _numeric(match: re.Match[str], lang: str) -> _Element | None:
    """DD/MM(/YYYY) outside English; in English both readings, and the window decides (or refuses)."""
    first, second, year = int(match.group(1)), int(match.group(2)), _year(match.group(3))
    readings: list[tuple[int | None, int, int]] = []
    if 1 <= second <= 12 and 1 <= first <= 31:
        readings.append((year, second, first))
    if lang == "en" and 1 <= first <= 12 and 1 <= second <= 31 and first != second:
        readings.append((year, first, second))
    return _Element(end=match.end(), ymd=tuple(readings)) if readings else None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + 2000 if value < 100 else value


def _range(text: str, pos: int, tables: _Tables) -> _Element | None:
    """A range ("3-14 Dec", "Dec 3-14", "3. bis 14.12.", "du 4 au 15 mars"), as an element for its end."""
    first = _element(text, pos, tables)
    if first is None or first.weekday is not None or first.offset is not None or first.next_week:
        if first is not None:
            return None
        bare = _BARE_DAY.match(text, pos)
        if bare is None or (pos > 0 and text[pos - 1].isalnum()):
            return None
        first = _Element(end=bare.end(), day=int(bare.group(1)))
    sep = _RANGE_SEP.match(text, first.end)
    if sep is None or sep.end() == first.end:
        return None
    second = _element(text, sep.end(), tables, after_separator=True)
    if second is not None and second.ymd:
        if first.day is not None and not first.ymd:
            ends = tuple(r for r in second.ymd if first.day <= r[2] or r[1] > 1 or r[0] is None)
            return _Element(end=second.end, ymd=ends) if ends else None
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
        return _Element(end=bare.end(), ymd=((year, month, day),))
    return None


def _ordered(first: tuple[tuple[int | None, int, int], ...], second: tuple[tuple[int | None, int, int], ...]) -> bool:
    """A range whose start and end both carry a year must not run backwards."""
    start, end = first[0], second[0]
    if start[0] is None or end[0] is None:
        return True
    return (start[0], start[1], start[2]) <= (end[0], end[1], end[2])


def _dates_of(element: _Element, today: date, *, strict: bool) -> list[date]:
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
