"""A whole message -> does it expect an answer: from its recipients (mail the user sent) or from the user
(mail the user received), with the sentence that asks.

Pure: no network, no clock, no config import (config builds :class:`AskSettings` from ``[replies.<lang>]``'s
``asking``/``not_asking``/``remove``/``replace``). Never raises: a bug is recorded (internal_errors.py) and
the message reads as expecting nothing, the safe side: a false "awaiting a reply" nags someone for nothing.

Two steps, the first that decides wins:

1. Headers (cheap, and they say what no text can): list mail (List-Id, Precedence: bulk/list; a newsletter
   when only List-Unsubscribe says so), automatic mail (classify.py: Auto-Submitted, out-of-office and
   vendor markers, bounces, receipts), calendar mail (a ``text/calendar`` part: answers, and invitations
   too, whose answer the calendar asks for; or an "Accepted:"/"Declined:" subject), no-reply addresses, and
   the people: sent mail only to the user's own addresses asks nobody; received mail asks the user only when
   one of the user's addresses is in To or Cc.
2. The new text (bodytext.py: plain text preferred, HTML converted, quoted history and signature cut), read
   sentence by sentence by ask_sentences.py against the phrase lists of ask_phrases.py. For received mail the
   text can still show an out-of-office or a mailing that came without their headers, or a message that greets
   someone else and copies the user only "for visibility". A new conversation whose subject is the question
   ("Lunch tomorrow?") and whose body adds nothing asks by its subject.

Why bodytext.strip_quoted and no library for the quoted history and signature (``python bench/asks_quotes.py``
on the 319 dev messages, same input text for each: "right" = the new text complete, no line of the history and
none of the signature left; then this reader's precision and recall with that stripper in place):

=====================  =====  ===========  ===========  ==========  ======  ======
stripper               right  history cut  sig. cut     ms/message  asks P  asks R
=====================  =====  ===========  ===========  ==========  ======  ======
ours (strip_quoted)    302    319          303          0.05        1.000   0.987
email-reply-parser     269    311          278          0.07        0.968   0.987
quotequail             258    311          269          0.66        0.980   0.961
mail-parser-reply      247    293          269          0.48        0.926   0.980
=====================  =====  ===========  ===========  ==========  ======  ======

mail-parser-reply (MIT, maintained) keeps Spanish and Yahoo attributions and some mobile footers in the text;
email-reply-parser (MIT) is English-only and unreleased since 2020; quotequail (MIT, maintained) needs lxml and
misses the undelimited signatures. None cuts the signature that follows a sign-off without a "-- " line, which
ask_sentences.py does on top (the "sig. cut" column is before that cut). So no new dependency.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Literal

from followupd.mail import internal_errors
from followupd.mail.ask_phrases import AskChange, AskPhraseSet, merge_ask_phrases
from followupd.mail.ask_sentences import detect_language, read_text
from followupd.mail.ask_settings import AskPhrases, AskSettings
from followupd.mail.bodytext import decode_payload, message_text
from followupd.mail.headers import Address, MessageKind, MessageMeta, parse_headers
from followupd.mail.patterns import lazy_pattern
from followupd.mail.subjects import PREFIX, skip_tags

__all__ = ["AskPhrases", "AskReading", "AskSettings", "Direction", "read_ask"]

logger = logging.getLogger(__name__)

Direction = Literal["sent", "received"]

#: Parts walked looking for a calendar part (hostile mail nests thousands).
_MAX_PARTS = 60


@dataclass(frozen=True)
class AskReading:
    """What the reader decided, in words a user reads."""

    expects: bool          # the message asks something of its recipients (sent) / of the user (received)
    evidence: str          # the sentence that asks, as written, trimmed to <= 200 chars; "" when expects is False
    reason: str            # "asks a question", "says no reply is needed", "mailing list", ... (module docstring)
    language: str | None   # "en", "de", "fr", "es" or None


def read_ask(raw: bytes, *, direction: Direction, own_addresses: Collection[str],
             settings: AskSettings | None = None) -> AskReading:
    """Read one whole RFC 5322 message (see the module docstring); never raises."""
    try:
        return _read(bytes(raw), direction, {_base(a) for a in own_addresses}, settings or AskSettings())
    except Exception as exc:  # last resort: hostile mail must never stop a cycle; expecting nothing is safe
        internal_errors.record("asks", exc, logger=logger, doing="reading whether a message asks something; "
                               "taken as asking nothing")
        return AskReading(False, "", "no text", None)


def _read(raw: bytes, direction: Direction, own: set[str], settings: AskSettings) -> AskReading:
    meta = parse_headers(raw)
    msg = BytesParser(policy=compat32).parsebytes(raw)
    header_reason = _header_reason(meta, msg, direction, own)
    if header_reason is not None:
        return AskReading(False, "", header_reason, None)
    text = message_text(raw)
    language = detect_language(text)
    if direction == "received":
        text_reason = _received_text_reason(meta, text, own)
        if text_reason is not None:
            return AskReading(False, "", text_reason, language)
    group = any(a.email and _base(a.email) not in own for a in (*meta.to, *meta.cc))
    found = read_text(text, _phrases(settings), to_anyone_counts=direction == "sent" or not group)
    if not found.expects and found.reason in ("information only", "no text") and _subject_asks(meta.subject, text):
        return AskReading(True, _trim(meta.subject), "asks a question", language or detect_language(meta.subject))
    return AskReading(found.expects, found.evidence if found.expects else "", found.reason, language)


def _received_text_reason(meta: MessageMeta, text: str, own: set[str]) -> str | None:
    """What the text of received mail shows that its headers did not: an out-of-office or a newsletter without
    their markers, or a message that copies the user (Cc) while greeting someone else by name."""
    if _OOO_TEXT.search(text[:600]) and not _DIRECT_ASK.search(text):
        return "automatic mail"  # a person who says they are away and asks something of the user is no notice
    tail = text[-800:]
    if _UNSUBSCRIBE_TEXT.search(tail) and _LINK_WORDS.search(tail):
        return "newsletter"
    if not any(_base(a.email) in own for a in meta.to):
        first_names = {name for a in meta.cc if _base(a.email) in own and (name := _first_name(a.name))}
        greeting = _GREETING_NAME.match(text.lstrip())
        if greeting and first_names and greeting.group(1).casefold() not in first_names \
                and not any(_mentions(text, name) for name in first_names):
            return "not addressed to you"
    return None


def _first_name(display: str) -> str:
    """"Alex Morgan" and "Morgan, Alex" -> "alex"; "" without a name."""
    last_first = display.split(",", 1)
    words = (last_first[1] if len(last_first) == 2 else display).replace('"', " ").split()
    return words[0].casefold() if words else ""


def _mentions(text: str, name: str) -> bool:
    """The user's first name is in the text other than to say they are copied ("Copying Alex for visibility")."""
    for sentence in _SENTENCE.split(text):
        if any(word.casefold() == name for word in _WORDS.findall(sentence)) and not _COPIED.search(sentence):
            return True
    return False


def _subject_asks(subject: str, text: str) -> bool:
    """A new conversation whose subject is the question ("Lunch tomorrow?") and whose body adds little."""
    if PREFIX.match(subject, skip_tags(subject)) or not subject.rstrip().endswith("?") or len(subject) > 150:
        return False
    return len(_WORDS.findall(text)) <= 40


def _trim(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "\u2026"


def _phrases(settings: AskSettings) -> dict[str, AskPhraseSet]:
    changes = {lang: AskChange(asking=tuple(p.asking), not_asking=tuple(p.not_asking), remove=tuple(p.remove),
                               replace=p.replace) for lang, p in settings.phrases.items()}
    return merge_ask_phrases(changes)


# ------------------------------------------------------------------------------------------------ headers

def _header_reason(meta: MessageMeta, msg: Message, direction: Direction, own: set[str]) -> str | None:
    """Why the headers alone say the message expects nothing, or None."""
    if meta.kind is MessageKind.LIST:
        if "list-id" not in _lower_keys(msg) and msg.get("list-unsubscribe"):
            return "newsletter"
        return "mailing list"
    if msg.get("list-unsubscribe"):
        return "newsletter"
    if _is_automatic(meta, msg, direction):
        return "automatic mail"
    if _is_calendar_response(msg, meta.subject):
        return "calendar response"
    if direction == "sent":
        others = [a for a in meta.all_recipients() if a.email and _base(a.email) not in own]
        if not others:
            return "only your own addresses"
        if any(_LIST_ADDRESS.search(a.email) for a in others):
            return "mailing list"
        if all(_NO_REPLY.search(a.email.split("@", 1)[0]) for a in others):
            return "no-reply address"
        return None
    sender = meta.from_ or Address("")
    if sender.email and _base(sender.email) in own:
        return "only your own addresses"  # the user's own mail back in the inbox (a copy to self, a list echo)
    if sender.email and _NO_REPLY.search(sender.email.split("@", 1)[0]):
        return "no-reply address"
    if sender.email and _MACHINE_SENDER.fullmatch(sender.email.split("@", 1)[0]):
        return "automatic mail"
    if not any(_base(a.email) in own for a in (*meta.to, *meta.cc)):
        return "not addressed to you"
    return None


def _is_automatic(meta: MessageMeta, msg: Message, direction: Direction) -> bool:
    """Machine mail. For mail the user sent only its own markers count (an auto-reply, a read receipt,
    Auto-Submitted): classify.py's sender rules would take a user whose address is "admin@" for a machine."""
    keys = _lower_keys(msg)
    if direction == "sent":
        auto = str(msg.get("auto-submitted") or "").strip().lower()
        return meta.kind in (MessageKind.AUTO_REPLY, MessageKind.RECEIPT) or (bool(auto) and not auto.startswith("no"))
    return meta.kind is not MessageKind.PERSONAL or any(name in keys for name in _BULK_SENDER_HEADERS)


def _is_calendar_response(msg: Message, subject: str) -> bool:
    if _CALENDAR_SUBJECT.match(subject):
        return True
    seen = 0
    for part in msg.walk():
        seen += 1
        if seen > _MAX_PARTS:
            break
        if part.get_content_type() != "text/calendar":
            continue
        # Invitations too (REQUEST, CANCEL, COUNTER): the calendar asks for and records the answer, not the mail.
        method = str(part.get_param("method") or "").upper()
        if method or "METHOD:" in decode_payload(part)[:4000].upper():
            return True
    return False


def _lower_keys(msg: Message) -> set[str]:
    return {str(k).lower() for k in msg}


def _base(address: str) -> str:
    """Lower-cased, without a "+tag": "Alex+track@Example.com" is alex@example.com."""
    local, at, domain = address.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}"


_NO_REPLY = lazy_pattern(r"(?i)(?:^|[-_.])(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|noreply|notifications?"
                         r"|mailer[-_.]?daemon|bounces?|ne[-_.]?pas[-_.]?repondre|nepasrepondre|no[-_.]?responder"
                         r"|noresponder|no[-_.]?contestar|keine[-_.]?antwort|nicht[-_.]?antworten)(?:$|[-_.+])")
#: Senders that are programs by their local part: alerts@, updates@, newsletter@, jira@, billing@, orders@ ...
_MACHINE_SENDER = lazy_pattern(r"(?i)(?:alerts?|updates?|news|newsletters?|marketing|mailer|automated|robot|bot"
                               r"|system|daemon|reminders?|calendar-notification|notify|digest|jira|confluence|gitlab"
                               r"|bitbucket|asana|trello|zendesk|docusign|dse|billing|invoices?|receipts?|orders?"
                               r"|shipping)(?:[-_.+]\w*)?")
#: Addresses that are mailing lists by their shape: "dev-l@", "users@lists.x.org", "team@googlegroups.com".
_LIST_ADDRESS = lazy_pattern(r"(?i)(?:-(?:l|list|users|devel|dev|announce|discuss|general)@|@(?:lists?|groups)\."
                             r"|@googlegroups\.com$|@freelists\.)")
#: Headers that only bulk and notification senders set (ESPs' feedback loops and campaign ids, issue trackers).
_BULK_SENDER_HEADERS = ("feedback-id", "x-campaign", "x-campaignid", "x-mc-user", "x-mailchimp-campaign",
                        "x-sg-eid", "x-ses-outgoing", "x-mailgun-tag", "x-github-reason", "x-jira-fingerprint",
                        "x-gitlab-project", "x-docusign-envelopeid", "x-sfmc-stack")
#: Out-of-office text of a notice that came without its headers (forwarded by a rule, written by hand).
_OOO_TEXT = lazy_pattern(
    r"(?i)\b(?:i am|i'm|i will be|i'll be)(?: currently)? (?:out of (?:the )?office|away from the office|on (?:annual |"
    r"parental )?leave|on (?:holiday|vacation)|travell?ing with limited)|\bich bin (?:derzeit |zurzeit |bis )?"
    r"(?:.{0,30} )?(?:nicht im büro|abwesend|im urlaub|außer haus)|\bje suis (?:actuellement )?(?:absente?|en congés?"
    r"|en vacances|en déplacement)\b|\b(?:estoy|estaré) (?:fuera de la oficina|de vacaciones|ausente)"
)
#: An unsubscribe line at the end: a newsletter or a mailing whose headers said nothing.
_UNSUBSCRIBE_TEXT = lazy_pattern(
    r"(?i)\b(?:unsubscribe|manage (?:your )?(?:email )?preferences|abmelden|abbestellen|newsletter abbestellen"
    r"|se désabonner|désinscri(?:re|ption)|désabonnement|darse de baja|darte de baja|cancelar (?:la )?suscripción"
    r"|anular (?:la )?suscripción)\b"
)
#: A request to the reader in person, which no out-of-office notice makes ("Need help? Call ..." is not one).
_DIRECT_ASK = lazy_pattern(r"(?i)\b(?:could you|can you|would you|will you|kannst du|könntest du|können sie"
                           r"|könnten sie|pourriez-vous|pourrais-tu|peux-tu|pouvez-vous|tu peux|podrías|puedes"
                           r"|podría usted)\b")
#: An unsubscribe line is a mailing's when it points somewhere: a link, "click here", "hier", "ici", "aquí".
_LINK_WORDS = lazy_pattern(r"(?i)https?://|\b\S+\.[a-z]{2,}/|\b(?:click|here|link|preferences|settings|hier|klicken"
                           r"|einstellungen|ici|cliquez|lien|préférences|aquí|enlace|preferencias)\b")
_GREETING_NAME = lazy_pattern(
    r"(?i:hi|hello|hey|dear|hallo|liebe[rs]?|sehr geehrte[rs]?(?: herr| frau)?|guten (?:tag|morgen)|moin|servus"
    r"|bonjour|salut|cher|chère|hola|estimad[oa]|buenos días|buenas)[ ,]+([A-ZÀ-Ý][\w'-]+)\s*[,:!\n]"
)
_WORDS = lazy_pattern(r"\w+")
_SENTENCE = lazy_pattern(r"(?<=[.!?])\s+|\n+")
_COPIED = lazy_pattern(r"(?i)\b(?:cc|cc'?ing|cc'?d|copying|copied|in copy|for visibility|for your information|fyi"
                       r"|in kopie|in cc|zur info|zur kenntnis|en copie|pour info|pour information|en copia"
                       r"|para que esté informad[oa]|para información|para tu información)\b")
_CALENDAR_SUBJECT = lazy_pattern(
    r"(?i)\s*(?:accepted|declined|tentative|tentatively accepted|angenommen|abgelehnt|mit vorbehalt angenommen"
    r"|vorläufig angenommen|accepté|refusé|provisoire|accepté provisoirement|aceptado|rechazado"
    r"|aceptado provisionalmente|provisional)\s*:"
)
