"""The public JSON shapes of threads, follow-ups and action items, and the small text helpers every listing shares.

Why a module of its own: ``status``, ``explain``, ``outbox`` and ``items`` print the same shapes, and
scripts read them (a contract: fields are added, never renamed), so they are written once, here, away from the
commands. No I/O and no database: ORM rows (or ``status``'s plain rows) in, plain values out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from followupd.planning.lifecycle.items import OPEN_ITEM_STATES

if TYPE_CHECKING:
    from followupd.adapters import store as st
    from followupd.adapters.store.rows import ItemRow, ThreadRow

__all__ = ["clip", "is_overdue", "iso", "item_closing", "item_json", "items_summary", "local", "owner_text",
           "render_table", "thread_json", "touch_json"]


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def local(moment: datetime | None, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    return moment.astimezone(tz).strftime(fmt) if moment else "-"


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def thread_json(thread: st.Thread | ThreadRow) -> dict[str, Any]:
    """The public JSON shape of a thread (a contract: fields are added, never renamed); from an ORM row or from
    ``status``'s plain one, which has the same names (a field read here must be in ``rows.ThreadRow`` too)."""
    return {
        "id": thread.id,
        "message_id": thread.message_id,
        "subject": thread.subject,
        "recipients": [p["email"] for p in thread.participants()],
        "recipient_names": {p["email"]: p["name"] for p in thread.participants() if p.get("name")},
        "state": thread.state,
        "kind": thread.kind,
        "state_reason": thread.state_reason,
        "touches": thread.touches,
        "next_due": iso(thread.next_due),
        "problems": list(thread.problems),
        "sent_at": iso(thread.sent_at),
        "promised": thread.promised.isoformat() if thread.promised else None,
        "tracking_suffix": thread.tracking_suffix,
        "last_touch_at": iso(thread.last_touch_at),
        "replied_at": iso(thread.replied_at),
        "replied_by": thread.replied_by or None,
        "reply_probable": thread.reply_probable,
        "note": thread.note or None,
        "expect_all": thread.expect_all,
        "answered_by": list(thread.answered_by or ()),
        "failed_recipients": list(thread.failed_recipients or ()),
        "source": thread.source,          # "bcc", "auto" or "manual" (issue 14)
        "evidence": thread.evidence,      # the sentence that asks (auto/manual); null for bcc
    }


def touch_json(touch: st.Touch) -> dict[str, Any]:
    """The public JSON shape of an outbox entry (a contract: fields are added, never renamed)."""
    from followupd.adapters import store as st  # the state names; only a command that has a row gets here

    public_state = st.TOUCH_QUEUED if touch.state == st.TOUCH_PLANNED else touch.state
    return {
        "id": touch.id,
        "thread_id": touch.thread_id,
        "message_id": touch.message_id,
        "subject": touch.subject,
        "to": [entry["email"] for entry in touch.to],
        "touch": touch.number,
        "template": touch.template,
        "state": public_state,
        "created": iso(touch.created),
        "due": iso(touch.due_at),
        "drafted_at": iso(touch.drafted_at),
        "done_at": iso(touch.done_at),
        "outcome": touch.outcome or None,
        "approved": touch.approved_at is not None,
        "sent_by_followupd": touch.sent_by_followupd,
        "reason": touch.reason or None,
    }


def item_json(item: st.ActionItem | ItemRow) -> dict[str, Any]:
    """The public JSON shape of a meeting recap's action item, the same in ``items``, ``status`` and ``explain``
    (a contract: exactly these fields; ``owner.email`` is null when the recap's words matched no recipient)."""
    return {
        "id": item.id,
        "thread_id": item.thread_id,
        "owner": {"email": item.owner_email, "name": item.owner_name or None},
        "task": item.task,
        "due": item.due.isoformat() if item.due is not None else None,
        "state": str(item.state),
        "evidence": item.evidence,
        "problems": list(item.problems or ()),
    }


def item_closing(item: st.ActionItem) -> dict[str, Any]:
    """How an item closed, for ``explain``: when, by whom (an address, or "you" from the CLI), with what words,
    and whether it is only probable (someone else said it was done for the owner). Nulls while it is open."""
    return {
        "closed_at": iso(item.closed_at),
        "closed_by": item.closed_by or None,
        "outcome": item.outcome or None,
        "probable": item.probable,
    }


def is_overdue(item: st.ActionItem | ItemRow, today: date) -> bool:
    """Still followed up and its date has passed (the owner's own day counts as on time)."""
    return item.state in OPEN_ITEM_STATES and item.due is not None and item.due < today


def owner_text(item: st.ActionItem) -> str:
    """The owner as a listing shows it; an owner the recap named but no recipient matched says so."""
    if item.owner_email is None:
        return f"{item.owner_name or '?'} (no recipient matched)"
    return f"{item.owner_name} <{item.owner_email}>" if item.owner_name else item.owner_email


def items_summary(items: Iterable[st.ActionItem | ItemRow], today: date) -> str:
    """One recap's items in a few words for ``status``: "2 of 3 items open (1 overdue)"."""
    rows = list(items)
    if not rows:
        return "no action items"
    still = [item for item in rows if item.state in OPEN_ITEM_STATES]
    overdue = sum(is_overdue(item, today) for item in still)
    noun = "item" if len(rows) == 1 else "items"
    text = f"{len(still)} {noun} open" if len(still) == len(rows) else f"{len(still)} of {len(rows)} {noun} open"
    return text + (f" ({overdue} overdue)" if overdue else "")
