"""The template check cache (followupd.compose.checked): an unchanged library is not checked again, and the cache
never hides a broken template.

What a user would notice if it went wrong: a template they broke keeps "loading" from a stale result and fails
on the day a follow-up is due, or a read-only cache folder stops the daemon. Both are held here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from followupd.compose import checked, scan
from followupd.compose.checks import check_library
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.tone import ToneSettings
from followupd.errors import TemplateError

GOOD = "Subject: Re: {{ subject }}\n\nHi {{ first_name }}, any news on this?\n"


@pytest.fixture
def cache_dir(tmp_path: Path) -> Iterator[Path]:
    """A cache folder of this test's own, and nothing remembered in memory, as in a new process."""
    folder = tmp_path / "cache"
    before = checked._cache_dir
    checked.use_cache_dir(folder)
    checked.forget()
    yield folder
    checked.use_cache_dir(before)
    checked.forget()


@pytest.fixture
def check_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys of the templates the load check really ran for."""
    calls: list[str] = []
    real = scan.check_source

    def counting(variant: object) -> None:
        calls.append(variant.key)  # type: ignore[attr-defined]
        real(variant)  # type: ignore[arg-type]

    monkeypatch.setattr(scan, "check_source", counting)
    return calls


def overlay_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "mine"
    (folder / "first").mkdir(parents=True, exist_ok=True)
    (folder / "first" / "mine.txt").write_text(text)
    return folder


def test_a_new_process_does_not_check_an_unchanged_library_again(cache_dir: Path, check_calls: list[str]) -> None:
    first = TemplateLibrary.load(builtin_templates_dir())
    assert len(check_calls) == len(first.every_variant()) > 100
    checked.forget()  # what the next process starts with: only the disk
    check_calls.clear()
    again = TemplateLibrary.load(builtin_templates_dir())
    assert check_calls == []
    assert [v.key for v in again.every_variant()] == [v.key for v in first.every_variant()]


def test_an_edited_template_is_checked_again_and_its_new_mistake_is_reported(
        cache_dir: Path, tmp_path: Path) -> None:
    overlay = overlay_with(tmp_path, GOOD)
    TemplateLibrary.load(builtin_templates_dir(), overlay=overlay)
    (overlay / "first" / "mine.txt").write_text(GOOD.replace("first_name", "frist_name"))
    for _ in range(2):  # in this process, and in the next one
        with pytest.raises(TemplateError, match=r"frist_name.*did you mean 'first_name'"):
            TemplateLibrary.load(builtin_templates_dir(), overlay=overlay)
        checked.forget()


def test_a_broken_template_is_reported_by_every_process(cache_dir: Path, tmp_path: Path) -> None:
    overlay = overlay_with(tmp_path, "Subject: Re: {{ subject }\n\nHi.\n")
    for _ in range(2):
        with pytest.raises(TemplateError, match=r"mine\.txt line 1"):
            TemplateLibrary.load(builtin_templates_dir(), overlay=overlay)
        checked.forget()


def test_a_template_rendered_from_a_cached_check_still_renders(cache_dir: Path) -> None:
    from followupd.compose import render as rendering
    from followupd.compose.checks import sample_contexts

    TemplateLibrary.load(builtin_templates_dir())
    checked.forget()
    rendering._COMPILED.clear()
    library = TemplateLibrary.load(builtin_templates_dir())  # checked from disk: nothing compiled
    label, ctx = next(sample_contexts())
    for variant in library.variants("first"):
        rendered = rendering.render(variant, ctx)
        assert rendered.subject and rendered.body.strip(), (variant.key, label)


def test_the_start_up_check_gives_the_same_warnings_from_the_cache(cache_dir: Path, tmp_path: Path) -> None:
    shouty = overlay_with(tmp_path, "Subject: Re: {{ subject }}\n\nHi {{ first_name }}, ANY NEWS??\n")
    library = TemplateLibrary.load(builtin_templates_dir(), overlay=shouty)
    fresh = [str(problem) for problem in check_library(library, ToneSettings())]
    assert any("mine.txt" in warning for warning in fresh)
    checked.forget()
    assert [str(problem) for problem in check_library(library, ToneSettings())] == fresh


def test_a_read_only_cache_folder_costs_only_the_speed_up(tmp_path: Path, check_calls: list[str]) -> None:
    if os.geteuid() == 0:
        folder = Path("/proc/followupd-cache")  # even root cannot create a folder here
    else:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
    checked.use_cache_dir(folder)
    checked.forget()
    try:
        library = TemplateLibrary.load(builtin_templates_dir())
        assert check_library(library, ToneSettings()) == []
        checked.forget()
        check_calls.clear()
        TemplateLibrary.load(builtin_templates_dir())
        assert len(check_calls) > 100  # nothing was kept: checked again, and no error
    finally:
        checked.use_cache_dir(None)
        checked.forget()


def test_a_damaged_cache_file_is_checked_again(cache_dir: Path, check_calls: list[str]) -> None:
    TemplateLibrary.load(builtin_templates_dir())
    for path in cache_dir.glob("load-*.json"):
        path.write_text("{not json")
    checked.forget()
    check_calls.clear()
    TemplateLibrary.load(builtin_templates_dir())
    assert len(check_calls) > 100
