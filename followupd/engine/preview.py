"""``followupd preview`` for a tracked thread: what the store knows about it, as the drafter sees it.

The plan itself is pure (:mod:`followupd.compose.preview`); this half reads the thread, its open draft and the
templates its people saw from the database, and hands the plan the configured settings and the drafter's
per-touch seed.
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.compose.library import TemplateLibrary
from followupd.compose.preview import PendingDraft, PlannedTouch, PreviewThread, plan_touches
from followupd.config import Config
from followupd.engine.drafts import open_touch, recipient_offset, template_usage, templates_seen_by_people, touch_id
from followupd.engine.names import named_recipients
from followupd.mail.headers import Address


def from_store(session: Session, thread: st.Thread, config: Config | None = None) -> PreviewThread:
    """A tracked thread as the drafter sees it (with ``config``: on the recipient's clock, as the drafter)."""
    to, cc, bcc = (tuple(Address(e["email"], e.get("name", "")) for e in entries)
                   for entries in (thread.to, thread.cc, thread.bcc))
    pending = None
    touch = open_touch(thread)
    if touch is not None:
        subject, body = _draft_text(touch)
        pending = PendingDraft(number=thread.steps + 1, template=touch.template,
                               due=touch.due_at or touch.created, subject=subject, body=body, state=touch.state)
    # Greeted as the drafter greets them: by the name learned from the mail where the user wrote a bare address.
    return PreviewThread(
        id=thread.id, recipients=named_recipients(session, to or cc or bcc),
        cc=named_recipients(session, cc) if to else (), subject=thread.subject,
        sent_at=thread.sent_at, promised=thread.promised, note=thread.note or None, steps_done=thread.steps,
        last_touch_at=thread.last_touch_at, next_due=thread.next_due,
        used_templates=tuple(t.template for t in thread.touch_rows if t.template),
        next_touch_number=max((t.number for t in thread.touch_rows), default=0) + 1,
        recently_used_with_people=frozenset(templates_seen_by_people(session, thread)), pending=pending,
        template_usage=template_usage(session),
        recipient_clock=recipient_offset(thread, config) if config is not None else None,
    )


def plan(thread: PreviewThread, *, library: TemplateLibrary, config: Config, now: datetime) -> list[PlannedTouch]:
    """The remaining follow-ups with the configured cadence and identity, and the drafter's seed (:func:`touch_id`)."""
    return plan_touches(thread, library=library, cadence=config.cadence, tz=config.identity.timezone,
                        user_name=config.identity.name, signature=config.identity.signature, now=now,
                        touch_seed=touch_id)


def _draft_text(touch: st.Touch) -> tuple[str, str]:
    """Subject and plain-text body of the draft as followupd made it (the user may have edited it since)."""
    if not touch.raw:
        return touch.subject, ""
    message = email.message_from_bytes(touch.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    return touch.subject or str(message.get("Subject", "")), str(body).replace("\r\n", "\n")
