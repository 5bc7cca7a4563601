"""Replies you owe end to end (issue 14 point 3, issue 15 point 1): real Dovecot, the real command, time pinned.

followupd reaches Dovecot through a counting proxy (tests/netproxy.py), so what the tests say about cost is
what went over the wire: with ``[owed]`` off no body is read; with it on, one ``BODY.PEEK[]`` per question
from a person, none for the user's own mail, automatic or list mail, and a quiet cycle sends exactly the
commands it sends with ``[owed]`` off. The pure rules are in tests/test_owed.py.
"""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, accounts_config, default_config, run_followupd
from mailfactory import make_message
from netproxy import LoopbackProxy

ASKED_AT = datetime(2026, 11, 5, 10, 0, tzinfo=UTC)   # a Thursday
NOT_YET = ASKED_AT + timedelta(days=3)                # Sunday: one business day (Friday) has passed
DUE = ASKED_AT + timedelta(days=4, hours=1)           # Monday 11:00: two business days have passed
BOB = "Bob Baker <bob@example.net>"
SECOND = "a.morgan@example.org"                       # the user's second address ([identity] addresses)
QUESTION = "Could you send me the signed contract by Friday?"


class CountingProxy(LoopbackProxy):
    """The proxy (it counts ``bodies``: whole messages read, and ``body_fetches``), with its counts reset."""

    def reset(self) -> None:
        self.bodies = self.body_fetches = 0
        self.commands.clear()


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[CountingProxy]:
    with CountingProxy(dovecot.host, dovecot.imap_port) as running:
        yield running


def config(user: MailUser, workdir: Path, proxy: CountingProxy, *, owed: bool = True, digest: bool = False) -> str:
    text = default_config(user, workdir, digest=digest,
                          extra="[owed]\nenabled = true\n" if owed else "")
    text = text.replace(f"port = {user.port}", f"port = {proxy.port}")
    return text.replace(f'addresses = ["{user.address}"]', f'addresses = ["{user.address}", "{SECOND}"]')


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path, proxy: CountingProxy) -> Account:
    workdir = tmp_path / "acct"
    return Account(dovecot, mail_user, workdir, config_text=config(mail_user, workdir, proxy))


def ask(account: Account, *, when: datetime = ASKED_AT, body: str = f"Hi Alex,\n\n{QUESTION}\n\nBob\n",
        **headers: Any) -> str:
    fields: dict[str, Any] = {"from_": BOB, "to": f"Alex Example <{account.user.address}>",
                              "subject": "Contract", "date": when}
    fields.update(headers)
    raw = make_message(body=body, **fields)
    account.server.deliver_lmtp(account.user, raw)
    return str(email.message_from_bytes(raw)["Message-ID"])


def reply(account: Account, to_id: str, *, from_: str | None = None, folder: str = "Sent",
          when: datetime = ASKED_AT + timedelta(days=5)) -> str:
    raw = make_message(from_=from_ or f"Alex Example <{account.user.address}>", to=BOB, subject="Re: Contract",
                       in_reply_to=to_id, references=to_id, date=when, body="Here it is, signed.\n")
    account.server.append(account.user, folder, raw, date=when, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


def owed(account: Account, now: datetime) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(account.run("owed", "--json", now=now).stdout)
    return result


def test_off_reads_no_body_and_lists_nothing_and_on_a_quiet_cycle_costs_the_same(
        account: Account, proxy: CountingProxy, mail_user: MailUser, tmp_path: Path) -> None:
    account.write_config(config(mail_user, account.workdir, proxy, owed=False))
    ask(account)
    account.poll(now=DUE)
    assert proxy.bodies == 0
    assert owed(account, DUE) == []
    assert "not looked for" in account.run("owed", now=DUE).stdout
    proxy.reset()
    account.poll(now=DUE + timedelta(minutes=5))
    quiet_off = dict(proxy.commands)

    account.write_config(config(mail_user, account.workdir, proxy, owed=True))
    proxy.reset()
    account.poll(now=DUE + timedelta(minutes=10))
    assert dict(proxy.commands) == quiet_off and proxy.bodies == 0  # nothing new: nothing more than before
    assert owed(account, DUE) == []  # read before [owed] was on: never looked at again


@pytest.mark.parametrize("answer_from", ["primary", "second"])
def test_a_question_is_listed_after_after_and_closed_by_the_users_reply(
        account: Account, proxy: CountingProxy, answer_from: str) -> None:
    question = ask(account)
    assert "1 new reply you owe" in account.poll(now=ASKED_AT + timedelta(hours=1)).stdout
    assert proxy.bodies == 1  # the question, read once
    assert owed(account, NOT_YET) == []  # one business day: not yet
    assert account.run("owed", now=NOT_YET).stdout == (
        "No replies owed.\n1 more asked you something recently; listed once [owed] after has passed without your "
        "answer.\n")
    [row] = owed(account, DUE)
    assert row["message_id"] == question and row["from"] == BOB and row["subject"] == "Contract"
    assert row["evidence"] == QUESTION and row["waiting_days"] == 4
    assert row["received_at"].startswith("2026-11-05T10:00")
    text = account.run("owed", now=DUE).stdout
    assert "Bob Baker" in text and "Contract" in text and "4 days" in text and "signed contract" in text

    proxy.reset()
    account.poll(now=DUE)
    assert proxy.bodies == 0  # nothing new; the question is never read again
    sender = f"Alex Example <{account.user.address}>" if answer_from == "primary" else f"Alex <{SECOND}>"
    answer = reply(account, question, from_=sender)
    assert "1 reply you owed answered" in account.poll(now=DUE + timedelta(hours=1)).stdout
    assert proxy.bodies == 0  # the user's own reply needs no body
    assert owed(account, DUE + timedelta(hours=2)) == []
    assert "No replies owed." in account.run("owed", now=DUE + timedelta(hours=2)).stdout
    assert answer  # closed_by is shown by `owed done` refusing it (below) and in the digest tests
    done = account.run("owed", "done", row["id"][:6], now=DUE + timedelta(hours=2), check=False)
    assert done.returncode == 2 and "already answered" in done.stderr


def test_a_first_sync_lists_nothing_already_answered_and_reads_no_body_for_it(account: Account,
                                                                               proxy: CountingProxy) -> None:
    question = ask(account)
    reply(account, question, when=ASKED_AT + timedelta(hours=3))
    account.poll(now=DUE)
    assert owed(account, DUE) == []
    assert proxy.bodies == 0  # Sent first: the question was known to be answered before it was read


def test_a_question_answered_before_it_was_read_stays_answered_when_filed_into_another_folder(
        account: Account, proxy: CountingProxy) -> None:
    question = ask(account)
    reply(account, question, when=ASKED_AT + timedelta(hours=3))
    account.poll(now=ASKED_AT + timedelta(days=1))  # first sync: Sent (the answer) before INBOX (the question)
    assert owed(account, DUE) == [] and proxy.bodies == 0
    [(_uid, _flags, copy)] = account.messages("INBOX")
    account.server.append(account.user, "Archive", copy.as_bytes(), date=ASKED_AT)  # filed away: a new UID
    proxy.reset()
    account.poll(now=ASKED_AT + timedelta(days=2))  # still within the first look's 30 days
    assert proxy.bodies == 0  # remembered as answered: never read
    assert owed(account, DUE + timedelta(days=7)) == []
    assert "No replies owed." in account.run("owed", now=DUE + timedelta(days=7)).stdout


def test_a_forward_to_a_colleague_leaves_the_question_owed_and_a_reply_to_the_sender_closes_it(
        account: Account, proxy: CountingProxy) -> None:
    question = ask(account)
    forward = make_message(from_=f"Alex Example <{account.user.address}>", to="Carol <carol@example.org>",
                           subject="Fwd: Contract", in_reply_to=question, references=question,
                           date=ASKED_AT + timedelta(hours=1), body=f"Carol, can you handle this?\n\n> {QUESTION}\n")
    account.server.append(account.user, "Sent", forward, date=ASKED_AT + timedelta(hours=1), flags=[b"\\Seen"])
    account.poll(now=DUE)  # as Gmail and Apple Mail write them: a forward names the question like a reply
    assert [row["message_id"] for row in owed(account, DUE)] == [question]
    assert proxy.bodies == 1  # the question; the forward, the user's own, needs none
    reply(account, question)  # to Bob
    assert "1 reply you owed answered" in account.poll(now=DUE + timedelta(hours=1)).stdout
    assert owed(account, DUE + timedelta(hours=2)) == []


def test_a_first_sync_lists_the_question_that_came_after_the_users_last_message(account: Account,
                                                                                 proxy: CountingProxy) -> None:
    first = ask(account, when=ASKED_AT - timedelta(days=2), subject="Contract",
                body="Hi Alex,\n\nhere is the draft contract.\n\nBob\n")
    mine = reply(account, first, when=ASKED_AT - timedelta(days=1))  # names <first>, as will Bob's question
    question = ask(account, in_reply_to=mine, references=f"{first} {mine}", subject="Re: Contract")
    account.poll(now=DUE)
    assert [row["message_id"] for row in owed(account, DUE)] == [question]
    assert proxy.bodies == 1  # the question only: Bob's first mail was answered, the user's reply needs none


def test_mail_that_asks_nobody_in_particular_is_never_listed(account: Account, proxy: CountingProxy) -> None:
    ask(account, auto_submitted="auto-generated", from_="Billing <billing@shop.example>")
    ask(account, list_id="<team.lists.example.net>", to="team@lists.example.net", subject="Lunch?")
    ask(account, to="carol@example.net", subject="Bcc only")  # delivered to Alex, who is in neither To nor Cc
    ask(account, from_="Shop <no-reply@shop.example>", subject="Rate us")
    ask(account, when=DUE - timedelta(days=40), subject="An old one")  # before the first look's 30 days
    ask(account, subject="Thanks", body="Thanks a lot, Alex, that was very helpful.\n\nBob\n")
    account.poll(now=DUE)
    assert owed(account, DUE + timedelta(days=7)) == []
    assert proxy.bodies == 1  # only the thank-you note was worth reading: it asks nothing


def test_the_questions_of_a_first_sync_are_read_in_one_fetch(account: Account, proxy: CountingProxy) -> None:
    asked = [ask(account, subject=f"Contract {n}", body=f"Hi Alex,\n\nCould you sign part {n} by Friday?\n\nBob\n")
             for n in range(4)]
    account.poll(now=DUE)
    assert sorted(row["message_id"] for row in owed(account, DUE)) == sorted(asked)
    assert (proxy.bodies, proxy.body_fetches) == (4, 1)  # one UID FETCH: the sync reads a batch's bodies ahead


def deliver(account: Account, message: EmailMessage) -> None:
    message["To"] = f"Alex Example <{account.user.address}>"
    message["Date"] = format_datetime(ASKED_AT)
    message["Message-ID"] = make_msgid(domain="example.net")
    account.server.deliver_lmtp(account.user, message.as_bytes(policy=policy.SMTP))


def test_questions_as_mail_clients_write_them_in_other_languages(account: Account, proxy: CountingProxy) -> None:
    outlook = EmailMessage()  # multipart/alternative, quoted-printable German, a signature
    outlook["From"], outlook["Subject"] = "Birgit Braun <birgit@example.de>", "Vertrag"
    outlook.set_content("Hallo Alex,\n\nkönnten Sie mir bitte bis Freitag den unterschriebenen Vertrag "
                        "schicken?\n\nViele Grüße\nBirgit Braun\n-- \nBraun GmbH, Tel. 089 123456\n",
                        cte="quoted-printable")
    outlook.add_alternative("<html><body><p>Hallo Alex,</p><p>könnten Sie mir bitte bis Freitag den "
                            "unterschriebenen Vertrag schicken?</p><p>Viele Grüße<br>Birgit</p></body></html>",
                            subtype="html", cte="quoted-printable")
    gmail = EmailMessage()  # HTML only, Spanish, with the quoted history Gmail adds
    gmail["From"], gmail["Subject"] = "Ana Ruiz <ana@example.es>", "Re: Reunión"
    gmail.set_content("<html><body><div dir='ltr'>Hola Alex, ¿podrías confirmarme la reunión del martes?</div>"
                      "<div class='gmail_quote'>El lun., Alex escribió:<blockquote>¿Nos vemos el martes?"
                      "</blockquote></div></body></html>", subtype="html", cte="base64")
    away = EmailMessage()  # an out-of-office that asks something, as they do
    away["From"], away["Subject"] = "Carla Conti <carla@example.it>", "Abwesenheitsnotiz: Vertrag"
    away["Auto-Submitted"] = "auto-replied"
    away.set_content("Ich bin bis Montag nicht im Büro. Könnten Sie sich bitte an meine Kollegin wenden?\n")
    for message in (outlook, gmail, away):
        deliver(account, message)
    account.poll(now=DUE)
    listed = {row["from"]: row["evidence"] for row in owed(account, DUE)}
    assert listed == {
        "Birgit Braun <birgit@example.de>": "könnten Sie mir bitte bis Freitag den unterschriebenen Vertrag schicken?",
        "Ana Ruiz <ana@example.es>": "Hola Alex, ¿podrías confirmarme la reunión del martes?"}
    assert proxy.bodies == 2  # the out-of-office was never read


def test_owed_done_closes_it_once_and_a_copy_in_another_folder_is_not_read_again(account: Account,
                                                                                    proxy: CountingProxy) -> None:
    question = ask(account)
    account.poll(now=DUE)
    [row] = owed(account, DUE)
    done = json.loads(account.run("owed", "done", row["id"][:5], "--json", now=DUE).stdout)
    assert done["applied"] and done["ok"] and done["kind"] == "owed_done"
    assert owed(account, DUE + timedelta(days=1)) == []
    again = account.run("owed", "done", row["id"], now=DUE, check=False)
    assert again.returncode == 2 and "already done" in again.stderr
    [(_uid, _flags, copy)] = account.messages("INBOX")
    assert copy["Message-ID"] == question
    account.server.append(account.user, "Archive", copy.as_bytes(), date=ASKED_AT)  # filed away by the user
    proxy.reset()
    account.poll(now=DUE + timedelta(hours=1))
    assert proxy.bodies == 0 and owed(account, DUE + timedelta(days=1)) == []  # done stays done, unread
    drafts: list[Message] = account.drafts()
    assert drafts == []  # never a draft to anyone


def test_the_digest_shows_replies_you_owe(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                          proxy: CountingProxy) -> None:
    workdir = tmp_path / "acct"
    account = Account(dovecot, mail_user, workdir, config_text=config(mail_user, workdir, proxy, digest=True))
    ask(account)
    account.poll(now=ASKED_AT + timedelta(hours=1))  # the period of Monday 2 Nov: nothing owed yet, no digest
    preview = json.loads(account.run("digest", "--preview", "--json", now=DUE).stdout)
    assert preview["sections"] == ["owed"]
    assert "Replies you owe" in preview["text"] and "Replies you owe" in preview["html"]
    flat = " ".join(preview["text"].split())
    assert f'Bob Baker: Contract (waiting 4 days) "{QUESTION}"' in flat
    account.poll(now=DUE)  # Monday 9 Nov 11:00: this period's digest is filed
    [digest] = [m for _u, _f, m in account.messages("INBOX") if str(m["X-Followupd-Id"] or "").startswith("digest-")]
    [text] = [part.get_payload(decode=True) for part in digest.walk() if part.get_content_type() == "text/plain"]
    assert isinstance(text, bytes) and "Replies you owe" in text.decode()


def test_two_accounts_never_mix(dovecot: DovecotServer, tmp_path: Path) -> None:
    users = {"work": dovecot.add_user(), "home": dovecot.add_user()}
    config_path, env = accounts_config(users, tmp_path, now=DUE)
    config_path.write_text("[owed]\nenabled = true\n\n" + config_path.read_text())  # for every account
    work = users["work"]
    dovecot.deliver_lmtp(work, make_message(from_=BOB, to=work.address, subject="Contract", date=ASKED_AT,
                                            body=f"{QUESTION}\n"))

    def run(*args: str) -> str:
        result = run_followupd(["--config", str(config_path), *args], env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("poll")
    everyone = json.loads(run("owed", "--json"))
    assert [(r["account"], r["subject"]) for r in everyone] == [("work", "Contract")]
    assert json.loads(run("--account", "home", "owed", "--json")) == []
    assert "Contract" not in json.loads(run("--account", "home", "digest", "--preview", "--json"))["text"]
    assert "Replies you owe" in json.loads(run("--account", "work", "digest", "--preview", "--json"))["text"]

    home = users["home"]
    dovecot.deliver_lmtp(home, make_message(from_="Cleo <cleo@example.net>", to=home.address, subject="Dinner",
                                            date=ASKED_AT, body="Are you free on Saturday?\n"))
    run("poll")
    [cleo] = json.loads(run("--account", "home", "owed", "--json"))
    assert cleo["evidence"] == "Are you free on Saturday?"
    assert "no longer listed" in run("owed", "done", cleo["id"][:6])  # no --account: the id says whose it is
    assert [(r["account"], r["subject"]) for r in json.loads(run("owed", "--json"))] == [("work", "Contract")]
