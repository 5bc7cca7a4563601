"""The stats (issue 15 point 2) from plain records: no database, no server; what ``followupd stats`` and the
digest show. The end-to-end check on a real Dovecot is in tests/test_e2e_stats.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from followupd.compose.bars import bar
from followupd.planning import lifecycle
from followupd.planning.stats import OWN_WORDS, StatsThread, StatsTouch, compute

START = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
SINCE = START - timedelta(days=1)
DAY = timedelta(days=1)


def touches(count: int, *, first: datetime = START, templates: tuple[str, ...] = ()) -> tuple[StatsTouch, ...]:
    """``count`` sent follow-ups, one every three days after ``first``, named ``templates`` (else touch/N)."""
    names = templates or tuple(f"touch/{n}" for n in range(1, count + 1))
    return tuple(StatsTouch(number=n, template=names[n - 1], state="sent", done_at=first + 3 * n * DAY)
                 for n in range(1, count + 1))


def replied_after(count: int, *, days: float, templates: tuple[str, ...] = ()) -> StatsThread:
    """A follow-up thread answered ``days`` after it was sent, after ``count`` follow-ups."""
    rows = touches(count, templates=templates)
    return StatsThread(kind="nudge", state="replied", sent_at=START, replied_at=START + days * DAY, touches=count,
                       last_touch_at=rows[-1].done_at if rows else None, touch_rows=rows)


def test_replies_after_0_2_and_11_touches_are_counted_by_touch_number_with_the_zeros_between() -> None:
    result = compute([replied_after(0, days=1), replied_after(2, days=7), replied_after(11, days=34)], SINCE)
    assert result.tracked == 3 and result.replied == 3 and result.reply_rate == 1.0
    assert [(row.touch, row.replied) for row in result.by_touch] == [
        (0, 1), (1, 0), (2, 1), (3, 0), (4, 0), (5, 0), (6, 0), (7, 0), (8, 0), (9, 0), (10, 0), (11, 1)]
    assert result.median_touches_to_reply == 2.0
    assert result.median_days_to_reply == 7.0


def test_by_touch_runs_to_the_most_touches_any_thread_got_even_unanswered() -> None:
    unanswered = StatsThread(kind="nudge", state="unanswered", sent_at=START, touches=4, touch_rows=touches(4))
    result = compute([replied_after(1, days=5), unanswered], SINCE)
    assert [(row.touch, row.replied) for row in result.by_touch] == [(0, 0), (1, 1), (2, 0), (3, 0), (4, 0)]
    assert result.reply_rate == 0.5


def test_a_template_that_never_works_shows_its_sends_and_no_reply() -> None:
    dud = ("first/dud", "second/good")
    threads = [replied_after(2, days=8, templates=dud), replied_after(2, days=9, templates=dud),
               StatsThread(kind="nudge", state="unanswered", sent_at=START, touches=1,
                           touch_rows=touches(1, templates=("first/dud",)))]
    by_template = {row.template: (row.sent, row.replied) for row in compute(threads, SINCE).by_template}
    assert by_template == {"first/dud": (3, 0), "second/good": (2, 2)}


def test_median_days_is_fractional_and_median_touches_averages_the_middle_two() -> None:
    result = compute([replied_after(0, days=0.5), replied_after(1, days=4), replied_after(2, days=6),
                      replied_after(3, days=10)], SINCE)
    assert result.median_days_to_reply == 5.0
    assert result.median_touches_to_reply == 1.5
    assert compute([replied_after(0, days=0.25)], SINCE).median_days_to_reply == 0.25


def test_declined_and_bounced_threads_are_tracked_but_not_replies() -> None:
    declined = StatsThread(kind="nudge", state="declined", sent_at=START, replied_at=START + 2 * DAY, touches=1,
                           touch_rows=touches(1))
    bounced = StatsThread(kind="nudge", state="failed", sent_at=START)
    result = compute([replied_after(0, days=1), declined, bounced], SINCE)
    assert (result.tracked, result.replied, result.declined, result.bounced) == (3, 1, 1, 1)
    assert result.reply_rate == round(1 / 3, 4)
    assert result.median_days_to_reply == 1.0  # the decline's answer is not a reply's
    assert {row.template: row.replied for row in result.by_template} == {"touch/1": 0}


def test_no_data_gives_zeros_and_nulls() -> None:
    result = compute([], SINCE)
    assert result.as_json() == {"tracked": 0, "replied": 0, "reply_rate": 0.0, "by_touch": [], "by_template": [],
                                "median_days_to_reply": None, "median_touches_to_reply": None, "declined": 0,
                                "bounced": 0}
    waiting = compute([StatsThread(kind="nudge", state="waiting", sent_at=START)], SINCE)
    assert waiting.tracked == 1 and waiting.reply_rate == 0.0 and waiting.median_touches_to_reply is None
    assert [(row.touch, row.replied) for row in waiting.by_touch] == [(0, 0)]


def test_only_threads_sent_at_or_after_the_cutoff_count() -> None:
    old = StatsThread(kind="nudge", state="replied", sent_at=SINCE - timedelta(seconds=1), replied_at=START,
                      touches=3, touch_rows=touches(3))
    on_the_cutoff = StatsThread(kind="nudge", state="failed", sent_at=SINCE)
    result = compute([old, on_the_cutoff, replied_after(0, days=1)], SINCE)
    assert (result.tracked, result.replied, result.bounced) == (2, 1, 1)
    assert [row.touch for row in result.by_touch] == [0] and result.by_template == ()
    with pytest.raises(ValueError, match="timezone-aware"):
        compute([], datetime(2026, 9, 1))


def test_own_promises_and_meeting_recaps_are_not_counted() -> None:
    promise = StatsThread(kind="commitment", state="replied", sent_at=START, replied_at=START + DAY)
    recap = StatsThread(kind="actions", state="replied", sent_at=START, replied_at=START + DAY, touches=2,
                        touch_rows=touches(2, templates=("checkin/a", "checkin/b")))
    result = compute([promise, recap, replied_after(1, days=4)], SINCE)
    assert (result.tracked, result.replied) == (1, 1)
    assert [row.template for row in result.by_template] == ["touch/1"]


def test_only_sent_follow_ups_in_a_templates_words_count_for_it() -> None:
    rows = (StatsTouch(1, "first/a", "sent", START + 3 * DAY),
            StatsTouch(2, "second/b", "skipped", START + 6 * DAY),
            StatsTouch(3, "second/c", "sent", START + 9 * DAY, outcome=OWN_WORDS),
            StatsTouch(4, "third/d", "withdrawn", START + 12 * DAY))
    thread = StatsThread(kind="nudge", state="replied", sent_at=START, replied_at=START + 11 * DAY, touches=2,
                         last_touch_at=START + 9 * DAY, touch_rows=rows)
    result = compute([thread], SINCE)
    # They answered the user's own words, not a template: first/a went out, and was not what they answered.
    assert [(row.template, row.sent, row.replied) for row in result.by_template] == [("first/a", 1, 0)]
    assert [(row.touch, row.replied) for row in result.by_touch] == [(0, 0), (1, 0), (2, 1)]


def test_a_reply_after_a_hand_written_nudge_credits_no_template() -> None:
    rows = touches(1, templates=("first/a",))
    by_hand = StatsThread(kind="nudge", state="replied", sent_at=START, replied_at=START + 10 * DAY, touches=2,
                          last_touch_at=START + 8 * DAY, touch_rows=rows)  # the 2nd touch has no follow-up row
    assert [(row.template, row.sent, row.replied) for row in compute([by_hand], SINCE).by_template] == [
        ("first/a", 1, 0)]
    templated = StatsThread(kind="nudge", state="replied", sent_at=START, replied_at=START + 10 * DAY, touches=1,
                            last_touch_at=rows[0].done_at, touch_rows=rows)
    assert [(row.template, row.sent, row.replied) for row in compute([templated], SINCE).by_template] == [
        ("first/a", 1, 1)]


def test_own_words_is_the_outcome_the_lifecycle_gives_a_follow_up_the_user_rewrote() -> None:
    touch = SimpleNamespace(state="queued", done_at=None, outcome="", cleanup_pending=False, sent_by_followupd=False)
    lifecycle.touch_found_in_sent(touch, at=START, ours=False)  # type: ignore[arg-type]
    assert touch.state == "sent" and touch.outcome == OWN_WORDS


def test_bars_use_eighths_never_hide_a_small_value_and_draw_nothing_for_nothing() -> None:
    assert bar(4, 4, 20) == "█" * 20
    assert bar(1, 2, 20) == "█" * 10
    assert bar(3, 40, 20) == "█▌"  # 1.5 cells
    assert bar(4, 40, 20) == "██"
    assert bar(1, 1000, 20) == "▏"  # a few never looks like none
    assert bar(0, 5, 20) == "" and bar(3, 0, 20) == ""
    assert bar(9, 4, 10) == "█" * 10  # never longer than its width
    assert all(len(bar(n, 11, 12)) <= 12 for n in range(12))
    with pytest.raises(ValueError):
        bar(1, 1, 0)
