"""``followupd preview``: the follow-ups a thread will get, each with its date and full text.

For a message sent now (a sample recipient) or for a tracked thread, where it uses what the drafter will use:
the recipients, subject, send date, promised date and note, the templates already used in the thread and
those its people saw elsewhere, the same per-touch seed, and the stored next due time. It cannot know the
future (a later draft may be skipped, a person may get another thread's follow-up first), so it shows what
happens if each follow-up is sent when it appears.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage

from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.library import TemplateLibrary
from followupd.compose.render import RenderContext, Rendered, render
from followupd.config import Config
from followupd.engine.drafts import open_touch, recipient_offset, template_usage, templates_seen_by_people, touch_id
from followupd.errors import TemplateError
from followupd.mail.headers import Address
from followupd.planning.cadence import due_time
from followupd.planning.recipient_clock import zone_for

SAMPLE_RECIPIENT = Address("sam@example.com", "Sam Taylor")
SAMPLE_SUBJECT = "Project proposal"


@dataclass(frozen=True)
class PendingDraft:
    """A follow-up already made for the thread and not yet sent (in Drafts, or approved and sending)."""

    number: int
    template: str
    due: datetime
    subject: str
    body: str
    state: str


@dataclass(frozen=True)
class PreviewThread:
    """What the preview needs to know about a thread; :func:`sample_thread` and :func:`from_store` make one."""

    id: str
    recipients: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    sent_at: datetime
    promised: date | None = None
    note: str | None = None
    steps_done: int = 0
    last_touch_at: datetime | None = None
    next_due: datetime | None = None
    used_templates: tuple[str, ...] = ()
    next_touch_number: int = 1
    recently_used_with_people: frozenset[str] = field(default_factory=frozenset)
    template_usage: Mapping[str, datetime] = field(default_factory=dict)  # variant -> last used, any thread
    pending: PendingDraft | None = None
    # [cadence] recipient_time: the recipient's learned clock (address, UTC offset in minutes), if known
    recipient_clock: tuple[str, int] | None = None


@dataclass(frozen=True)
class PlannedTouch:
    """One follow-up of the preview; ``rendered`` is None when ``problem`` says why it would fail."""

    number: int
    total: int
    due: datetime
    stage: str
    template: str
    rendered: Rendered | None
    problem: str | None = None
    pending_state: str | None = None


def sample_thread(now: datetime, promised: date | None) -> PreviewThread:
    """A message to one named person, sent now, with an optional promised date (``--suffix``)."""
    return PreviewThread(id="preview", recipients=(SAMPLE_RECIPIENT,), cc=(), subject=SAMPLE_SUBJECT, sent_at=now,
                         promised=promised)


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
    return PreviewThread(
        id=thread.id, recipients=to or cc or bcc, cc=cc if to else (), subject=thread.subject,
        sent_at=thread.sent_at, promised=thread.promised, note=thread.note or None, steps_done=thread.steps,
        last_touch_at=thread.last_touch_at, next_due=thread.next_due,
        used_templates=tuple(t.template for t in thread.touch_rows if t.template),
        next_touch_number=max((t.number for t in thread.touch_rows), default=0) + 1,
        recently_used_with_people=frozenset(templates_seen_by_people(session, thread)), pending=pending,
        template_usage=template_usage(session),
        recipient_clock=recipient_offset(thread, config) if config is not None else None,
    )


def plan(thread: PreviewThread, *, library: TemplateLibrary, config: Config, now: datetime) -> list[PlannedTouch]:
    """The remaining follow-ups, assuming each is sent when it appears (an open draft: sent now)."""
    tz = config.identity.timezone
    # The drafter's zone for send hours: the recipient's learned clock ([cadence] recipient_time), else the user's.
    due_tz = zone_for(thread.recipient_clock[1]) if thread.recipient_clock is not None else tz
    total = len(config.cadence.gaps)
    templates = library.for_message(thread.subject)
    used = list(thread.used_templates)
    usage = dict(thread.template_usage)
    planned: list[PlannedTouch] = []
    done, last, number, next_due = thread.steps_done, thread.last_touch_at, thread.next_touch_number, thread.next_due
    if thread.pending is not None:
        draft = thread.pending
        planned.append(PlannedTouch(
            number=done + 1, total=total, due=draft.due, stage=_stage_of(draft.template), template=draft.template,
            rendered=Rendered(subject=draft.subject, body=draft.body, template=draft.template),
            pending_state=draft.state))
        done, last, next_due = done + 1, max(now, draft.due), None
    while done < total:
        due = next_due or due_time(sent_at=thread.sent_at, last_touch_at=last, touches_done=done,
                                   promised=thread.promised, settings=config.cadence, tz=due_tz, seed=thread.id)
        if due is None:
            break
        stage = stage_for_touch(done + 1, total, templates.stages())
        variant = choose_variant(templates, stage, used_in_thread=used,
                                 recently_used_with_person=thread.recently_used_with_people,
                                 usage=usage, seed=touch_id(thread.id, number))
        if variant is None:
            planned.append(PlannedTouch(done + 1, total, due, stage, "-", None,
                                        f"no unused template left for stage {stage!r}; add variants"))
        else:
            ctx = RenderContext(recipients=thread.recipients, cc=thread.cc, original_subject=thread.subject,
                                sent_at=thread.sent_at, now=due, tz=tz, touch_number=done + 1, total_touches=total,
                                promised=thread.promised, user_name=config.identity.name,
                                signature=config.identity.signature, note=thread.note)
            try:
                planned.append(PlannedTouch(done + 1, total, due, variant.stage, variant.key, render(variant, ctx)))
            except TemplateError as exc:
                planned.append(PlannedTouch(done + 1, total, due, variant.stage, variant.key, None, str(exc)))
            used.append(variant.key)
            usage[variant.key] = due  # the drafter will have seen it used by then
        done, last, number, next_due = done + 1, due, number + 1, None
    return planned


def _stage_of(key: str) -> str:
    parts = key.split("/")
    return parts[-2] if len(parts) >= 2 else "-"


def _draft_text(touch: st.Touch) -> tuple[str, str]:
    """Subject and plain-text body of the draft as followupd made it (the user may have edited it since)."""
    if not touch.raw:
        return touch.subject, ""
    message = email.message_from_bytes(touch.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("plain",))
    body = part.get_content() if part is not None else ""
    return touch.subject or str(message.get("Subject", "")), str(body).replace("\r\n", "\n")
