"""Progress you can see (issue 16 point 4): a bar per folder on a terminal, a line per tenth otherwise, none
with ``poll --quiet``. The drawing is tested pure (numbers in, text out, a hand-moved clock); the real command
is run on Dovecot with a folder big enough to need several FETCH batches.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

from followupd.cli.progress import ProgressReporter, eta_text, render_bar


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_eta_and_bar_text() -> None:
    assert [eta_text(s) for s in (None, float("nan"), -1, 0, 42.4, 61, 3723)] == \
        ["?", "?", "?", "0:00", "0:42", "1:01", "1:02:03"]
    assert render_bar("INBOX", 0, 70_000, 0.0) == \
        "INBOX  [........................]  0/70,000 messages read  -/s  ETA ?"
    assert render_bar("INBOX", 35_000, 70_000, 10.0) == \
        "INBOX  [############............]  35,000/70,000 messages read  3,500/s  ETA 0:10"
    assert render_bar("Sent", 2_000, 2_000, 1.5, what="steps done") == \
        "Sent  [########################]  2,000/2,000 steps done  1,333/s  done in 0:02"


def test_a_terminal_gets_one_line_redrawn_per_folder() -> None:
    clock, out = _Clock(), io.StringIO()
    report = ProgressReporter(out, tty=True, clock=clock)
    for done in range(0, 2_001, 500):
        report("INBOX", done, 2_000)
        clock.now += 1
    report("Archive", 0, 600)
    clock.now += 2
    report("Archive", 600, 600)
    text = out.getvalue()
    inbox, archive, rest = text.split("\n")
    assert rest == ""
    frames = inbox.split("\r")[1:]
    assert len(frames) == 5 and frames[-1].startswith("INBOX  [" + "#" * 24 + "]  2,000/2,000 messages read")
    assert "500/s" in frames[-1] and "done in 0:04" in frames[-1]
    assert "ETA 0:03" in frames[1]  # 500 of 2,000 after 1 s: 3 s to go
    assert archive.split("\r")[-1].startswith("Archive  [" + "#" * 24 + "]  600/600 messages read  300/s")
    assert report.internal_error is None


def test_elsewhere_a_log_line_per_tenth(caplog: pytest.LogCaptureFixture) -> None:
    clock = _Clock()
    report = ProgressReporter(io.StringIO(), tty=False, clock=clock)
    with caplog.at_level(logging.INFO, logger="followupd.cli.progress"):
        for done in range(0, 70_001, 500):  # 141 calls, as batches of 500 arrive
            report("INBOX", done, 70_000)
            clock.now += 0.1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 11, lines  # 0 %, 10 %, ... 100 %
    assert lines[0] == "INBOX: 0 of 70,000 messages read (0 %), -/s, about ? left"
    assert lines[5].startswith("INBOX: 35,000 of 70,000 messages read (50 %), 5,000/s, about 0:07 left")
    assert lines[-1] == "INBOX: 70,000 of 70,000 messages read (100 %) in 0:14"


def test_quiet_shows_nothing_and_a_broken_stream_never_breaks_the_work(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    with caplog.at_level(logging.INFO, logger="followupd.cli.progress"):
        ProgressReporter(out, tty=True, quiet=True)("INBOX", 1, 2)
        ProgressReporter(out, tty=False, quiet=True)("INBOX", 1, 2)
    assert out.getvalue() == "" and caplog.records == []

    closed = io.StringIO()
    closed.close()
    report = ProgressReporter(closed, tty=True)
    with caplog.at_level(logging.WARNING, logger="followupd.cli.progress"):
        report("INBOX", 1, 2)
        report("INBOX", 2, 2)
    assert report.internal_error is not None and "ValueError" in report.internal_error
    assert len(caplog.records) == 1  # logged once, then silent


_PROGRESS_LINE = re.compile(r"INFO followupd\.progress: INBOX: ([\d,]+) of 1,200 messages read \((\d+) %\)")


def test_poll_of_a_big_folder_logs_tenths_and_quiet_hides_them(dovecot: DovecotServer, tmp_path: Path) -> None:
    users = [dovecot.add_user(), dovecot.add_user()]
    for user in users:
        with dovecot.connect(user) as client:
            for number in range(1_200):  # three FETCH batches of 500
                client.append("INBOX", make_message(subject=f"note {number}", body="hi\n"))
    loud, quiet = (Account(dovecot, user, tmp_path / name) for user, name in zip(users, ("loud", "quiet"),
                                                                                   strict=True))
    # Not a terminal (captured), default log level: the tenths still show, so a long sync never looks hung.
    result = loud.run("poll")
    found = [(int(done.replace(",", "")), int(pct)) for done, pct in _PROGRESS_LINE.findall(result.stderr)]
    assert found == [(0, 0), (500, 41), (1000, 83), (1200, 100)], result.stderr
    assert "read 1200 new message(s)" in result.stdout
    assert loud.run("poll").stderr == ""  # nothing new: nothing to show

    hushed = quiet.run("poll", "--quiet")
    assert "followupd.progress" not in hushed.stderr and "read 1200 new message(s)" in hushed.stdout


def test_poll_on_a_terminal_draws_a_bar(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    import os
    import subprocess

    from harness import followupd_command

    with dovecot.connect(mail_user) as client:
        for number in range(700):
            client.append("INBOX", make_message(subject=f"note {number}", body="hi\n"))
    account = Account(dovecot, mail_user, tmp_path / "acct")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*followupd_command(), "--config", str(account.config_path), "poll"],
                            env=account.env(), stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    stdout, _ = proc.communicate(timeout=120)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the terminal's other end is closed, all of it read
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    screen = b"".join(chunks).decode()
    assert proc.returncode == 0, screen
    frames = [f for f in screen.replace("\r\n", "\n").split("\r") if f.strip()]
    assert frames[0].startswith("INBOX  [........................]  0/700 messages read")
    assert frames[-1].startswith("INBOX  [########################]  700/700 messages read"), frames
    assert "followupd.progress" not in screen  # a bar, not log lines
    assert "read 700 new message(s)" in stdout


def test_db_upgrade_shows_each_step_and_quiet_hides_it(tmp_path: Path) -> None:
    import shutil

    from test_migrations import DATA, followupd, write_config

    from followupd.adapters.store import migrations

    runs = {}
    for name, extra in (("loud", ()), ("quiet", ("--quiet",))):
        shutil.copy(DATA / "release-0.1.0.sqlite", tmp_path / f"{name}.db")
        config = write_config(tmp_path / name, f"sqlite:///{tmp_path / name}.db", 'migrate = "refuse"')
        runs[name] = followupd(config, "db", "upgrade", *extra)
        assert runs[name].returncode == 0, runs[name].stderr
        assert "upgraded from revision 0001" in runs[name].stdout
    lines = re.findall(r"followupd\.progress: (database upgrade: .*)", runs["loud"].stderr)
    steps = len(migrations.pending("0001"))  # from release 0.1.0 to this release's schema
    assert steps >= 2
    assert [line.split(" (")[0] for line in lines] == [f"database upgrade: {done} of {steps} steps done"
                                                       for done in range(steps + 1)], runs["loud"].stderr
    assert "progress" not in runs["quiet"].stderr
