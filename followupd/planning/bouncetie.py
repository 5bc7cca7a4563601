"""Which tracked thread a delivery report is about. Pure: a parsed report and the open threads in, a tie out.

Most reports name the original by its Message-ID (the RFC 3464 copy of its headers, an inline copy, or
In-Reply-To): that tie is certain. Many provider notices do not (bulk-mail services, hosted Exchange, list
managers, carriers): they give the original's subject, or only the recipient and the time. Leaving those
untied means followupd keeps writing polite follow-ups to an address that does not exist, for months; tying
them by guesswork could fail the wrong thread. So the rule is narrow: a report without any Message-ID is tied
only when exactly ONE open thread fits all it says (a failed recipient is a participant, the thread was sent
before the report and not long before, and the subject is the same when the report gives one), and the tie
is marked probable, with the evidence, for ``followupd explain``. Several fitting threads: no tie.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from followupd.mail.dsn import DeliveryReport
from followupd.mail.headers import base_subject
from followupd.planning.matching import ThreadIndex, ThreadKey

__all__ = ["MAX_REPORT_DELAY", "BounceTie", "tie_report"]

#: A report comes within the sending MTA's queue lifetime (Postfix 5 days, sendmail 5, Exchange 2, Gmail
#: about 2; some appliances and list managers a week). Beyond this, a report is not tied by time.
MAX_REPORT_DELAY = timedelta(days=7)
#: Clocks of the user's machine and the reporting MTA disagree; a report "before" the send by this much still fits.
_CLOCK_SKEW = timedelta(hours=1)


@dataclass(frozen=True)
class BounceTie:
    thread_id: str
    probable: bool   # True when tied by subject/recipient/time, not by the original's Message-ID
    evidence: str    # what tied it, in words a user can check


def tie_report(report: DeliveryReport, index: ThreadIndex, arrived_at: datetime | None) -> BounceTie | None:
    """The thread ``report`` is about, or None (unknown original, or more than one thread fits)."""
    if report.original_message_id:
        thread_id = index.thread_for_message_id(report.original_message_id)
        if thread_id is None:
            return None  # it names a message followupd does not track: never guess past a name
        return BounceTie(thread_id, False, f"delivery report for {report.original_message_id}")
    if arrived_at is None:
        return None
    when = arrived_at if arrived_at.tzinfo is not None else arrived_at.replace(tzinfo=UTC)
    addresses = {r.address.lower() for r in report.recipients} | set(report.original_recipients)
    subject = base_subject(report.original_subject) if report.original_subject else ""
    fitting = [key for key in index.threads() if _fits(key, addresses, subject, when)]
    if len(fitting) != 1:
        return None
    key = fitting[0]
    named = sorted(addresses & key.participants)
    evidence = (f"probable: the report names no Message-ID; the only tracked message to {', '.join(named)}"
                + (f' with subject "{_short(subject)}"' if subject else "")
                + f" sent in the {MAX_REPORT_DELAY.days} days before it ({key.sent_at:%Y-%m-%d %H:%M} UTC)")
    return BounceTie(key.thread_id, True, evidence)


def _fits(key: ThreadKey, addresses: set[str], subject: str, when: datetime) -> bool:
    if not addresses & key.participants:
        return False
    if subject and key.base_subject != subject:
        return False
    return key.sent_at - _CLOCK_SKEW <= when <= key.sent_at + MAX_REPORT_DELAY


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
