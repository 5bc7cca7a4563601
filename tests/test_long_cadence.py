"""Issue 18, points 2 and 4 (code half): eleven touches end to end, the "gentle" and "persistent" presets, the
coverage warning of ``templates check``, and holidays by region code through the ``holidays`` package.

Config and cadence are pure and tested without a server; the eleven touches run through the real ``followupd``
command against the real Dovecot, as a user would live them.
"""

from __future__ import annotations

import copy
import email.utils
import os
import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config, followupd_command, run_followupd
from mailfactory import make_message

from followupd.compose.coverage import coverage_problems
from followupd.compose.library import TemplateLibrary, builtin_templates_dir
from followupd.compose.scan import scan_templates
from followupd.config import parse_config
from followupd.errors import ConfigError
from followupd.planning.cadence import CadenceSettings, add_business_days, fit_to_window, planned_schedule

BERLIN = ZoneInfo("Europe/Berlin")
MINIMAL: dict[str, Any] = {
    "account": {"host": "imap.example.com", "username": "me@example.com", "password_env": "IMAP_PW"},
    "tracking": {"address": "me+followup@example.com"},
}
ENV = {"HOME": "/nonexistent-home", "TZ": "Europe/Berlin"}


def cadence(**values: Any) -> CadenceSettings:
    data = copy.deepcopy(MINIMAL)
    data["cadence"] = values
    return parse_config(data, path=Path("config.toml"), env=ENV).cadence


def config_error(**values: Any) -> str:
    data = copy.deepcopy(MINIMAL)
    data["cadence"] = values
    with pytest.raises(ConfigError) as caught:
        parse_config(data, path=Path("config.toml"), env=ENV)
    return str(caught.value)


# ------------------------------------------------------------------------------------------------ presets


def test_presets_gentle_is_todays_default_and_persistent_is_eleven_touches_over_about_five_months() -> None:
    assert cadence().gaps == cadence(preset="gentle").gaps == CadenceSettings().gaps
    gaps = cadence(preset="persistent").gaps
    assert len(gaps) == 11
    sent = datetime(2026, 3, 2, 10, 0, tzinfo=BERLIN)  # a Monday in March
    settings = CadenceSettings(gaps=gaps)
    schedule = planned_schedule(sent_at=sent, promised=None, settings=settings, tz=BERLIN, seed="t")
    assert len(schedule) == 11
    days = [(b.date() - a.date()).days for a, b in pairwise([sent, *schedule])]
    assert min(days) >= 2  # never a touch the day after another
    assert days == sorted(days)  # the gaps grow ...
    assert days[-1] >= 28  # ... to monthly
    span = (schedule[-1].date() - sent.date()).days
    assert 140 <= span <= 170, span  # about five months


def test_explicit_gaps_override_the_preset_and_a_bad_preset_says_what_works() -> None:
    assert [str(g) for g in cadence(preset="persistent", gaps=["1w", "2w"]).gaps] == ["1w", "2w"]
    message = config_error(preset="pushy")
    assert '[cadence] preset = "pushy" is not allowed; use "gentle" or "persistent"' in message


def test_eleven_gaps_are_accepted() -> None:
    assert len(cadence(gaps=[*["3bd"], *["2w"] * 10]).gaps) == 11


# ----------------------------------------------------------------------------------------------- holidays


def test_holidays_by_region_code_and_date() -> None:
    settings = cadence(holidays=["de-by", "2026-12-24", date(2026, 12, 31)])
    holidays = settings.holidays
    assert date(2026, 1, 6) in holidays          # Epiphany: a holiday in Bavaria ...
    assert date(2026, 1, 6) not in cadence(holidays=["DE-BE"]).holidays  # ... not in Berlin
    assert date(2026, 12, 25) in holidays and date(2027, 5, 6) in holidays  # Christmas; Ascension next year
    assert date(2026, 12, 24) in holidays and date(2026, 12, 31) in holidays
    assert date(2026, 1, 7) not in holidays
    # Monday 5 January + 1 business day skips Epiphany in Bavaria.
    assert add_business_days(date(2026, 1, 5), 1, holidays) == date(2026, 1, 7)
    # A draft due on Epiphany waits for the next send day.
    due = fit_to_window(datetime(2026, 1, 6, 9, 0, tzinfo=BERLIN), settings, BERLIN)
    assert due.date() == date(2026, 1, 7)


def test_dates_only_still_compare_as_a_set_of_dates() -> None:
    assert cadence(holidays=["2026-12-25"]).holidays == frozenset({date(2026, 12, 25)})
    assert cadence(holidays=["2026-12-25", "FR"]).holidays != frozenset({date(2026, 12, 25)})


@pytest.mark.parametrize(("value", "fragments"), [
    ("DE-XX", ['[cadence] holidays = ["DE-XX"] is not allowed', "DE has no subdivision 'XX'", "BY"]),
    ("QQ", ["no country 'QQ'", 'such as "DE"']),
    ("Christmas", ['"Christmas" is not an ISO date nor a region code', '"DE-BY"']),
])
def test_bad_region_codes_name_key_value_and_fix(value: str, fragments: list[str]) -> None:
    message = config_error(holidays=[value])
    for fragment in fragments:
        assert fragment in message, message


# ------------------------------------------------------------------------------------- coverage warning


def write(root: Path, key: str, words: str) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"Subject: {{{{ reply_subject }}}}\n\nHi,\n\n{words}\n\n{{{{ signature }}}}\n", encoding="utf-8")


def test_coverage_warns_per_language_and_stage_when_the_cadence_outgrows_the_variants(tmp_path: Path) -> None:
    for stage, count in (("first", 1), ("middle", 1), ("later", 2), ("final", 1)):
        for n in range(count):
            write(tmp_path, f"{stage}/v{n}.txt", f"{stage} note number {n}.")
            write(tmp_path, f"fr/{stage}/v{n}.txt", f"{stage} note {n}.")
    variants = scan_templates(tmp_path).variants
    assert coverage_problems(variants, 4, tmp_path) == []
    found = [str(p) for p in coverage_problems(variants, 11, tmp_path)]
    assert len(found) == 2, found
    assert found[0].startswith(f"{tmp_path / 'later'}: warning: language 'en': the cadence has 11 touches and "
                               "touches 3-10 use later/, which has 2 variant(s) for 8")
    assert found[1].startswith(f"{tmp_path / 'fr' / 'later'}: warning: language 'fr'")


def cli(tmp_path: Path, *args: str, config: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUPD_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")
    env["FOLLOWUPD_TEST_PASSWORD"] = "unused"
    return run_followupd(["--config", str(config), *args], env=env)


def test_templates_check_reads_the_active_cadence(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    write(mine, "later/extra.txt", "One more thought on this.")
    config = tmp_path / "config.toml"
    config.write_text(f"""
[account]
host = "imap.example.com"
username = "me@example.com"
password_env = "FOLLOWUPD_TEST_PASSWORD"

[tracking]
address = "me+followup@example.com"

[database]
url = "sqlite:///{tmp_path / 'state.db'}"

[cadence]
preset = "persistent"

[templates]
dir = "{mine}"
""", encoding="utf-8")
    library = TemplateLibrary.load(builtin_templates_dir(), overlay=mine)
    later = len(library.variants("later"))
    result = cli(tmp_path, "templates", "check", config=config)
    if later >= 8:
        assert "language 'en'" not in result.stdout, result.stdout
    else:
        assert f"{mine / 'later'}: warning: language 'en': the cadence has 11 touches" in result.stdout
        assert f"which has {later} variant(s) for 8" in result.stdout


# ---------------------------------------------------------------------------------- eleven touches, e2e

BOB = "bob@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    acct = Account(dovecot, mail_user, tmp_path / "acct")
    extra = tmp_path / "extra-templates"
    for n in range(8):  # enough later/ wording whatever the built-in library holds
        write(extra, f"later/extra-{n}.txt", f"Another short thought, number {n + 1}, on this.")
    text = default_config(mail_user, acct.workdir, cadence="""
[cadence]
preset = "persistent"
send_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
send_hours = "00:00-24:00"
jitter = "0m"
""")
    acct.write_config(text + f'\n[templates]\ndir = "{extra}"\n')
    return acct


def user_sends(account: Account, draft: Message, when: datetime) -> None:
    del draft["Date"]
    draft["Date"] = email.utils.format_datetime(when)
    account.server.append(account.user, "Sent", draft.as_bytes(), date=when, flags=[b"\\Seen"])
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages(client.search("ALL"))
        client.expunge()


def test_eleven_touches_end_to_end_each_new_wording_then_closed_unanswered(account: Account) -> None:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>",
                       subject="Quote for the garden shed", date=SENT_AT, bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(hours=1))
    dates = [SENT_AT.date()]
    for number in range(1, 12):
        (thread,) = account.status()
        now = datetime.fromisoformat(thread["next_due"]) + timedelta(minutes=1)
        account.poll(now=now)
        (draft,) = account.drafts()
        user_sends(account, draft, now + timedelta(minutes=30))
        account.poll(now=now + timedelta(hours=1))
        assert account.status()[0]["touches"] == number
        dates.append(now.date())
    entries = account.outbox("--all")
    templates = [entry["template"] for entry in entries]
    assert len(templates) == 11 and len(set(templates)) == 11  # never the same wording twice in a thread
    assert templates[0].startswith("first/") and templates[-1].startswith("final/")
    gaps = [(b - a).days for a, b in pairwise(dates)]
    assert min(gaps) >= 2 and gaps == sorted(gaps), gaps
    (thread,) = account.status()
    assert thread["state"] == "unanswered" and thread["touches"] == 11 and thread["next_due"] is None


def test_the_daemon_warns_at_start_when_the_cadence_outgrows_the_templates(dovecot: DovecotServer,
                                                                         mail_user: MailUser,
                                                                         tmp_path: Path) -> None:
    acct = Account(dovecot, mail_user, tmp_path / "acct")
    acct.write_config(default_config(mail_user, acct.workdir, cadence='\n[cadence]\npreset = "persistent"\n')
                      .replace("[account]\n", "[account]\nidle = false\n", 1)
                      + '\n[templates]\ndisable = ["later/*"]\n')  # no later/ wording at all
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*followupd_command(), "--config", str(acct.config_path), "--log-level", "info",
                                 "run"], env=acct.env(), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "running for" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")
            time.sleep(0.1)
        text = log_path.read_text(errors="replace")
        assert "language 'en': the cadence has 11 touches and touches 3-10 use later/, which has 0 variant(s) " \
               "for 8" in text, text
    finally:
        proc.kill()
        proc.wait(30)


def test_a_one_folder_library_is_no_coverage_problem_for_a_short_cadence(tmp_path: Path) -> None:
    for n in range(4):
        write(tmp_path, f"first/v{n}.txt", f"A note, number {n}.")
    variants = scan_templates(tmp_path).variants
    assert coverage_problems(variants, 4, tmp_path) == []  # the documented fallback: one folder stands in
    assert [p.path.name for p in coverage_problems(variants, 11, tmp_path)] == ["later"]
