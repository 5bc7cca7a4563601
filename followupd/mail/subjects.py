"""What a Subject line says: reply and forward prefixes, auto-reply prefixes, list tags, the base subject.

Pure and dependency free. Shared by header parsing (headers.py), classification (classify.py) and the
Exchange thread keys (exchange.py), which all need the same idea of where the prefixes end.
"""

from __future__ import annotations

import re
import unicodedata

from followupd.mail.patterns import lazy_pattern

__all__ = ["AUTO_REPLY_SUBJECT", "CONTROL", "PREFIX", "RECEIPT_SUBJECT", "TAG", "base_subject", "skip_tags",
           "squeeze", "squeeze_any"]

#: C0 and C1 control characters but tab, LF and CR (those are whitespace to ``str.split``).
CONTROL = lazy_pattern(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def base_subject(subject: str) -> str:
    """The subject a thread keeps through replies, forwards and auto-replies, for comparing across messages.

    Clients stack localized prefixes ("AW: Re[2]: Fwd:"), lists and gateways add "[tag]"s, and auto-replies
    prepend "Automatic reply:"; none of that says which conversation a message belongs to.
    """
    text = unicodedata.normalize("NFKC", CONTROL.sub(" ", subject))
    pos = 0
    while match := (PREFIX.match(text, pos) or TAG.match(text, pos)):
        if match.end() == pos:
            break
        pos = match.end()
    folded = " ".join(text[pos:].casefold().split())
    while folded.endswith("(fwd)"):  # RFC 5256 §2.1: a trailing "(fwd)" is a forward marker too
        folded = folded[: -len("(fwd)")].rstrip()
    return folded


def squeeze(text: str, limit: int) -> str:
    """Control characters and whitespace runs (a CR/LF smuggled in an encoded word too) become one space.

    Byte-order marks go: joined UTF-16 words leave one per word inside the text.
    """
    if text.isascii() and text.isprintable() and "  " not in text and not text.startswith(" ") \
            and not text.endswith(" "):
        return text[:limit]  # the usual value, nothing to squeeze: this runs ~17 times a message
    return squeeze_any(text, limit)


def squeeze_any(text: str, limit: int) -> str:
    """``squeeze`` without its shortcut; the tests hold the two equal."""
    return " ".join(CONTROL.sub(" ", text.replace("\ufeff", "")).split())[:limit]


def _alternation(words: tuple[str, ...]) -> str:
    """Regex alternation, longest first, where a space in a phrase matches any whitespace run."""
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


#: Reply/forward prefixes across clients and languages. All need a colon after them, which is what keeps
#: "Return policy" or "I think" intact while still stripping the Italian "I:" and "R:".
_REPLY_WORDS = (
    "re", "fwd", "fw", "aw", "wg", "sv", "vs", "vl", "antw", "antwort", "doorst", "odp", "rif", "i", "r",
    "res", "rv", "enc", "tr", "ynt", "réf", "отв", "ответ", "απ", "σχετ",
    "回复", "回覆", "答复", "转发", "轉寄",
)
#: Out-of-office / autoresponder subject prefixes (Exchange, Gmail, Apple, Zimbra... in their UI languages).
_AUTO_REPLY_WORDS = (
    "automatic reply", "auto reply", "auto-reply", "autoreply", "auto response", "auto-response",
    "out of office", "out of office reply", "out of the office", "automatische antwort", "abwesenheitsnotiz",
    "réponse automatique", "respuesta automática", "respuesta automatica", "risposta automatica",
    "automatisch antwoord", "resposta automática", "autosvar", "automatisk svar", "automaattinen vastaus",
    "automatyczna odpowiedź", "автоматический ответ", "自动回复", "自動回覆", "自動返信", "自動応答",
)
#: Read-receipt subject prefixes (Outlook/Exchange in several languages); only trusted with another marker.
_RECEIPT_WORDS = (
    "read", "not read", "gelesen", "nicht gelesen", "lu", "non lu", "leído", "leido", "letto", "gelezen",
    "läst", "læst", "luettu", "lido", "odczytano", "прочитано", "已读", "已讀",
)
_COLON = r"\s*[:\uff1a]"
_COUNTER = r"(?:\s*\[\d{1,5}\]|\s*\(\d{1,5}\)|\^\d{1,5})?"
PREFIX = lazy_pattern(
    rf"\s*(?:(?:{_alternation(_REPLY_WORDS)}){_COUNTER}|{_alternation(_AUTO_REPLY_WORDS)}){_COLON}\s*",
    re.IGNORECASE,
)
TAG = lazy_pattern(r"\s*\[[^\[\]]{0,80}\]\s*")
AUTO_REPLY_SUBJECT = lazy_pattern(rf"\s*(?:{_alternation(_AUTO_REPLY_WORDS)}){_COLON}", re.IGNORECASE)
RECEIPT_SUBJECT = lazy_pattern(rf"\s*(?:{_alternation(_RECEIPT_WORDS)}){_COLON}", re.IGNORECASE)


def skip_tags(subject: str) -> int:
    """Position after leading "[tag]"s (a list or an "[EXTERNAL]" gateway may put one before the prefix)."""
    pos = 0
    while (match := TAG.match(subject, pos)) and match.end() > pos:
        pos = match.end()
    return pos
