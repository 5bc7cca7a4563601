"""A realistic, seeded mailbox for the benchmarks: tracked threads and their fates, amid ordinary mail.

Realistic where it costs the reader something: header blocks of the size real mail has (Received chains, DKIM
and ARC signatures, Authentication-Results), folded References chains, encoded words, list mail, newsletters,
notifications, out-of-office replies, delivery reports, replies in threads nobody tracks. The bodies are short:
only headers are read in bulk, and the few bodies followupd reads (replies, OOOs, bounces to tracked threads)
are real enough for its interpreters.

Tracked threads (Sent messages Bcc'ing the tracking address) have fates drawn by age, as a user "back from a
week off" would have them: most got a reply (some in Archive), a few an out-of-office or a bounce; the silent
ones got the follow-ups the cadence asked for, sent by hand, up to a week ago. So at ``now`` a realistic
handful of threads is due (their drafts land in Drafts) and the oldest silent ones have run out of touches.

Pure and deterministic: ``build(...)`` returns messages; seeding the server is ``seed.py``'s job.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from followupd.planning.cadence import CadenceSettings, due_time

SENT, INBOX, ARCHIVE, DRAFTS = "Sent", "INBOX", "Archive", "Drafts"
UTC_ZONE = ZoneInfo("UTC")

_FIRST = ["Anna", "Ben", "Chloé", "David", "Eva", "Farid", "Grace", "Hiro", "Inès", "Jonas", "Kai", "Lena", "Marco",
          "Nora", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tamar", "Umar", "Vera", "Wei", "Xenia", "Yusuf", "Zoë",
          "José", "Björn", "Małgorzata", "Søren", "Ana", "Tom", "Li", "Sam", "Noor", "Ivan", "Aiko", "Paul"]
_LAST = ["Müller", "Smith", "García", "Rossi", "Nakamura", "Okafor", "Dubois", "Kowalski", "Andersen", "Silva",
         "Nguyen", "Cohen", "Patel", "Ivanova", "Schmidt", "Brown", "Jensen", "Moreau", "Costa", "Yilmaz", "Lee"]
_COMPANIES = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne", "soylent",
              "wonka", "gringotts", "oceanic", "vandelay", "pied-piper", "aperture", "massive", "duff", "nakatomi"]
_TLDS = ["com", "de", "fr", "co.uk", "io", "org", "nl", "es", "it", "se", "jp"]
_FREEMAIL = ["gmail.com", "outlook.com", "yahoo.com", "gmx.de", "icloud.com", "proton.me"]
_TOPICS = ["proposal", "invoice", "contract renewal", "meeting next week", "Q3 budget", "site visit", "quote",
           "partnership", "hiring plan", "the draft report", "onboarding", "pricing", "your application",
           "conference talk", "API access", "data export", "the workshop", "reference letter", "board slides"]
_SUBJECT_FORMS = ["{Topic}", "Re: {topic}", "{Topic} for {company}", "Quick question about {topic}",
                  "{Topic} ({n})", "Following our call: {topic}", "[{company}] {topic}", "Fwd: {topic}",
                  "Invoice #{n}", "{Topic} \u2013 next steps", "Update on {topic}"]
_WORD_TEXT = ("the we a to of and in for on that this is with as our be will it at can by from have you your are "
              "next week plan team review numbers update draft call send thanks project budget time share notes "
              "agreed schedule let know soon details attached question quick")
_WORDS = tuple(_WORD_TEXT.split(" "))
_LISTS = [("dev", "lists.python.example"), ("announce", "lists.debian.example"), ("users", "lists.dovecot.example"),
          ("team-berlin", "groups.acme.example"), ("book-club", "googlegroups.example")]
_NOTIFIERS = [("notifications@github.example", "GitHub", "acme/api"), ("jira@acme.atlassian.example", "Jira", "OPS"),
              ("noreply@gitlab.example", "GitLab", "infra/ci"), ("alerts@monitoring.example", "Grafana", "prod")]
_NEWSLETTERS = [("news@shop.example", "Shop Deals"), ("digest@medium.example", "Daily Digest"),
                ("hello@saas.example", "SaaS Weekly"), ("info@airline.example", "Airline Miles")]
_REPLY_LINES = ["Thanks Alex, this looks good to me.", "Sounds good, let's go ahead.", "Yes, Thursday works.",
                "Thanks for sending this over. Attached are my comments.", "Perfect, confirmed.",
                "Great, we'll sign it this week.", "Here are the numbers you asked for."]
_ID_HOSTS = ["mail.gmail.example", "mx.acme.example", "outlook.example", "localhost.localdomain"]
_CLIENTS = ["Mozilla Thunderbird 115.6", "Apple Mail (2.3774)", "Microsoft Outlook 16.0", "K-9 Mail 6.7",
            "Evolution 3.46", "Roundcube Webmail/1.6.5", "Mutt/2.2.9"]


@dataclass(frozen=True)
class Msg:
    """One message to seed: where it goes, its INTERNALDATE, IMAP flags and raw bytes (CRLF)."""

    folder: str
    date: datetime
    flags: str  # Maildir info letters: S (seen), R (answered), D (draft), F (flagged)
    raw: bytes


@dataclass
class Thread:
    """A tracked thread as the generator planned it; the bench uses it for the new-mail cycle."""

    index: int
    message_id: str
    subject: str
    to: tuple[str, str]  # (name, email)
    sent_at: datetime
    fate: str  # replied / ooo / bounced / silent
    touches: int = 0
    references: list[str] = field(default_factory=list)


@dataclass
class Mailbox:
    """Everything generated for one benchmark account."""

    messages: list[Msg]
    threads: list[Thread]
    counts: dict[str, int]
    fates: dict[str, int]


class _Gen:
    def __init__(self, seed: int, user: str, tracking: str, now: datetime) -> None:
        self.rng = random.Random(seed)
        self.user = user
        self.user_name = "Alex Example"
        self.domain = user.rpartition("@")[2]
        self.tracking = tracking
        self.now = now
        self.serial = 0
        self.contacts = [self._person() for _ in range(3000)]

    # ------------------------------------------------------------------ small parts
    def _person(self) -> tuple[str, str]:
        rng = self.rng
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        local = f"{first}.{last}".lower().encode("ascii", "ignore").decode() or "someone"
        domain = (rng.choice(_FREEMAIL) if rng.random() < 0.2
                  else f"{rng.choice(_COMPANIES)}.{rng.choice(_TLDS)}")
        return f"{first} {last}", f"{local}{rng.randint(1, 99)}@{domain}"

    def msgid(self, domain: str | None = None) -> str:
        self.serial += 1
        token = hashlib.blake2s(f"{self.serial}".encode(), digest_size=8).hexdigest()
        host = domain or self.rng.choice(_ID_HOSTS)
        return f"<{token}.{self.serial}@{host}>"

    def subject(self) -> str:
        rng = self.rng
        topic = rng.choice(_TOPICS)
        return rng.choice(_SUBJECT_FORMS).format(topic=topic, Topic=topic[:1].upper() + topic[1:],
                                                 company=rng.choice(_COMPANIES).title(), n=rng.randint(100, 99999))

    def body(self, first_line: str = "", lines: tuple[int, int] = (2, 20)) -> str:
        rng = self.rng
        out = [first_line] if first_line else []
        for _ in range(rng.randint(*lines)):
            out.append(" ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 14))).capitalize() + ".")
        return "\n".join(out) + "\n"

    def past(self, days_back: float, *, before: datetime | None = None) -> datetime:
        end = before or self.now
        moment = end - timedelta(seconds=self.rng.uniform(3600, days_back * 86400))
        return moment.replace(microsecond=0)

    def relay_headers(self, when: datetime, sender_domain: str) -> list[tuple[str, str]]:
        """What an MTA path adds: a few Received lines, DKIM and ARC, Authentication-Results."""
        rng = self.rng
        hops = []
        t = when
        for hop in range(rng.randint(2, 5)):
            t = t + timedelta(seconds=rng.randint(1, 20))
            hops.append(("Received", f"from mx{hop}.{sender_domain} (mx{hop}.{sender_domain} "
                                     f"[203.0.113.{rng.randint(1, 254)}])\r\n\tby mail.{self.domain} (Postfix) with "
                                     f"ESMTPS id {rng.getrandbits(40):X}\r\n\tfor <{self.user}>; "
                                     f"{format_datetime(t)}"))
        sig = base64.b64encode(rng.randbytes(128)).decode()
        hops.append(("DKIM-Signature", f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={sender_domain}; s=s1;\r\n\t"
                                       f"h=from:to:subject:date:message-id; bh={sig[:44]};\r\n\tb={sig[44:]}"))
        if rng.random() < 0.4:
            hops.append(("ARC-Seal", f"i=1; a=rsa-sha256; t={int(when.timestamp())}; cv=none; d={sender_domain};"
                                     f"\r\n\tb={sig[:88]}"))
        hops.append(("Authentication-Results", f"mail.{self.domain}; dkim=pass header.d={sender_domain};"
                                               f" spf=pass smtp.mailfrom={sender_domain}; dmarc=pass"))
        return list(reversed(hops))

    @staticmethod
    def addr(name: str, email: str) -> str:
        if not name:
            return email
        if name.isascii():
            return f'"{name}" <{email}>' if "," in name else f"{name} <{email}>"
        return f"{Header(name, 'utf-8').encode()} <{email}>"

    @staticmethod
    def enc(text: str) -> str:
        return text if text.isascii() else Header(text, "utf-8").encode()

    def render(self, headers: list[tuple[str, str]], body: str, *, content_type: str | None = None) -> bytes:
        lines = [f"{name}: {value}" for name, value in headers]
        if content_type is None and not body.isascii():
            content_type = 'text/plain; charset="utf-8"'
        if content_type:
            lines += ["MIME-Version: 1.0", f"Content-Type: {content_type}", "Content-Transfer-Encoding: 8bit"]
        text = "\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")
        return text.encode("utf-8")

    # ------------------------------------------------------------------ the user's own mail
    def own_message(self, *, to: list[tuple[str, str]], subject: str, when: datetime, message_id: str,
                    bcc: Sequence[str] = (), cc: Sequence[tuple[str, str]] = (), in_reply_to: str | None = None,
                    references: Sequence[str] = (), body: str | None = None) -> bytes:
        headers = [("Message-ID", message_id), ("Date", format_datetime(when)),
                   ("From", self.addr(self.user_name, self.user)),
                   ("To", ", ".join(self.addr(n, e) for n, e in to))]
        if cc:
            headers.append(("Cc", ", ".join(self.addr(n, e) for n, e in cc)))
        if bcc:
            headers.append(("Bcc", ", ".join(bcc)))
        headers.append(("Subject", self.enc(subject)))
        if in_reply_to:
            headers.append(("In-Reply-To", in_reply_to))
        if references:
            headers.append(("References", "\r\n ".join(references)))
        headers.append(("User-Agent", self.rng.choice(_CLIENTS)))
        return self.render(headers, body or self.body(f"Hi {to[0][0].split()[0]},"),
                           content_type="text/plain; charset=UTF-8; format=flowed")

    # ------------------------------------------------------------------ mail from others
    def incoming(self, *, sender: tuple[str, str], subject: str, when: datetime, message_id: str,
                 to: str | None = None, cc: Sequence[tuple[str, str]] = (), in_reply_to: str | None = None,
                 references: Sequence[str] = (), extra: Sequence[tuple[str, str]] = (), body: str | None = None,
                 content_type: str | None = None) -> bytes:
        domain = sender[1].rpartition("@")[2]
        headers = [("Return-Path", f"<{sender[1]}>"), ("Delivered-To", self.user),
                   *self.relay_headers(when, domain),
                   ("Message-ID", message_id), ("Date", format_datetime(when)),
                   ("From", self.addr(*sender)), ("To", to or self.addr(self.user_name, self.user))]
        if cc:
            headers.append(("Cc", ", ".join(self.addr(n, e) for n, e in cc)))
        headers.append(("Subject", self.enc(subject)))
        if in_reply_to:
            headers.append(("In-Reply-To", in_reply_to))
        if references:
            headers.append(("References", "\r\n ".join(references)))
        headers.extend(extra)
        return self.render(headers, body if body is not None else self.body(), content_type=content_type)

    def noise(self, when: datetime) -> bytes:
        """One message nobody tracks: personal, list, newsletter, notification, calendar, odd encodings."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:  # personal, often in a thread of its own
            refs = [self.msgid() for _ in range(rng.choice([0, 0, 1, 2, 3, 6]))]
            subject = ("Re: " if refs else "") + self.subject()
            return self.incoming(sender=rng.choice(self.contacts), subject=subject, when=when, message_id=self.msgid(),
                                 in_reply_to=refs[-1] if refs else None, references=refs,
                                 cc=[rng.choice(self.contacts)] if rng.random() < 0.2 else [])
        if roll < 0.60:  # mailing list
            name, host = rng.choice(_LISTS)
            refs = [self.msgid(host) for _ in range(rng.choice([0, 1, 2, 4, 8, 12]))]
            return self.incoming(
                sender=rng.choice(self.contacts), subject=f"{'Re: ' if refs else ''}[{name}] {self.subject()}",
                when=when, message_id=self.msgid(host), to=f"{name}@{host}", in_reply_to=refs[-1] if refs else None,
                references=refs,
                extra=[("List-Id", f"{name.title()} discussion <{name}.{host}>"), ("Precedence", "list"),
                       ("List-Unsubscribe", f"<mailto:{name}-leave@{host}>"), ("List-Post", f"<mailto:{name}@{host}>"),
                       ("Reply-To", f"{name}@{host}")])
        if roll < 0.75:  # newsletter (HTML)
            addr, name = rng.choice(_NEWSLETTERS)
            html = "<html><body>" + "".join(f"<p>{self.body(lines=(1, 2))}</p>" for _ in range(4)) + "</body></html>"
            return self.incoming(
                sender=(name, addr), subject=f"{name}: {self.subject()}", when=when,
                message_id=self.msgid(addr.rpartition('@')[2]),
                extra=[("List-Unsubscribe", f"<https://{addr.rpartition('@')[2]}/u/{rng.getrandbits(64):x}>"),
                       ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"), ("Precedence", "bulk"),
                       ("X-Campaign", str(rng.randint(1000, 9999)))],
                body=html, content_type='text/html; charset="utf-8"')
        if roll < 0.95:  # machine notification
            addr, name, project = rng.choice(_NOTIFIERS)
            host = addr.rpartition("@")[2]
            item = f"<{project}/issues/{rng.randint(1, 4000)}@{host}>"
            return self.incoming(
                sender=(f"{rng.choice(self.contacts)[0]} via {name}", addr), subject=f"[{project}] {self.subject()}",
                when=when, message_id=self.msgid(host), in_reply_to=item, references=[item],
                extra=[("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All"),
                       ("Precedence", "bulk"), ("List-Id", f"{project} <{project.replace('/', '.')}.{host}>")])
        if roll < 0.97:  # an out-of-office answering something nobody tracks
            return self.ooo(rng.choice(self.contacts), self.msgid(), self.subject(), when)
        # non-ASCII subject and sender, quoted-printable body
        sender = (f"{rng.choice(['Jürgen', 'Zoë', 'Łukasz', '山田', 'Françoise'])} {rng.choice(_LAST)}",
                  rng.choice(self.contacts)[1])
        return self.incoming(sender=sender, subject=f"Grüße \u2013 {self.subject()} \u2713", when=when,
                             message_id=self.msgid(), body=self.body("Hallo Alex, schöne Grüße!"))

    def ooo(self, sender: tuple[str, str], original: str, subject: str, when: datetime) -> bytes:
        back = (when + timedelta(days=self.rng.randint(3, 15))).strftime("%B %d")
        return self.incoming(
            sender=sender, subject=f"Out of Office: {subject}", when=when, message_id=self.msgid(),
            in_reply_to=original, references=[original],
            extra=[("Auto-Submitted", "auto-replied"), ("X-Autoreply", "yes"), ("Precedence", "auto_reply")],
            body=f"Thank you for your message. I am out of the office until {back} with limited access to email.\n"
                 "For urgent matters please contact my colleague.\n")

    def bounce(self, original: str, recipient: str, subject: str, when: datetime) -> bytes:
        boundary = f"bnd{self.rng.getrandbits(48):x}"
        body = (f"This is a MIME-encapsulated message.\n\n--{boundary}\nContent-Type: text/plain\n\n"
                f"I'm sorry to have to inform you that your message could not be delivered to {recipient}.\n\n"
                f"--{boundary}\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.{self.domain}\n\n"
                f"Final-Recipient: rfc822; {recipient}\nAction: failed\nStatus: 5.1.1\n"
                f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\n\n"
                f"--{boundary}\nContent-Type: text/rfc822-headers\n\nMessage-ID: {original}\nFrom: {self.user}\n"
                f"To: {recipient}\nSubject: {subject}\n\n--{boundary}--\n")
        return self.incoming(
            sender=("Mail Delivery System", f"MAILER-DAEMON@mail.{self.domain}"),
            subject="Undelivered Mail Returned to Sender", when=when, message_id=self.msgid(self.domain),
            extra=[("Auto-Submitted", "auto-replied")], body=body,
            content_type=f'multipart/report; report-type=delivery-status; boundary="{boundary}"')


def _split(total: int, tracked_sent: int) -> dict[str, int]:
    sent = max(int(total * 0.15), tracked_sent)
    archive = int(total * 0.15)
    return {SENT: sent, ARCHIVE: archive, INBOX: max(total - sent - archive, 0)}


def build(*, total: int, threads: int, user: str, tracking: str, now: datetime, seed: int = 8,
          cadence: CadenceSettings | None = None, away: timedelta = timedelta(days=7)) -> Mailbox:
    """Messages for Sent, INBOX, Archive and Drafts adding up to ``total`` in the three watched folders."""
    gen = _Gen(seed, user, tracking, now)
    rng = gen.rng
    cadence = cadence or CadenceSettings()
    messages: list[Msg] = []
    planned: list[Thread] = []
    fates: dict[str, int] = {}
    per_folder = {SENT: 0, INBOX: 0, ARCHIVE: 0}

    def add(folder: str, when: datetime, raw: bytes, flags: str = "S") -> None:
        messages.append(Msg(folder, when, flags, raw))
        if folder in per_folder:
            per_folder[folder] += 1

    for i in range(threads):
        to = rng.choice(gen.contacts)
        cc = [rng.choice(gen.contacts)] if rng.random() < 0.15 else []
        sent_at = gen.past(365, before=now - timedelta(hours=2))
        subject = gen.subject()
        mid = f"<bench.{i}.{rng.getrandbits(32):08x}@{gen.domain}>"
        earlier = [gen.msgid() for _ in range(rng.choice([0, 0, 0, 1, 3]))]
        thread = Thread(i, mid, subject, to, sent_at, "silent", references=earlier)
        add(SENT, sent_at, gen.own_message(to=[to], cc=cc, subject=subject, when=sent_at, message_id=mid,
                                           bcc=[tracking], in_reply_to=earlier[-1] if earlier else None,
                                           references=earlier))
        if rng.random() < 0.1:  # the delivered copy too: the tracking address is in the user's own INBOX
            add(INBOX, sent_at + timedelta(seconds=5), gen.incoming(
                sender=(gen.user_name, user), subject=subject, when=sent_at, message_id=mid,
                to=gen.addr(*to), extra=[("Delivered-To", tracking), ("X-Original-To", tracking)],
                body=gen.body()))
        roll = rng.random()
        chain = [*earlier, mid]
        if roll < 0.55:
            thread.fate = "replied"
            at = sent_at + timedelta(hours=rng.uniform(1, 140))
            if at < now:
                folder = ARCHIVE if rng.random() < 0.1 else INBOX
                add(folder, at, gen.incoming(sender=to, subject=("Re: " if rng.random() < 0.8 else "AW: ") + subject,
                                             when=at, message_id=gen.msgid(), in_reply_to=mid, references=chain,
                                             body=gen.body(rng.choice(_REPLY_LINES), lines=(0, 4))))
            else:
                thread.fate = "silent"
        elif roll < 0.60:
            thread.fate = "ooo"
            at = sent_at + timedelta(minutes=rng.uniform(1, 30))
            add(INBOX, at, gen.ooo(to, mid, subject, at))
        elif roll < 0.62:
            thread.fate = "bounced"
            at = sent_at + timedelta(minutes=rng.uniform(1, 10))
            add(INBOX, at, gen.bounce(mid, to[1], subject, at))
        if thread.fate in ("silent", "ooo"):
            # The follow-ups the cadence asked for, sent by hand, until the user went away a week ago.
            last: datetime | None = None
            while True:
                due = due_time(sent_at=sent_at, last_touch_at=last, touches_done=thread.touches, promised=None,
                               settings=cadence, tz=UTC_ZONE, seed=str(i))
                if thread.fate == "ooo" and thread.touches == 0 and due is not None:
                    due += timedelta(days=10)  # waited for them to be back
                if due is None or due > now - away:
                    break
                at = (due + timedelta(hours=rng.uniform(0, 20))).replace(microsecond=0)
                if at > now - away:
                    break
                touch_id = gen.msgid(gen.domain)
                add(SENT, at, gen.own_message(to=[to], subject="Re: " + subject, when=at, message_id=touch_id,
                                              in_reply_to=mid, references=chain,
                                              body=gen.body(f"Hi {to[0].split()[0]}, just checking in on this.",
                                                            lines=(0, 2))))
                chain = [*chain, touch_id]
                last = at
                thread.touches += 1
        fates[thread.fate] = fates.get(thread.fate, 0) + 1
        thread.references = chain
        planned.append(thread)

    target = _split(total, per_folder[SENT])
    # The user's ordinary sent mail: new messages and replies.
    for _ in range(max(target[SENT] - per_folder[SENT], 0)):
        when = gen.past(730)
        refs = [gen.msgid() for _ in range(rng.choice([0, 1, 1, 2, 5]))]
        add(SENT, when, gen.own_message(to=[rng.choice(gen.contacts)], subject=("Re: " if refs else "") + gen.subject(),
                                        when=when, message_id=gen.msgid(gen.domain),
                                        in_reply_to=refs[-1] if refs else None, references=refs))
    for folder in (INBOX, ARCHIVE):
        for _ in range(max(target[folder] - per_folder[folder], 0)):
            when = gen.past(730)
            add(folder, when, gen.noise(when), "S" if rng.random() < 0.9 else "")
    for _ in range(5):  # the user's own unfinished drafts
        when = gen.past(30)
        add(DRAFTS, when, gen.own_message(to=[rng.choice(gen.contacts)], subject=gen.subject(), when=when,
                                          message_id=gen.msgid(gen.domain)), "DS")
    messages.sort(key=lambda m: m.date)
    return Mailbox(messages, planned, dict(per_folder), fates)


def new_mail(*, mailbox: Mailbox, user: str, tracking: str, now: datetime, count: int = 100, replies: int = 10,
             sent: int = 10, seed: int = 9) -> tuple[list[Msg], list[Thread]]:
    """``count`` new messages at ``now``: ``replies`` answers to waiting tracked threads, ``sent`` of the user's
    own in Sent, the rest ordinary incoming mail. Returns the messages and the threads that got a reply."""
    gen = _Gen(seed, user, tracking, now)
    rng = gen.rng
    waiting = [t for t in mailbox.threads if t.fate == "silent" and t.touches < 4]
    answered = rng.sample(waiting, min(replies, len(waiting)))
    out: list[Msg] = []
    for n, thread in enumerate(answered):
        at = now - timedelta(minutes=30 - n)
        out.append(Msg(INBOX, at, "", gen.incoming(
            sender=thread.to, subject="Re: " + thread.subject, when=at, message_id=gen.msgid(),
            in_reply_to=thread.references[-1], references=thread.references,
            body=gen.body(rng.choice(_REPLY_LINES), lines=(0, 3)))))
    for n in range(sent):
        at = now - timedelta(minutes=20 - n)
        out.append(Msg(SENT, at, "S", gen.own_message(to=[rng.choice(gen.contacts)], subject=gen.subject(), when=at,
                                                      message_id=gen.msgid(gen.domain))))
    for n in range(count - len(out)):
        at = now - timedelta(seconds=60 * 25 - n * 10)
        out.append(Msg(INBOX, at, "", gen.noise(at)))
    return out, answered


__all__ = ["ARCHIVE", "DRAFTS", "INBOX", "SENT", "Mailbox", "Msg", "Thread", "build", "new_mail"]
