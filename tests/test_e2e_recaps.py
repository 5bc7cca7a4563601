"""End to end on a real Dovecot: meeting recaps (issue 13), driven through the real ``followupd`` command.

A recap BCC'd to the tracking address becomes a thread of kind "actions" with one item per owner's task; each
owner gets a check-in about their own open items on their date (plus grace), to them only, in the recap's
thread; their answer closes only their items; the roll-up reiterates the plan to everyone. Time is pinned with
FOLLOWUPD_NOW. The corpus is tests/data/recaps/ (messages as Thunderbird, Gmail, Outlook, Google Docs, Teams,
Zoom and Meet write them), each with the items a person reads in it.
"""

from __future__ import annotations

import email
import email.utils
import json
import re
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

from followupd.adapters.faults import CRASH_POINTS

RECAPS = Path(__file__).parent / "data" / "recaps"
#: The corpus recap most tests use: Thu 3 Dec 2026 15:40 UTC, to Bob, Carol, Dave and Erin. Bob's pricing is
#: due Friday the 4th, Carol's forecast the 11th and her venue the 15th, Dave's contract next Wednesday (the
#: 9th), Erin's slides have no date (so the default week: the 10th).
PLAIN = RECAPS / "01-thunderbird-plain-forms.eml"
SENT_AT = datetime(2026, 12, 3, 15, 40, 12, tzinfo=UTC)
BOB, CAROL, DAVE, ERIN = "bob@acme.example", "carol@acme.example", "dave.miller@acme.example", "erin@partner.example"


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def as_sent_by(account: Account, raw: bytes) -> bytes:
    """The corpus message as this test user sent it: their address, their tracking address (suffix kept)."""
    local, _, domain = account.user.address.partition("@")
    text = raw.decode("utf-8", "surrogateescape")
    text = re.sub(r"\bme(\+followup[-\w]*)?@example\.com", lambda m: f"{local}{m.group(1) or ''}@{domain}", text)
    head = text.split("\n\n", 1)[0].split("\r\n\r\n", 1)[0]
    if not re.search(r"(?im)^bcc:", head):  # the reader's corpus: add the Bcc a Sent copy keeps
        newline = "\r\n" if "\r\n" in head else "\n"
        text = f"Bcc: {local}+followup@{domain}{newline}{text}"
    return text.encode("utf-8", "surrogateescape")


def send_recap(account: Account, path: Path = PLAIN) -> str:
    raw = as_sent_by(account, path.read_bytes())
    parsed = email.message_from_bytes(raw)
    when = email.utils.parsedate_to_datetime(str(parsed["Date"]))
    account.server.append(account.user, "Sent", raw, date=when, flags=[b"\\Seen"])
    return str(parsed["Message-ID"])


def items(account: Account, *flags: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(account.run("items", "--json", *flags).stdout)
    return result


def thread_id(account: Account, message_id: str) -> str:
    return str(next(t["id"] for t in account.status() if t["message_id"] == message_id))


def by_owner(found: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    owners: dict[str, list[tuple[str, str]]] = {}
    for item in found:
        owners.setdefault(item["owner"]["email"] or "", []).append((item["task"], item["state"]))
    return owners


def drafts_to(account: Account) -> dict[str, Message]:
    """Every draft by its one To address (check-ins), or by all of them joined with "," (roll-ups)."""
    found = {}
    for draft in account.drafts():
        to = ",".join(sorted(a for _n, a in email.utils.getaddresses(draft.get_all("To", []))))
        found[to] = draft
    return found


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(message.get_content_charset() or "utf-8")


def reply(account: Account, *, from_: str, to_id: str, text: str, when: datetime,
          auto: bool = False) -> None:
    headers: dict[str, Any] = {"from_": from_, "to": account.user.address, "subject": "Re: Pricing workshop - recap",
                               "in_reply_to": to_id, "references": to_id, "date": when, "body": text}
    if auto:
        headers["auto_submitted"] = "auto-replied"
    account.server.deliver_lmtp(account.user, make_message(**headers))


# ------------------------------------------------------------------------------------------------- the corpus


def test_every_recap_of_the_corpus_is_read_into_its_items_on_a_real_mailbox(account: Account) -> None:
    cases = sorted(RECAPS.glob("*.eml"))
    assert len(cases) >= 20
    ids = {send_recap(account, path): path for path in cases}
    account.poll(now=SENT_AT + timedelta(hours=1))
    threads = {t["message_id"]: t for t in account.status()}
    found = items(account, "--all")
    for message_id, path in ids.items():
        expected = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))["items"]
        thread = threads.get(message_id)
        assert thread is not None, f"{path.name} was not tracked"
        def key(entry: tuple[str | None, str, str | None]) -> tuple[str, str]:
            return (entry[0] or "", entry[1])

        mine = sorted(((i["owner"]["email"], i["task"], i["due"]) for i in found if i["thread_id"] == thread["id"]),
                      key=key)
        want = sorted(((e["owner"], e["task"], e["due"]) for e in expected), key=key)
        assert mine == want, path.name
        if want:
            assert thread["kind"] == "actions", path.name
            assert sorted(((i["owner"]["email"], i["task"], i["due"]) for i in thread["items"]), key=key) == want, \
                path.name
        else:  # a message without a list stays an ordinary thread
            assert (thread["kind"], thread["items"]) == ("nudge", []), path.name


def test_an_item_keeps_the_line_it_came_from_and_its_problems(account: Account) -> None:
    send_recap(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    found = items(account)
    bob = next(i for i in found if i["owner"]["email"] == BOB)
    assert set(bob) == {"id", "thread_id", "owner", "task", "due", "state", "evidence", "problems"}
    assert bob["evidence"] == "- Bob: send the revised pricing by Friday"  # the line as written
    assert (bob["task"], bob["due"], bob["state"], bob["problems"]) == \
        ("send the revised pricing", "2026-12-04", "open", [])
    assert bob["owner"]["name"] == "Bob Smith"


# ---------------------------------------------------------------------------------------------- check-ins


def test_each_owner_is_checked_in_with_on_their_own_date_about_their_own_items(account: Account) -> None:
    recap_id = send_recap(account)
    account.poll(now=SENT_AT + timedelta(days=1))  # Friday: Bob's item is due today; asked after the grace
    assert account.drafts() == []
    monday = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)  # Friday + 1 business day, after the recap's 15:40
    account.poll(now=monday)
    account.poll(now=monday + timedelta(minutes=5))  # a second cycle adds nothing
    drafts = drafts_to(account)
    assert list(drafts) == [BOB]  # only Bob's date has passed; only Bob is asked
    checkin = drafts[BOB]
    assert checkin["In-Reply-To"] == recap_id and recap_id in checkin["References"]
    assert not checkin.get_all("Cc")
    text = body(checkin)
    assert "send the revised pricing" in text
    for others in ("forecast", "venue", "contract", "slides"):
        assert others not in text  # nobody else's task in Bob's check-in
    assert "Bob" in text.split("\n", 3)[0] or "Bob" in text  # greeted by name

    # Wednesday the 9th + 1bd: Dave; Erin's undated slides are due a week after the recap (the 10th) + 1bd.
    account.poll(now=datetime(2026, 12, 10, 16, 0, tzinfo=UTC))
    assert set(drafts_to(account)) == {BOB, DAVE}
    account.poll(now=datetime(2026, 12, 11, 16, 0, tzinfo=UTC))
    assert set(drafts_to(account)) == {BOB, DAVE, ERIN}
    # Carol's first date is the 11th: asked on Monday the 14th about both her items.
    account.poll(now=datetime(2026, 12, 14, 16, 0, tzinfo=UTC))
    carol = body(drafts_to(account)[CAROL])
    assert "update the forecast" in carol and "book the venue" in carol and "pricing" not in carol


def test_an_owners_answer_closes_only_their_items_and_withdraws_their_waiting_check_in(account: Account) -> None:
    recap_id = send_recap(account)
    monday = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    account.poll(now=monday)
    checkin_id = drafts_to(account)[BOB]["Message-ID"]
    reply(account, from_=f"Bob Smith <{BOB}>", to_id=checkin_id, when=monday + timedelta(hours=1),
          text="Hi Alex,\n\nsent the new pricing to Carol this morning.\n\nBob\n")
    account.poll(now=monday + timedelta(hours=2))
    states = by_owner(items(account, "--all"))
    assert states[BOB] == [("send the revised pricing", "done")]
    assert {state for _task, state in states[CAROL] + states[DAVE] + states[ERIN]} == {"open"}
    assert BOB not in drafts_to(account)  # the stale check-in left Drafts
    thread = next(t for t in account.status() if t["message_id"] == recap_id)
    assert thread["state"] == "waiting"  # the others are still followed


def test_a_holding_answer_moves_the_owners_date_and_a_decline_is_kept_for_the_roll_up(account: Account) -> None:
    recap_id = send_recap(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    reply(account, from_=f"Bob Smith <{BOB}>", to_id=recap_id, when=SENT_AT + timedelta(hours=2),
          text="Thanks Alex. I'll get back to you on the pricing by December 11.\n")
    reply(account, from_=f"Erin Lee <{ERIN}>", to_id=recap_id, when=SENT_AT + timedelta(hours=3),
          text="Sorry, I can't take this on after all. Not interested in doing the slides, please ask someone else.\n")
    account.poll(now=SENT_AT + timedelta(hours=4))
    found = {i["owner"]["email"]: i for i in items(account, "--all")}
    assert found[BOB]["state"] == "holding" and found[BOB]["due"] == "2026-12-11"
    assert found[ERIN]["state"] == "declined"
    account.poll(now=datetime(2026, 12, 7, 16, 0, tzinfo=UTC))
    assert BOB not in drafts_to(account)  # his old date no longer applies
    account.poll(now=datetime(2026, 12, 14, 16, 0, tzinfo=UTC))
    assert BOB in drafts_to(account)


def test_someone_else_saying_it_is_done_closes_it_as_probable_with_the_evidence(account: Account) -> None:
    recap_id = send_recap(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    reply(account, from_=f"Carol Jones <{CAROL}>", to_id=recap_id, when=SENT_AT + timedelta(days=1),
          text="Quick note: Bob already sent the revised pricing, so that one is done.\n")
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    found = {i["owner"]["email"]: i for i in items(account, "--all") if i["owner"]["email"] in (BOB, CAROL)}
    assert found[BOB]["state"] == "done"
    # Carol's reply speaks about Bob's task, not hers: hers stay open.
    assert [i["state"] for i in items(account, "--all") if i["owner"]["email"] == CAROL] == ["open", "open"]
    explained = account.run("explain", thread_id(account, recap_id)).stdout
    assert "already sent the revised pricing" in explained


def test_an_owners_out_of_office_holds_only_their_check_in(account: Account) -> None:
    recap_id = send_recap(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    reply(account, from_=f"Bob Smith <{BOB}>", to_id=recap_id, when=SENT_AT + timedelta(days=1), auto=True,
          text="I am out of the office until Monday 14 December 2026 with limited access to email.\n")
    account.poll(now=datetime(2026, 12, 10, 16, 0, tzinfo=UTC))
    assert set(drafts_to(account)) == {DAVE}  # Bob is away: his check-in waits; Dave's does not
    assert [i["state"] for i in items(account) if i["owner"]["email"] == BOB] == ["open"]
    account.poll(now=datetime(2026, 12, 15, 16, 0, tzinfo=UTC))
    assert BOB not in drafts_to(account)  # away "until Monday 14 December": back Tuesday, asked a business day later
    account.poll(now=datetime(2026, 12, 16, 16, 0, tzinfo=UTC))
    assert BOB in drafts_to(account)


def test_the_roll_up_goes_to_everyone_with_every_item_and_its_state(account: Account) -> None:
    recap_id = send_recap(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    reply(account, from_=f"Bob Smith <{BOB}>", to_id=recap_id, when=SENT_AT + timedelta(days=1),
          text="Done, the pricing went out today.\n")
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    for day in (10, 11, 14):  # the check-ins with Dave, Erin and Carol
        account.poll(now=datetime(2026, 12, day, 16, 0, tzinfo=UTC))
    assert [d for d in account.drafts() if len(email.utils.getaddresses(d.get_all("To", []))) > 1] == []
    # Carol's venue (the 15th) is the last date: the roll-up comes the next business day after it, two days
    # after Carol's check-in (nobody hears from followupd on consecutive days).
    account.poll(now=datetime(2026, 12, 16, 16, 0, tzinfo=UTC))
    rollups = [d for d in account.drafts() if len(email.utils.getaddresses(d.get_all("To", []))) > 1]
    assert len(rollups) == 1
    rollup = rollups[0]
    assert rollup["In-Reply-To"] == recap_id
    to = {a for _n, a in email.utils.getaddresses(rollup.get_all("To", []))}
    assert to == {BOB, CAROL, DAVE, ERIN}
    text = body(rollup)
    for task in ("send the revised pricing", "update the forecast", "book the venue", "draft the contract",
                 "share the slides"):
        assert task in text
    assert "done" in text.lower()


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if p in ("after_sync_commit", "before_append",
                                                                   "after_append")])
def test_a_crash_never_duplicates_or_loses_a_check_in(account: Account, point: str) -> None:
    send_recap(account)
    now = datetime(2026, 12, 10, 16, 0, tzinfo=UTC)  # Bob and Dave are both due: two check-ins in one cycle
    crashed = account.run("poll", now=now, check=False, FOLLOWUPD_CRASH_AT=point)
    assert crashed.returncode == -9, crashed.stderr
    account.poll(now=now + timedelta(minutes=1))
    account.poll(now=now + timedelta(minutes=2))
    assert sorted(drafts_to(account)) == sorted([BOB, DAVE])
    assert len(account.drafts()) == 2
    assert len(items(account)) == 5  # nothing lost, nothing read twice


def test_a_recap_sent_with_the_actions_suffix_and_no_list_says_so(account: Account) -> None:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Smith <{BOB}>",
                       bcc=account.tracking_with("actions"), subject="Notes from today", date=SENT_AT,
                       body="Hi Bob,\n\ngreat talking today, thanks for your time.\n\nAlex\n")
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(hours=1))
    [thread] = account.status()
    assert any("no action items found" in problem for problem in thread["problems"])
    assert (thread["kind"], thread["state"]) == ("nudge", "waiting")  # still followed up, as an ordinary thread
    account.poll(now=SENT_AT + timedelta(days=6))
    assert len(account.drafts()) == 1


def test_item_dates_are_the_recaps_own_days(account: Account) -> None:
    """"Friday" in a recap sent on Thursday the 3rd is the 4th, whatever day the poll runs."""
    send_recap(account)
    account.poll(now=SENT_AT + timedelta(days=9))
    dues = {i["owner"]["email"]: i["due"] for i in items(account)}
    assert dues[BOB] == date(2026, 12, 4).isoformat()


def test_preview_shows_each_owners_planned_check_ins_and_the_roll_up(account: Account) -> None:
    recap_id = send_recap(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    tid = thread_id(account, recap_id)
    document = json.loads(account.run("preview", "--thread", tid, "--json", now=SENT_AT + timedelta(hours=2)).stdout)
    assert document["kind"] == "actions" and document["planned"] is True
    plans = {c["owner"]["email"]: c for c in document["checkins"]}
    assert set(plans) == {BOB, CAROL, DAVE, ERIN}
    assert [p["due"][:10] for p in plans[BOB]["planned"]] == ["2026-12-07", "2026-12-14", "2026-12-28", "2027-01-25"]
    assert [p["stage"] for p in plans[BOB]["planned"]] == ["checkin", "later", "later", "final"]
    assert "send the revised pricing" in plans[BOB]["body"] and "forecast" not in plans[BOB]["body"]
    assert "update the forecast" in plans[CAROL]["body"] and "book the venue" in plans[CAROL]["body"]
    assert document["rollup"][:10] == "2026-12-16"
    text = account.run("preview", "--thread", tid, now=SENT_AT + timedelta(hours=2)).stdout
    assert "Bob Smith <bob@acme.example>: 1 open item(s)" in text and "Roll-up to everyone" in text
    # The preview writes nothing: no draft, and the next poll on Bob's day drafts exactly one check-in for him.
    assert account.drafts() == []


def dsn_for(account: Account, *, recap_id: str, failed: str, when: datetime) -> bytes:
    """A plain RFC 3464 report as Postfix writes it: the owner's address failed for good (5.1.1)."""
    date = email.utils.format_datetime(when)
    return (
        f"From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)\r\nTo: {account.user.address}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: {date}\r\n"
        "Message-ID: <bounce-1@mx.acme.example>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be "
        "delivered.\r\n\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected: User unknown\r\n\r\n"
        f"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {recap_id}\r\n"
        "Subject: Re: Pricing workshop - recap\r\n\r\n--b1--\r\n"
    ).encode()


def test_an_owner_who_bounced_gets_no_check_in_and_their_item_says_why(account: Account) -> None:
    recap_id = send_recap(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    account.server.deliver_lmtp(account.user, dsn_for(account, recap_id=recap_id, failed=DAVE,
                                                      when=SENT_AT + timedelta(hours=2)))
    account.poll(now=SENT_AT + timedelta(hours=3))
    dave = next(i for i in items(account) if i["owner"]["email"] == DAVE)
    assert any("undeliverable" in problem and "5.1.1" in problem for problem in dave["problems"])
    account.poll(now=datetime(2026, 12, 10, 16, 0, tzinfo=UTC))
    assert DAVE not in drafts_to(account) and BOB in drafts_to(account)
    assert next(t for t in account.status() if t["message_id"] == recap_id)["state"] == "waiting"


def test_closing_one_of_an_owners_items_by_hand_redrafts_their_check_in_about_the_rest(account: Account) -> None:
    send_recap(account)
    monday = datetime(2026, 12, 14, 16, 0, tzinfo=UTC)  # Carol is asked about her two items
    for day in (7, 10, 11):
        account.poll(now=datetime(2026, 12, day, 16, 0, tzinfo=UTC))
    account.poll(now=monday)
    assert "update the forecast" in body(drafts_to(account)[CAROL])
    forecast = next(i["id"] for i in items(account) if i["task"] == "update the forecast")
    result = account.run("items", "done", forecast, now=monday + timedelta(minutes=5)).stdout
    assert "withdrawn" in result
    account.poll(now=monday + timedelta(minutes=10))
    assert CAROL not in drafts_to(account)  # her venue is due the 15th: asked the next business day
    account.poll(now=datetime(2026, 12, 16, 16, 0, tzinfo=UTC))
    carol = body(drafts_to(account)[CAROL])  # a fresh check-in: only what is still open
    assert "book the venue" in carol and "update the forecast" not in carol
    assert len([d for d in account.drafts() if d["To"] and CAROL in d["To"]]) == 1
