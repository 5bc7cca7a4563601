"""The follow-ups a thread will get, laid out from plain values: each touch's date, stage, template and text.

``followupd preview`` shows this. What a tracked thread knows is read from the store elsewhere
(:mod:`followupd.engine.preview`); here a :class:`PreviewThread` holds it as plain values, so the plan is the
same code whether the thread is a sample message sent now or a real one. It uses what the drafter will use
(the recipients, subject, send date, promised date and note, the templates already used in the thread and those
its people saw elsewhere, the same per-touch seed, the stored next due time) and cannot know the future (a
later draft may be skipped, a person may get another thread's follow-up first), so it shows what happens if
each follow-up is sent when it appears.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.library import TemplateLibrary
from followupd.compose.render import RenderContext, Rendered, render
from followupd.errors import TemplateError
from followupd.mail.headers import Address
from followupd.planning.cadence import CadenceSettings, due_time
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
    """What the preview needs to know about a thread; :func:`sample_thread` and
    :func:`followupd.engine.preview.from_store` make one."""

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


def plan_touches(thread: PreviewThread, *, library: TemplateLibrary, cadence: CadenceSettings, tz: ZoneInfo,
                 user_name: str, signature: str, now: datetime,
                 touch_seed: Callable[[str, int], str]) -> list[PlannedTouch]:
    """The remaining follow-ups, assuming each is sent when it appears (an open draft: sent now).

    ``tz`` is the user's zone; ``touch_seed`` (thread id, touch number) is the seed the drafter gives
    :func:`~followupd.compose.choice.choose_variant`, passed in so the preview picks what the drafter will.
    """
    # The drafter's zone for send hours: the recipient's learned clock ([cadence] recipient_time), else the user's.
    due_tz = zone_for(thread.recipient_clock[1]) if thread.recipient_clock is not None else tz
    total = len(cadence.gaps)
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
                                   promised=thread.promised, settings=cadence, tz=due_tz, seed=thread.id)
        if due is None:
            break
        stage = stage_for_touch(done + 1, total, templates.stages())
        variant = choose_variant(templates, stage, used_in_thread=used,
                                 recently_used_with_person=thread.recently_used_with_people,
                                 usage=usage, seed=touch_seed(thread.id, number))
        if variant is None:
            planned.append(PlannedTouch(done + 1, total, due, stage, "-", None,
                                        f"no unused template left for stage {stage!r}; add variants"))
        else:
            ctx = RenderContext(recipients=thread.recipients, cc=thread.cc, original_subject=thread.subject,
                                sent_at=thread.sent_at, now=due, tz=tz, touch_number=done + 1, total_touches=total,
                                promised=thread.promised, user_name=user_name, signature=signature,
                                note=thread.note)
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
