"""The ``tracking`` check: does mail to the tracking address reach this mailbox?

Judged from evidence only (a delivered copy naming the address, the newest self-test) or from the SMTP server's
answer to RCPT TO: a probe mail would land in the user's mailbox and start tracking a thread nobody asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from followupd.adapters.imap import Mailbox, ResolvedFolders
from followupd.errors import FollowupdError
from followupd.mail.traces import TRACE_FETCH_FIELDS
from followupd.runtime.doctor.report import Check
from followupd.runtime.doctor.smtp_probe import SmtpProbe
from followupd.runtime.selftest import SelfTest, find_self_test

#: Headers in which a delivered copy carries the address it was delivered to (the Bcc itself is never delivered):
#: the delivery traces of followupd.mail.traces (Received last: the costliest to search), then To and Cc.
EVIDENCE_HEADERS = (*(name for name in TRACE_FETCH_FIELDS if name != "RECEIVED"), "RECEIVED", "TO", "CC")

Provider = Literal["gmail", "microsoft", "fastmail", "other"]

PLUS_ADVICE: dict[Provider, str] = {
    "gmail": "Gmail / Google Workspace deliver me+anything@ to me@ by default: nothing to set up.",
    "microsoft": "Microsoft 365: plus addressing must be enabled by an admin (Exchange Online PowerShell: "
                 "Set-OrganizationConfig -DisablePlusAddressInRecipients $false).",
    "fastmail": "Fastmail delivers me+anything@ to me@ by default: nothing to set up.",
    "other": "Your own server: Postfix needs recipient_delimiter = + (main.cf) and Dovecot (LMTP/LDA) "
             "recipient_delimiter = +, so me+followup@ is delivered to me@.",
}



def provider_of(host: str, capabilities: frozenset[str] = frozenset()) -> Provider:
    """Which mail service the IMAP host belongs to, for the plus-addressing advice."""
    name = host.lower().rstrip(".")
    if "X-GM-EXT-1" in capabilities or name.endswith(("gmail.com", "googlemail.com")):
        return "gmail"
    if name.endswith(("office365.com", "outlook.com")):
        return "microsoft"
    if name.endswith(("fastmail.com", "messagingengine.com")):
        return "fastmail"
    return "other"


def plus_advice(address: str, provider: Provider) -> str:
    local = address.partition("@")[0]
    if "+" not in local:
        return (f"{address} is not a plus address: make sure it is an alias or forward that delivers into this "
                "mailbox")
    if provider != "other":
        return PLUS_ADVICE[provider]
    return "\n".join(PLUS_ADVICE.values())


def find_evidence(box: Mailbox, folders: Sequence[str], address: str) -> tuple[str, str, int] | None:
    """(folder, header, count) of delivered messages that carry the tracking address, or None.

    A plus address is searched by its local part, so suffixed forms (``me+followup-5d@``) count too."""
    local = address.partition("@")[0]
    needle = local if "+" in local else address
    for folder in folders:
        for header in EVIDENCE_HEADERS:
            uids = box.search_header(folder, header, needle)
            if uids:
                return folder, header, len(uids)
    return None



def check_tracking(address: str, *, box: Mailbox | None, folders: ResolvedFolders | None, provider: Provider,
                   probe: SmtpProbe | None, skipped: str, own_addresses: frozenset[str] = frozenset()) -> Check:
    """Does mail to the tracking address reach this mailbox? Evidence first, then the SMTP server's RCPT answer.

    The newest self-test (a message to ``own_addresses`` only, tracking address in Bcc) is the best evidence:
    it shows whether a copy arrived and whether the delivered copy still names the address, which is what the
    engine needs when the Sent copy lost its Bcc."""
    advice = plus_advice(address, provider)
    if box is not None and folders is not None:
        try:
            found = find_evidence(box, folders.watch, address)
            test = (find_self_test(box, sent=folders.sent, watch=folders.watch, tracking_address=address,
                                   own_addresses=own_addresses) if own_addresses else None)
        except FollowupdError as exc:
            return Check("tracking", "warn", f"could not search the mailbox for {address}: {exc}", advice)
        verdict = self_test_check(address, test, found, folders.watch, advice) if test is not None else None
        if verdict is not None:
            return verdict
        if found is not None:
            folder, header, count = found
            return Check("tracking", "pass", f"{count} delivered message(s) in {folder} carry {address} "
                                             f"({header.title()}): it reaches this mailbox")
    looked = f"no delivered message carrying {address} in {', '.join(folders.watch)}" if folders else ""
    if probe is not None and probe.rcpt is not None:
        code, words = probe.rcpt
        said = f"SMTP server {probe.where} answered RCPT TO:<{address}> with {words} (nothing was sent)"
        if code >= 500:
            return Check("tracking", "fail", said, advice)
        if code >= 400:
            return Check("tracking", "warn", said + "; a temporary refusal", advice)
        if provider == "microsoft":
            return Check("tracking", "warn", f"{said}; Microsoft 365 may accept a recipient here and bounce later",
                         f"send yourself a test message with {address} in Bcc, then run followupd doctor again\n"
                         + advice)
        return Check("tracking", "pass", said + (f"; {looked} yet" if looked else ""),
                     f"an accepted recipient is a good sign, not proof: send yourself a message with {address} in "
                     "Bcc to be sure")
    if not looked:
        return Check("tracking", "skip", skipped)
    return Check("tracking", "warn", looked, f"send yourself a test message with {address} in Bcc, then run "
                                            f"followupd doctor again\n{advice}")


def self_test_check(address: str, test: SelfTest, found: tuple[str, str, int] | None, watch: Sequence[str],
                    advice: str) -> Check | None:
    """The tracking line from the newest self-test; None leaves the verdict to the other evidence.

    A message to yourself found only in a watched folder (the client dropped the Bcc) may be a plain note to
    self, so it decides only when nothing else shows the address arrives."""
    older = f"; {found[2]} delivered message(s) in {found[0]} do carry it ({found[1].title()})" if found else ""
    where = ", ".join(watch)
    if test.trace is not None:
        return Check("tracking", "pass", f"{test.describe()} arrived carrying {address} ({test.trace}): it "
                                         "reaches this mailbox; self-tests are never tracked")
    if found is not None and (test.copies == 0 or not test.from_sent):
        return None  # not arrived yet, or a note to yourself that may never have had the address: older proof
    if test.copies == 0:
        return Check("tracking", "warn", f"{test.describe()} (only your own addresses, {address} in Bcc) has not "
                                         f"arrived in {where}: mail to {address} may not reach this mailbox",
                     "if it bounced, the delivery report in your INBOX says why\n" + advice)
    if test.missing is not None:
        copies = f"{test.copies} cop{'y' if test.copies == 1 else 'ies'}"
        return Check("tracking", "warn", f"{test.describe()} arrived ({copies} in {where}) but no copy names "
                                         f"{address}: {test.missing.cause}{older}",
                     f"{test.missing.fix}\nuntil then only mail whose Sent copy keeps the Bcc header is tracked; "
                     "a client that drops it gets its mail silently untracked")
    return Check("tracking", "warn", f"{test.describe()} arrived only as the copy for {', '.join(test.others)}: "
                                     f"none came through {address}{older}", advice)
