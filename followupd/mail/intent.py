"""A person's reply text -> did they answer, only promise an answer later, or say no?

Pure: no network, no clock (the caller passes the received time), no database. The text should be the
author's own words (:func:`followupd.mail.bodytext.message_text`: quotes and signature already gone).

The three outcomes and what they cost when wrong:

* ``reply``: the thread closes as replied. This is the default, and the answer whenever in doubt: a person
  who answered must never get a follow-up.
* ``holding``: the reply *only* promises a later answer ("I'll get back to you next week"). The thread
  stays open and the clock restarts at ``promised`` (or the caller's default). Chasing someone who had in
  fact answered is the worst mistake this module can make, so ``holding`` needs a holding phrase AND
  nothing else of substance: no question, no "yes/ok/sounds good", no attachment, no sentence that is not a
  promise, an excuse ("I'm travelling this week"), a thanks, a greeting or a sign-off, at most 3 sentences.
* ``declined``: a clear no ("not interested", "please stop emailing me", "kein Interesse"). The thread
  closes as declined. A decline phrase preceded in its sentence by a negation or a condition ("I'm not
  saying I'm not interested", "if you're not interested") does not count; one followed by "but ..." or any
  question is a ``reply`` (both stop the chasing; only the label differs).

Phrase lists are data (:data:`DEFAULT_PHRASES`, en/de/fr/es/it/nl/pt) and every list is checked whatever
the language of the text. Phrase syntax: case-insensitive words matched on word boundaries, any run of
whitespace between them, ``'`` matching the typographic apostrophe too; ``...`` stands for up to four words;
a trailing ``$`` means the phrase must end its sentence ("please stop$" is a decline, "please stop by" is not).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from followupd.mail import internal_errors
from followupd.mail.datewords import date_expression_at
from followupd.mail.intent_phrases import DEFAULT_PHRASES, PhraseSet, merge_phrases, phrase_pattern
from followupd.mail.patterns import lazy_pattern

__all__ = ["DEFAULT_PHRASES", "Intent", "IntentKind", "PhraseSet", "merge_phrases", "reply_intent"]

logger = logging.getLogger(__name__)

IntentKind = Literal["reply", "holding", "declined"]

#: Only this much text is read; a long reply is an answer anyway.
_MAX_TEXT = 5000
#: At most this many sentences may make up a pure holding reply (promise + excuse + thanks...).
_MAX_HOLDING_SENTENCES = 3
#: A named promise further out than this is not believed (the caller's default applies).
_MAX_PROMISE_DAYS = 180


@dataclass(frozen=True)
class Intent:
    """What a reply means for the thread, with the words that decided it."""

    kind: IntentKind
    evidence: str
    promised: date | None = None  # holding only: the day they said they would answer by, when they named one


def reply_intent(text: str, *, phrases: Mapping[str, PhraseSet] | None = None, received: datetime,
                 tz: ZoneInfo) -> Intent:
    """Classify a human reply's text as ``reply``, ``holding`` or ``declined``; never raises.

    ``phrases`` are config overrides merged over :data:`DEFAULT_PHRASES` (see :func:`merge_phrases`).
    ``received`` (naive is read as UTC) and ``tz`` anchor "next week" and "by Friday".
    """
    try:
        moment = received if received.tzinfo is not None else received.replace(tzinfo=UTC)
        today = moment.astimezone(tz).date()
        return _classify(_normalise(text[:_MAX_TEXT]), merge_phrases(phrases), today)
    except Exception as exc:  # last resort: when this module fails, the safe answer is that they replied
        internal_errors.record("intent", exc, logger=logger, doing="reading a reply's intent; taken as a reply")
        return Intent("reply", "intent not readable (internal error): taken as a reply")


# ------------------------------------------------------------------------------------------ classifying

def _classify(text: str, phrases: Mapping[str, PhraseSet], today: date) -> Intent:
    if not text.strip():
        return Intent("reply", "no text of its own: taken as a reply")
    declined = _declined(text, phrases)
    if declined is not None:
        return declined
    holds = [(lang, phrase, match) for lang, phrase, match in _hits(text, phrases, "holding")]
    if not holds:
        return Intent("reply", "no holding or declining phrase")
    lang, phrase, first = holds[0]
    promise_text = f'"{_snippet(text, first)}"'
    sentences = _sentences(text)
    promise_clauses: list[tuple[int, str]] = []
    counted = 0
    for start, sentence in sentences:
        if "?" in sentence:
            return Intent("reply", f'promises a later answer ({promise_text}) but asks "{_short(sentence)}"')
        if _ATTACHMENT.search(sentence):
            return Intent("reply", f'promises a later answer ({promise_text}) but also says "{_short(sentence)}"')
        kinds = set()
        for offset, clause in _clauses(sentence):
            at = start + offset
            if _ANSWER.search(clause):
                return Intent("reply", f'promises a later answer ({promise_text}) but also says "{_short(clause)}"')
            if any(m.start() < at + len(clause) and m.end() > at for _, _, m in holds):  # overlaps the clause
                kinds.add("promise")
                promise_clauses.append((at, clause))
            elif _is_filler(clause):
                continue
            elif _EXCUSE.search(clause):
                kinds.add("excuse")  # "I'm travelling this week": context, and its "this week" is no promise
            elif _is_when(clause, lang, today):
                kinds.add("promise")  # "..., probably next week"
                promise_clauses.append((at, clause))
            else:
                return Intent("reply", f'promises a later answer ({promise_text}) but also says "{_short(clause)}"')
        counted += bool(kinds)
    if counted > _MAX_HOLDING_SENTENCES:
        return Intent("reply", f"promises a later answer ({promise_text}) in a longer message ({counted} sentences)")
    promised = _promised(promise_clauses, lang, today)
    when = f", by {promised.isoformat()}" if promised else ""
    return Intent("holding", f'holding: "{phrase}" ({lang}){when}: {promise_text}', promised)


def _declined(text: str, phrases: Mapping[str, PhraseSet]) -> Intent | None:
    for lang, phrase, match in _hits(text, phrases, "declined"):
        start = _sentence_start(text, match.start())
        before = text[start : match.start()]
        if _NEGATION.search(before) or _CONDITION.search(before):
            continue  # "I'm not saying I'm not interested", "if you're not interested"
        if _NOT_A_NO.match(text, match.end()):
            continue  # "no thanks needed"
        snippet = f'"{_snippet(text, match)}"'
        if "?" in text:
            return Intent("reply", f"declining words ({snippet}) but the reply asks a question")
        after = text[match.end() : match.end() + 400]
        if _CONTRAST.search(after):
            return Intent("reply", f"declining words ({snippet}) followed by a \"but\"")
        return Intent("declined", f'declined: "{phrase}" ({lang}): {snippet}')
    return None


def _hits(text: str, phrases: Mapping[str, PhraseSet], which: str) -> list[tuple[str, str, re.Match[str]]]:
    """(language, phrase, match) for every phrase of that list found, in text order."""
    found: list[tuple[str, str, re.Match[str]]] = []
    for lang, phrase_set in phrases.items():
        listed = phrase_set.holding if which == "holding" else phrase_set.declined
        for phrase in listed:
            pattern = phrase_pattern(phrase)
            if pattern is None:
                continue
            for match in pattern.finditer(text):
                found.append((lang, phrase, match))
    found.sort(key=lambda hit: (hit[2].start(), -len(hit[2].group())))
    return found


# ------------------------------------------------------------------------------------------- sentences

_SENTENCE_END = lazy_pattern(r"(?<=[.!?…])\s+|\n+|(?<=[.!?])(?=[A-ZÄÖÜÀ-Ý])")


def _sentences(text: str) -> list[tuple[int, str]]:
    """(start, sentence) pieces: split at sentence punctuation and line breaks; empty pieces dropped."""
    out: list[tuple[int, str]] = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        piece = text[pos : match.start()]
        if piece.strip():
            out.append((pos + len(piece) - len(piece.lstrip()), piece.strip()))
        pos = match.end()
    piece = text[pos:]
    if piece.strip():
        out.append((pos + len(piece) - len(piece.lstrip()), piece.strip()))
    return out


def _sentence_start(text: str, pos: int) -> int:
    start = 0
    for match in _SENTENCE_END.finditer(text, 0, pos):
        start = match.end()
    return start


#: Greetings, sign-offs and thanks: part of every mail, never substance. Each must make up the whole clause,
#: give or take a name ("Hi Alice", "Best, Bob"), so "Thanks, we'll take it" is never waved through.
_NAME = r"(?:[,\s]+(?:[A-ZÀ-ÝĀ-Ž][\w.'-]*|(?i:all|everyone|team|there|folks|guys|zusammen|alle|tous|à tous|todos"
_NAME += r"|a todos|tutti|allemaal)))"
_GREETING = lazy_pattern(
    r"(?i:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hallo|liebe[rs]?|sehr geehrte[rs]?"
    r"|guten (?:tag|morgen)|moin|servus|bonjour|bonsoir|salut|cher|chère|madame|monsieur|hola|estimad[oa]s?"
    r"|buen(?:os|as) (?:días|tardes)|ciao|buongiorno|gentile|salve|hoi|beste|geachte|goedemorgen|olá|ola|bom dia"
    r"|boa tarde|caro|cara|prezad[oa])" + _NAME + r"{0,4}[,.!:]*"
)
_SIGN_OFF = lazy_pattern(
    r"(?i:thanks?|thank you|many thanks|thanks (?:a lot|so much)|thx|ty|cheers|best|best regards|kind regards|regards"
    r"|warm regards|all the best|sincerely|yours|br|kr|talk soon|speak soon|have a (?:nice|good|great) (?:day|weekend)"
    r"|danke|danke schön|vielen dank|besten dank|herzlichen dank|viele grüße|beste grüße|liebe grüße"
    r"|freundliche grüße|mit freundlichen grüßen|mfg|lg|vg|gruß|grüße|schönen tag|merci|merci beaucoup"
    r"|cordialement|bien à vous|bien à toi|bonne journée|bonne soirée|à bientôt|amitiés|bises|gracias"
    r"|muchas gracias|saludos|un saludo|atentamente|un abrazo|grazie|grazie mille|cordiali saluti|saluti|a presto"
    r"|bedankt|groeten|met vriendelijke groet|groet|obrigad[oa]|abraços?|atenciosamente|cumprimentos)"
    r"[.!]*" + _NAME + r"{0,3}[.!]*"
)
_THANKS_ONLY = lazy_pattern(
    r"(?i:(?:many )?(?:thanks|thank you)(?: (?:so|very) much| a lot)?(?: for [^,;]{1,50})?"
    r"|(?:merci|merci beaucoup)(?: pour [^,;]{1,50})?|(?:danke|vielen dank|danke schön)(?: für [^,;]{1,50})?"
    r"|(?:gracias|muchas gracias)(?: por [^,;]{1,50})?|(?:grazie|grazie mille)(?: per [^,;]{1,50})?"
    r"|obrigad[oa](?: pel[oa] [^,;]{1,50})?|bedankt(?: voor [^,;]{1,50})?"
    r"|sorry for the (?:delay|late reply|slow reply)|apologies for the (?:delay|late reply)"
    r"|entschuldig\w* (?:die|für die) (?:verspätete|späte) antwort|désolée? pour (?:le retard|la réponse tardive)"
    r"|perdón por la demora|disculpa\w* (?:la|por la) demora)[.!]*"
)
#: Context a pure holding reply may give: busy, away, waiting on someone, not had time.
_EXCUSE = lazy_pattern(
    r"\b(?:busy|swamped|travell?ing|on the road|away|out of (?:the )?office|on (?:holiday|vacation|leave)|off sick"
    r"|sick|ill|in meetings|back[- ]to[- ]back|hectic|crazy|catching up|just got back|snowed under|flat out"
    r"|tied up|overloaded|slammed|waiting (?:for|on)|still (?:reviewing|looking|waiting|checking|discussing)"
    r"|reviewing|looking into|need(?:s)? to (?:check|discuss|confirm|review|run|talk|ask)|checking with"
    r"|sorry|apologies|delay|beschäftigt|unterwegs|im urlaub|auf reisen|krank|viel zu tun|termine|warte"
    r"|noch nicht|entschuldigung|verspätung|occupée?|en déplacement|en vacances|malade|débordée?|pas encore"
    r"|attends|désolée?|ocupad[oa]|de viaje|de vacaciones|enferm[oa]|todavía no|aún no|esperando|lo siento"
    r"|perdón|disculpa|impegnat[oa]|in viaggio|in ferie|scusa|druk|op reis|op vakantie"
    r"|viajando|de férias|desculp\w*)\b",
    re.IGNORECASE,
)
#: Words that make a sentence an answer, not a promise: "yes", "sounds good", "approved"...
_ANSWER = lazy_pattern(
    r"^(?:yes|yeah|yep|yup|sure|ok|okay|sounds good|sounds great|looks good|great|perfect|agreed|confirmed"
    r"|approved|deal|done|absolutely|of course|definitely|ja|jawohl|gerne|gern|einverstanden|passt|klingt gut"
    r"|super|perfekt|prima|oui|d'accord|parfait|entendu|ça marche|sí|si|vale|perfecto|de acuerdo|claro|genial"
    r"|va bene|certo|d'accordo|perfetto|akkoord|sim|combinado|perfeito)\b"
    r"|\b(?:we(?:'ve| have) decided|we(?:'d| would) like to (?:go ahead|proceed|order)|go ahead|please proceed"
    r"|approved|we accept|signed|i agree|we agree|works for (?:me|us))\b",
    re.IGNORECASE,
)
_ATTACHMENT = lazy_pattern(
    r"\b(?:attached|attachment|enclosed|please find|anbei|im anhang|angehängt|ci-joint|en pièce jointe|ci-jointe"
    r"|adjunto|te adjunto|le adjunto|in allegato|allego|in de bijlage|bijgevoegd|em anexo|segue anexo)\b",
    re.IGNORECASE,
)
_NEGATION = lazy_pattern(
    r"(?:\b(?:not|never|nicht|nie|niemals|jamais|pas|nunca|jamás|mai|niet|nooit|não)\b|n't\b)", re.IGNORECASE)
_CONDITION = lazy_pattern(
    r"\b(?:if|unless|whether|in case|wenn|falls|ob|sofern|si|sauf si|à moins|se|caso|a menos|als|tenzij|indien)\b",
    re.IGNORECASE,
)
_NOT_A_NO = lazy_pattern(r"\s*(?:needed|necessary|required|nötig|notwendig|nécessaire|necesario|necessario)\b",
                       re.IGNORECASE)
_CONTRAST = lazy_pattern(r"\b(?:but|however|although|though|aber|jedoch|allerdings|mais|cependant|pero|sin embargo"
                       r"|però|tuttavia|ma|maar|echter|mas|porém|contudo)\b", re.IGNORECASE)


def _is_filler(clause: str) -> bool:
    """Greeting, sign-off, thanks or a name line: nothing the thread has to act on."""
    plain = clause.strip(" ,.!-:;\u2013\u2014")
    if not plain:
        return True
    if any(p.fullmatch(plain) for p in (_GREETING, _SIGN_OFF, _THANKS_ONLY)):
        return True
    words = plain.split()
    return len(words) <= 3 and all(w[:1].isupper() and w.isalpha() for w in words)  # a name: "Jürgen Müller"


_CLAUSE_SPLIT = lazy_pattern(
    r"\s*[,;:]\s+|\s*[,;]|\s+[\u2013\u2014-]\s+|\s+(?:and|und|et|y|e|en|but|aber|mais|pero|ma|maar|mas|then|dann|puis"
    r"|luego|so|also|donc)\s+",
    re.IGNORECASE,
)


def _clauses(sentence: str) -> list[tuple[int, str]]:
    """(offset, clause) pieces of a sentence, split at commas, dashes and "and/but/so" in each language."""
    out: list[tuple[int, str]] = []
    pos = 0
    for match in _CLAUSE_SPLIT.finditer(sentence):
        if sentence[pos : match.start()].strip():
            out.append((pos, sentence[pos : match.start()]))
        pos = match.end()
    if sentence[pos:].strip():
        out.append((pos, sentence[pos:]))
    return out


def _normalise(text: str) -> str:
    return (text.replace("\u2019", "'").replace("\u00a0", " ").replace("\r\n", "\n").replace("\r", "\n"))


def _snippet(text: str, match: re.Match[str]) -> str:
    start = _sentence_start(text, match.start())
    end_match = _SENTENCE_END.search(text, match.end())
    end = end_match.start() if end_match else len(text)
    return _short(" ".join(text[start:end].split()))


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------------------------- promises

def _next_weekday(today: date, weekday: int) -> date:
    """The next such weekday strictly after today ("by Friday" said on a Friday is next Friday)."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def _end_of_week(today: date) -> date:
    """This week's Friday (today, on a Friday); at the weekend, the coming Friday."""
    return today + timedelta(days=4 - today.weekday()) if today.weekday() <= 4 else _next_weekday(today, 4)


def _first_of_next_month(today: date) -> date:
    return date(today.year + 1, 1, 1) if today.month == 12 else date(today.year, today.month + 1, 1)


_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "couple": 2, "few": 3,
            "einer": 1, "einem": 1, "ein": 1, "zwei": 2, "drei": 3, "vier": 4, "paar": 2,
            "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "quelques": 3,
            "una": 1, "dos": 2, "tres": 3, "cuatro": 4, "unos": 3, "unas": 3}
_IN_UNITS = lazy_pattern(
    r"\b(?:in|within|innerhalb|dans|en|d'ici)\s+(?:(?:a|the\s+next)\s+)?(a|an|one|two|three|four|couple(?:\s+of)?|few"
    r"|einer|einem|ein|zwei|drei|vier|paar|un|une|deux|trois|quatre|quelques|una|dos|tres|cuatro|unos|unas|\d{1,2})"
    r"\s+(days?|weeks?|tage?n?|wochen?|jours?|semaines?|días?|semanas?)\b",
    re.IGNORECASE,
)
#: Relative promises: (regex, days after today or a function of today).
_RELATIVE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (lazy_pattern(pattern, re.IGNORECASE), kind) for pattern, kind in (
        (r"\bend of next week\b|\bende nächster woche\b|\bfin de la semaine prochaine\b", "end-next-week"),
        # The article is part of the match so that this reading wins over the generic date reader's, which
        # starts at the article and takes "next week" as its Monday (right for an out-of-office, not here).
        (r"\b(?:next|the coming) week\b|\b(?:nächste|kommende)[nr]?\s+woche\b|\b(?:la\s+)?semaine prochaine\b"
         r"|\b(?:la\s+)?semana que viene\b|\b(?:la\s+)?próxima semana\b|\bsemana próxima\b"
         r"|\b(?:la\s+)?settimana prossima\b"
         r"|\bprossima settimana\b|\bvolgende week\b|\bsemana que vem\b", "next-week"),
        (r"\b(?:end of (?:the |this )?week|this week|later this week)\b|\bende (?:der|dieser) woche\b"
         r"|\bdiese woche\b|\bfin de (?:la )?semaine\b|\bcette semaine\b|\besta semana\b"
         r"|\bfinales de (?:la )?semana\b|\bquesta settimana\b|\bdeze week\b|\besta semana\b", "end-of-week"),
        (r"\b(?:next month|nächsten monat|le mois prochain|el mes que viene|el próximo mes|il mese prossimo"
         r"|volgende maand|mês que vem|próximo mês)\b", "next-month"),
        (r"\b(?:tomorrow|morgen|demain|mañana|domani|amanhã)\b", "tomorrow"),
        (r"\b(?:today|later today|this afternoon|tonight|end of (?:the )?day|eod|cob|heute|aujourd'hui|ce soir"
         r"|hoy|esta tarde|oggi|vandaag|hoje)\b", "today"),
        (r"\b(?:after the holidays|nach den feiertagen|après les fêtes|después de las fiestas|dopo le feste"
         r"|na de feestdagen|depois das festas)\b", "none"),
    )
)


def _is_when(clause: str, lang: str, today: date) -> bool:
    """A short clause that only says when ("probably next week", "by Friday at the latest")."""
    if len(clause.split()) > 5:
        return False
    return _promised([(0, clause)], lang, today) is not None or any(p.search(clause) for p, _ in _RELATIVE)


def _promised(sentences: list[tuple[int, str]], lang: str, today: date) -> date | None:
    """The date a holding reply names, looked for in its promise clauses; earliest mention wins."""
    found: list[tuple[int, date | None]] = []
    for start, sentence in sentences:
        for pattern, kind in _RELATIVE:
            for match in pattern.finditer(sentence):
                found.append((start + match.start(), _relative(kind, today)))
        for match in _IN_UNITS.finditer(sentence):
            found.append((start + match.start(), _in_units(match, today)))
        for word in re.finditer(r"(?<!\w)\w", sentence):
            for language in dict.fromkeys((lang, "en", "de", "fr", "es")):
                hit = date_expression_at(sentence, word.start(), lang=language, today=today, strict=True,
                                         horizon_days=_MAX_PROMISE_DAYS)
                if hit is not None:
                    found.append((start + word.start(), hit[0]))
                    break
    if not found:
        return None
    found.sort(key=lambda item: item[0])
    promised = found[0][1]
    if promised is None or not today <= promised <= today + timedelta(days=_MAX_PROMISE_DAYS):
        return None
    return promised


def _relative(kind: str, today: date) -> date | None:
    if kind in ("next-week", "end-next-week"):
        # "next week" promises an answer at some point of that week: its Friday is the day it is owed by.
        return _next_weekday(today, 0) + timedelta(days=4)
    if kind == "end-of-week":
        return _end_of_week(today)
    if kind == "next-month":
        return _first_of_next_month(today)
    if kind == "tomorrow":
        return today + timedelta(days=1)
    if kind == "today":
        return today
    return None


def _in_units(match: re.Match[str], today: date) -> date | None:
    amount_text = match.group(1).lower().split()[0]
    amount = int(amount_text) if amount_text.isdigit() else _NUMBERS.get(amount_text)
    if not amount:
        return None
    unit = match.group(2).lower()
    days = amount * 7 if unit.startswith(("week", "woche", "semaine", "semana")) else amount
    return today + timedelta(days=days)
