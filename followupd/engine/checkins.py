"""Check-in and roll-up drafts for meeting recaps, planned exactly once like every follow-up.

A check-in goes to one owner only, in the recap's thread, and lists only that owner's open items with their
dates; a roll-up goes to everyone on the recap and lists every item with its owner, date and state. Both are
ordinary touches (:class:`~followupd.adapters.store.Touch`): the same deterministic id and Message-ID, the same
"record the intent, then APPEND once" path to Drafts, the same review, approve and send. What differs is only
who gets them and when (:func:`followupd.engine.schedule.recap_plan`).

Per-person spacing holds across everything followupd writes: an owner who got a follow-up from another thread
yesterday waits a day more, and the roll-up waits until nobody on it was nudged within the spacing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.compose.choice import choose_variant
from followupd.compose.library import TemplateLibrary
from followupd.compose.message import build_draft, draft_message_id
from followupd.compose.render import ActionItem as ItemForTemplate
from followupd.compose.render import RenderContext, Rendered, render
from followupd.compose.variant import ACTIONS_FOLDER, ROLLUP_STAGE
from followupd.config import Config
from followupd.engine.drafts_sync import DraftReport
from followupd.engine.names import named_recipients
from followupd.engine.schedule import item_views, recap_plan, template_usage, touch_id, touch_set
from followupd.errors import TemplateError
from followupd.mail.headers import Address
from followupd.planning import lifecycle
from followupd.planning.cadence import respect_person_spacing
from followupd.planning.checkins import OwnerCheckin, next_checkin
from followupd.planning.lifecycle import items as item_states

logger = logging.getLogger("followupd.engine.drafts")


class RecapDrafter:
    """Plans the due check-ins and roll-up of one recap thread inside the cycle's transaction."""

    def __init__(self, config: Config, library: TemplateLibrary) -> None:
        self.config = config
        self.library = library
        self.tz = config.identity.timezone

    def plan(self, session: Session, thread: st.Thread, now: datetime, report: DraftReport,
             nudges: dict[str, set[date]]) -> None:
        if thread.snoozed_until is not None and now < thread.snoozed_until:
            return
        plan = recap_plan(thread, self.config)
        for checkin in plan.checkins:
            if checkin.at > now:
                continue
            owner = checkin.owner
            if self._spaced(now, [owner], nudges) > now:
                logger.info("%s: check-in with %s waits a day so nobody is nudged on consecutive days",
                            thread.id, owner)
                continue
            if self._checkin(session, thread, checkin, now, report) is not None:
                nudges.setdefault(owner, set()).add(now.astimezone(self.tz).date())
        if plan.rollup_at is not None and plan.rollup_at <= now:
            everyone = [entry["email"] for entry in self._rollup_recipients(thread)[0]]
            if everyone and self._spaced(now, everyone, nudges) <= now \
                    and self._rollup(session, thread, now, report) is not None:
                for person in everyone:
                    nudges.setdefault(person, set()).add(now.astimezone(self.tz).date())

    # ------------------------------------------------------------------------------------------------ helpers
    def _spaced(self, now: datetime, people: Sequence[str], nudges: dict[str, set[date]]) -> datetime:
        others: set[date] = set()
        for person in people:
            others |= nudges.get(person, set())
        return respect_person_spacing(now, others, self.config.cadence, self.tz) if others else now

    def _rollup_recipients(self, thread: st.Thread) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        failed = set(thread.failed_recipients or ())
        to = [entry for entry in thread.to if entry["email"] not in failed]
        cc = [entry for entry in thread.cc if entry["email"] not in failed]
        return (to, cc) if to else (cc, [])

    def _items_for_template(self, rows: Sequence[st.ActionItem]) -> tuple[ItemForTemplate, ...]:
        return tuple(ItemForTemplate(task=row.task, due=row.due, owner=Address(row.owner_email or "", row.owner_name),
                                     state=row.state) for row in rows)

    def _checkin(self, session: Session, thread: st.Thread, checkin: OwnerCheckin, now: datetime,
                 report: DraftReport) -> st.Touch | None:
        mine = [item for item in thread.item_rows if item.owner_email == checkin.owner and item_states.is_open(item)]
        if not mine:
            return None
        name = next((item.owner_name for item in mine if item.owner_name), "")
        owner = named_recipients(session, (Address(checkin.owner, name),))[0]
        stage = f"{ACTIONS_FOLDER}/{checkin.stage}"
        dates = ", ".join(f"{item.task[:40]} ({item.due.isoformat() if item.due else 'no date'})" for item in mine)
        reason = f"check-in {checkin.number} with {checkin.owner} about {len(mine)} open item(s): {dates}"
        return self._make(session, thread, now, report, stage=stage, to=(Address(checkin.owner, name),),
                          cc=(), greeted=(owner,), owner=owner, items=self._items_for_template(mine),
                          number_for_template=checkin.number, reason=reason,
                          seen_by=[checkin.owner])

    def _rollup(self, session: Session, thread: st.Thread, now: datetime, report: DraftReport) -> st.Touch | None:
        to, cc = self._rollup_recipients(thread)
        to_addresses = tuple(Address(e["email"], e.get("name", "")) for e in to)
        cc_addresses = tuple(Address(e["email"], e.get("name", "")) for e in cc)
        rollups = sum(1 for touch in thread.touch_rows if touch_set(touch.template) == "rollup"
                      and touch.state != st.TOUCH_WITHDRAWN)
        open_count = sum(1 for item in thread.item_rows if item_states.is_open(item))
        reason = f"roll-up {rollups + 1} to everyone: {open_count} of {len(thread.item_rows)} item(s) still open"
        return self._make(session, thread, now, report, stage=ROLLUP_STAGE, to=to_addresses, cc=cc_addresses,
                          greeted=named_recipients(session, to_addresses), owner=None,
                          items=self._items_for_template(thread.item_rows), number_for_template=rollups + 1,
                          reason=reason, seen_by=[a.email for a in (*to_addresses, *cc_addresses)])

    def _make(self, session: Session, thread: st.Thread, now: datetime, report: DraftReport, *, stage: str,
              to: tuple[Address, ...], cc: tuple[Address, ...], greeted: tuple[Address, ...],
              owner: Address | None, items: tuple[ItemForTemplate, ...], number_for_template: int, reason: str,
              seen_by: Sequence[str]) -> st.Touch | None:
        number = max((t.number for t in thread.touch_rows), default=0) + 1
        tid = touch_id(thread.id, number)
        try:
            rendered = self.render(session, thread, now, tid, stage=stage, cc=cc, greeted=greeted, owner=owner,
                                   items=items, number_for_template=number_for_template, seen_by=seen_by)
        except TemplateError as exc:
            logger.error("%s: draft skipped: %s", thread.id, exc)
            report.errors.append(f"{thread.id}: {exc}")
            return None
        domain = (thread.from_email.rpartition("@")[2] or "followupd.invalid").lower()
        message_id = draft_message_id(thread.id, number, domain)
        raw = build_draft(
            rendered=rendered, from_=Address(thread.from_email, thread.from_name or self.config.identity.name),
            to=to, cc=cc, in_reply_to=thread.message_id, references=[*thread.references, thread.message_id],
            message_id=message_id, date=now, exclude=(*self.config.identity.addresses, thread.tracking_address),
        )
        touch = st.Touch(id=tid, thread_id=thread.id, number=number, template=rendered.template,
                         message_id=message_id, subject=rendered.subject,
                         to=[{"email": a.email, "name": a.name} for a in to], due_at=thread.next_due, created=now,
                         raw=raw, reason=reason)
        lifecycle.plan_touch(touch)
        thread.touch_rows.append(touch)
        st.add_event(session, thread, at=now, kind="draft_planned", message_id=message_id,
                     detail=f"{reason}; from {rendered.template}")
        report.drafted.append(tid)
        session.flush()
        return touch

    def render(self, session: Session, thread: st.Thread, now: datetime, seed: str, *, stage: str,
               cc: tuple[Address, ...], greeted: tuple[Address, ...], owner: Address | None,
               items: tuple[ItemForTemplate, ...], number_for_template: int, seen_by: Sequence[str]) -> Rendered:
        """The note as the drafter writes it (``seed``: the touch id it will have); TemplateError when no
        template is left for the stage or one fails to render."""
        library = self.library.for_message(thread.subject)
        used_in_thread = {t.template for t in thread.touch_rows if t.template}
        # Never the same wording twice to one person; several owners of one recap may share a wording (four
        # check-in notes, five owners), each still reads it once.
        used_by_them = {t.template for t in thread.touch_rows if t.template
                        and {e.get("email") for e in t.to} & set(seen_by)}
        usage = template_usage(session)
        variant = (choose_variant(library, stage, used_in_thread=used_in_thread, usage=usage, seed=seed)
                   or choose_variant(library, stage, used_in_thread=used_by_them, usage=usage, seed=seed))
        if variant is None:
            raise TemplateError(f"no unused template left for {stage!r}; add variants to the templates")
        ctx = RenderContext(
            recipients=greeted, cc=cc, original_subject=thread.subject, sent_at=thread.sent_at, now=now, tz=self.tz,
            touch_number=number_for_template, total_touches=len(self.config.cadence.gaps), promised=None,
            user_name=self.config.identity.name, signature=self.config.identity.signature,
            note=thread.note or None, items=items, owner=owner,
        )
        return render(variant, ctx)

    # ---------------------------------------------------------------------------------------------- preview
    def preview(self, session: Session, thread: st.Thread, now: datetime) -> RecapPreview:
        """What is planned for the recap if nobody answers: each owner's remaining check-in dates (the next one
        written out) and the next roll-up; nothing is stored."""
        plan = recap_plan(thread, self.config)
        number = max((t.number for t in thread.touch_rows), default=0) + 1
        owners: list[OwnerPreview] = []
        for checkin in plan.checkins:
            mine = [item for item in thread.item_rows if item.owner_email == checkin.owner
                    and item_states.is_open(item)]
            name = next((item.owner_name for item in mine if item.owner_name), "")
            owner = named_recipients(session, (Address(checkin.owner, name),))[0]
            later = self._later_checkins(thread, checkin)
            try:
                rendered: Rendered | None = self.render(
                    session, thread, max(now, checkin.at), touch_id(thread.id, number),
                    stage=f"{ACTIONS_FOLDER}/{checkin.stage}", cc=(), greeted=(owner,), owner=owner,
                    items=self._items_for_template(mine), number_for_template=checkin.number,
                    seen_by=[checkin.owner])
                problem = None
            except TemplateError as exc:
                rendered, problem = None, str(exc)
            owners.append(OwnerPreview(owner=owner, checkins=(checkin, *later), item_ids=tuple(i.id for i in mine),
                                       rendered=rendered, problem=problem))
            number += 1
        return RecapPreview(owners=tuple(owners), rollup_at=plan.rollup_at)

    def _later_checkins(self, thread: st.Thread, first: OwnerCheckin) -> list[OwnerCheckin]:
        """The owner's check-ins after ``first`` if they never answer, by the same planner."""
        views = item_views(thread)
        done = [touch.created for touch in thread.touch_rows if touch_set(touch.template) == "checkin" and touch.to
                and touch.to[0].get("email") == first.owner and touch.state != st.TOUCH_WITHDRAWN]
        later: list[OwnerCheckin] = []
        at = first
        while True:
            done = [*done, at.at]
            following = next_checkin(first.owner, views, sent_at=thread.sent_at, done_checkins=done,
                                     settings=self.config.actions, cadence=self.config.cadence, tz=self.tz)
            if following is None:
                return later
            later.append(following)
            at = following


@dataclass(frozen=True)
class OwnerPreview:
    """One owner's planned check-ins (dates), their open items, and the next check-in as it would read."""

    owner: Address
    checkins: tuple[OwnerCheckin, ...]
    item_ids: tuple[str, ...]
    rendered: Rendered | None
    problem: str | None


@dataclass(frozen=True)
class RecapPreview:
    owners: tuple[OwnerPreview, ...]
    rollup_at: datetime | None
