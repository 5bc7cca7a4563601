"""Delivery reports written as prose: Exim, qmail, Exchange, Gmail, Amazon SES and any other mail system.

Pure. dsn.py comes here only when a message has no ``message/delivery-status`` part and comes from a mail
system (a person forwarding a bounce is not one); see dsn.py's docstring for the formats and their order.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import cast

from followupd.mail.bodytext import decode_bytes, readable_text
from followupd.mail.dsn_fields import (
    ADDRESS,
    BASIC,
    ENHANCED,
    INLINE_ORIGINAL,
    MAX_TEXT,
    Action,
    RecipientStatus,
    after_type,
    bare_address,
    basic_status,
    field_blocks,
    make_status,
    read_recipient,
    squeeze_diagnostic,
    status_code,
)
from followupd.mail.headers import MessageKind, MessageMeta
from followupd.mail.patterns import lazy_pattern

_MAIL_SYSTEM_LOCALS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mail.daemon"})


def from_mail_system(outer: MessageMeta, msg: Message) -> bool:
    """Only machines send bounces; a person forwarding one (or quoting one) is not a bounce."""
    if outer.kind is MessageKind.BOUNCE:
        return True  # headers.py: a mail system's or list manager's address, a null sender with a notice subject
    sender = outer.from_.email if outer.from_ else ""
    if sender.split("@", 1)[0] in _MAIL_SYSTEM_LOCALS:
        return True
    if msg.get("x-failed-recipients"):
        return True
    return str(msg.get("return-path", "")).strip() == "<>"  # RFC 5321 §4.5.5: bounces have a null sender


def from_text(raw: bytes, outer: MessageMeta, original: MessageMeta | None) -> tuple[str, list[RecipientStatus]]:
    """Recipients from the human-readable text (each known format), else from X-Failed-Recipients, else from
    the prose of a notice whose format nobody documented (see :func:`_generic`)."""
    text = readable_text(raw, max_chars=MAX_TEXT).replace("\r", "")
    if not text.strip():
        text = _raw_body(raw)
    for source, reader in _TEXT_READERS:
        found = reader(text)
        if found:
            return source, found
    failed = _failed_recipients_header(raw)
    if failed:
        status = status_code(text) or basic_status(text[:5000], "failed") or "5.0.0"
        diagnostic = (squeeze_diagnostic(_diagnostic_near(text))
                      or _nearest_status(_until_copy(text)[:50_000], 0, 0, "failed")[1])
        return "x-failed-recipients", [make_status(a, "failed", status, diagnostic) for a in failed]
    found = _generic(text, outer, original)
    return ("text", found) if found else ("", [])


def _raw_body(raw: bytes) -> str:
    """The body as plain text when the MIME structure cannot be walked (a relay unfolded ``boundary=`` onto a
    line of its own, so no part is found): what a person opening the message would still read."""
    _, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    return decode_bytes(body[:MAX_TEXT], "utf-8") if sep else ""


def _failed_recipients_header(raw: bytes) -> list[str]:
    msg = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
    values = msg.get_all("x-failed-recipients") or []
    found: list[str] = []
    for value in values:
        found.extend(m.group().lower() for m in ADDRESS.finditer(str(value)))
    return list(dict.fromkeys(found))


def _diagnostic_near(text: str) -> str:
    match = ENHANCED.search(text) or BASIC.search(text)
    if not match:
        return ""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start : end if end >= 0 else len(text)]


def _text_recipient(address_text: str, action: Action, diagnostic: str) -> RecipientStatus | None:
    match = ADDRESS.search(address_text)
    if match is None:
        return None
    diagnostic = squeeze_diagnostic(diagnostic)
    status = status_code(diagnostic) or basic_status(diagnostic, action)
    if action == "failed" and not status:
        status = "5.0.0"
    return make_status(match.group().lower(), action, status, diagnostic)


def _until_copy(text: str) -> str:
    match = INLINE_ORIGINAL.search(text)
    return text[: match.start()] if match else text


# Exim: "The following address(es) failed:" then "  addr" lines with more-indented detail lines.
_EXIM_FAILED = lazy_pattern(r"following address(?:\(es\)|es)? failed:[ \t]*\n", re.IGNORECASE)
_EXIM_DELAYED = lazy_pattern(r"address(?:es)? to which the message has not yet been delivered (?:is|are):[ \t]*\n",
                           re.IGNORECASE)


def _exim(text: str) -> list[RecipientStatus]:
    if "mail delivery software" not in text.lower():
        return []
    body = _until_copy(text)
    out: list[RecipientStatus] = []
    for pattern, action in ((_EXIM_FAILED, "failed"), (_EXIM_DELAYED, "delayed")):
        match = pattern.search(body)
        if match is None:
            continue
        entries: list[tuple[str, list[str]]] = []
        for line in body[match.end() :].split("\n"):
            if not line.strip():
                if entries and entries[-1][1]:
                    continue
                continue
            indent = len(line) - len(line.lstrip())
            if indent <= 2 and "@" in line and len(line.split()) <= 4:
                entries.append((line.strip(), []))
            elif indent > 2 and entries:
                entries[-1][1].append(line.strip())
            elif entries:
                break  # the paragraph after the list
        for address, detail in entries:
            found = _text_recipient(address, cast(Action, action), " ".join(detail))
            if found is not None:
                out.append(found)
    return out


# qmail (and Yahoo, which kept its format): "<addr>:" then the reason, blocks separated by blank lines.
_QMAIL_START = lazy_pattern(
    r"wasn't able to deliver your message to the following addresses"
    r"|unable to deliver your message to the following address",
    re.IGNORECASE,
)
_QMAIL_ENTRY = lazy_pattern(r"^<([^<>\s]+@[^<>\s]+)>:?[ \t]*\n((?:.+\n?)*)", re.MULTILINE)


def _qmail(text: str) -> list[RecipientStatus]:
    start = _QMAIL_START.search(text)
    if start is None:
        return []
    body = _until_copy(text[start.end() :])
    out: list[RecipientStatus] = []
    for match in _QMAIL_ENTRY.finditer(body):
        found = _text_recipient(match.group(1), "failed", match.group(2))
        if found is not None:
            out.append(found)
    return out


# Exchange / Office 365 text.
_EXCHANGE_LIST = lazy_pattern(r"Delivery (has failed|is delayed) to these recipients or groups:[ \t]*\n",
                            re.IGNORECASE)
_EXCHANGE_YOUR = lazy_pattern(r"Your message to (\S+@\S+?) (couldn't|could not|can't|cannot) be delivered",
                            re.IGNORECASE)
_EXCHANGE_RECIPIENT_LINE = lazy_pattern(
    r"[ \t]*(?:[^@()\n]{0,80}\(|<)?([^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+[^\s<>()\[\]\"',;:.])"
    r"(?:\)|>)?(?:<mailto:[^>\s]*>)?[ \t]*$")
_EXCHANGE_REMOTE = lazy_pattern(r"Remote Server returned '([^'\n]{1,600})'|#([45]\d\d [245]\.\d{1,3}\.\d{1,3}[^#\n]*)",
                              re.IGNORECASE)


def _exchange(text: str) -> list[RecipientStatus]:
    body = _until_copy(text)
    admin_at = body.lower().find("diagnostic information for administrators")
    admin = body[admin_at:] if admin_at >= 0 else ""
    pairs: list[tuple[str, Action]] = []
    listed = _EXCHANGE_LIST.search(body)
    if listed is not None:
        action: Action = "failed" if listed.group(1).lower().startswith("has") else "delayed"
        end = admin_at if admin_at > listed.end() else len(body)
        for line in body[listed.end() : end].split("\n")[:200]:
            match = _EXCHANGE_RECIPIENT_LINE.match(line)  # "Bob Builder (bob@x)", "bob@x"; not reason text
            if match:
                pairs.append((match.group(1).lower(), action))
    for match in _EXCHANGE_YOUR.finditer(body):
        named = ADDRESS.search(match.group(1))
        if named:
            pairs.append((named.group().lower(), "failed"))
    out: list[RecipientStatus] = []
    for address, action in pairs:
        out.append(make_status(address, action, *_exchange_status(admin or body, address, action)))
    return out


def _exchange_status(text: str, address: str, action: Action) -> tuple[str, str]:
    at = text.lower().find(address)
    remote = _EXCHANGE_REMOTE.search(text, max(at, 0))
    diagnostic = squeeze_diagnostic((remote.group(1) or remote.group(2)) if remote else "")
    status = (status_code(diagnostic) or basic_status(diagnostic, action)
              or ("5.0.0" if action == "failed" else "4.0.0"))
    return status, diagnostic


# Gmail, old text format and the current human part.
_GMAIL_OLD = lazy_pattern(r"Delivery to the following recipients? (failed permanently|has been delayed):[ \t]*\n",
                        re.IGNORECASE)
_GMAIL_NEW_FAILED = lazy_pattern(r"(?:Your message wasn't delivered to|couldn't be delivered to) (\S+@\S+?)[ .]",
                               re.IGNORECASE)
_GMAIL_NEW_DELAYED = lazy_pattern(r"There was a temporary problem delivering your message to (\S+@\S+?)[ .]",
                                re.IGNORECASE)
_GMAIL_DETAIL = lazy_pattern(r"(?:Technical details of (?:permanent|temporary) failure:"
                             r"|The response (?:from the remote "
                           r"server )?was:|The error that the other server returned was:)\s*\n((?:.+\n?){1,6})",
                           re.IGNORECASE)


def _gmail(text: str) -> list[RecipientStatus]:
    body = _until_copy(text)
    detail = _GMAIL_DETAIL.search(body)
    diagnostic = detail.group(1) if detail else ""
    old = _GMAIL_OLD.search(body)
    out: list[RecipientStatus] = []
    if old is not None:
        action: Action = "failed" if old.group(1).lower().startswith("failed") else "delayed"
        paragraph = re.split(r"\n[ \t]*\n", body[old.end() :].lstrip("\n"), maxsplit=1)[0]
        for line in paragraph.split("\n")[:50]:
            found = _text_recipient(line, action, diagnostic)
            if found is not None:
                out.append(found)
        return out
    for pattern, action in ((_GMAIL_NEW_FAILED, "failed"), (_GMAIL_NEW_DELAYED, "delayed")):
        for match in pattern.finditer(body):
            found = _text_recipient(match.group(1), action, diagnostic)
            if found is not None:
                out.append(found)
    return out


# ------------------------------------------------------------------------------ fields inside text parts

_FIELD_LINE = lazy_pattern(r"^[ \t]*(?:final-recipient|original-recipient)[ \t]*:", re.IGNORECASE | re.MULTILINE)


def _embedded_fields(text: str) -> list[RecipientStatus]:
    """RFC 3464 fields written into a text part (Amazon WorkMail, appliances, quoted-printable or base64 text
    with no ``message/delivery-status`` part): read like the real thing once the transfer encoding is undone."""
    body = _until_copy(text)
    first = _FIELD_LINE.search(body)
    if first is None:
        return []
    start = body.rfind("\n\n", 0, first.start())
    chunk = "\n".join(line.strip() for line in body[start + 1 if start >= 0 else 0 :].split("\n"))
    _, blocks = field_blocks(chunk)
    return [r for r in (read_recipient(block) for block in blocks) if r is not None]


def embedded_per_message(text: str) -> dict[str, str]:
    body = _until_copy(text)
    first = _FIELD_LINE.search(body)
    if first is None:
        return {}
    per_message, _ = field_blocks("\n".join(line.strip() for line in body[: first.start()].split("\n")[-8:]))
    return per_message


# ------------------------------------------------------------------------ Amazon SES JSON notifications

def _ses_notification(text: str) -> list[RecipientStatus]:
    """Amazon SES bounce notifications by SNS or e-mail: a JSON document, ``"notificationType": "Bounce"``."""
    at = text.find('"notificationType"')
    if at < 0:
        return []
    start = text.rfind("{", 0, at)
    try:
        document, _ = json.JSONDecoder(strict=False).raw_decode(text[start:]) if start >= 0 else ({}, 0)
    except ValueError:
        return []
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        try:
            document = json.loads(document["Message"])  # an SNS envelope around the notification
        except ValueError:
            return []
    if not isinstance(document, dict) or str(document.get("notificationType", "")).lower() != "bounce":
        return []
    bounce = document.get("bounce")
    if not isinstance(bounce, dict):
        return []
    final = str(bounce.get("bounceType", "")).lower() != "transient"
    out: list[RecipientStatus] = []
    for entry in bounce.get("bouncedRecipients") or []:
        if not isinstance(entry, dict):
            continue
        address = bare_address(str(entry.get("emailAddress", "")))
        if not address:
            continue
        diagnostic = squeeze_diagnostic(after_type(str(entry.get("diagnosticCode", ""))))
        status = status_code(str(entry.get("status", ""))) or status_code(diagnostic) or (
            "5.0.0" if final else "4.0.0")
        out.append(make_status(address, "failed" if final else "delayed", status, diagnostic))
    return out


# ------------------------------------------------------------------------------- prose of any mail system

#: The notice says the MTA is still trying: a delay, whatever else it says.
_STILL_TRYING = lazy_pattern(
    r"will (?:continue to |keep )?(?:try|retry|attempt)|will (?:keep|continue) (?:trying|attempting)"
    r"|will be retried|not yet been delivered|still trying|delivery attempts will continue"
    r"|delivery (?:is |has been |was )?delayed|delayed delivery|is being retried|temporarily deferred"
    r"|no need to (?:re)?send|do not need to resend|not been delivered yet|zustellung verz[öo]gert",
    re.IGNORECASE)
#: ... unless it also says it gave up.
_GAVE_UP = lazy_pattern(r"given up|giving up|gave up|not going to try|will not be (?:retried|delivered|attempted)"
                      r"|no further (?:attempts|retries)|permanent(?:ly)? (?:error|fail)", re.IGNORECASE)
#: Words of a failure, in the languages mail systems write notices in.
_FAILURE_WORDS = lazy_pattern(
    r"could(?:n't| not) be delivered|undeliverable|unable to deliver|not delivered|delivery (?:has )?failed"
    r"|failed|error|rejected|refused|denied|does not exist|doesn't exist|unknown|no such|not found|invalid"
    r"|mailbox (?:is )?(?:full|unavailable)|quota|over ?quota|blocked|not (?:allowed|accepted|permitted)"
    r"|did not reach|returned|bounced|nicht zugestellt|unzustellbar|fehlgeschlagen|n'a pas pu être"
    r"|non remis|échec|no se pudo entregar|non è stato possibile|kon niet worden bezorgd"
    r"|不達|エラー|宛先不明|届きません|送信できません|失败|退信|無法|반송|실패|не доставлено|ошибк",
    re.IGNORECASE)
_HEADER_LINE = lazy_pattern(r"^[ \t>]*(?:message-id|in-reply-to|references|from|reply-to|return-path|sender|"
                          r"received|dkim-signature|x-[\w-]+|content-[\w-]+|mime-version|list-[\w-]+)[ \t]*:",
                          re.IGNORECASE)
_SYSTEM_LOCAL = lazy_pattern(r"(?:mailer[-_.]?daemon|postmaster|post[-_.]master|mail[-_.]?daemon|abuse|hostmaster"
                           r"|no[-_.]?reply|root)$|.+-(?:owner|admin|request|bounces)$", re.IGNORECASE)
_MAX_GENERIC = 20
_TOKEN = lazy_pattern(r"\S+")


def _generic(text: str, outer: MessageMeta, original: MessageMeta | None) -> list[RecipientStatus]:
    """Recipients of a notice in a mail system's own prose (DragonFly, Domino, Exchange 2003, GroupWise-style,
    appliances, carriers, Sendmail V5 transcripts, non-English notices): the addresses it names before the
    copy of the original, that are not the notice's or the original's sender, each with the status code
    written nearest after it.

    Hand-written on purpose: these formats have no grammar and no library reads them (flufl.bounce's
    per-vendor heuristics were measured and recognise fewer of them, see bench/bounces.py). Only reached for
    mail that headers.py judged a notice from a mail system, and only when none of the known formats matched.
    """
    body = _until_copy(text)[:50_000]
    if not body.strip() or '"notificationType"' in body:
        return []  # an Amazon SES delivery or complaint notification: about the sender, not a failure
    trying = bool(_STILL_TRYING.search(body)) and not _GAVE_UP.search(body)
    failing = bool(_FAILURE_WORDS.search(body) or _REASON_WORDS.search(body) or ENHANCED.search(body)
                   or _SMTP_REPLY.search(body))
    if not trying and not failing:
        return []
    action: Action = "delayed" if trying else "failed"
    excluded = _not_recipients(outer, original)
    wanted = {a.email for a in (*original.to, *original.cc)} if original else set()
    found: list[tuple[str, int]] = []
    offset = 0
    for line in body.split("\n"):
        if "@" in line and not _HEADER_LINE.match(line):
            for token in _TOKEN.finditer(line):  # per word: the address pattern stays linear on hostile text
                if "@" not in token.group():
                    continue
                match = ADDRESS.search(token.group()[:400])
                address = _clean_address(match.group()) if match else ""
                if address and address not in excluded and not _SYSTEM_LOCAL.match(address.split("@", 1)[0]):
                    found.append((address, offset + token.start() + match.end() if match else 0))
        offset += len(line) + 1
    if not found:
        if not wanted or len(wanted) > 5 or not (failing or trying):
            return []
        return [make_status(address, action, *_nearest_status(body, 0, len(body), action))
                for address in sorted(wanted)]
    out: list[RecipientStatus] = []
    seen: set[str] = set()
    for index, (address, end) in enumerate(found[: _MAX_GENERIC * 4]):
        if address in seen:
            continue
        seen.add(address)
        following = [e for a, e in found[index + 1 :] if a != address]
        stop = min(following[0] if following else len(body), end + 800)
        out.append(make_status(address, action, *_nearest_status(body, end, stop, action)))
        if len(out) >= _MAX_GENERIC:
            break
    return out


def _not_recipients(outer: MessageMeta, original: MessageMeta | None) -> set[str]:
    """Who a notice names without being the failed recipient: itself, its addressee, the original's sender."""
    people = [outer.from_, outer.sender, *outer.to, *outer.cc, *outer.reply_to]
    if original is not None:
        people += [original.from_, original.sender, *original.reply_to]
    return {p.email for p in people if p is not None and p.email}


def _clean_address(text: str) -> str:
    address = text.strip().strip("<>").lower()
    if address.startswith("mailto:"):
        address = address[7:]
    address = address.rstrip(".")
    return address[:320] if "@" in address[1:-1] else ""


def _nearest_status(body: str, start: int, stop: int, action: Action) -> tuple[str, str]:
    """(status, diagnostic) for an address: the code written after it, else the reason words after it, else
    the first code or reason anywhere in the notice."""
    window = body[start:stop]
    code = ENHANCED.search(window) or _SMTP_REPLY.search(window)
    if code is not None:
        return _code_status(code), _line_at(window, code.start(), code.end())
    reason = _REASON_WORDS.search(window) or _REASON_WORDS.search(body)
    where = window if reason is not None and reason.string is window else body
    code = ENHANCED.search(body) or _SMTP_REPLY.search(body)
    status = _code_status(code) if code else ("4.0.0" if action == "delayed" else "5.0.0")
    if reason is not None:
        return status, _line_at(where, reason.start(), reason.end())
    if code is not None:
        return status, _line_at(body, code.start(), code.end())
    return status, ""


#: An SMTP reply code in prose: "550 5.1.1", "550-5.7.26", "<<< 550 <x>"; not "Size (in bytes): 512".
_SMTP_REPLY = lazy_pattern(r"(?<![\d.#:])(?<!: )\b([45])[0-5]\d(?=[ -]\S)")
#: Why a recipient failed, in words (tried before the generic failure words for the diagnostic).
_REASON_WORDS = lazy_pattern(
    r"user unknown|unknown user|no such (?:user|mailbox|address)|not (?:listed|recognized|found)"
    r"|does(?:n't| not) exist|permission to post|not allowed to post|not a member"
    r"|mailbox (?:is )?(?:full|unavailable|disabled)|quota|disabled|blocked|rejected|refused|denied|invalid"
    r"|unbekannt|n'existe pas|invalide|inexistente|宛先不明|存在しません", re.IGNORECASE)


def _code_status(code: re.Match[str]) -> str:
    return ".".join(code.groups()) if code.re.pattern == ENHANCED.pattern else f"{code.group(1)}.0.0"


def _line_at(text: str, begin: int, end: int) -> str:
    line_start = text.rfind("\n", 0, begin) + 1
    line_end = text.find("\n", end)
    return squeeze_diagnostic(text[line_start : line_end if line_end >= 0 else len(text)])


_TEXT_READERS = (("rfc3464-text", _embedded_fields), ("exim", _exim), ("qmail", _qmail), ("exchange", _exchange),
                 ("gmail", _gmail), ("ses-notification", _ses_notification))
