"""Issue 18, point 5: template authors' comfort. ``{{ subject }}`` is the original subject, an unknown name gets
the nearest known one as a hint, and ``templates check`` lists a file's tone warnings even when it has an error.

Pure where it can be (rendering, loading); the check command runs as the real ``followupd`` process.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from harness import run_followupd

from followupd.compose.checks import find_problems
from followupd.compose.library import TemplateLibrary
from followupd.compose.render import RenderContext, render
from followupd.compose.scan import read_template, scan_templates
from followupd.compose.tone import ToneSettings
from followupd.errors import TemplateError
from followupd.mail.headers import Address

NOW = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)


def write(root: Path, key: str, text: str) -> Path:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def context(subject: str) -> RenderContext:
    return RenderContext(recipients=(Address("ana@example.com", "Ana Lima"),), cc=(), original_subject=subject,
                         sent_at=datetime(2026, 11, 4, 10, 0, tzinfo=UTC), now=NOW, tz=ZoneInfo("UTC"),
                         touch_number=1, total_touches=4, promised=None, user_name="Alex", signature="Alex",
                         note=None)


def test_subject_is_the_original_subject(tmp_path: Path) -> None:
    path = write(tmp_path, "first/x.txt", "Subject: Re: {{ subject }}\n\nHi,\n\nabout \"{{ subject }}\".\n")
    rendered = render(read_template(path, stage="first"), context("AW: Angebot\r\nfür Q4"))
    assert rendered.subject == "Re: AW: Angebot für Q4"
    assert 'about "AW: Angebot für Q4".' in rendered.body


@pytest.mark.parametrize(("typo", "hint"), [
    ("frist_name", "first_name"), ("signatur", "signature"), ("recipent", "recipients"),
    ("Subject", "subject"), ("sent_wehn", "sent_when"),
])
def test_an_unknown_variable_suggests_the_nearest_known_name(tmp_path: Path, typo: str, hint: str) -> None:
    write(tmp_path, "first/x.txt", f"Subject: hello\n\nHi,\n\n{{{{ {typo} }}}}\n")
    with pytest.raises(TemplateError) as caught:
        TemplateLibrary.load(tmp_path)
    assert f"line 5: unknown variable {typo!r}; did you mean {hint!r}?" in str(caught.value)


def test_a_name_like_nothing_known_gets_no_guess(tmp_path: Path) -> None:
    write(tmp_path, "first/x.txt", "Subject: hello\n\nHi {{ zzqx }}\n")
    with pytest.raises(TemplateError, match=r"unknown variable 'zzqx'; see templates/README.md") as caught:
        TemplateLibrary.load(tmp_path)
    assert "did you mean" not in str(caught.value)


def test_find_problems_lists_tone_warnings_of_a_file_that_also_has_an_error(tmp_path: Path) -> None:
    unknown = write(tmp_path, "first/unknown.txt", "Subject: hi\n\nHi {{ frist_name }},\nPlease reply ASAP!!\n")
    syntax = write(tmp_path, "middle/syntax.txt", "Subject: hi\n\nHi {% if x %},\nThis is URGENT.\n")
    found = [str(p) for p in find_problems(scan_templates(tmp_path), ToneSettings())]
    assert any(line.startswith(f"{unknown}:3: error: unknown variable 'frist_name'; did you mean") for line in found)
    assert f'{unknown}:4: warning: tone: "ASAP" sounds pushy' in "\n".join(found)
    assert f'{unknown}:4: warning: tone: "!!" reads as shouting' in "\n".join(found)
    assert any(line.startswith(f"{syntax}:3: error:") for line in found), found
    assert any(line.startswith(f"{syntax}:4: warning: tone:") and "URGENT" in line for line in found), found


def test_templates_check_on_a_broken_file_prints_its_error_and_its_warnings(tmp_path: Path) -> None:
    path = write(tmp_path / "tpl", "first/x.txt", "Subject: hi\n\nHi {{ frist_name }},\nPlease reply ASAP!!\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUPD_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")
    result = run_followupd(["--config", str(tmp_path / "none.toml"), "templates", "check", str(path)], env=env)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{path}:3: error: unknown variable 'frist_name'; did you mean 'first_name'?")
    assert lines[1].startswith(f'{path}:4: warning: tone: "ASAP"')
    assert lines[2].startswith(f'{path}:4: warning: tone: "!!"')
    assert lines[-1] == "1 template(s) checked: 1 error(s), 2 warning(s)"
