"""One owner of thread state (issue 12 point 2): followupd.planning.lifecycle, and nothing else, changes a state.

The rule is read from the source with ``ast``: any other module assigning ``.state`` (or ``.state_reason``,
``.state_changed_at``), passing ``state=`` to a Thread, Touch or Reminder, or to a bulk ``.values()``, fails
with the file and line. The transitions themselves are tested here on plain records, no database, no server:
what a user would notice (a reply closes the thread and withdraws its draft; an out-of-office does not close
it; a bounce from everyone fails it; ...).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from followupd.planning import lifecycle
from followupd.planning.lifecycle import ReminderState, ThreadKind, ThreadState, TouchState

PACKAGE = Path(__file__).resolve().parent.parent / "followupd"
OWNER = PACKAGE / "planning" / "lifecycle"  # the package: threads, touches, reminders; items.py: action items
STATE_ATTRIBUTES = frozenset({"state", "state_reason", "state_changed_at"})
RECORDS = frozenset({"Thread", "Touch", "Reminder"})  # not ActionItem: compose has a view of that name


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        found: list[ast.expr] = []
        for target in node.targets:
            found.extend(_flatten(target))
        return found
    if isinstance(node, (ast.AugAssign, ast.AnnAssign)):
        return _flatten(node.target)
    return []


def _flatten(target: ast.expr) -> list[ast.expr]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [leaf for element in target.elts for leaf in _flatten(element)]
    return [target]


def state_writes(source: str, filename: str) -> list[str]:
    """Every place in ``source`` that writes a state, as "file:line: what"."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        for target in _targets(node):
            if isinstance(target, ast.Attribute) and target.attr in STATE_ATTRIBUTES:
                found.append(f"{filename}:{node.lineno}: assigns .{target.attr}")
        if not isinstance(node, ast.Call):
            continue
        name = _callee(node)
        if name == "setattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and node.args[1].value in STATE_ATTRIBUTES:
            found.append(f"{filename}:{node.lineno}: setattr(..., {node.args[1].value!r})")
        if name in RECORDS or name == "values":
            for keyword in node.keywords:
                if keyword.arg in STATE_ATTRIBUTES:
                    found.append(f"{filename}:{node.lineno}: {name}({keyword.arg}=...)")
    return found


def test_only_the_lifecycle_module_changes_a_state() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if OWNER in path.parents:
            continue
        offenders += state_writes(path.read_text(encoding="utf-8"), str(path.relative_to(PACKAGE.parent)))
    assert offenders == [], "states change in followupd/planning/lifecycle/ only:\n" + "\n".join(offenders)


def test_the_lifecycle_module_is_where_the_states_change() -> None:
    """The scan must see the writes it forbids elsewhere: run on the owner itself, it finds plenty."""
    assert len(state_writes((OWNER / "__init__.py").read_text(encoding="utf-8"), "lifecycle/__init__.py")) > 10
    assert len(state_writes((OWNER / "items.py").read_text(encoding="utf-8"), "lifecycle/items.py")) >= 3


@pytest.mark.parametrize("line", [
    "thread.state = 'replied'",
    "touch.state, touch.done_at = TOUCH_SENT, now",
    "thread.state_reason += 'x'",
    "setattr(thread, 'state', 'failed')",
    "st.Touch(id='a', state=st.TOUCH_PLANNED)",
    "Reminder(state='planned')",
    "session.execute(update(st.Thread).values(state='stopped'))",
])
def test_the_scan_catches_each_way_of_writing_a_state(line: str) -> None:
    assert state_writes(line, "example.py"), line


@pytest.mark.parametrize("line", ["if thread.state == 'waiting': pass", "x = thread.state",
                                  "Preview(state=touch.state)", "health = Health(state)"])
def test_the_scan_leaves_reading_a_state_alone(line: str) -> None:
    assert state_writes(line, "example.py") == []


def test_the_database_keeps_the_same_strings() -> None:
    assert [s.value for s in ThreadState] == ["waiting", "replied", "unanswered", "stopped", "failed", "declined"]
    assert [s.value for s in TouchState] == ["planned", "queued", "sent", "skipped", "withdrawn", "sending",
                                             "failed"]
    assert [s.value for s in ReminderState] == ["planned", "delivered", "withdrawn"]
    assert [k.value for k in ThreadKind] == ["nudge", "commitment", "actions"]
    from followupd.adapters import store as st

    assert (st.WAITING, st.TOUCH_SENDING, st.REMINDER_DELIVERED, st.COMMITMENT) == \
        ("waiting", "sending", "delivered", "commitment")


# ------------------------------------------------------------------------------------------------ transitions
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class FakeTouch:
    id: str = "abc-001"
    state: str = TouchState.QUEUED
    done_at: datetime | None = None
    outcome: str = ""
    cleanup_pending: bool = False
    sent_by_followupd: bool = False
    sent_copy_pending: bool = False
    data_started_at: datetime | None = None
    sending_started_at: datetime | None = None
    sent_raw: bytes | None = None
    message_id: str = "<d1@example.org>"
    drafted_at: datetime | None = None
    drafts_uid: int | None = None
    draft_changed_at: datetime | None = None
    approved_at: datetime | None = None
    send_now: bool = False
    send_attempts: int = 0
    retry_after: datetime | None = None
    raw: bytes | None = None


@dataclass
class FakeReminder:
    state: str = ReminderState.PLANNED
    outcome: str = ""
    delivered_at: datetime | None = None
    uid: int | None = None


@dataclass
class FakeThread:
    kind: str = ThreadKind.NUDGE
    state: str = ThreadState.WAITING
    state_reason: str = ""
    state_changed_at: datetime | None = None
    next_due: datetime | None = NOW + timedelta(days=3)
    snoozed_until: datetime | None = None
    promised: date | None = None
    touches: int = 0
    steps: int = 0
    last_touch_at: datetime | None = None
    replied_at: datetime | None = None
    replied_by: str = ""
    reply_probable: bool = False
    problems: list[str] = field(default_factory=list)
    failed_recipients: list[str] = field(default_factory=list)
    answered_by: list[str] = field(default_factory=list)
    touch_rows: list[FakeTouch] = field(default_factory=list)
    reminder_rows: list[FakeReminder] = field(default_factory=list)


def test_a_reply_closes_the_thread_and_withdraws_its_waiting_draft() -> None:
    draft = FakeTouch(state=TouchState.QUEUED)
    thread = FakeThread(touch_rows=[draft])
    assert lifecycle.replied(thread, evidence="In-Reply-To", by="bob@example.org", at=NOW, probable=False, now=NOW)
    assert (thread.state, thread.next_due, thread.replied_by) == (ThreadState.REPLIED, None, "bob@example.org")
    assert (draft.state, draft.cleanup_pending) == (TouchState.WITHDRAWN, True)


def test_a_reply_leaves_a_send_in_flight_to_the_recovery() -> None:
    sending = FakeTouch(state=TouchState.SENDING)
    thread = FakeThread(touch_rows=[sending])
    lifecycle.replied(thread, evidence="x", by="bob@example.org", at=NOW, probable=True, now=NOW)
    assert sending.state == TouchState.SENDING


def test_a_late_reply_to_an_unanswered_thread_still_counts_but_a_stopped_one_stays_stopped() -> None:
    late = FakeThread(state=ThreadState.UNANSWERED)
    assert lifecycle.replied(late, evidence="x", by="bob@example.org", at=NOW, probable=False, now=NOW)
    assert late.state == ThreadState.REPLIED
    stopped = FakeThread(state=ThreadState.STOPPED)
    assert not lifecycle.replied(stopped, evidence="x", by="bob@example.org", at=NOW, probable=False, now=NOW)
    assert stopped.state == ThreadState.STOPPED


def test_an_out_of_office_postpones_without_closing() -> None:
    draft = FakeTouch(state=TouchState.PLANNED)
    thread = FakeThread(touch_rows=[draft])
    back = NOW + timedelta(days=10)
    lifecycle.out_of_office(thread, by="bob@example.org", until=back, now=NOW)
    assert thread.state == ThreadState.WAITING
    assert thread.snoozed_until == back
    assert draft.state == TouchState.WITHDRAWN  # it would have arrived while they are away


def test_an_earlier_out_of_office_never_shortens_a_postponement() -> None:
    later = NOW + timedelta(days=20)
    thread = FakeThread(snoozed_until=later)
    lifecycle.out_of_office(thread, by="bob@example.org", until=NOW + timedelta(days=2), now=NOW)
    assert thread.snoozed_until == later


def test_a_holding_reply_keeps_waiting_and_says_why() -> None:
    thread = FakeThread()
    lifecycle.holding_reply(thread, by="bob@example.org", until=NOW + timedelta(days=7), evidence="next week",
                            now=NOW)
    assert (thread.state, thread.state_reason) == (ThreadState.WAITING, "next week")


def test_a_decline_closes_as_declined() -> None:
    thread = FakeThread(touch_rows=[FakeTouch()])
    lifecycle.declined(thread, by="bob@example.org", evidence="no, thanks", at=NOW, now=NOW)
    assert thread.state == ThreadState.DECLINED
    assert thread.state_reason == "bob@example.org: no, thanks"
    assert thread.touch_rows[0].state == TouchState.WITHDRAWN


def test_a_bounce_fails_the_thread_only_when_nobody_is_left() -> None:
    thread = FakeThread()
    people = {"bob@example.org", "ann@example.org"}
    assert not lifecycle.bounced(thread, people=people, failed=["bob@example.org"], problem="p", words="w", now=NOW)
    assert thread.state == ThreadState.WAITING
    assert lifecycle.bounced(thread, people=people, failed=["ann@example.org"], problem="p", words="w", now=NOW)
    assert thread.state == ThreadState.FAILED
    assert thread.problems == ["p"]


def test_one_answer_of_several_expected_keeps_the_thread_waiting_on_the_others() -> None:
    thread = FakeThread(touch_rows=[FakeTouch()])
    remaining = lifecycle.partly_answered(thread, sender="ann@example.org",
                                          expected={"ann@example.org", "bob@example.org"}, now=NOW)
    assert remaining == ["bob@example.org"]
    assert thread.state == ThreadState.WAITING
    assert thread.touch_rows[0].state == TouchState.WITHDRAWN  # it was addressed to Ann too
    assert lifecycle.partly_answered(thread, sender="bob@example.org",
                                     expected={"ann@example.org", "bob@example.org"}, now=NOW) == []


def test_the_users_own_follow_up_counts_one_touch_and_settles_the_draft() -> None:
    draft = FakeTouch(state=TouchState.QUEUED)
    thread = FakeThread(touch_rows=[draft])
    assert lifecycle.own_touch(thread, at=NOW)
    lifecycle.touch_found_in_sent(draft, at=NOW, ours=True)
    assert (thread.touches, thread.steps, thread.last_touch_at) == (1, 1, NOW)
    assert (draft.state, draft.outcome, draft.cleanup_pending) == (TouchState.SENT, "sent", False)
    assert not lifecycle.own_touch(FakeThread(state=ThreadState.REPLIED), at=NOW)


def test_own_words_instead_of_the_draft_remove_the_draft() -> None:
    draft = FakeTouch(state=TouchState.QUEUED)
    lifecycle.touch_found_in_sent(draft, at=NOW, ours=False)
    assert draft.outcome == "you wrote your own follow-up instead"
    assert draft.cleanup_pending


def test_an_interrupted_send_found_in_sent_is_sent_by_followupd_and_its_draft_removed() -> None:
    draft = FakeTouch(state=TouchState.SENDING)
    lifecycle.touch_found_in_sent(draft, at=NOW, ours=True)
    assert draft.state == TouchState.SENT
    assert draft.sent_by_followupd and draft.cleanup_pending
    assert draft.outcome == lifecycle.INTERRUPTED_SEND_FOUND


def test_a_kept_promise_closes_as_replied_and_drops_an_undelivered_reminder() -> None:
    reminder, delivered = FakeReminder(), FakeReminder(state=ReminderState.DELIVERED)
    thread = FakeThread(kind=ThreadKind.COMMITMENT, reminder_rows=[reminder, delivered])
    reason = lifecycle.promise_kept(thread, how="you wrote", by="me@example.org", at=NOW, now=NOW)
    assert thread.state == ThreadState.REPLIED and thread.state_reason == reason
    assert reminder.state == ReminderState.WITHDRAWN
    assert delivered.state == ReminderState.DELIVERED  # already the user's mail


def test_the_end_of_the_cadence_closes_as_unanswered_unless_a_draft_still_waits() -> None:
    waiting = FakeThread(touches=3, touch_rows=[FakeTouch(state=TouchState.QUEUED)])
    assert not lifecycle.rescheduled(waiting, None, NOW)
    assert waiting.state == ThreadState.WAITING
    done = FakeThread(touches=3)
    assert lifecycle.rescheduled(done, None, NOW)
    assert (done.state, done.state_reason) == (ThreadState.UNANSWERED, "no reply after 3 follow-up(s)")
    later = FakeThread()
    assert not lifecycle.rescheduled(later, NOW + timedelta(days=1), NOW)
    assert later.next_due == NOW + timedelta(days=1)


def test_stop_and_snooze_from_the_cli() -> None:
    thread = FakeThread(touch_rows=[FakeTouch()])
    assert lifecycle.user_snooze(thread, until=NOW + timedelta(days=5), now=NOW)
    assert thread.state == ThreadState.WAITING and thread.touch_rows[0].state == TouchState.WITHDRAWN
    assert lifecycle.user_stop(thread, now=NOW)
    assert (thread.state, thread.state_reason) == (ThreadState.STOPPED, "stopped by you")
    assert not lifecycle.user_stop(thread, now=NOW)
    assert not lifecycle.user_snooze(thread, until=NOW, now=NOW)


def test_skip_moves_the_cadence_on_for_a_nudge_but_not_for_a_promise() -> None:
    nudge, promise = FakeThread(), FakeThread(kind=ThreadKind.COMMITMENT)
    for thread in (nudge, promise):
        touch = FakeTouch()
        assert lifecycle.user_skip(touch, thread, now=NOW)
        assert (touch.state, touch.cleanup_pending) == (TouchState.SKIPPED, True)
    assert (nudge.steps, promise.steps) == (1, 0)
    assert not lifecycle.user_skip(FakeTouch(state=TouchState.SENT), nudge, now=NOW)


def test_approving_a_failed_send_queues_it_again_and_a_sent_one_is_refused() -> None:
    failed = FakeTouch(state=TouchState.FAILED, retry_after=NOW)
    assert lifecycle.approve(failed, now=NOW, send_now=True)
    assert (failed.state, failed.retry_after, failed.send_now) == (TouchState.QUEUED, None, True)
    sent = FakeTouch(state=TouchState.SENT)
    assert not lifecycle.approve(sent, now=NOW, send_now=False)
    assert sent.approved_at is None


def test_a_send_from_start_to_confirmation_counts_one_touch() -> None:
    touch, thread = FakeTouch(), FakeThread()
    lifecycle.send_started(touch, data=b"raw", message_id="<m@x>", drafts_uid=7, now=NOW)
    assert (touch.state, touch.send_attempts) == (TouchState.SENDING, 1)
    lifecycle.send_confirmed(touch, thread, file_copy=True, now=NOW)
    assert (touch.state, touch.sent_by_followupd, touch.sent_copy_pending) == (TouchState.SENT, True, True)
    assert (thread.touches, thread.steps) == (1, 1)


def test_a_refused_send_fails_and_the_thread_says_why() -> None:
    touch, thread = FakeTouch(), FakeThread()
    lifecycle.send_refused(touch, thread, words="550 no such user", now=NOW)
    assert touch.state == TouchState.FAILED
    assert thread.problems == ["follow-up abc-001 not sent: 550 no such user"]
    assert thread.state == ThreadState.WAITING


def test_a_failed_send_whose_data_began_is_withdrawn_with_a_warning() -> None:
    touch = FakeTouch(state=TouchState.FAILED, data_started_at=NOW)
    thread = FakeThread(touch_rows=[touch])
    lifecycle.user_stop(thread, now=NOW)
    assert touch.state == TouchState.WITHDRAWN
    assert "may have reached them" in touch.outcome


def test_draft_confirmations_happen_once() -> None:
    touch = FakeTouch(state=TouchState.PLANNED)
    assert lifecycle.draft_queued(touch, uid=3, now=NOW)
    assert not lifecycle.draft_queued(touch, uid=4, now=NOW)
    assert touch.drafts_uid == 3
    reminder = FakeReminder()
    assert lifecycle.reminder_delivered(reminder, uid=9, now=NOW)
    assert not lifecycle.reminder_delivered(reminder, uid=10, now=NOW)


def test_a_bcc_copy_arriving_late_upgrades_only_a_thread_nothing_was_sent_for() -> None:
    from followupd.planning.lifecycle import awaiting as awaiting_states

    draft = FakeTouch(state=TouchState.QUEUED)  # the default cadence's draft, made before the BCC'd copy came
    fresh = FakeThread(touch_rows=[draft])
    assert awaiting_states.bcc_arrived(fresh, commitment=True, promised=date(2026, 3, 6), now=NOW)
    assert (fresh.kind, fresh.promised, fresh.state) == (ThreadKind.COMMITMENT, date(2026, 3, 6), ThreadState.WAITING)
    assert draft.state == TouchState.WITHDRAWN  # it was for the old date
    followed_up = FakeThread(touches=1, steps=1)
    assert not awaiting_states.bcc_arrived(followed_up, commitment=False, promised=date(2026, 3, 6), now=NOW)
    assert followed_up.promised is None
    in_flight = FakeThread(touch_rows=[FakeTouch(state=TouchState.SENDING)])
    assert not awaiting_states.bcc_arrived(in_flight, commitment=False, promised=date(2026, 3, 6), now=NOW)
    replied = FakeThread(state=ThreadState.REPLIED)
    assert not awaiting_states.bcc_arrived(replied, commitment=False, promised=None, now=NOW)
