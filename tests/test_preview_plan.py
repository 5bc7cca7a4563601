"""The preview's plan from plain values (followupd.compose.preview): no database, no config, no server.

The end-to-end preview tests (test_templates.py, test_e2e_drafts.py) hold the command's output; these hold the
pure plan itself: one touch per gap, in order, each from an unused template, with the drafter's seed, and an
open draft shown first as it is.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.preview import PendingDraft, plan_touches, sample_thread
from followupd.planning.cadence import CadenceSettings

SENT_AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def library() -> TemplateLibrary:
    return TemplateLibrary.load(builtin_templates_dir())


def test_a_sample_message_gets_one_touch_per_gap_in_order_from_unused_templates(library: TemplateLibrary) -> None:
    cadence = CadenceSettings()
    seen: list[tuple[str, int]] = []

    def seed(thread_id: str, number: int) -> str:
        seen.append((thread_id, number))
        return f"{thread_id}-{number}"

    planned = plan_touches(sample_thread(SENT_AT, None), library=library, cadence=cadence, tz=TZ,
                           user_name="Alex Example", signature="Alex", now=SENT_AT, touch_seed=seed)
    assert [touch.number for touch in planned] == list(range(1, len(cadence.gaps) + 1))
    assert all(touch.total == len(cadence.gaps) for touch in planned)
    dues = [touch.due for touch in planned]
    assert dues == sorted(dues) and len(set(dues)) == len(dues) and dues[0] > SENT_AT
    assert len({touch.template for touch in planned}) == len(planned)
    assert planned[-1].stage == "final" and planned[0].stage == "first"
    assert all(touch.rendered is not None and touch.problem is None for touch in planned)
    assert all("Sam" in touch.rendered.body for touch in planned if touch.rendered is not None)
    assert seen == [("preview", number) for number in range(1, len(cadence.gaps) + 1)]


def test_an_open_draft_comes_first_as_it_is_and_the_plan_goes_on_from_now(library: TemplateLibrary) -> None:
    now = SENT_AT + timedelta(days=5)
    draft = PendingDraft(number=1, template="first/anything.txt", due=now - timedelta(hours=1), subject="Re: x",
                         body="as edited\n", state="planned")
    thread = replace(sample_thread(SENT_AT, None), id="t1", pending=draft, next_touch_number=2)
    planned = plan_touches(thread, library=library, cadence=CadenceSettings(), tz=TZ, user_name="Alex",
                           signature="Alex", now=now, touch_seed=lambda thread_id, number: f"{thread_id}-{number}")
    first = planned[0]
    assert (first.number, first.stage, first.template, first.pending_state) == (1, "first", draft.template, "planned")
    assert first.rendered is not None and first.rendered.body == "as edited\n"
    assert [touch.number for touch in planned] == [1, 2, 3, 4]
    assert all(touch.due > now for touch in planned[1:])


def test_the_seed_decides_the_choice_as_it_does_for_the_drafter(library: TemplateLibrary) -> None:
    thread = sample_thread(SENT_AT, None)

    def templates(seed_prefix: str) -> list[str]:
        planned = plan_touches(thread, library=library, cadence=CadenceSettings(), tz=TZ, user_name="Alex",
                               signature="Alex", now=SENT_AT,
                               touch_seed=lambda thread_id, number: f"{seed_prefix}{thread_id}-{number}")
        return [touch.template for touch in planned]

    assert templates("a") == templates("a")
    assert any(templates("a") != templates(prefix) for prefix in "bcdefgh")
