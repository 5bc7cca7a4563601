"""Humane follow-ups: template checks and tone rules, user overrides, languages, preview and hot reload.

CLI behaviour is tested through the real ``followupd`` command as a subprocess; the rules themselves through
``followupd.compose.checks`` and ``followupd.compose.render`` directly. The
preview of a real thread runs against Dovecot.
"""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, run_followupd
from mailfactory import make_message

from followupd.compose.checks import Problem, check_library, check_variants, find_problems
from followupd.compose.choice import choose_variant
from followupd.compose.language import DEFAULT_LANGUAGE, detect_language
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.scan import scan_templates
from followupd.compose.tone import ToneAdjustments, ToneSettings
from followupd.config import parse_config
from followupd.errors import ConfigError, TemplateError
from followupd.runtime.app import build_app

GOOD = ("Subject: {{ reply_subject }}\n\nHi{% if first_names %} {{ first_names }}{% endif %},\n\nA calm note.\n\n"
        "{{ signature }}\n")
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
BOB = "bob@example.org"
EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def write(root: Path, key: str, text: str = GOOD) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def minimal_config(tmp_path: Path, extra: str = "") -> Path:
    """A config good enough for commands that never connect (templates, preview without --thread)."""
    path = tmp_path / "config.toml"
    path.write_text(f"""
[account]
host = "imap.example.com"
username = "me@example.com"
password_env = "FOLLOWUPD_TEST_PASSWORD"

[identity]
name = "Alex Example"
timezone = "UTC"

[tracking]
address = "me+followup@example.com"

[database]
url = "sqlite:///{tmp_path / 'state.db'}"
{extra}
""", encoding="utf-8")
    return path


def cli(tmp_path: Path, *args: str, config: Path | None = None, now: datetime | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUPD_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")
    env["FOLLOWUPD_TEST_PASSWORD"] = "unused"
    if now is not None:
        env["FOLLOWUPD_NOW"] = now.isoformat()
    config = config or tmp_path / "no-config-here.toml"
    return run_followupd(["--config", str(config), *args], env=env)


def problems_of(root: Path, tone: ToneSettings | None = None) -> list[Problem]:
    return find_problems(scan_templates(root), tone or ToneSettings())


def lines_of(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems]


# ------------------------------------------------------------------------------------------- shipped templates


def test_every_shipped_template_passes_check_strict(tmp_path: Path) -> None:
    for args in (("templates", "check", "--strict", str(builtin_templates_dir())), ("templates", "check", "--strict")):
        result = cli(tmp_path, *args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip().splitlines() == ["138 template(s) checked: 0 error(s), 0 warning(s)"]


def test_the_shipped_library_has_a_german_set_with_every_stage() -> None:
    library = TemplateLibrary.load(builtin_templates_dir())
    assert library.languages() == ("en", "de", "es", "fr")
    german = library.for_language("de")
    assert german.lang == "de" and german.stages() == ("first", "middle", "later", "final")
    assert all(len(german.variants(stage)) >= 2 for stage in german.stages())
    assert all(v.key.startswith("de/") and v.lang == "de" for v in german.all_variants())
    assert all(v.lang == "en" for v in library.all_variants())  # the default view is unchanged
    assert check_variants(library.every_variant(), ToneSettings(), total_touches=6) == []


# ------------------------------------------------------------------------------------------------ tone rules


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("Hi,\n\nPer my last email, here it is.\n", 5, '"Per my last"'),
        ("Hi,\nAs I said before.\n", 4, '"As I said"'),
        ("Hi,\n\n\nPlease reply ASAP.\n", 6, '"ASAP"'),
        ("This is urgent.\n", 3, '"urgent"'),
        ("Hi,\nJust checking in on this.\n", 4, '"Just checking in"'),
        ("Hi,\nI am circling\n   back to it.\n", 4, '"circling back"'),
        ("Bumping this to the top.\n", 3, '"Bumping this"'),
        ("Hi,\n\nA friendly reminder about my note.\n", 5, '"friendly reminder"'),
        ("Hi,\nPlease ANSWER me.\n", 4, '"ANSWER" is in capitals'),
        ("Hi,\n{{ 'HELLO' }} there.\n", 4, '"HELLO" is in capitals'),
        ("Hi,\nWhere is it!!\n", 4, '"!!" reads as shouting'),
        ("Hi,\nWell???\n", 4, '"???" reads as impatient'),
        ("Hi,\n{% if note %}\n{{ note }}\n{% endif %}\nHaven't heard back yet.\n", 7, '"Haven\'t heard back"'),
    ],
)
def test_each_tone_rule_fires_with_file_and_line(tmp_path: Path, body: str, line: int, fragment: str) -> None:
    path = write(tmp_path, "first/bad.txt", f"Subject: {{{{ reply_subject }}}}\n\n{body}")
    found = problems_of(tmp_path)
    assert len(found) == 1, lines_of(found)
    assert found[0].severity == "warning"
    assert str(found[0]).startswith(f"{path}:{line}: warning: tone: ")
    assert fragment in found[0].message


def test_tone_rules_look_at_the_subject_too(tmp_path: Path) -> None:
    path = write(tmp_path, "first/x.txt", "Subject: URGENT: {{ reply_subject }}\n\nHello.\n")
    assert lines_of(problems_of(tmp_path)) == [
        f'{path}:1: warning: tone: "URGENT" sounds pushy or guilt-tripping; say what you need plainly, or allow '
        "it with [tone] allowed_phrases"]


def test_acronyms_single_marks_and_values_are_not_tone_problems(tmp_path: Path) -> None:
    write(tmp_path, "first/x.txt", "Subject: {{ reply_subject }}\n\nThe PDF, FAQ and API URL for the CEO in the "
                                   "USA: your ID is there. OK? Great!\n\n{{ signature }}\n")
    assert problems_of(tmp_path) == []
    # A name or subject in capitals is a value, not the template's wording.
    write(tmp_path, "first/x.txt", "Subject: {{ reply_subject }}\n\n{{ original_subject }} {{ user_name }}\n")
    assert problems_of(tmp_path) == []


def test_tone_config_adjusts_the_built_in_rules(tmp_path: Path) -> None:
    write(tmp_path, "first/x.txt", "Subject: {{ reply_subject }}\n\nThis is urgent, ACME says so. To be honest.\n")
    assert len(problems_of(tmp_path)) == 2
    tone = ToneSettings(common=ToneAdjustments(allowed_phrases=("urgent",), allowed_caps=("acme",),
                                               banned_phrases=("to be honest",)))
    assert [p.message.split(";")[0] for p in problems_of(tmp_path, tone)] == [
        'tone: "To be honest" sounds pushy or guilt-tripping']


def test_per_language_tone_tables_apply_to_that_language_only(tmp_path: Path) -> None:
    write(tmp_path, "first/x.txt", "Subject: {{ reply_subject }}\n\nNa los, dringend.\n")
    write(tmp_path, "de/first/x.txt", "Subject: {{ reply_subject }}\n\nNa los, dringend.\n")
    assert [p.path.parts[-3:] for p in problems_of(tmp_path)] == [("de", "first", "x.txt")]  # built-in German
    tone = ToneSettings(languages={"de": ToneAdjustments(allowed_phrases=("dringend",), banned_phrases=("na los",))})
    found = problems_of(tmp_path, tone)
    assert [(p.path.parts[-3], p.message.split(";")[0]) for p in found] == [
        ("de", 'tone: "Na los" sounds pushy or guilt-tripping')]


def test_a_long_body_is_a_warning_naming_the_sample(tmp_path: Path) -> None:
    path = write(tmp_path, "first/long.txt", "Subject: {{ reply_subject }}\n\n" + "word " * 80
                 + "\n{% if note %}\n{{ note }}\n{% endif %}\n")
    found = problems_of(tmp_path)
    assert len(found) == 1 and found[0].severity == "warning"
    assert str(found[0]).startswith(f"{path}:3: warning: the body is 93 words with ")
    assert "and a note" in found[0].message and "[tone] max_words" in found[0].message
    assert problems_of(tmp_path, ToneSettings(common=ToneAdjustments(max_words=100))) == []


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("Hello\n\nbody\n", 1, "Subject"),                                       # no subject line
        ("Subject: {{ reply_subject }}\n\n{% if note %}{{ note }}{% endif %}\n", 3, "body rendered empty"),
        ("Subject: {% if topic %}{{ topic }}{% endif %}\n\nHi.\n", 1, "subject rendered empty"),
        ("Subject: {{ reply_subject }}\n\nHi,\n{{ recipients[1].name }} too.\n", 4, "no element 1"),
        ("Subject: {{ reply_subject }}\n\nHi,\n{{ promised.day }}.\n", 4, "no attribute 'day'"),  # no promise
        ("Subject: {{ reply_subject }}\n\nHi,\n{{ frist_name }}\n", 4, "unknown variable 'frist_name'"),
        ("Subject: {{ reply_subject }}\n\nHi,\n\n{% if note %}\n", 5, "endif"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, fragment: str) -> None:
    path = write(tmp_path, "first/bad.txt", text)
    write(tmp_path, "first/good.txt")
    found = problems_of(tmp_path)
    errors = [p for p in found if p.severity == "error"]
    assert len(errors) == 1, lines_of(found)
    assert str(errors[0]).startswith(f"{path}:{line}: error: ")
    assert fragment in errors[0].message


def test_check_cli_output_and_exit_codes(tmp_path: Path) -> None:
    templates = tmp_path / "tpl"
    warned = write(templates, "first/loud.txt", "Subject: {{ reply_subject }}\n\nHi,\nPlease reply ASAP!!\n")
    result = cli(tmp_path, "templates", "check", str(templates))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [  # what the whole file reads like first, then line by line
        f'{warned}: warning: prose: empty greeting "Hi,": greet by name, or with a greeting that needs none (with '
        "one recipient with a name, touch 1 of 1)",
        f'{warned}: warning: prose: the greeting "Hi," runs into the first paragraph; leave a blank line (with one '
        "recipient with a name, touch 1 of 1)",
        f'{warned}:4: warning: tone: "ASAP" sounds pushy or guilt-tripping; say what you need plainly, or allow it '
        "with [tone] allowed_phrases",
        f'{warned}:4: warning: tone: "!!" reads as shouting; one "!" is enough',
        "1 template(s) checked: 0 error(s), 4 warning(s)",
    ]
    assert cli(tmp_path, "templates", "check", "--strict", str(templates)).returncode == 2
    assert cli(tmp_path, "templates", "check", "--strict", str(warned)).returncode == 2  # a single file

    broken = write(templates, "final/broken.txt", "Subject: {{ reply_subject }}\n\nHi {{ recipients[2].email }}\n")
    result = cli(tmp_path, "templates", "check", str(templates))
    assert result.returncode == 2
    assert re.search(rf"^{re.escape(str(broken))}:3: error: list object has no element 2 \(with one recipient",
                     result.stdout, re.MULTILINE), result.stdout
    assert result.stdout.splitlines()[-1] == "2 template(s) checked: 1 error(s), 4 warning(s)"
    assert "Traceback" not in result.stderr


def test_check_reads_your_templates_for_repeated_phrases_and_empty_greetings(tmp_path: Path) -> None:
    """The prose checks that hold the built-in library run on the user's own templates too, as warnings."""
    mine = tmp_path / "mine"
    twice = write(mine, "first/twice.txt", "Subject: {{ reply_subject }}\n\nHi {{ first_names or \"there\" }},\n\n"
                  "I wanted to ask about the budget. I wanted to ask because it matters.\n\n{{ signature }}\n")
    hello = write(mine, "middle/hello.txt", "Subject: {{ reply_subject }}\n\nHello {{ first_name }},\n\n"
                  "A calm note about where things stand.\n\n{{ signature }}\n")
    config = minimal_config(tmp_path, f'[templates]\ndir = "{mine}"\n')
    result = cli(tmp_path, "templates", "check", config=config)
    assert result.returncode == 0, result.stdout + result.stderr  # warnings, not errors
    lines = result.stdout.splitlines()
    assert (f'{twice}: warning: prose: "i wanted to" is used 2 times; vary the wording (with one recipient with a '
            "name, touch 1 of 1)") in lines, result.stdout
    assert (f'{hello}: warning: prose: empty greeting "Hello ,": greet by name, or with a greeting that needs none '
            "(with one recipient without a name, no subject, a promised date and a note, touch 1 of 1)") in lines
    assert any(line.startswith(f"{hello}: warning: prose: a space before punctuation") for line in lines), lines
    flagged = {line.split(":")[0] for line in lines if ": warning: prose: " in line}
    assert flagged == {str(twice), str(hello)}  # the built-in library reads well; only yours is flagged
    assert lines[-1].startswith(f"{2 + 138} template(s) checked: 0 error(s), ")
    assert cli(tmp_path, "templates", "check", "--strict", config=config).returncode == 2

    document = json.loads(cli(tmp_path, "templates", "check", "--json", str(mine)).stdout)
    prose = [p for p in document["problems"] if p["message"].startswith("prose: ")]
    assert {p["path"] for p in prose} == {str(twice), str(hello)}
    assert all(p["severity"] == "warning" and p["line"] is None for p in prose)
    assert document["ok"] is True and document["errors"] == 0 and document["warnings"] == len(document["problems"])
    assert json.loads(cli(tmp_path, "templates", "check", "--json", "--strict", str(twice)).stdout)["ok"] is False


def test_check_uses_the_configured_tone(tmp_path: Path) -> None:
    templates = tmp_path / "tpl"
    write(templates, "first/x.txt", "Subject: {{ reply_subject }}\n\nAbout the OKR: urgent.\n")
    config = minimal_config(tmp_path, '[tone]\nallowed_phrases = ["urgent"]\nallowed_caps = ["OKR"]\n')
    result = cli(tmp_path, "templates", "check", "--strict", str(templates), config=config)
    assert result.returncode == 0, result.stdout + result.stderr
    bad = minimal_config(tmp_path, '[tone]\nallowed_phrases = ["urgnet"]\n')
    result = cli(tmp_path, "templates", "check", config=bad)
    assert result.returncode == 2
    assert '[tone] allowed_phrases: "urgnet" is not a built-in phrase' in result.stderr
    assert 'did you mean "urgent"?' in result.stderr


def test_check_library_raises_on_errors_and_returns_warnings(tmp_path: Path) -> None:
    write(tmp_path, "first/ok.txt", "Subject: {{ reply_subject }}\n\nHi,\nCircling back.\n")
    library = TemplateLibrary.load(tmp_path)
    assert [p.severity for p in check_library(library, ToneSettings())] == ["warning"]
    path = write(tmp_path, "final/bad.txt", "Subject: {{ reply_subject }}\n\nHi,\n\n{{ recipients[1].name }}\n")
    with pytest.raises(TemplateError) as info:
        check_library(TemplateLibrary.load(tmp_path), ToneSettings())
    assert str(info.value).startswith(f"{path} line 5: list object has no element 1 (with ")
    assert (info.value.path, info.value.line) == (str(path), 5)


# --------------------------------------------------------------------------------------------------- overrides


def test_user_files_shadow_built_in_ones_file_by_file(tmp_path: Path) -> None:
    builtin = builtin_templates_dir()
    mine = tmp_path / "mine"
    write(mine, "first/no-rush.txt", "Subject: {{ reply_subject }}\n\nMy own wording.\n")
    write(mine, "first/extra.txt")
    library = TemplateLibrary.load(builtin, overlay=mine)
    first = {v.key: v for v in library.variants("first")}
    assert set(first) == {"first/anything-unclear.txt", "first/did-it-arrive.txt", "first/no-rush.txt",
                          "first/one-line-is-plenty.txt", "first/extra.txt"}
    assert first["first/no-rush.txt"].path == mine / "first" / "no-rush.txt"
    assert first["first/did-it-arrive.txt"].path == builtin / "first" / "did-it-arrive.txt"
    assert len(library.variants("final")) == 4  # stages the user did not touch stay built-in
    assert library.scan is not None and library.scan.replaced == {"first/no-rush.txt"}


def test_disable_leaves_out_built_in_variants_only(tmp_path: Path) -> None:
    builtin = builtin_templates_dir()
    mine = tmp_path / "mine"
    write(mine, "later/mine.txt")
    library = TemplateLibrary.load(builtin, overlay=mine, disable=["first/no-rush.txt", "later/*", "nope/x.txt"])
    assert "first/no-rush.txt" not in {v.key for v in library.all_variants()}
    assert [v.key for v in library.variants("later")] == ["later/mine.txt"]  # the user's own file stays
    assert library.scan is not None
    assert library.scan.unmatched_disable == ("nope/x.txt",)
    only_mine = TemplateLibrary.load(builtin, overlay=mine, disable=["*"])
    assert [v.key for v in only_mine.every_variant()] == ["later/mine.txt"]
    problems = check_library(library, ToneSettings())
    assert ['"nope/x.txt" matches no built-in template' in p.message for p in problems] == [True]


def test_templates_list_shows_which_file_wins(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    replaced = write(mine, "first/no-rush.txt")
    added = write(mine, "de/final/stopp.txt", "Subject: {{ reply_subject }}\n\nSoll ich aufhören?\n")
    config = minimal_config(tmp_path, f'[templates]\ndir = "{mine}"\ndisable = ["middle/talk-instead.txt"]\n'
                                      'lang = "auto"\n')
    result = cli(tmp_path, "templates", "list", config=config)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"shadowed file by file by {mine}" in out
    assert "language: auto" in out and "sets: en, de" in out
    rows = {line.split()[2]: line.split(None, 3)[3] for line in out.splitlines()
            if line.startswith(("en ", "de "))}
    assert rows["first/no-rush.txt"] == f"{replaced} (replaces the built-in one)"
    assert rows["de/final/stopp.txt"] == str(added)
    assert rows["first/did-it-arrive.txt"] == "built-in"
    assert rows["de/first/keine-eile.txt"] == "built-in"
    assert "middle/talk-instead.txt" not in rows
    assert "disabled ([templates] disable): middle/talk-instead.txt" in out
    # 35 built-in follow-ups, 5 commitment templates and 24 action templates, one disabled, one added
    assert len(rows) == 64
    header = next(line for line in out.splitlines() if line.startswith("LANG"))
    assert header.split() == ["LANG", "STAGE", "TEMPLATE", "FILE"]


def test_misplaced_language_folders_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "first/ok.txt")
    write(tmp_path, "german/first/x.txt")
    write(tmp_path, "en/first/y.txt")
    write(tmp_path, "de/x.txt")
    errors = [str(e) for e in scan_templates(tmp_path).errors]
    assert any("unknown language folder 'german'" in e for e in errors), errors
    assert any("'en' templates are the top-level stage folders" in e for e in errors), errors
    assert any("unknown stage folder 'de'" in e and "de/first/x.txt" in e for e in errors), errors


# --------------------------------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("subject", "content_language", "expected"),
    [
        ("Quote for the garden shed", None, "en"),
        ("AW: Angebot für Q4", None, "de"),
        ("Rechnung und Unterlagen", None, "de"),
        ("Devis pour la réunion", None, "fr"),
        ("Presupuesto para el jardín", None, "es"),
        ("Invoice 1234", "de-DE", "de"),
        ("Q4", None, None),
        ("", None, None),
    ],
)
def test_detect_language(subject: str, content_language: str | None, expected: str | None) -> None:
    assert detect_language(subject, content_language=content_language) == expected


def test_language_setting_picks_the_set(tmp_path: Path) -> None:
    builtin = builtin_templates_dir()
    assert TemplateLibrary.load(builtin).lang == "en"
    german = TemplateLibrary.load(builtin, lang="de")
    assert german.lang == "de" and german.for_message("Quote for the shed").lang == "de"  # fixed, not detected
    auto = TemplateLibrary.load(builtin, lang="auto")
    assert auto.lang == DEFAULT_LANGUAGE
    assert auto.for_message("AW: Angebot für den Garten").lang == "de"
    assert auto.for_message("Quote for the shed").lang == "en"
    assert auto.for_message("Devis pour la réunion").lang == "fr"
    assert auto.for_message("Preventivo", content_language="it").lang == "en"  # no Italian set: the default
    assert auto.for_message("Invoice", content_language="de").lang == "de"
    chosen = choose_variant(auto.for_message("Angebot für Q4"), "first", used_in_thread=(), seed="t1")
    assert chosen is not None and chosen.key.startswith("de/first/")
    assert auto.get("de/final/aufhoeren.txt") is not None  # a recorded key of any language re-renders
    with pytest.raises(TemplateError, match="no templates for language 'it'"):
        TemplateLibrary.load(builtin, lang="it")


def test_templates_config_keys(tmp_path: Path) -> None:
    base: dict[str, Any] = {
        "account": {"host": "imap.example.com", "username": "me@example.com", "password_env": "X"},
        "tracking": {"address": "me+followup@example.com"},
    }
    env = {"HOME": str(tmp_path)}
    config = parse_config({**base, "templates": {"lang": "AUTO", "disable": ["later/*"]},
                           "tone": {"max_words": 80, "de": {"allowed_phrases": ["dringend"]}}},
                          path=tmp_path / "c.toml", env=env)
    assert (config.templates.lang, config.templates.disable) == ("auto", ("later/*",))
    assert config.tone.rules("de").max_words == 80
    assert "dringend" not in config.tone.rules("de").banned_phrases
    assert "ASAP" in config.tone.rules("de").banned_phrases
    with pytest.raises(ConfigError) as info:
        parse_config({**base, "templates": {"lang": "german", "disable": ["no-rush"]},
                      "tone": {"max_word": 5, "xx1": {}, "de": {"max_words": 5, "banned": []}}},
                     path=tmp_path / "c.toml", env=env)
    message = str(info.value)
    for fragment in ('[templates] lang = "german" is not allowed', '[templates] disable = ["no-rush"]',
                     'unknown key [tone] max_word; did you mean "max_words"?', "unknown table [tone.xx1]",
                     "unknown key [tone.de] banned", "[tone.de] max_words = 5 is not allowed"):
        assert fragment in message, message


def test_example_config_documents_the_new_keys() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in ("disable = ", "lang = ", "banned_phrases = ", "allowed_phrases = ", "allowed_caps = ",
                "max_words = "):
        assert key in text, key
    assert "[tone]" in text and "[tone.de]" in text


# ------------------------------------------------------------------------------------------------------ variety


def test_choose_variant_with_usage_is_least_recently_used_across_threads() -> None:
    library = TemplateLibrary.load(builtin_templates_dir())
    keys = [v.key for v in library.variants("first")]
    usage: dict[str, datetime] = {}
    picked = []
    for n in range(8):  # two full rounds: every variant once before any repeats
        chosen = choose_variant(library, "first", used_in_thread=(), usage=usage, seed=f"thread-{n}")
        assert chosen is not None
        picked.append(chosen.key)
        usage[chosen.key] = SENT_AT + timedelta(days=n)
    assert sorted(picked[:4]) == sorted(keys) and picked[4:] == picked[:4]
    # The person rule and the thread rule still come first.
    oldest = picked[0]
    chosen = choose_variant(library, "first", used_in_thread=(), recently_used_with_person={oldest}, usage=usage,
                            seed="x")
    assert chosen is not None and chosen.key == picked[1]


# ------------------------------------------------------------------------------------------------------ preview


def test_preview_shows_dates_and_full_text_of_every_touch(tmp_path: Path) -> None:
    config = minimal_config(tmp_path)
    result = cli(tmp_path, "preview", "--suffix", "fri", config=config, now=SENT_AT)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0][2:6] == ["Fri", "06", "Nov", "2026"]  # the promise, then the gaps
    templates = [row[-1] for row in rows]
    assert len(set(templates)) == 4 and templates[-1].startswith("final/")
    for number, template in enumerate(templates, start=1):
        block = out.split(f"Touch {number} of 4, ")[1].split("\nTouch ")[0]
        assert f"({template}):" in block
        assert "    Subject: Re: Project proposal" in block
        assert "Sam" in block and "Alex Example" in block  # the sample recipient and the user's signature
        body = TemplateLibrary.load(builtin_templates_dir()).get(template)
        assert body is not None
    assert cli(tmp_path, "preview", "--suffix", "nonsense", config=config).returncode == 2


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def seed_sent(account: Account, subject: str = "Quote for the garden shed") -> None:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>", subject=subject,
                       date=SENT_AT, bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])


def preview_rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line[:1].isdigit()]


def test_preview_of_a_tracked_thread_shows_what_really_comes_next(account: Account) -> None:
    seed_sent(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    thread_id = account.status()[0]["id"]

    before = account.run("preview", "--thread", thread_id[:5], now=SENT_AT + timedelta(hours=1)).stdout
    assert f'Thread {thread_id} "Quote for the garden shed" to {BOB}' in before
    assert [row[0] for row in preview_rows(before)] == ["1", "2", "3", "4"]
    assert "    Subject: Re: Quote for the garden shed" in before and "Bob" in before

    # The first draft appears; the preview shows it as waiting, then what follows.
    due = datetime.fromisoformat(account.status()[0]["next_due"])
    account.poll(now=due + timedelta(minutes=1))
    first = account.outbox()[0]
    during = account.run("preview", "--thread", thread_id[:5], now=due + timedelta(minutes=2)).stdout
    rows = preview_rows(during)
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert rows[0][8:] == [first["template"], "(in", "Drafts)"]

    # Sent: only the remaining touches, never the template already used; the next one is what the drafter picks.
    draft = account.drafts()[0]
    sent = email.message_from_bytes(draft.as_bytes())
    account.server.append(account.user, "Sent", sent.as_bytes(), date=due + timedelta(hours=1), flags=[b"\\Seen"])
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages(client.search("ALL"))
        client.expunge()
    account.poll(now=due + timedelta(hours=2))
    assert account.status()[0]["touches"] == 1
    after = account.run("preview", "--thread", thread_id[:5], now=due + timedelta(hours=2)).stdout
    rows = preview_rows(after)
    assert [row[0] for row in rows] == ["2", "3", "4"]
    assert first["template"] not in after
    assert "Touch 1 of 4" not in after and "Touch 2 of 4" in after
    predicted_due = datetime.strptime(" ".join(rows[0][2:7]), "%a %d %b %Y %H:%M").replace(tzinfo=UTC)
    assert predicted_due == datetime.fromisoformat(account.status()[0]["next_due"])
    account.poll(now=predicted_due + timedelta(minutes=1))
    assert account.outbox()[0]["template"] == rows[0][8]


def test_preview_of_an_unknown_thread_is_a_clear_error(account: Account) -> None:
    result = account.run("preview", "--thread", "zzzz", check=False)
    assert result.returncode == 2
    assert "no thread with an id starting 'zzzz'" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------------------ daemon and reload


def test_run_refuses_a_template_that_fails_for_a_sample_thread(account: Account, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    broken = write(templates, "middle/two-people.txt",
                   "Subject: {{ reply_subject }}\n\nHi {{ recipients[0].first_name }} and\n"
                   "{{ recipients[1].first_name }},\n\nA short note.\n")
    account.write_config(account.config_text + f'\n[templates]\ndir = "{templates}"\n')
    result = account.run("run", check=False, timeout=30)  # a daemon that does start gets killed by the timeout
    assert result.returncode == 2, result.stderr
    assert f"{broken} line 4: list object has no element 1 (with one recipient" in result.stderr
    assert "followupd running" not in result.stderr and "Traceback" not in result.stderr


def test_app_library_reloads_an_edited_template_without_a_new_app(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    path = write(mine, "first/mine.txt", "Subject: {{ reply_subject }}\n\nVersion one.\n")
    config = minimal_config(tmp_path, f'[templates]\ndir = "{mine}"\ndisable = ["*"]\n')
    app = build_app(config, env={"HOME": str(tmp_path), "FOLLOWUPD_TEST_PASSWORD": "x"})
    first = app.library
    assert first.variants("first")[0].body_source == "Version one.\n"
    assert app.library is first  # unchanged files: the same library, no re-reading

    path.write_text("Subject: {{ reply_subject }}\n\nVersion two, a little longer.\n", encoding="utf-8")
    assert app.library.variants("first")[0].body_source == "Version two, a little longer.\n"
    write(mine, "first/added.txt")
    assert [v.name for v in app.library.variants("first")] == ["added", "mine"]

    # A broken edit keeps the last good templates (the daemon goes on tracking replies) and says why.
    good = app.library
    path.write_text("Subject: {{ reply_subject }}\n\n{% if note %}\n", encoding="utf-8")
    assert app.library is good
    assert app.templates.error is not None and "mine.txt line" in str(app.templates.error)
    path.write_text("Subject: {{ reply_subject }}\n\nFixed.\n", encoding="utf-8")
    assert app.library.get("first/mine.txt") is not None
    assert app.library.get("first/mine.txt").body_source == "Fixed.\n"  # type: ignore[union-attr]
    assert app.templates.error is None


def test_each_cycle_hands_the_current_library_to_the_drafter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import contextlib

    mine = tmp_path / "mine"
    path = write(mine, "first/mine.txt", "Subject: {{ reply_subject }}\n\nOne.\n")
    config = minimal_config(tmp_path, f'[templates]\ndir = "{mine}"\ndisable = ["*"]\n')
    app = build_app(config, env={"HOME": str(tmp_path), "FOLLOWUPD_TEST_PASSWORD": "x"})
    seen: list[str] = []

    def run_cycle(box: object, *, library: TemplateLibrary | None = None, **_: object) -> None:
        assert library is not None
        seen.append(library.variants("first")[0].body_source)

    monkeypatch.setattr(app, "mailbox", lambda: contextlib.nullcontext(None))
    monkeypatch.setattr(app.engine, "run_cycle", run_cycle)
    app.cycle()
    path.write_text("Subject: {{ reply_subject }}\n\nTwo, edited.\n", encoding="utf-8")
    app.cycle()
    assert seen == ["One.\n", "Two, edited.\n"]


def test_preview_agrees_with_the_drafter_when_other_threads_used_templates(account: Account) -> None:
    """The drafter rotates least-recently-used across threads; the preview must predict with the same data."""
    for n, person in enumerate(["ann", "cid", "dee"]):
        raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"{person}@example.org",
                           subject=f"Offer {n}", date=SENT_AT - timedelta(days=10 + n), bcc=account.tracking)
        account.server.append(account.user, "Sent", raw, flags=[b"\\Seen"])
    account.poll(now=SENT_AT)  # three first-stage drafts: their templates are now the most recently used
    assert len(account.outbox()) == 3
    seed_sent(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    thread_id = next(t["id"] for t in account.status() if t["recipients"] == [BOB])
    predicted = preview_rows(account.run("preview", "--thread", thread_id, now=SENT_AT + timedelta(hours=1)).stdout)
    due = datetime.fromisoformat(next(t for t in account.status() if t["id"] == thread_id)["next_due"])
    account.poll(now=due + timedelta(minutes=1))
    drafted = next(e for e in account.outbox() if e["thread_id"] == thread_id)
    assert drafted["template"] == predicted[0][-1]
