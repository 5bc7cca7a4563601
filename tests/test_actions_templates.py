"""The templates for a meeting recap's action items (``actions/``): the built-in sets in four languages, the
``items`` and ``owner_name`` variables, and how ``templates check`` renders them with sample items.

Scheduling the check-ins and the roll-up is later work; what a user can already see is the library
(``templates list``, ``templates check``) and what each note says once rendered.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from test_templates import GOOD, cli, write

from followupd.compose.checks import check_variants, find_problems
from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.render import ActionItem, RenderContext, render, template_variables
from followupd.compose.samples import CHECKIN_SAMPLES, ROLLUP_SAMPLES, contexts_for_stage
from followupd.compose.scan import scan_templates
from followupd.compose.tone import ToneSettings
from followupd.compose.variant import (
    ACTIONS_STAGES,
    CHECKIN_STAGE,
    FINAL_CHECKIN_STAGE,
    LATER_CHECKIN_STAGE,
    ROLLUP_STAGE,
    STAGES,
)
from followupd.mail.headers import Address

LANGUAGES = ("en", "de", "fr", "es")
NOW = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)  # a Wednesday
CLAIRE = Address("claire@example.fr", "Claire Martin")
BOB = Address("bob@example.org", "Bob Stone")
DEE = Address("dee@example.com", "")
CHECKIN = ("Subject: {{ reply_subject }}\n\nHi {{ owner_name or \"there\" }},\n\n{% for item in items %}\n"
           "- {{ item.task }}\n{% endfor %}\n\nThanks,\n{{ signature }}\n")


def ctx(items: tuple[ActionItem, ...], *, recipients: tuple[Address, ...] = (CLAIRE,),
        owner: Address | None = CLAIRE, touch: int = 1, total: int = 3) -> RenderContext:
    return RenderContext(recipients=recipients, cc=(), original_subject="Kick-off", sent_at=NOW - timedelta(days=8),
                         now=NOW, tz=ZoneInfo("Europe/Paris"), touch_number=touch, total_touches=total,
                         promised=None, user_name="Zoé Adam", signature="Zoé", note=None, items=items, owner=owner)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_ships_check_ins_and_a_roll_up(lang: str) -> None:
    library = TemplateLibrary.load(builtin_templates_dir()).for_language(lang)
    counts = {stage: len(library.variants(stage)) for stage in ACTIONS_STAGES}
    assert counts[CHECKIN_STAGE] >= 4 and counts[LATER_CHECKIN_STAGE] >= 4, counts
    assert counts[FINAL_CHECKIN_STAGE] >= 2 and counts[ROLLUP_STAGE] >= 2, counts
    own = library.actions_variants()
    assert len(own) == sum(counts.values()) and all(v.lang == lang for v in own)
    prefix = "" if lang == "en" else f"{lang}/"
    assert all(v.key.startswith(f"{prefix}{v.stage}/") for v in own)
    # kept apart from the follow-ups, and checked (tone and render) with the rest
    assert library.stages() == STAGES and not set(own) & set(library.all_variants())
    assert check_variants(own, ToneSettings(), total_touches=11) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_two_notes_of_a_language_open_with_the_same_words(lang: str) -> None:
    """A thread never gets a variant twice; across the check-ins its owner receives, the opening differs too."""
    library = TemplateLibrary.load(builtin_templates_dir()).for_language(lang)
    items = (ActionItem("send the revised pricing", date(2026, 3, 10), CLAIRE),)
    openings = []
    for stage in ACTIONS_STAGES:
        for variant in library.variants(stage):
            body = render(variant, ctx(items)).body
            openings.append(" ".join(body.split("\n\n")[1].split()[:5]))
    assert len(openings) == len(set(openings)), openings


def test_action_stages_never_borrow_and_follow_ups_never_use_them(tmp_path: Path) -> None:
    write(tmp_path, "final/ask.txt")
    write(tmp_path, "actions/checkin/c.txt", CHECKIN)
    write(tmp_path, "actions/rollup/r.txt", CHECKIN)
    library = TemplateLibrary.load(tmp_path)
    assert library.stages() == ("final",)
    for touch in range(1, 5):
        chosen = choose_variant(library, stage_for_touch(touch, 4, library.stages()), used_in_thread=(), seed="t")
        assert chosen is not None and chosen.key == "final/ask.txt"
    assert choose_variant(library, CHECKIN_STAGE, used_in_thread={"actions/checkin/c.txt"}, seed="t") is None
    assert choose_variant(library, LATER_CHECKIN_STAGE, used_in_thread=(), seed="t") is None  # no set: no note
    chosen = choose_variant(library, ROLLUP_STAGE, used_in_thread=(), seed="t")
    assert chosen is not None and chosen.key == "actions/rollup/r.txt"


def test_a_language_without_its_own_check_ins_uses_the_english_ones(tmp_path: Path) -> None:
    write(tmp_path, "first/a.txt")
    write(tmp_path, "de/first/b.txt")
    write(tmp_path, "actions/checkin/c.txt", CHECKIN)
    write(tmp_path, "fr/first/d.txt")
    write(tmp_path, "fr/actions/checkin/e.txt", CHECKIN)
    library = TemplateLibrary.load(tmp_path)
    assert [v.key for v in library.for_language("de").variants(CHECKIN_STAGE)] == ["actions/checkin/c.txt"]
    assert [v.key for v in library.for_language("fr").variants(CHECKIN_STAGE)] == ["fr/actions/checkin/e.txt"]


def test_misplaced_action_templates_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "first/a.txt")
    write(tmp_path, "actions/loose.txt", CHECKIN)
    write(tmp_path, "actions/checkins/x.txt", CHECKIN)
    messages = [str(e) for e in scan_templates(tmp_path).errors]
    assert len(messages) == 2, messages
    assert any("actions/loose.txt: actions templates go in actions/checkin/ or actions/later/ or actions/final/ "
               "or actions/rollup/" in message for message in messages), messages
    assert any("unknown actions folder 'checkins'" in message for message in messages), messages


def test_item_variables_in_the_templates_language() -> None:
    items = (ActionItem("send the pricing", date(2026, 3, 10), CLAIRE),
             ActionItem("book the venue", None, BOB, "holding"),
             ActionItem("draft the contract", date(2026, 2, 2), DEE, "done"),
             ActionItem("share the slides", date(2026, 3, 13), CLAIRE))
    french = template_variables(ctx(items), lang="fr")
    assert french["owner_name"] == "Claire"
    assert french["items"] == [
        {"task": "send the pricing", "due": date(2026, 3, 10), "due_when": "hier", "due_date": "10 mars",
         "owner_name": "Claire", "owner_email": "claire@example.fr", "state": "open", "overdue": True},
        {"task": "book the venue", "due": None, "due_when": "", "due_date": "", "owner_name": "Bob",
         "owner_email": "bob@example.org", "state": "holding", "overdue": False},
        {"task": "draft the contract", "due": date(2026, 2, 2), "due_when": "le 2 février", "due_date": "2 février",
         "owner_name": "", "owner_email": "dee@example.com", "state": "done",
         "overdue": False},  # done is finished, whatever its date said; no name: templates fall back to the address
        {"task": "share the slides", "due": date(2026, 3, 13), "due_when": "vendredi", "due_date": "13 mars",
         "owner_name": "Claire", "owner_email": "claire@example.fr", "state": "open", "overdue": False},
    ]
    german = cast(list[dict[str, object]], template_variables(ctx(items), lang="de")["items"])
    assert [item["due_when"] for item in german] == ["gestern", "", "am 2. Februar", "am Freitag"]
    # a follow-up's context has neither: existing templates see an empty list and an empty name
    plain = template_variables(replace(ctx(()), owner=None))
    assert plain["items"] == [] and plain["owner_name"] == ""
    with pytest.raises(ValueError, match="unknown item state 'maybe'"):
        ActionItem("x", None, BOB, "maybe")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_check_in_greets_the_owner_and_lists_each_of_their_items(lang: str) -> None:
    library = TemplateLibrary.load(builtin_templates_dir()).for_language(lang)
    items = (ActionItem("send the revised pricing", date(2026, 3, 10), CLAIRE),
             ActionItem("book the venue", None, CLAIRE))
    for stage in (CHECKIN_STAGE, LATER_CHECKIN_STAGE, FINAL_CHECKIN_STAGE):
        for variant in library.variants(stage):
            body = render(variant, ctx(items)).body
            assert body.split("\n")[0].rstrip(",:").endswith("Claire"), (variant.key, body)
            assert "send the revised pricing" in body and "book the venue" in body, (variant.key, body)
            assert "Zoé" in body


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_roll_up_names_every_item_its_owner_date_and_state(lang: str) -> None:
    library = TemplateLibrary.load(builtin_templates_dir()).for_language(lang)
    items = (ActionItem("send the revised pricing", date(2026, 3, 6), BOB, "done"),
             ActionItem("update the forecast", date(2026, 3, 9), CLAIRE),
             ActionItem("draft the contract", None, DEE, "declined"))
    for variant in library.variants(ROLLUP_STAGE):
        body = render(variant, ctx(items, recipients=(CLAIRE, BOB, DEE), owner=None)).body
        lines = [line for line in body.split("\n") if line.startswith("- ")]
        assert len(lines) == 3, (variant.key, body)
        for line, owner, task in zip(lines, ("Bob", "Claire", "dee@example.com"),
                                     ("send the revised pricing", "update the forecast", "draft the contract"),
                                     strict=True):
            assert owner in line and task in line, (variant.key, line)
        assert any(day in lines[0] for day in ("6 March", "6. März", "6 mars", "6 de marzo")), lines[0]
        assert len({line.rsplit("(", 1)[1] for line in lines}) == 3, lines  # three states, three words


def test_check_renders_action_templates_with_one_several_and_undated_items(tmp_path: Path) -> None:
    write(tmp_path, "first/a.txt")
    second = write(tmp_path, "actions/checkin/second.txt", CHECKIN.replace("{% for", "{{ items[1].task }}\n{% for"))
    dated = write(tmp_path, "actions/rollup/dated.txt", CHECKIN.replace("{{ item.task }}",
                                                                        "{{ item.task }} by {{ item.due.day }}"))
    messages = {p.path.name: p.message for p in find_problems(scan_templates(tmp_path), ToneSettings())
                if p.severity == "error"}
    assert set(messages) == {second.name, dated.name}, messages
    assert messages["second.txt"].startswith("list object has no element 1 (with one item due yesterday")
    assert "has no attribute 'day'" in messages["dated.txt"] and "(with four people" in messages["dated.txt"]
    labels = [label for label, _ in contexts_for_stage(CHECKIN_STAGE, total_touches=1)]
    assert len(labels) == len(CHECKIN_SAMPLES)
    assert len(list(contexts_for_stage(ROLLUP_STAGE, total_touches=1))) == len(ROLLUP_SAMPLES)


def test_templates_check_and_list_show_the_action_sets(tmp_path: Path) -> None:
    folder = builtin_templates_dir() / "actions"
    for target, count in ((folder, 12), (folder / "later", 4), (folder / "final" / "drop-or-hand-over.txt", 1),
                          (builtin_templates_dir() / "de" / "actions", 12)):
        result = cli(tmp_path, "templates", "check", "--strict", str(target))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.splitlines() == [f"{count} template(s) checked: 0 error(s), 0 warning(s)"]
    mine = write(tmp_path / "mine", "actions/later/pushy.txt", GOOD.replace("A calm note.", "Any update?"))
    result = cli(tmp_path, "templates", "check", str(mine))
    assert "not in a stage folder" not in result.stdout and '"Any update" sounds pushy' in result.stdout
    listed = json.loads(cli(tmp_path, "templates", "list", "--json").stdout)["templates"]
    stages = {entry["stage"] for entry in listed if entry["lang"] == "es"}
    assert set(ACTIONS_STAGES) <= stages
