"""Eleven touches without a stale line: every built-in language covers a long cadence from its own later/
notes, and a touch after the second never borrows first-touch wording, nor repeats a variant within a thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from followupd.compose import TemplateLibrary, builtin_templates_dir, choose_variant, stage_for_touch

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
