"""Which kind of mail a header block is (a person's, an auto-reply, a bounce, a receipt, a list, a machine's),
and which header says so.

Pure and dependency free. It runs on every fetched message, before any matching, because bounces and
out-of-office replies usually carry In-Reply-To too: an ordered list of rules, the first that fires wins.
headers.py parses the fields and asks :func:`classify`; the rules here only read them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from followupd.mail.patterns import lazy_pattern
from followupd.mail.subjects import AUTO_REPLY_SUBJECT, PREFIX, RECEIPT_SUBJECT, skip_tags, squeeze

__all__ = ["Fields", "MessageKind", "classify", "first"]

Fields = dict[str, list[str]]  # lower-case field name -> values in order, 8-bit bytes already recovered


class MessageKind(enum.Enum):
    """What a message is, decided from headers alone, before any matching (bounces carry In-Reply-To too)."""

    PERSONAL = "personal"        # written by a person: may be a reply
    AUTO_REPLY = "auto_reply"    # out-of-office / vacation / autoresponder (RFC 3834 and vendor markers)
    BOUNCE = "bounce"            # delivery status notification (RFC 3464) or mailer-daemon failure notice
    RECEIPT = "receipt"          # read receipt / MDN (RFC 8098)
    LIST = "list"                # mailing-list or bulk mail
    AUTOMATED = "automated"      # other machine-generated mail (Auto-Submitted: auto-generated, ...)


def classify(fields: Fields, from_email: str, subject: str) -> tuple[MessageKind, str]:
    """The kind of a message and the evidence for it, from its parsed fields, sender address and subject."""
    return _classify(_Facts(fields, from_email, subject))


def first(fields: Fields, name: str) -> str:
    """The first value of a field, or ""."""
    values = fields.get(name)
    return values[0] if values else ""


#: Non-delivery subjects of Postfix, Exim, sendmail, qmail, Exchange (several languages) and Gmail.
_FAILURE_SUBJECT = lazy_pattern(
    r"undeliver|delivery status notification \(failure\)|mail delivery failed|delivery failure"
    r"|returned mail|failure notice|non-?delivery|could not be delivered|delivery has failed"
    r"|returned to sender|unzustellbar|nicht zustellbar|non remis|no se puede entregar|non recapitabile"
    r"|onbestelbaar",
    re.IGNORECASE,
)
#: Wider: what a notice from a machine sender (null Return-Path, no-reply, a list manager) may be titled. Only
#: trusted together with such a sender; a person may well write "Delivery of the chairs".
_NOTICE_SUBJECT = lazy_pattern(
    r"deliver|fail|error|bounce|returned|notification|blocked|quarantin"
    r"|rejected|undeliver|unzustellbar|zustellung|non remis|échec|echec"
    r"|rechazado|no entregado|non consegnato|niet afgeleverd|loop alert|not a member|non-member"
    r"|エラー|不達|配信|退信|未送达|退回|失败|반송|전송 ?실패|ошибк|недостав",
    re.IGNORECASE,
)
#: Hotmail's and others' abuse complaints before ARF (RFC 5965) had a content type.
_COMPLAINT_SUBJECT = lazy_pattern(r"\s*(?:complaint about message from|abuse report|spam report)\b", re.IGNORECASE)
#: Local parts of mail systems and list managers; "Mail.Delivery.System@", "post_master@", "MAILER_DAEMON@".
_MAIL_SYSTEM_LOCAL = lazy_pattern(
    r"(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|post[-_.]master|poostmaster|mail[-_.]?delivery[-_.\w]*"
    r"|mdaemon|mail[-_.]?administrator|mailadmin|ndr|bounces?|microsoftexchange[0-9a-f]{32})$"
    r"|.+-(?:admin|owner|bounces?|request)$",
    re.IGNORECASE,
)
#: Display names mail systems sign with, for ``From: MAILER-DAEMON <>`` where no address is left.
_MAIL_SYSTEM_NAME = lazy_pattern(r"mailer[-_ ]?daemon|mail delivery (?:sub)?system|mail delivery service"
                               r"|\bpostmaster\b|ndr administrator|mail administrator", re.IGNORECASE)
#: Senders that only machines use; with a notice subject their mail is a notice, not a person's answer.
_MACHINE_LOCAL = lazy_pattern(r"no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|sysadmin|system|daemon|admin",
                            re.IGNORECASE)

#: Delivery reports that are delay warnings or success notices, not failures (the Action field is in the
#: body, which is not fetched, so the subject is the only hint). Anchored: "Undeliverable: Re: Delayed..."
#: stays a failure.
_NOT_FAILURE_SUBJECT = lazy_pattern(
    r"\s*(?:delayed mail|delivery delayed|delivery status notification \((?:delay|success|relay)\)"
    r"|warning: message \S+ delayed|warning: could not send message|successful mail delivery"
    r"|delivered:|relayed:|zustellung verzögert|übermittelt:"
    r"|delivery status notification: delayed|mail delivery delayed|delayed delivery"
    r"|postfix smtp server: errors from)",  # Postfix's notice to its own postmaster about a client session
    re.IGNORECASE,
)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class _Facts:
    """What classification looks at, parsed once."""

    fields: Fields
    from_email: str
    subject: str

    def value(self, name: str, limit: int = 120) -> str:
        """First value of a field, squeezed and cut short enough to quote in evidence."""
        values = self.fields.get(name)  # most rules ask for fields a message does not have
        return squeeze(values[0], limit) if values else ""

    def token(self, name: str) -> str:
        """First word of a field, lower-cased: "auto-replied (vacation)" -> "auto-replied"."""
        value = self.value(name)
        return _TOKEN_END.split(value.lower(), maxsplit=1)[0] if value else ""

    def content_type(self) -> tuple[str, dict[str, str]]:
        """MIME type and parameters; parameter order and case vary between mailers."""
        mime, *rest = first(self.fields, "content-type").split(";")
        params: dict[str, str] = {}
        for item in rest:
            key, sep, val = item.partition("=")
            if sep:
                params.setdefault(key.strip().lower(), val.strip().strip('"').strip().lower())
        return "".join(mime.split()).lower(), params


_TOKEN_END = lazy_pattern(r"[\s;(]+")
_Rule = Callable[[_Facts], "tuple[MessageKind, str] | None"]


def _classify(facts: _Facts) -> tuple[MessageKind, str]:
    """First rule that fires wins; the order is the point (a Postfix bounce says auto-replied too)."""
    for rule in _RULES:
        found = rule(facts)
        if found is not None:
            return found
    if "x-auto-response-suppress" in facts.fields:
        # Exchange adds it to people's mail sent to groups (GLPI #2170, osTicket #5320): not automatic alone.
        return MessageKind.PERSONAL, "X-Auto-Response-Suppress alone, taken as a person's mail"
    return MessageKind.PERSONAL, ""


def _report_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 6522 reports: delivery status (RFC 3464) or disposition notification (RFC 8098)."""
    mime, params = facts.content_type()
    report = params.get("report-type", "")
    if mime != "multipart/report" or report not in ("delivery-status", "disposition-notification"):
        return None
    evidence = f"Content-Type: multipart/report; report-type={report}"
    if report == "disposition-notification":
        return MessageKind.RECEIPT, evidence
    if _NOT_FAILURE_SUBJECT.match(facts.subject):
        return MessageKind.AUTOMATED, f'{evidence}, but subject "{_short(facts.subject)}" is no failure'
    return MessageKind.BOUNCE, evidence


def _failed_recipients_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """Exim and Gmail name the failed addresses in X-Failed-Recipients, also in plain-text bounces."""
    value = facts.value("x-failed-recipients")
    return (MessageKind.BOUNCE, f"X-Failed-Recipients: {value}") if value else None


def _mail_system_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """Mail from a mail system or a list manager is a notice, never a person's reply, whatever its Subject and
    In-Reply-To say (a carrier's postmaster answers "Re: <subject>"). Its body decides what it reports, so it
    is read like any bounce; only delay and success notices by their subject are left as plain notices."""
    sender = _mail_system_sender(facts)
    if sender is None:
        if _null_sender(facts) and _FAILURE_SUBJECT.search(facts.subject):
            # Before the auto-reply rule: Exchange sends its NDRs "Auto-Submitted: auto-replied" too.
            return MessageKind.BOUNCE, f'Return-Path: <> with subject "{_short(facts.subject)}"'
        return None
    if _NOT_FAILURE_SUBJECT.match(facts.subject):
        return MessageKind.AUTOMATED, f"From {sender}, a delay or success notice by its subject"
    if _FAILURE_SUBJECT.search(facts.subject) or _NOTICE_SUBJECT.search(facts.subject):
        return MessageKind.BOUNCE, f'From {sender} with subject "{_short(facts.subject)}"'
    if "in-reply-to" in facts.fields or "references" in facts.fields or PREFIX.match(facts.subject):
        return MessageKind.BOUNCE, f'From {sender}, answering in the thread: "{_short(facts.subject)}"'
    if _null_sender(facts):
        return MessageKind.BOUNCE, f'From {sender} with a null Return-Path, subject "{_short(facts.subject)}"'
    return MessageKind.AUTOMATED, f"From {sender}, subject not a delivery failure"


def _null_sender(facts: _Facts) -> bool:
    return first(facts.fields, "return-path").strip().replace(" ", "") in ("<>", "<<>>")


def _mail_system_sender(facts: _Facts) -> str | None:
    local = facts.from_email.split("@", 1)[0]
    if local and _MAIL_SYSTEM_LOCAL.match(local):
        return facts.from_email
    if not facts.from_email and _MAIL_SYSTEM_NAME.search(first(facts.fields, "from")):
        return _short(squeeze(first(facts.fields, "from"), 80))
    return None


def _null_sender_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 5321 §4.5.5: notices go out with a null reverse path; with a notice subject (or from a machine's
    address, or an abuse report) that is a delivery notice. After the auto-reply rule: vacation programs use
    the null sender too."""
    mime, params = facts.content_type()
    if mime == "multipart/report" and params.get("report-type", "") == "feedback-report":
        return MessageKind.AUTOMATED, "Content-Type: multipart/report; report-type=feedback-report (RFC 5965)"
    if _COMPLAINT_SUBJECT.match(facts.subject):
        return MessageKind.AUTOMATED, f'subject "{_short(facts.subject)}": an abuse complaint, not a reply'
    null = _null_sender(facts)
    local = facts.from_email.split("@", 1)[0]
    machine = bool(local) and bool(_MACHINE_LOCAL.search(local))
    if not (null and machine) and (not (null or machine) or not _NOTICE_SUBJECT.search(facts.subject)):
        return None  # a machine's address with a null sender is a notice, whatever its subject ("Mail")
    marker = "Return-Path: <>" if null else f"From {facts.from_email}"
    return MessageKind.BOUNCE, f'{marker} with subject "{_short(facts.subject)}"'


def _receipt_subject_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """Outlook-style "Read: ..." receipts; the subject alone could be a person's, so want a machine marker."""
    if not RECEIPT_SUBJECT.match(facts.subject):
        return None
    mime, _ = facts.content_type()
    auto = facts.token("auto-submitted")
    if mime == "multipart/report":
        marker = f"Content-Type: {mime}"
    elif auto and auto != "no":
        marker = f"Auto-Submitted: {auto}"
    elif source := facts.value("x-ms-exchange-generated-message-source"):
        marker = f"X-MS-Exchange-Generated-Message-Source: {source}"
    else:
        return None
    return MessageKind.RECEIPT, f'subject "{_short(facts.subject)}" with {marker}'


def _auto_reply_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    marker = _auto_reply_marker(facts)
    return (MessageKind.AUTO_REPLY, marker) if marker else None


def _auto_reply_marker(facts: _Facts) -> str | None:
    """RFC 3834, the common X- headers, Exchange's rule-agent headers, then the localized subject prefix."""
    if facts.token("auto-submitted") == "auto-replied":
        return f"Auto-Submitted: {facts.value('auto-submitted')}"
    if "x-autoreply" in facts.fields and facts.token("x-autoreply") not in ("no", "false", "0"):
        return f"X-Autoreply: {facts.value('x-autoreply')}"
    if "x-autorespond" in facts.fields:
        return f"X-Autorespond: {facts.value('x-autorespond')}"
    if facts.token("precedence") == "auto_reply":
        return "Precedence: auto_reply"
    if "x-ms-exchange-inbox-rules-loop" in facts.fields:
        return f"X-MS-Exchange-Inbox-Rules-Loop: {facts.value('x-ms-exchange-inbox-rules-loop')}"
    source = facts.value("x-ms-exchange-generated-message-source")
    if "mailbox rules agent" in source.lower():
        return f"X-MS-Exchange-Generated-Message-Source: {source}"
    match = AUTO_REPLY_SUBJECT.match(facts.subject, skip_tags(facts.subject))
    if match:
        return f'subject starts with "{match.group().strip()}"'
    return None


def _list_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 2919 List-Id, or bulk/list precedence (after the auto-reply rule: vacation programs use bulk)."""
    list_id = facts.value("list-id")
    if list_id:
        return MessageKind.LIST, f"List-Id: {list_id}"
    precedence = facts.token("precedence")
    if precedence in ("bulk", "junk", "list"):
        return MessageKind.LIST, f"Precedence: {precedence}"
    return None


def _automated_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 3834: any Auto-Submitted value but "no" is machine mail; without reply markers, not an OOO."""
    auto = facts.token("auto-submitted")
    if auto and auto != "no":
        return MessageKind.AUTOMATED, f"Auto-Submitted: {facts.value('auto-submitted')}"
    return None


_RULES: tuple[_Rule, ...] = (
    _report_rule, _failed_recipients_rule, _mail_system_rule, _receipt_subject_rule, _auto_reply_rule,
    _null_sender_rule, _list_rule, _automated_rule,
)
