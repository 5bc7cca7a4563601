"""Which stage a touch uses and which variant of it a thread gets.

Choices made here (and why):

* A library needs at least one variant in any stage. Missing stages fall back to the nearest stage that
  exists (:func:`stage_for_touch`), so a user may keep a single folder; ``final`` is only a last resort for a
  non-final touch because its variants ask "should I stop?", which reads oddly halfway through a cadence.
* A single-touch cadence uses ``final``: the only follow-up is also the last, and the last one asks whether to
  stop.
* The choice is deterministic given its inputs, so a restart after a crash picks the same variant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime

from followupd.compose.library import TemplateLibrary
from followupd.compose.variant import SET_STAGES, STAGES, TemplateVariant


def stage_for_touch(touch_number: int, total_touches: int, available: Sequence[str]) -> str:
    """Which stage a touch uses: last -> final, 1 -> first, 2 -> middle, others -> later (1-based).

    The last touch wins over the others, so a one-touch cadence uses "final". When the ideal stage is missing,
    the nearest available one is used (ties go to the gentler, earlier stage).
    """
    if total_touches < 1 or not 1 <= touch_number <= total_touches:
        raise ValueError(f"touch {touch_number} of {total_touches} is not a valid touch")
    return _stage_preference(_ideal_stage(touch_number, total_touches), available)[0]


def _ideal_stage(touch_number: int, total_touches: int) -> str:
    if touch_number == total_touches:
        return "final"
    if touch_number == 1:
        return "first"
    if touch_number == 2:
        return "middle"
    return "later"


def _stage_preference(ideal: str, available: Iterable[str]) -> list[str]:
    """Available stages, best substitute first: nearest, earlier on ties, "final" last unless it is ideal."""
    if ideal not in STAGES:
        raise ValueError(f"unknown stage {ideal!r}; expected one of {', '.join(STAGES)}")
    offered = set(available)
    known = [stage for stage in STAGES if stage in offered]
    if not known:
        raise ValueError("no template stage is available")
    target = STAGES.index(ideal)

    def rank(stage: str) -> tuple[bool, int, int]:
        index = STAGES.index(stage)
        return (stage == "final" and ideal != "final", abs(index - target), index)

    return sorted(known, key=rank)


def choose_variant(
    library: TemplateLibrary,
    stage: str,
    *,
    used_in_thread: Collection[str],
    recently_used_with_person: Collection[str] = (),
    usage: Mapping[str, datetime] | None = None,
    seed: str,
) -> TemplateVariant | None:
    """Pick a variant never used in this thread, preferring ones this person has not seen lately.

    Among the remaining candidates: with ``usage`` (variant key -> when it was last used, in any thread) the
    least recently used one, never-used first, so the whole library takes turns; ties (and every choice
    without ``usage``) go to rendezvous hashing with sha256 of ``seed``. Deterministic given its inputs:
    re-running after a crash picks the same variant, and adding a template file does not reshuffle the choice
    for other threads. Falls back through the other stages in :func:`stage_for_touch` order, except that
    ``later`` and ``final`` never borrow ``first`` wording (it reads stale after touch 2); None when no
    variant is left. An unknown ``stage`` is a ValueError. A commitment or action-item stage
    (:data:`SET_STAGES`) never falls back to another stage, and no follow-up stage ever falls back to one.
    """
    last_used = usage or {}

    def rank(variant: TemplateVariant) -> tuple[bool, float, int]:
        when = last_used.get(variant.key)
        return (when is not None, when.timestamp() if when is not None else 0.0,
                -int.from_bytes(_weight(seed, variant.key), "big"))

    stages = [stage] if stage in SET_STAGES else _stage_preference(stage, library.stages())
    if stage in _NO_FIRST_WORDING:
        stages = [found for found in stages if found != "first"]
    for candidate_stage in stages:
        fresh = [v for v in library.variants(candidate_stage) if v.key not in used_in_thread]
        if not fresh:
            continue
        unseen = [v for v in fresh if v.key not in recently_used_with_person]
        return min(unseen or fresh, key=rank)
    return None


#: Stages whose touches come after the second: first-touch wording ("did my message reach you?") reads stale
#: there, so they never borrow from ``first`` when their own variants (and ``middle``) are used up.
_NO_FIRST_WORDING = frozenset({"later", "final"})


def _weight(seed: str, key: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
