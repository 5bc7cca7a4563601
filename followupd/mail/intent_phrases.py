"""The phrases that make a reply a holding reply or a refusal, per language, and how config changes them.

Pure data, one merge function and the phrase syntax (:func:`phrase_pattern`, shared with asks.py). Users
extend, trim or replace these lists per language in config (the replies settings' ``phrases``); intent.py reads
a reply against the merged result.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = ["DEFAULT_PHRASES", "PhraseSet", "merge_phrases", "norm_phrase", "phrase_pattern"]


@dataclass(frozen=True)
class PhraseSet:
    """Phrases for one language; from config they extend the defaults, ``remove`` drops default phrases.

    ``replace=True`` makes ``holding`` and ``declined`` the whole list for that language instead.
    """

    holding: tuple[str, ...] = ()
    declined: tuple[str, ...] = ()
    remove: tuple[str, ...] = field(default=())
    replace: bool = False


DEFAULT_PHRASES: Mapping[str, PhraseSet] = {
    "en": PhraseSet(
        holding=(
            "get back to you", "get back to u", "come back to you", "revert", "circle back", "will follow up",
            "i'll follow up", "let you know", "keep you posted", "keep you updated", "be in touch",
            "let me check", "i'll check", "i will check", "we'll check", "we will check", "let me look into",
            "i'll look into", "will look into", "look into it", "let me think about it", "i'll think about it",
            "need to check with", "need to discuss", "need to run it by", "discuss it internally",
            "discuss internally", "check internally", "need some time", "need more time", "give me a few days",
            "give me some time", "give me a day", "give me a week", "haven't had a chance", "haven't had time",
            "not had a chance", "will review", "i'll review", "have a look", "take a look", "will respond",
            "i'll respond", "will reply", "i'll reply", "get to it", "get to this", "still on my list",
            "on my radar", "haven't forgotten", "not forgotten", "will answer", "i'll answer",
        ),
        declined=(
            "not interested", "no longer interested", "not be interested", "no interest", "no thanks",
            "no thank you", "please stop$", "please stop emailing", "please stop e-mailing",
            "please stop contacting", "please stop sending", "please stop writing", "stop emailing me",
            "stop e-mailing me", "stop contacting me", "stop sending me", "stop writing to me", "stop spamming",
            "unsubscribe", "remove me from", "take me off your", "take me off the", "do not contact me",
            "don't contact me", "do not email me", "don't email me", "don't e-mail me", "not a good fit",
            "not the right fit", "not a fit for us", "we'll pass", "we will pass", "i'll pass", "i will pass",
            "pass on this", "not for us", "went with another", "decided to go with another",
            "chose another", "decided against", "won't be moving forward", "will not be moving forward",
            "not moving forward", "not going to move forward", "won't be proceeding", "will not proceed",
        ),
    ),
    "de": PhraseSet(
        holding=(
            "melde mich", "melden uns", "melde ich mich", "melden wir uns", "komme auf sie zurück",
            "komme auf dich zurück", "komme ich auf sie zurück", "komme ich auf dich zurück", "gebe ihnen bescheid",
            "gebe dir bescheid", "gebe ich ihnen bescheid", "gebe ich dir bescheid", "sage ihnen bescheid",
            "sage dir bescheid", "schaue es mir an", "schaue ich mir an", "schaue mir das", "schau mir das",
            "prüfe das", "prüfe es", "prüfen das", "muss das prüfen", "muss ich prüfen", "kläre das",
            "muss das klären", "intern abstimmen", "intern klären", "intern besprechen", "rücksprache halten",
            "noch nicht dazu gekommen", "brauche noch etwas zeit", "brauche etwas zeit", "brauchen noch etwas zeit",
            "antworte ihnen", "antworte dir", "antworte ich", "ausführlich antworten",
        ),
        declined=(
            "kein interesse", "keinen bedarf", "nicht interessiert", "nicht interessant für uns", "kein bedarf",
            "bitte keine weiteren", "bitte nicht mehr kontaktieren", "bitte nicht mehr anschreiben",
            "bitte streichen sie mich", "aus ihrem verteiler", "abmelden", "nein danke",
        ),
    ),
    "fr": PhraseSet(
        holding=(
            "je reviens vers vous", "je reviens vers toi", "je reviendrai vers vous", "je reviendrai vers toi",
            "nous revenons vers vous", "nous reviendrons vers vous", "reviens vers vous", "reviendrai vers vous",
            "je vous tiens au courant", "je te tiens au courant", "je vous tiendrai au courant",
            "je vous recontacte", "je te recontacte", "je vous redis", "je te redis", "je regarde",
            "je vais regarder", "je vais vérifier", "je vérifie", "je dois vérifier", "je dois en parler",
            "en discuter en interne", "voir en interne", "pas encore eu le temps", "je vous réponds",
            "je te réponds", "je vous répondrai", "je te répondrai", "laissez-moi un peu de temps",
            "j'ai besoin d'un peu de temps",
        ),
        declined=(
            "pas intéressé", "pas intéressée", "pas intéressés", "pas intéressant pour nous", "pas d'intérêt",
            "non merci", "ne plus me contacter", "ne me contactez plus", "arrêtez de m'écrire",
            "me désinscrire", "désabonner", "retirez-moi", "pas pour nous",
        ),
    ),
    "es": PhraseSet(
        holding=(
            "te respondo", "le respondo", "te contesto", "le contesto", "te responderé", "le responderé",
            "te digo algo", "le digo algo", "te aviso", "le aviso", "te escribo", "le escribo", "te confirmo",
            "le confirmo", "lo reviso", "lo miro", "lo consulto", "tengo que consultarlo", "tengo que revisarlo",
            "lo hablo con", "lo comento con", "vuelvo a contactarte", "me pongo en contacto", "te mantengo informado",
            "le mantengo informado", "todavía no he podido", "aún no he podido", "necesito un poco de tiempo",
            "necesito algo de tiempo",
        ),
        declined=(
            "no me interesa", "no nos interesa", "no estoy interesado", "no estoy interesada",
            "no estamos interesados", "no gracias", "dejen de escribirme", "deja de escribirme",
            "no me contacten", "no me escriban", "darme de baja", "dar de baja", "elimínenme", "quítenme de",
        ),
    ),
    "it": PhraseSet(
        holding=("ti faccio sapere", "le faccio sapere", "vi faccio sapere", "ti rispondo", "le rispondo",
                 "ti aggiorno", "la aggiorno", "ci sentiamo", "verifico e ti", "verifico e le", "devo verificare",
                 "ne parlo con"),
        declined=("non mi interessa", "non ci interessa", "non sono interessato", "non sono interessata",
                  "non siamo interessati", "no grazie", "smettete di scrivermi", "cancellatemi"),
    ),
    "nl": PhraseSet(
        holding=("kom ik bij je terug", "kom ik bij u terug", "kom bij je terug", "kom bij u terug",
                 "laat het je weten", "laat het u weten", "laat ik je weten", "laat ik u weten", "ik kijk ernaar",
                 "ik ga het bekijken", "moet het nagaan", "intern bespreken"),
        declined=("geen interesse", "niet geïnteresseerd", "nee bedankt", "nee dank je", "nee dank u",
                  "afmelden", "stop met mailen", "haal me van"),
    ),
    "pt": PhraseSet(
        holding=("volto a falar", "retorno para você", "te retorno", "lhe retorno", "dou retorno",
                 "darei retorno", "te aviso", "lhe aviso", "vou verificar", "preciso verificar",
                 "te mantenho informado"),
        declined=("não tenho interesse", "não temos interesse", "não estou interessado", "não estou interessada",
                  "não, obrigado", "não obrigado", "não, obrigada", "parem de me enviar", "descadastrar",
                  "remover meu"),
    ),
}


def merge_phrases(overrides: Mapping[str, PhraseSet] | None) -> dict[str, PhraseSet]:
    """The defaults with config applied: per language, ``remove`` first, then the additions (or replace)."""
    merged = dict(DEFAULT_PHRASES)
    for lang, extra in (overrides or {}).items():
        base = merged.get(lang, PhraseSet())
        if extra.replace:
            merged[lang] = PhraseSet(holding=tuple(extra.holding), declined=tuple(extra.declined))
            continue
        drop = {norm_phrase(p) for p in extra.remove}
        merged[lang] = PhraseSet(
            holding=_unique(p for p in (*base.holding, *extra.holding) if norm_phrase(p) not in drop),
            declined=_unique(p for p in (*base.declined, *extra.declined) if norm_phrase(p) not in drop),
        )
    return merged


def norm_phrase(phrase: str) -> str:
    return " ".join(phrase.replace("\u2019", "'").casefold().split())


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


@lru_cache(maxsize=4096)
def phrase_pattern(phrase: str) -> re.Pattern[str] | None:
    """A phrase as a regex; None for an empty phrase.

    Syntax: case-insensitive words matched on word boundaries, any run of whitespace between them, ``'``
    matching the typographic apostrophe too; ``...`` stands for up to four words; a trailing ``$`` means the
    phrase must end its sentence ("please stop$" is a decline, "please stop by" is not).
    """
    text = norm_phrase(phrase)
    anchored = text.endswith("$")
    text = text.rstrip("$").strip()
    if not text:
        return None
    parts: list[str] = []
    for word in text.split():
        if word in ("...", "…"):
            parts.append(r"(?:\S+\s+){0,4}?")
            continue
        parts.append(re.escape(word).replace("'", "['\u2019]") + r"\s+")
    body = "".join(parts)
    body = body[: -len(r"\s+")] if body.endswith(r"\s+") else body
    end = r"(?=\s*(?:[.!,;:\n)]|$))" if anchored else r"(?!\w)"
    return re.compile(rf"(?<!\w){body}{end}", re.IGNORECASE)
