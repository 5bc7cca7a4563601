"""Does each language's template set carry the whole cadence without borrowing? (``templates check``)

A thread never gets the same wording twice, so a stage needs a variant for every touch that uses it: with
eleven gaps, touches 3 to 10 all want ``later/``. When a stage runs out,
:func:`~followupd.compose.choice.choose_variant` borrows from a neighbouring stage ("wanted to make sure the
message reached you" as a tenth message), or the
thread gets no draft at all. This check counts, per language, what the active cadence needs against what the
library has, at run time, so it stays right whatever variants are added to the library or the user's folder.

Pure: variants and a touch count in, warnings out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from followupd.compose.checks import Problem
from followupd.compose.choice import stage_for_touch
from followupd.compose.language import DEFAULT_LANGUAGE
from followupd.compose.variant import STAGES, TemplateVariant


def stage_needs(total_touches: int) -> Counter[str]:
    """How many touches of a cadence of ``total_touches`` use each stage, when every stage exists."""
    return Counter(stage_for_touch(touch, total_touches, STAGES) for touch in range(1, total_touches + 1))


def coverage_problems(variants: Iterable[TemplateVariant], total_touches: int, directory: Path) -> list[Problem]:
    """One warning per stage of a language that has fewer variants than the cadence has touches for it (a
    stage missing altogether only when it would stand in for more than one touch).

    ``directory`` is where the user would add variants (their ``[templates] dir``, else the library's folder);
    a language's stage folder is named in the warning so the fix is a file away."""
    if total_touches < 1:
        return []
    have: dict[str, Counter[str]] = {}
    for variant in variants:
        if variant.stage in STAGES:
            have.setdefault(variant.lang, Counter())[variant.stage] += 1
    needs = stage_needs(total_touches)
    touches_of = {stage: [t for t in range(1, total_touches + 1) if stage_for_touch(t, total_touches, STAGES)
                          == stage] for stage in needs}
    problems: list[Problem] = []
    for lang in sorted(have, key=lambda code: (code != DEFAULT_LANGUAGE, code)):
        for stage in STAGES:
            needed, found = needs.get(stage, 0), have[lang][stage]
            if found >= needed or (found == 0 and needed == 1):
                # A stage left out on purpose (a one-folder library) standing in for a single touch is the
                # documented fallback, not a long thread running dry.
                continue
            folder = directory / stage if lang == DEFAULT_LANGUAGE else directory / lang / stage
            touches = touches_of[stage]
            span = f"touch {touches[0]}" if len(touches) == 1 else f"touches {touches[0]}-{touches[-1]}"
            problems.append(Problem(folder, None, "warning", (
                f"language {lang!r}: the cadence has {total_touches} touches and {span} use {stage}/, which has "
                f"{found} variant(s) for {needed}; {needed - found} touch(es) of a long thread would borrow "
                f"another stage's wording. Add {needed - found} more variant(s) to {folder}, or use fewer "
                "[cadence] gaps")))
    return problems
