"""Who owns an action item: the owner words of a line, and which of the recap's recipients they name.

Pure. The forms read: ``Bob: task``, ``@bob task``, ``Bob - task - due``, ``[Bob Smith] task``, ``Bob to
task`` / ``Bob will task`` (and ``wird``, ``soll``, ``va``, ``doit``, ``se encarga de``...), ``task (Bob)``,
``task - Owner: Bob``. Several owners (``Bob & Carol:``, ``@bob and @carol``) are split, each to get an item.

Matching never guesses: a name is matched to a recipient by email, local part, ``@handle``, full display
name or first name, and a name that fits no recipient, or fits two, comes back as a problem with the item.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from followupd.mail.headers import Address
from followupd.mail.patterns import lazy_pattern

__all__ = ["OwnerMatch", "match_owner", "split_owner", "split_owners"]

_NAME_WORD = r"(?:[A-ZÀ-ÖØ-Þ][\w'\u2019.-]*|van|von|de|der|den|da|del|la|le|du)"
_NAME = rf"[A-ZÀ-ÖØ-Þ][\w'\u2019.-]*(?:\s+{_NAME_WORD}){{0,3}}"
_HANDLE = r"@[\w][\w.+-]*"
_EMAIL = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_ONE = rf"(?:{_EMAIL}|{_HANDLE}|{_NAME})"
_JOIN = r"\s*(?:&|\+|/|,\s*(?:and\s+|und\s+|et\s+|y\s+)?|\band\b|\bund\b|\bet\b|\by\b)\s*"
_OWNERS = rf"{_ONE}(?:{_JOIN}{_ONE}){{0,5}}"

_PREFIX = lazy_pattern(r"(?:action(?:\s+item)?|ai|todo|to-do|aufgabe|tâche|tarea|acción)\s*[:#-]\s*", re.IGNORECASE)
_BRACKET = lazy_pattern(rf"\[({_OWNERS})\]\s*:?\s*")
_HANDLES = lazy_pattern(rf"({_HANDLE}(?:{_JOIN}{_HANDLE})*)\s*:?\s*")
_COLON = lazy_pattern(rf"({_OWNERS})\s*[:\uff1a]\s+")
_DASHED = lazy_pattern(rf"({_OWNERS})\s+[-\u2013\u2014]\s+")
_VERB = lazy_pattern(
    rf"({_OWNERS})\s+(?i:to|will|shall|should|is\s+going\s+to|wird|soll|kümmert\s+sich\s+um|übernimmt|va|doit"
    r"|s'occupe\s+de|se\s+charge\s+de|va\s+a|se\s+encarga\s+de|debe|tiene\s+que)\s+")
_TRAILING = lazy_pattern(
    rf"\s*(?:\((?i:owner:\s*)?({_OWNERS})\)|[-\u2013\u2014,]?\s*(?i:owner|verantwortlich|responsable|propietario)\s*:\s*"
    rf"({_OWNERS})|\[(?i:owner:\s*)?({_OWNERS})\])\s*\.?$")
_SPLIT = lazy_pattern(_JOIN)

#: Capitalised words that start a line without naming anyone.
_NOT_NAMES = frozenset({
    "we", "i", "you", "they", "he", "she", "it", "our", "all", "everyone", "everybody", "team", "the", "a",
    "note", "notes", "action", "actions", "todo", "due", "status", "update", "decision", "decisions", "next",
    "re", "fyi", "owner", "task", "agenda", "summary", "please", "send", "review", "share", "follow",
    "wir", "ich", "sie", "alle", "bitte", "nous", "je", "on", "tous", "merci", "nosotros", "yo", "todos",
    "por", "this", "that", "these", "if", "when", "after", "before", "then", "also", "and",
})


def split_owner(text: str) -> tuple[tuple[str, ...], str]:
    """(the owner words of a line, each owner separately; the task without them). No owner: ``()``."""
    text = _PREFIX.sub("", text.strip(), count=1) if _PREFIX.match(text.strip()) else text.strip()
    for pattern in (_BRACKET, _HANDLES, _COLON, _DASHED, _VERB):
        match = pattern.match(text)
        if match is None:
            continue
        owners = split_owners(match.group(1))
        if owners:
            rest = text[match.end():].strip()
            if pattern is _BRACKET:   # Meet's "[Bob Smith] Pricing: Bob Smith will send ...": the sentence is the task
                label = re.match(r"[^:]{1,60}:\s+", rest)
                verb = _VERB.match(rest, label.end()) if label else None
                if verb is not None and split_owners(verb.group(1)) == owners:
                    rest = rest[verb.end():].strip()
            return owners, rest
    match = _TRAILING.search(text)
    if match is not None:
        owners = split_owners(next(group for group in match.groups() if group))
        if owners:
            return owners, text[: match.start()].strip()
    return (), text


def split_owners(words: str) -> tuple[str, ...]:
    """``Bob & Carol`` -> ("Bob", "Carol"); words that are not a name (``We``, ``Note``) -> ()."""
    parts = [part.strip(" .") for part in _SPLIT.split(words.strip()) if part and part.strip(" .")]
    if not parts or any(part.split()[0].lower().lstrip("@") in _NOT_NAMES for part in parts):
        return ()
    return tuple(parts)


@dataclass(frozen=True)
class OwnerMatch:
    """The recipient an owner's words name, or the problem that stops a match (never both)."""

    words: str
    address: Address | None
    problem: str | None


def match_owner(words: str, recipients: tuple[Address, ...]) -> OwnerMatch:
    """The one recipient ``words`` names (email, local part, @handle, full name, first name), else a problem."""
    key = _fold(words.strip().lstrip("@"))
    people = {r.email.lower(): r for r in recipients if r.email}
    if not key:
        return OwnerMatch(words, None, "no owner named")
    # An exact email or full name settles it; the shorter forms are weighed together, so that "Bob" is not
    # bob@ by its local part when another recipient's first name is Bob as well.
    for rules in ((_by_email, _by_full_name), (_by_local, _by_first_name, _by_last_name)):
        found = {email: people[email] for email in people if any(rule(key, people[email]) for rule in rules)}
        if len(found) == 1:
            return OwnerMatch(words, next(iter(found.values())), None)
        if len(found) > 1:
            names = ", ".join(sorted(found))
            return OwnerMatch(words, None, f"{words!r} matches more than one recipient: {names}")
    return OwnerMatch(words, None, f"{words!r} is not one of the recap's recipients")


def _fold(text: str) -> str:
    """Lower case without accents and extra spaces: "José" and "jose" name the same person."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def _by_email(key: str, person: Address) -> bool:
    return key == _fold(person.email)


def _by_local(key: str, person: Address) -> bool:
    local = _fold(person.email.split("@", 1)[0])
    return key == local or key.replace(" ", ".") == local


def _by_full_name(key: str, person: Address) -> bool:
    return bool(person.name) and key == _fold(person.name)


def _by_first_name(key: str, person: Address) -> bool:
    first = _first_name(person)
    return bool(first) and key == first


def _by_last_name(key: str, person: Address) -> bool:
    name = _fold(person.name).replace(",", " ").split()
    return len(name) > 1 and " " not in key and key == (name[0] if "," in person.name else name[-1])


def _first_name(person: Address) -> str:
    """The first name of a display name ("Smith, Bob" is Outlook's order), else of a dotted local part."""
    if person.name:
        if "," in person.name:
            after = _fold(person.name.split(",", 1)[1]).split()
            return after[0] if after else ""
        words = _fold(person.name).split()
        return words[0] if words else ""
    local = _fold(person.email.split("@", 1)[0])
    return local.split(".")[0] if "." in local else ""
