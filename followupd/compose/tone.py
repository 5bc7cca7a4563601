"""Tone rules for follow-up templates: phrases that read as pushy or guilt-tripping, shouting, impatience.

Pure and dependency-free (``config`` imports it to validate ``[tone]``). The built-in lists are per language;
``[tone]`` adjusts them for every language and ``[tone.<lang>]`` for one (see :class:`ToneSettings`).
:func:`tone_problems` scans literal text a template author wrote, not rendered values: a recipient's name or
the original subject in capitals is not the template's fault.

Why these rules: a follow-up that sounds irritated ("per my last email"), urgent ("ASAP") or mechanical
("just checking in") gets fewer replies than one that assumes the message got buried. Capitals and "!!" or
"??" (and Spanish "¡¡", "¿¿") read as shouting. A note longer than about 90 words no longer fits on a phone screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from followupd.mail.patterns import lazy_pattern

#: Words counted in a rendered body (greeting and signature included) before it is "too long".
DEFAULT_MAX_WORDS = 90

#: Phrases every language's list starts with.
COMMON_BANNED: tuple[str, ...] = ("ASAP",)

#: Built-in phrases per language (matched case-insensitively, as whole words, any whitespace between words).
BUILTIN_BANNED: Mapping[str, tuple[str, ...]] = {
    "en": (
        "per my last", "per my previous", "as I said", "as I already said", "as I mentioned",
        "as previously mentioned", "as soon as possible", "urgent", "urgently", "just checking in",
        "checking in again", "circling back", "circle back", "bumping this", "bump this", "touching base",
        "touch base", "friendly reminder", "gentle reminder", "quick reminder", "just following up",
        "following up again", "still waiting", "haven't heard back", "have not heard back",
        "you haven't replied", "you never replied", "did you see my", "any update", "any updates",
        "last chance", "final notice",
    ),
    "de": (
        "wie bereits erwähnt", "wie bereits gesagt", "wie schon gesagt", "wie gesagt", "wie in meiner letzten",
        "dringend", "so schnell wie möglich", "schnellstmöglich", "umgehend", "kurz nachhaken",
        "ich hake nach", "freundliche Erinnerung", "kleine Erinnerung", "letzte Erinnerung", "ich warte noch",
        "immer noch keine Antwort", "noch keine Antwort", "letzte Chance",
    ),
    "fr": (
        "comme je l'ai dit", "comme indiqué précédemment", "urgent", "urgence", "au plus vite",
        "dès que possible", "petit rappel", "je me permets de vous relancer", "j'attends toujours",
        "toujours sans réponse", "dernière chance", "je me permets de revenir vers vous", "je vous relance",
        "relance", "sans nouvelles de votre part", "sans réponse de votre part", "vous n'avez pas répondu",
        "vous n'avez toujours pas", "avez-vous vu mon", "avez-vous lu mon", "dans les plus brefs délais",
        "merci de me répondre", "je vous remercie de bien vouloir", "comme convenu précédemment",
    ),
    "es": (
        "como ya te dije", "como ya le dije", "como mencioné", "urgente", "lo antes posible", "cuanto antes",
        "solo para hacer seguimiento", "recordatorio", "sigo esperando", "no he recibido respuesta",
        "última oportunidad", "como le comenté", "como le indiqué", "le recuerdo que", "a la mayor brevedad",
        "quedo a la espera de su respuesta", "para dar seguimiento", "sin respuesta", "no ha respondido",
        "no me ha contestado", "no me ha respondido", "vio mi correo", "ha visto mi correo",
    ),
}

#: Words of three or more capitals that are acronyms, not shouting. "ID" and "OK" are too short to matter.
BUILTIN_ALLOWED_CAPS: frozenset[str] = frozenset({
    "API", "ASCII", "CEO", "CET", "CEST", "CFO", "CHF", "COO", "CRM", "CSV", "CTO", "DSGVO", "ERP", "ETA",
    "EUR", "FAQ", "FYI", "GBP", "GDPR", "GMT", "HTML", "HTTP", "HTTPS", "IBAN", "ID", "JSON", "KPI", "NDA", "OKR",
    "PDF", "PIN", "ROI", "RSVP", "SEO", "SEPA", "SLA", "SMS", "TBD", "URL", "USA", "USD", "UTC", "VAT", "XML",
})

_WORD = lazy_pattern(r"(?<!\w)[^\W\d_]{3,}(?!\w)")
_REPEATED_MARKS = lazy_pattern(r"[!\u00a1]{2,}|[?\u00bf]{2,}")  # "¡¡" and "¿¿" shout in Spanish as "!!" does
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@dataclass(frozen=True)
class ToneAdjustments:
    """One ``[tone]`` or ``[tone.<lang>]`` table: changes to the built-in rules."""

    banned_phrases: tuple[str, ...] = ()
    allowed_phrases: tuple[str, ...] = ()
    allowed_caps: tuple[str, ...] = ()
    max_words: int | None = None


@dataclass(frozen=True)
class ToneSettings:
    """``[tone]`` (for every language) plus ``[tone.<lang>]`` tables (for one language, applied on top)."""

    common: ToneAdjustments = ToneAdjustments()
    languages: Mapping[str, ToneAdjustments] = field(default_factory=dict, hash=False)  # keeps Config hashable

    def rules(self, lang: str) -> ToneRules:
        """The effective rules for templates in ``lang``: built-in, minus allowed, plus banned phrases."""
        own = self.languages.get(lang, ToneAdjustments())
        allowed = {_normalise(p) for p in (*self.common.allowed_phrases, *own.allowed_phrases)}
        phrases = [p for p in builtin_phrases(lang) if _normalise(p) not in allowed]
        phrases += [*self.common.banned_phrases, *own.banned_phrases]
        caps = BUILTIN_ALLOWED_CAPS | {c.upper() for c in (*self.common.allowed_caps, *own.allowed_caps)}
        max_words = own.max_words or self.common.max_words or DEFAULT_MAX_WORDS
        return ToneRules(banned_phrases=tuple(dict.fromkeys(phrases)), allowed_caps=frozenset(caps),
                         max_words=max_words)


@dataclass(frozen=True)
class ToneRules:
    """The rules that apply to one language's templates."""

    banned_phrases: tuple[str, ...] = (*COMMON_BANNED, *BUILTIN_BANNED["en"])
    allowed_caps: frozenset[str] = BUILTIN_ALLOWED_CAPS
    max_words: int = DEFAULT_MAX_WORDS


@dataclass(frozen=True)
class ToneHit:
    """One problem in a piece of text: where it starts (character offset) and what is wrong."""

    offset: int
    message: str


def builtin_phrases(lang: str) -> tuple[str, ...]:
    """The built-in banned phrases for ``lang`` (only the common ones for a language without a list)."""
    return (*COMMON_BANNED, *BUILTIN_BANNED.get(lang, ()))


def is_builtin_phrase(phrase: str, langs: Iterable[str] | None = None) -> bool:
    """Whether ``phrase`` is on a built-in list (of any language, or of one of ``langs``)."""
    wanted = _normalise(phrase)
    pool = BUILTIN_BANNED if langs is None else {lang: BUILTIN_BANNED.get(lang, ()) for lang in langs}
    return any(_normalise(p) == wanted for p in (*COMMON_BANNED, *(p for ps in pool.values() for p in ps)))


def all_builtin_phrases() -> list[str]:
    """Every built-in phrase once, for did-you-mean suggestions."""
    return list(dict.fromkeys((*COMMON_BANNED, *(p for ps in BUILTIN_BANNED.values() for p in ps))))


def tone_problems(text: str, rules: ToneRules) -> list[ToneHit]:
    """Banned phrases, words in capitals that are not allowed acronyms, "!!" and "??", in order of offset."""
    plain = text.translate(_APOSTROPHES)  # same length: offsets stay valid
    hits: list[ToneHit] = []
    covered: list[tuple[int, int]] = []
    for phrase in rules.banned_phrases:
        for match in _phrase_pattern(phrase).finditer(plain):
            covered.append(match.span())
            hits.append(ToneHit(match.start(), f'"{" ".join(match.group(0).split())}" sounds pushy or '
                                               "guilt-tripping; say what you need plainly, or allow it with "
                                               "[tone] allowed_phrases"))
    for match in _WORD.finditer(plain):
        word = match.group(0)
        if word.isupper() and word not in rules.allowed_caps and not _inside(match.span(), covered):
            hits.append(ToneHit(match.start(), f'"{word}" is in capitals, which reads as shouting; if it is '
                                               "an acronym, add it to [tone] allowed_caps"))
    for match in _REPEATED_MARKS.finditer(plain):
        marks = match.group(0)
        why = "shouting" if marks[0] in "!\u00a1" else "impatient"
        hits.append(ToneHit(match.start(), f'"{marks}" reads as {why}; one "{marks[0]}" is enough'))
    return sorted(hits, key=lambda hit: hit.offset)


def _inside(span: tuple[int, int], covered: Sequence[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in covered)


def word_count(text: str) -> int:
    return len(text.split())


def _normalise(phrase: str) -> str:
    return " ".join(phrase.translate(_APOSTROPHES).casefold().split())


@lru_cache(maxsize=512)
def _phrase_pattern(phrase: str) -> re.Pattern[str]:
    words: Sequence[str] = _normalise(phrase).split()
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)
