"""Which language set a thread should use, guessed from what draft time knows.

Language detection uses the subject (and Content-Language when known): at draft time followupd has read
headers only, never bodies. It is a small word vote, not a model, and says "don't know" rather than guess.
"""

from __future__ import annotations

from collections.abc import Mapping

from followupd.compose.clean import REPLY_PREFIX
from followupd.mail.patterns import lazy_pattern

#: The language of the top-level stage folders; another language's set lives in ``<lang>/<stage>/``.
DEFAULT_LANGUAGE = "en"
#: ``[templates] lang = "auto"``: each thread gets the set of its original message's language, if there is one.
AUTO_LANGUAGE = "auto"
_LANGUAGE_CODE = lazy_pattern(r"[a-z]{2,3}")


def is_language_code(text: str) -> bool:
    """Two or three lower-case letters (an ISO 639 code such as "de"): a language folder or setting."""
    return bool(_LANGUAGE_CODE.fullmatch(text))


#: Short words that are frequent in subjects and say which language they are in (shared words left out).
_LANGUAGE_WORDS: Mapping[str, frozenset[str]] = {
    "en": frozenset({
        "the", "and", "for", "with", "your", "you", "our", "about", "from", "this", "that", "to", "of", "on",
        "is", "are", "my", "we", "meeting", "quote", "invoice", "question", "request", "proposal", "follow",
    }),
    "de": frozenset({
        "und", "der", "die", "das", "den", "dem", "des", "für", "mit", "von", "vom", "zum", "zur", "ist",
        "nicht", "ein", "eine", "einen", "ihr", "ihre", "unser", "unsere", "bitte", "auf", "im", "über",
        "wegen", "bei", "nach", "aus", "angebot", "anfrage", "rechnung", "termin", "besprechung", "vertrag",
        "frage", "unterlagen",
    }),
    "fr": frozenset({
        "le", "les", "du", "pour", "avec", "une", "et", "sur", "votre", "vos", "notre", "nos", "est", "au",
        "aux", "devis", "facture", "réunion", "demande", "rendez-vous", "proposition", "suite", "des", "dans",
        "chez", "contrat", "offre", "dossier", "commande", "candidature", "merci", "projet", "entretien",
        "subvention", "partenariat", "retour", "échange", "rencontre", "inscription", "livraison", "paiement",
    }),
    "es": frozenset({
        "el", "los", "las", "del", "por", "para", "con", "una", "y", "su", "sus", "nuestro", "nuestra", "al",
        "sobre", "presupuesto", "factura", "reunión", "cita", "solicitud", "propuesta", "pregunta", "contrato",
        "oferta", "pedido", "consulta", "información", "gracias", "proyecto", "prácticas", "mantenimiento",
        "colaboración", "seguimiento", "entrevista", "envío", "pago", "curso", "nuestros", "nuestras",
    }),
}
#: Reply and forward prefixes that only one language's mail clients write.
_LANGUAGE_PREFIXES: Mapping[str, str] = {"aw": "de", "wg": "de", "antw": "de", "tr": "fr", "rv": "es"}
_LANGUAGE_LETTERS: Mapping[str, str] = {"ß": "de", "ä": "de", "ö": "de", "ü": "de", "ç": "fr", "œ": "fr",
                                        "è": "fr", "ê": "fr", "à": "fr", "â": "fr", "î": "fr", "ô": "fr",
                                        "û": "fr", "ï": "fr", "ñ": "es", "¿": "es", "¡": "es", "á": "es",
                                        "í": "es", "ó": "es", "ú": "es"}
_SUBJECT_WORD = lazy_pattern(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_PREFIX_WORD = lazy_pattern(r"^\s*([^\W\d_]+)\s*[:\uff1a]")


def detect_language(subject: str, *, content_language: str | None = None) -> str | None:
    """The language of a message from what draft time knows: its Content-Language header, else its subject.

    Deliberately simple and dependency-free: a vote of language-specific short words ("für", "pour", "the"),
    reply prefixes only one language uses ("AW:", "WG:", "TR:", "RV:") and letters (ß, ñ, ç). None when the
    subject says nothing clear (a tie, or no signal at all), so the caller falls back to its default.
    """
    if content_language:
        primary = content_language.split(",")[0].strip().split("-")[0].split("_")[0].lower()
        if is_language_code(primary):
            return primary
    votes: dict[str, int] = {}
    rest = subject
    while (match := _PREFIX_WORD.match(rest)) and REPLY_PREFIX.match(rest):
        lang = _LANGUAGE_PREFIXES.get(match.group(1).lower())
        if lang:
            votes[lang] = votes.get(lang, 0) + 2
        rest = REPLY_PREFIX.sub("", rest, count=1)
    for word in _SUBJECT_WORD.findall(rest.lower()):
        for lang, words in _LANGUAGE_WORDS.items():
            if word in words:
                votes[lang] = votes.get(lang, 0) + 2
        for letter, lang in _LANGUAGE_LETTERS.items():
            if letter in word:
                votes[lang] = votes.get(lang, 0) + 1
                break
    if not votes:
        return None
    ranked = sorted(votes.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        return None
    return ranked[0][0]
