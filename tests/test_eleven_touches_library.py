"""Eleven touches without a stale line: every built-in language covers a long cadence from its own later/
notes, and a touch after the second never borrows first-touch wording, nor repeats a variant within a thread."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from followupd.compose.checks import sample_contexts
from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.render import render, template_variables

TOUCHES = 11


def plan_keys(library: TemplateLibrary, seed: str, *, seen: frozenset[str] = frozenset()) -> list[str]:
    used: list[str] = []
    for touch in range(1, TOUCHES + 1):
        stage = stage_for_touch(touch, TOUCHES, library.stages())
        variant = choose_variant(library, stage, used_in_thread=used, recently_used_with_person=seen,
                                 seed=f"{seed}.{touch}")
        assert variant is not None, f"touch {touch} of {TOUCHES} has no variant left"
        used.append(variant.key)
    return used


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es"])
@pytest.mark.parametrize("seed", ["thread-a", "thread-b", "7f3e", "x"])
def test_eleven_touches_use_first_middle_eight_later_and_final(seed: str, lang: str) -> None:
    library = TemplateLibrary.load(builtin_templates_dir()).for_language(lang)
    assert library.lang == lang and len(library.variants("later")) >= 8
    keys = plan_keys(library, seed)
    stages = [key.split("/")[-2] for key in keys]
    assert stages == ["first", "middle", *["later"] * 8, "final"]
    assert len(set(keys)) == TOUCHES


def test_a_person_who_saw_later_notes_elsewhere_still_gets_no_first_touch_wording() -> None:
    library = TemplateLibrary.load(builtin_templates_dir())
    seen = frozenset(v.key for v in library.variants("later")[:5])
    keys = plan_keys(library, "busy-person", seen=seen)
    assert all(not key.startswith("first/") for key in keys[2:])
    assert len(set(keys)) == TOUCHES


def write(root: Path, key: str) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Subject: {{ reply_subject }}\n\nA note.\n", encoding="utf-8")


def test_used_up_later_notes_borrow_middle_but_never_first(tmp_path: Path) -> None:
    for key in ("first/a.txt", "first/b.txt", "middle/m.txt", "later/l.txt", "final/f.txt"):
        write(tmp_path, key)
    library = TemplateLibrary.load(tmp_path)
    used = ["first/a.txt", "later/l.txt"]
    borrowed = choose_variant(library, "later", used_in_thread=used, seed="s")
    assert borrowed is not None and borrowed.key == "middle/m.txt"
    last_resort = choose_variant(library, "later", used_in_thread=[*used, "middle/m.txt"], seed="s")
    assert last_resort is not None and last_resort.key == "final/f.txt"  # as before: final, the last resort
    assert choose_variant(library, "later", used_in_thread=[*used, "middle/m.txt", "final/f.txt"], seed="s") is None
    # A library with nothing but first/ still works: there, first is the nearest stage, not a borrowed one.
    only = tmp_path / "only"
    write(only, "first/a.txt")
    write(only, "first/b.txt")
    single = TemplateLibrary.load(only)
    stage = stage_for_touch(3, 4, single.stages())
    assert stage == "first"
    picked = choose_variant(single, stage, used_in_thread=["first/a.txt"], seed="s")
    assert picked is not None and picked.key == "first/b.txt"


PHRASE = 5
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")


def phrases(body: str, inserted: list[str]) -> set[tuple[str, ...]]:
    """Runs of five words of the author's own text, the greeting line and inserted values left out."""
    text = body.split("\n", 1)[1]
    for value in sorted(inserted, key=len, reverse=True):
        text = text.replace(value, "\n|\n")
    found: set[tuple[str, ...]] = set()
    for chunk in text.split("|"):
        words = [w.casefold() for w in _WORD.findall(chunk)]
        found |= {tuple(words[i:i + PHRASE]) for i in range(len(words) - PHRASE + 1)}
    return found


@pytest.mark.parametrize("lang", ["en", "de", "fr", "es"])
def test_no_two_notes_of_one_thread_share_a_phrase(lang: str) -> None:
    """Notes that can go out in the same thread (any two stages, or two later/ notes) never repeat a run of five
    words: "never the same wording twice in a thread" holds for phrases, not only for whole variants."""
    library = TemplateLibrary.load(builtin_templates_dir()).for_language(lang)
    ctx = next(ctx for label, ctx in sample_contexts(total_touches=TOUCHES)
               if label.startswith("two recipients") and label.endswith(f"touch 5 of {TOUCHES}"))
    values = template_variables(ctx, lang=lang)
    inserted = [str(values[name]) for name in ("note", "signature", "topic", "names", "first_names", "sent_when",
                                               "sent_date", "promised_when", "promised_date") if values[name]]
    notes = {v.key: (v.stage, phrases(render(v, ctx).body, inserted)) for v in library.all_variants()}
    shared = [(a, b, sorted(" ".join(p) for p in notes[a][1] & notes[b][1]))
              for a, b in itertools.combinations(notes, 2)
              if (notes[a][0] != notes[b][0] or notes[a][0] == "later") and notes[a][1] & notes[b][1]]
    assert shared == []
