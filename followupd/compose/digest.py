"""The weekly digest: what followupd is doing for the user, as one short message to their own INBOX.

Why a pure builder: the engine files the digest once per period and ``followupd digest --preview`` shows the
next one; both must show the same message, and its wording (sections that appear only with data, lines a phone
shows without wrapping, no wide tables) is easiest to hold in tests when plain records go in and text comes out.
No database, no clock, no config: the caller passes ``today`` and the records (``followupd.engine.digest``
reads them from the store).

The text part keeps every line within :data:`MAX_LINE` characters; the HTML part is one narrow column
(``max-width``), lists instead of tables, bars drawn with CSS widths: no images, nothing to load.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from html import escape

from followupd.compose.bars import bar
from followupd.mail.patterns import lazy_pattern
from followupd.planning.stats import ThreadStats

__all__ = ["MAX_LINE", "Digest", "DigestClosed", "DigestDraft", "DigestInput", "DigestItem", "DigestOwed",
           "DigestPromise", "DigestThread", "build_digest"]

#: RFC 5322 §2.1.1's "SHOULD" line length; also what a phone shows in a fixed font without wrapping.
MAX_LINE = 78
_BAR_WIDTH = 20
#: At most this many entries per section; a longer list says how many more (a minute to read, not ten).
MAX_ENTRIES = 12


@dataclass(frozen=True)
class DigestThread:
    """An open follow-up thread: who owes the user a reply."""

    recipient: str
    subject: str
    days_waiting: int
    touches: int
    next_checkin: date | None


@dataclass(frozen=True)
class DigestDraft:
    """A follow-up draft waiting in Drafts for the user's review."""

    recipient: str
    subject: str
    waiting_since: date


@dataclass(frozen=True)
class DigestPromise:
    """A promise the user made (``+followup-me``): an update owed to ``recipient``, due by ``due``."""

    recipient: str
    subject: str
    due: date


@dataclass(frozen=True)
class DigestItem:
    """An open action item of a meeting recap."""

    owner: str
    task: str
    due: date | None


@dataclass(frozen=True)
class DigestOwed:
    """A message that asks the user something and has had no answer from them for ``[owed] after``."""

    sender: str           # the person's name, else their address
    subject: str
    days_waiting: int
    evidence: str = ""    # the sentence that asks, as written


@dataclass(frozen=True)
class DigestClosed:
    """A thread closed since the last digest; ``outcome`` is replied, declined, unanswered or bounced."""

    subject: str
    recipient: str
    outcome: str
    by: str = ""
    touches: int = 0


@dataclass(frozen=True)
class DigestCommand:
    """A command the user sent by mail since the last digest: applied (confirmed here) or not (and why)."""

    words: str            # "+followup-stop"
    subject: str          # the thread it was for; "" when it named none
    outcome: str          # "stopped", "snoozed until 2026-11-23", ... or why it was not applied
    applied: bool = True


@dataclass(frozen=True)
class DigestInput:
    """Everything one account's digest may show; empty sequences leave their section out."""

    today: date
    user_name: str = ""
    waiting: Sequence[DigestThread] = ()
    drafts: Sequence[DigestDraft] = ()
    promises: Sequence[DigestPromise] = ()
    items: Sequence[DigestItem] = ()
    owed: Sequence[DigestOwed] = ()
    closed: Sequence[DigestClosed] = ()
    commands: Sequence[DigestCommand] = ()
    stats: ThreadStats | None = None


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    sections: tuple[str, ...] = field(default=())
    #: The heading of each section in ``sections``, in the same order, as both parts show it (the browser test
    #: looks for each one on the rendered page, so a new section is checked without touching the test).
    headings: tuple[str, ...] = field(default=())

    def as_json(self) -> dict[str, object]:
        return {"subject": self.subject, "sections": list(self.sections), "text": self.text, "html": self.html}


@dataclass
class _Section:
    key: str
    title: str
    lines: list[str]              # plain-text entries, each may wrap
    html: list[str]               # <li> contents, already escaped
    more: int = 0
    listing: str = "followupd status"  # the command that lists them all


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _day(value: date | None) -> str:
    return f"{value:%a %d %b}" if value is not None else "not planned"


def _waiting(entries: Sequence[DigestThread]) -> _Section:
    rows = sorted(entries, key=lambda t: (-t.days_waiting, t.subject))
    lines, html = [], []
    for t in rows[:MAX_ENTRIES]:
        detail = (f"{_plural(t.days_waiting, 'day')} waiting, {_plural(t.touches, 'follow-up')} so far, "
                  f"next check-in {_day(t.next_checkin)}")
        lines.append(f"{t.recipient}: {t.subject} ({detail})")
        html.append(f"<b>{escape(t.recipient)}</b>: {escape(t.subject)}<br><small>{escape(detail)}</small>")
    return _Section("waiting", "Who owes you a reply", lines, html, max(len(rows) - MAX_ENTRIES, 0))


def _drafts(entries: Sequence[DigestDraft]) -> _Section:
    rows = sorted(entries, key=lambda d: (d.waiting_since, d.subject))
    lines, html = [], []
    for d in rows[:MAX_ENTRIES]:
        since = f"waiting since {d.waiting_since:%a %d %b}"
        lines.append(f"{d.recipient}: {d.subject} ({since})")
        html.append(f"<b>{escape(d.recipient)}</b>: {escape(d.subject)}<br><small>{escape(since)}</small>")
    return _Section("drafts", "Drafts waiting for your review", lines, html, max(len(rows) - MAX_ENTRIES, 0))


def _promises(entries: Sequence[DigestPromise], today: date) -> _Section:
    rows = sorted(entries, key=lambda p: (p.due, p.subject))
    lines, html = [], []
    for p in rows[:MAX_ENTRIES]:
        when = f"overdue since {p.due:%a %d %b}" if p.due < today else f"due {p.due:%a %d %b}"
        lines.append(f"{p.recipient}: {p.subject} ({when})")
        html.append(f"<b>{escape(p.recipient)}</b>: {escape(p.subject)}<br><small>{escape(when)}</small>")
    return _Section("promises", "Your promises due this week", lines, html, max(len(rows) - MAX_ENTRIES, 0))


def _items(entries: Sequence[DigestItem], today: date) -> _Section:
    rows = sorted(entries, key=lambda i: (i.owner.lower(), i.due or date.max, i.task))
    lines, html = [], []
    for i in rows[:MAX_ENTRIES]:
        overdue = i.due is not None and i.due < today
        when = "no date" if i.due is None else (f"overdue since {i.due:%a %d %b}" if overdue
                                                else f"due {i.due:%a %d %b}")
        lines.append(f"{i.owner}: {i.task} ({when})")
        when_html = f"<b>overdue</b> since {i.due:%a %d %b}" if overdue and i.due is not None else escape(when)
        html.append(f"<b>{escape(i.owner)}</b>: {escape(i.task)}<br><small>{when_html}</small>")
    return _Section("items", "Action items by owner", lines, html, max(len(rows) - MAX_ENTRIES, 0))


#: The asking sentence is quoted up to this many characters: enough to recall the question, one line or two.
EVIDENCE_CHARS = 90


def _owed(entries: Sequence[DigestOwed]) -> _Section:
    """Replies the user owes, the longest-waiting first, each with the sentence that asks."""
    rows = sorted(entries, key=lambda o: (-o.days_waiting, o.subject))
    lines, html = [], []
    for o in rows[:MAX_ENTRIES]:
        waited = f"waiting {_plural(o.days_waiting, 'day')}"
        evidence = " ".join(o.evidence.split())
        if len(evidence) > EVIDENCE_CHARS:
            evidence = evidence[: EVIDENCE_CHARS - 1].rstrip() + "\u2026"
        quoted = f' "{evidence}"' if evidence else ""
        lines.append(f"{o.sender}: {o.subject} ({waited}){quoted}")
        html.append(f"<b>{escape(o.sender)}</b>: {escape(o.subject)}<br><small>{escape(waited)}"
                    + (f" &middot; <i>{escape(evidence)}</i>" if evidence else "") + "</small>")
    return _Section("owed", "Replies you owe", lines, html, max(len(rows) - MAX_ENTRIES, 0), "followupd owed")


_OUTCOMES = {"replied": "replied", "declined": "declined", "unanswered": "closed unanswered",
             "bounced": "bounced"}


def _closed(entries: Sequence[DigestClosed]) -> _Section:
    order = {key: n for n, key in enumerate(_OUTCOMES)}
    rows = sorted(entries, key=lambda c: (order.get(c.outcome, len(order)), c.subject))
    lines, html = [], []
    for c in rows[:MAX_ENTRIES]:
        what = _OUTCOMES.get(c.outcome, c.outcome)
        if c.outcome == "replied":
            what = f"{c.by or c.recipient} replied after {_plural(c.touches, 'follow-up')}"
        elif c.outcome == "unanswered":
            what = f"no reply after {_plural(c.touches, 'follow-up')}; closed"
        lines.append(f"{c.subject} ({c.recipient}): {what}")
        html.append(f"{escape(c.subject)} <small>({escape(c.recipient)})</small><br><small>{escape(what)}</small>")
    return _Section("closed", "Closed since the last digest", lines, html, max(len(rows) - MAX_ENTRIES, 0))


def _stats_text(stats: ThreadStats) -> list[str]:
    lines = [f"{stats.replied} of {_plural(stats.tracked, 'thread')} replied "
             f"({round(100 * stats.reply_rate)} %), {stats.declined} declined, {stats.bounced} bounced."]
    most = max((row.replied for row in stats.by_touch), default=0)
    if most:
        lines.append("Replies by follow-ups sent before them:")
        width = len(str(stats.by_touch[-1].touch))
        for row in stats.by_touch:
            lines.append(f"  {row.touch:>{width}}  {bar(row.replied, most, _BAR_WIDTH):<{_BAR_WIDTH}}  "
                         f"{row.replied}".rstrip())
    return lines


#: A count beside a bar: never broken over two lines ("999" over "99" reads as two numbers; the column's
#: ``overflow-wrap:anywhere``, there for long subjects, would otherwise break a five-digit count in a 2.5em box)
#: and never shrunk by the bar next to it; it grows instead, and the bar gets what is left.
_NUMBER = "flex:none;text-align:right;white-space:nowrap;"


def _stats_html(stats: ThreadStats) -> str:
    summary = escape(_stats_text(stats)[0])
    most = max((row.replied for row in stats.by_touch), default=0)
    if not most:
        return f"<p>{summary}</p>"
    rows = []
    for row in stats.by_touch:
        share = round(100 * row.replied / most)
        rows.append(f'<div style="display:flex;align-items:center;margin:2px 0">'
                    f'<span style="{_NUMBER}width:2em;margin-right:6px">{row.touch}</span>'
                    f'<span style="flex:1;background:#eee;height:10px">'
                    f'<span style="display:block;width:{share}%;height:10px;background:#4a7bd0"></span></span>'
                    f'<span style="{_NUMBER}min-width:2.5em;margin-left:6px">{row.replied}</span></div>')
    return (f"<p>{summary}</p><p style=\"margin:4px 0\"><small>Replies by follow-ups sent before them:</small></p>"
            + "".join(rows))


#: A date as the digest writes it ("Wed 02 Dec"): one unit a reader takes in at a glance.
_DATE = lazy_pattern(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([0-3][0-9]) "
                     r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")


def _keep_dates(entry: str) -> str:
    """``entry`` (HTML) with each date's spaces made non-breaking: at 390 px a line otherwise ended in "Wed 02"
    and put "Dec" alone on the next one (seen in the browser check's snapshot). The text part keeps plain spaces:
    its lines are wrapped here, at :data:`MAX_LINE`."""
    return _DATE.sub("\\1\u00a0\\2\u00a0\\3", entry)


def _wrap(entry: str) -> list[str]:
    return textwrap.wrap(entry, width=MAX_LINE, initial_indent="- ", subsequent_indent="  ",
                         break_long_words=True, break_on_hyphens=False)


def _commands(entries: Sequence[DigestCommand]) -> _Section:
    """Commands sent by mail: each applied one confirmed, each one not applied said so, with why."""
    lines, html = [], []
    for c in entries[:MAX_ENTRIES]:
        about = f" on {c.subject}" if c.subject else ""
        what = c.outcome if c.applied else f"not applied: {c.outcome}"
        lines.append(f"{c.words}{about}: {what}")
        html.append(f"{escape(c.words)}{escape(about)}<br><small>{escape(what)}</small>")
    return _Section("commands", "Your commands by mail", lines, html, max(len(entries) - MAX_ENTRIES, 0))


def build_digest(data: DigestInput) -> Digest | None:
    """The digest of ``data``, or None when there is nothing to report (no digest is filed then).

    The stats block alone is not news: it accompanies the other sections and never makes a digest by itself."""
    sections = [s for s in (_waiting(data.waiting), _drafts(data.drafts), _promises(data.promises, data.today),
                            _items(data.items, data.today), _owed(data.owed), _closed(data.closed),
                            _commands(data.commands))
                if s.lines]
    if not sections:
        return None
    counts = []
    if data.waiting:
        counts.append(f"{len(data.waiting)} waiting")
    if data.drafts:
        counts.append(_plural(len(data.drafts), "draft"))
    if data.promises:
        counts.append(_plural(len(data.promises), "promise"))
    if data.items:
        counts.append(_plural(len(data.items), "open item"))
    if data.owed:
        counts.append(f"{len(data.owed)} {'reply' if len(data.owed) == 1 else 'replies'} you owe")
    if data.closed:
        counts.append(f"{len(data.closed)} closed")
    if data.commands:
        counts.append(_plural(len(data.commands), "command"))
    subject = f"Your follow-ups this week: {', '.join(counts)}"
    greeting = f"Hello {data.user_name.split()[0]}," if data.user_name.strip() else "Hello,"
    intro = f"Here is where your follow-ups stand on {data.today:%A %d %B}."
    text: list[str] = [greeting, "", *textwrap.wrap(intro, MAX_LINE)]
    html: list[str] = [f"<p>{escape(greeting)}</p>", f"<p>{escape(intro)}</p>"]
    for section in sections:
        text += ["", section.title, "-" * len(section.title)]
        for entry in section.lines:
            text += _wrap(entry)
        more = f"... and {section.more} more ({section.listing})" if section.more else ""
        if more:
            text.append(f"  {more}")
        html.append(f'<h3 style="font-size:16px;margin:16px 0 4px">{escape(section.title)}</h3>'
                    '<ul style="padding-left:18px;margin:0">'
                    + "".join(f'<li style="margin:4px 0">{_keep_dates(entry)}</li>' for entry in section.html)
                    + (f"<li>{escape(more)}</li>" if more else "") + "</ul>")
    keys, headings = [s.key for s in sections], [s.title for s in sections]
    if data.stats is not None and data.stats.tracked:
        keys.append("stats")
        headings.append("Last 90 days")
        text += ["", "Last 90 days", "------------", *(line for entry in _stats_text(data.stats)
                                                        for line in (textwrap.wrap(entry, MAX_LINE)
                                                                     if not entry.startswith("  ") else [entry]))]
        html.append('<h3 style="font-size:16px;margin:16px 0 4px">Last 90 days</h3>' + _stats_html(data.stats))
    footer = "followupd, from your own mailbox. Details: followupd status"
    text += ["", "--", footer]
    html.append(f'<p style="color:#777;font-size:12px;margin-top:20px">{escape(footer)}</p>')
    body = ('<!DOCTYPE html><html><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            '<body style="margin:0;padding:12px;font-family:sans-serif;font-size:14px;line-height:1.4">'
            '<div style="max-width:600px;margin:0 auto;overflow-wrap:anywhere">' + "".join(html)
            + "</div></body></html>")
    return Digest(subject=subject, text="\n".join(text) + "\n", html=body, sections=tuple(keys),
                  headings=tuple(headings))
