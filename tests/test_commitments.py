"""The user's own promises (``+followup-me``), below the end-to-end level: templates, ids, the reminder message
and the database upgrade. The whole loop on a real Dovecot is in test_e2e_commitments.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path

import pytest
from test_templates import GOOD, cli, write

from followupd.compose.checks import find_problems
from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.library import TemplateLibrary, builtin_templates_dir, template_fingerprint
from followupd.compose.message import build_reminder, draft_message_id, reminder_message_id
from followupd.compose.render import Rendered
from followupd.compose.scan import scan_templates
from followupd.compose.tone import ToneSettings
from followupd.compose.variant import REMINDER_STAGE, STAGES, UPDATE_STAGE
from followupd.engine.drafts import is_reminder_id, reminder_id, touch_id
from followupd.mail.headers import Address, MessageKind, parse_headers

NOW = datetime(2026, 11, 7, 9, 0, tzinfo=UTC)
THREADS = ("d26c054f9471", "000000000000", "abcabcabcabc")


# ------------------------------------------------------------------------------------------------- templates


def test_builtin_commitment_templates_are_loaded_apart_from_the_follow_up_stages() -> None:
    library = TemplateLibrary.load(builtin_templates_dir())
    assert library.stages() == STAGES
    assert len(library.variants(REMINDER_STAGE)) >= 2
    assert len(library.variants(UPDATE_STAGE)) >= 3
    assert not [v.key for v in library.all_variants() if v.key.startswith("commitment/")]
    keys = {v.key for v in library.every_variant()}  # checked at start-up and listed with the rest
    assert {v.key for v in library.commitment_variants()} <= keys
    assert all(v.key.startswith(f"{v.stage}/") for v in library.commitment_variants())


def test_no_follow_up_is_ever_written_from_a_commitment_template(tmp_path: Path) -> None:
    write(tmp_path, "final/ask.txt")
    write(tmp_path, "commitment/reminder/r.txt")
    write(tmp_path, "commitment/update/u.txt")
    library = TemplateLibrary.load(tmp_path)
    assert library.stages() == ("final",)
    for total in range(1, 5):
        for touch in range(1, total + 1):
            stage = stage_for_touch(touch, total, library.stages())
            chosen = choose_variant(library, stage, used_in_thread=(), seed="t")
            assert chosen is not None and chosen.key == "final/ask.txt"
    # every follow-up variant used: nothing left, rather than a commitment template
    assert choose_variant(library, "first", used_in_thread={"final/ask.txt"}, seed="t") is None


def test_a_commitment_set_never_borrows_from_another_stage(tmp_path: Path) -> None:
    write(tmp_path, "first/a.txt")
    write(tmp_path, "commitment/reminder/r.txt")
    library = TemplateLibrary.load(tmp_path)
    assert choose_variant(library, UPDATE_STAGE, used_in_thread=(), seed="t") is None
    chosen = choose_variant(library, REMINDER_STAGE, used_in_thread=(), seed="t")
    assert chosen is not None and chosen.key == "commitment/reminder/r.txt"


def test_a_language_without_commitment_templates_uses_the_english_ones(tmp_path: Path) -> None:
    write(tmp_path, "first/a.txt")
    write(tmp_path, "commitment/reminder/r.txt")
    write(tmp_path, "de/first/b.txt")
    write(tmp_path, "de/commitment/update/u.txt")
    library = TemplateLibrary.load(tmp_path, lang="de")
    assert [v.key for v in library.variants(UPDATE_STAGE)] == ["de/commitment/update/u.txt"]
    assert [v.key for v in library.variants(REMINDER_STAGE)] == ["commitment/reminder/r.txt"]
    assert library.stages() == ("first",)


def test_misplaced_commitment_templates_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "first/a.txt")
    write(tmp_path, "commitment/loose.txt")
    write(tmp_path, "commitment/reminders/typo.txt")
    scan = scan_templates(tmp_path)
    messages = sorted(str(error) for error in scan.errors)
    assert len(messages) == 2
    assert "commitment/loose.txt: commitment templates go in commitment/reminder/ or commitment/update/" in messages[0]
    assert "unknown commitment folder 'reminders'" in messages[1]


def test_a_broken_commitment_template_is_reported_with_its_line(tmp_path: Path) -> None:
    write(tmp_path, "first/a.txt")
    write(tmp_path, "commitment/reminder/bad.txt",
          "Subject: Reminder\n\nYou told {{ recipients[2].name }} you would write.\n")
    problems = find_problems(scan_templates(tmp_path), ToneSettings())
    assert [(p.path.name, p.line, p.severity) for p in problems] == [("bad.txt", 3, "error")]


def test_templates_check_takes_a_single_commitment_file_or_folder(tmp_path: Path) -> None:
    folder = builtin_templates_dir() / "commitment"
    for target, count in ((folder / "reminder" / "where-things-stand.txt", 1), (folder, 5), (folder / "update", 3)):
        result = cli(tmp_path, "templates", "check", "--strict", str(target))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.splitlines() == [f"{count} template(s) checked: 0 error(s), 0 warning(s)"]
    mine = write(tmp_path / "mine", "commitment/update/rude.txt",
                 GOOD.replace("A calm note.", "Sorry, circling back ASAP."))
    result = cli(tmp_path, "templates", "check", "--strict", str(mine))
    assert result.returncode == 2
    assert "not in a stage folder" not in result.stdout
    assert "circling back" in result.stdout


def test_an_edit_deep_in_a_language_commitment_set_is_noticed(tmp_path: Path) -> None:
    path = write(tmp_path, "de/commitment/reminder/r.txt")
    before = template_fingerprint(tmp_path)
    path.write_text(GOOD + "\nMehr.\n", encoding="utf-8")
    assert template_fingerprint(tmp_path) != before


# ------------------------------------------------------------------------------------------------------- ids


def test_reminder_ids_and_touch_ids_are_never_substrings_of_each_other() -> None:
    """IMAP SEARCH HEADER matches substrings: a search for one id must never find another's message."""
    ids = [make(thread, n) for thread in THREADS for n in range(1, 130) for make in (reminder_id, touch_id)]
    assert len(set(ids)) == len(ids)
    for one in ids:
        assert [other for other in ids if one in other] == [one]
    mids = [make(thread, n, "example.org") for thread in THREADS for n in range(1, 130)
            for make in (reminder_message_id, draft_message_id)]
    for one in mids:
        assert [other for other in mids if one in other] == [one]


def test_is_reminder_id() -> None:
    assert is_reminder_id(reminder_id("d26c054f9471", 1))
    assert is_reminder_id(" d26c054f9471.r012 ")
    assert not is_reminder_id(touch_id("d26c054f9471", 1))
    assert not is_reminder_id(None)
    assert not is_reminder_id("")


# ------------------------------------------------------------------------------------------------ the message


def test_the_reminder_is_a_note_to_the_user_that_followupd_never_takes_for_mail() -> None:
    raw = build_reminder(
        rendered=Rendered(subject="Reminder: you promised Bob an update on “Quote”", body="Write to Bob.\n",
                          template="commitment/reminder/x.txt"),
        from_=Address("me@example.com", "followupd"), to=Address("me@example.com", "Alex Example"),
        message_id=reminder_message_id("abc", 1, "example.com"), followupd_id=reminder_id("abc", 1), date=NOW,
    )
    message = message_from_bytes(raw)
    assert message["From"] == "followupd <me@example.com>"
    assert message["To"] == "Alex Example <me@example.com>"
    assert message["X-Followupd-Id"] == "abc.r001"
    assert message["Message-ID"] == "<followupd.abc.r1@example.com>"
    assert message["In-Reply-To"] is None and message["References"] is None
    meta = parse_headers(raw)
    assert meta.subject == "Reminder: you promised Bob an update on “Quote”"
    assert meta.followupd_id == "abc.r001" and is_reminder_id(meta.followupd_id)
    assert meta.kind is MessageKind.AUTOMATED  # Auto-Submitted: no autoresponder answers it


def test_a_reminder_needs_an_aware_date() -> None:
    with pytest.raises(ValueError):
        build_reminder(rendered=Rendered("s", "b\n", "k"), from_=Address("me@example.com", ""),
                       to=Address("me@example.com", ""), message_id="<a@b.c>", followupd_id="x.r001",
                       date=NOW.replace(tzinfo=None))


# -------------------------------------------------------------------------------------------------- database


