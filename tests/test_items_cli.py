"""``followupd items`` (issue 13 point 6): a meeting recap's action items listed, marked done or dropped by the
user exactly once, and shown by ``status`` and ``explain``.

The recap is written into the database through the store API, as the engine does when it tracks one (a thread
of kind ``actions`` with its ``ActionItem`` rows, each started by the lifecycle); everything after that is the
real ``followupd`` command as a subprocess, against a real Dovecot, so closing the last item of an owner really
removes their check-in draft from Drafts.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

from followupd.adapters import store as st
from followupd.cli.shapes import is_overdue, items_summary
from followupd.compose.message import draft_message_id
from followupd.planning import lifecycle
from followupd.planning.lifecycle import items

BOB = "bob@example.org"
CAROL = "carol@example.org"
THREAD = "r3c4p7d2k9m1"
SENT_AT = datetime(2026, 11, 4, 16, 0, tzinfo=UTC)  # a Wednesday: the meeting's recap
NOW = datetime(2026, 11, 10, 10, 0, tzinfo=UTC)  # the Tuesday after: Bob's Friday has passed
ITEM_KEYS = {"id", "thread_id", "owner", "task", "due", "state", "evidence", "problems"}


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def _store(account: Account) -> st.Store:
    return st.Store(f"sqlite:///{account.workdir / 'state.db'}")


def seed_recap(account: Account, *, checkin_for_bob: bool = False) -> None:
    """A tracked recap with three items: Bob's (overdue), Carol's, and one whose owner matched nobody."""
    store = _store(account)
    try:
        with store.transaction() as session:
            thread = st.Thread(id=THREAD, message_id="<recap-1@example.test>", subject="Recap: pricing workshop",
                               from_email=account.user.address, from_name="Alex Example",
                               to=[{"email": BOB, "name": "Bob Builder"}, {"email": CAROL, "name": "Carol Jones"}],
                               sent_at=SENT_AT, first_seen_at=SENT_AT, kind=st.ACTIONS,
                               tracking_address=account.tracking, next_due=NOW + timedelta(days=30))
            lifecycle.start(thread, SENT_AT)
            session.add(thread)
            rows = [
                (BOB, "Bob Builder", "send the revised pricing", date(2026, 11, 6),
                 "- Bob: send the revised pricing by Friday", []),
                (CAROL, "Carol Jones", "book the venue", date(2026, 12, 15), "1. Carol - book the venue - 12/15", []),
                (None, "Zed", "update the forecast", None, "* [ ] @zed update the forecast",
                 ["owner 'Zed' is not a recipient of the recap"]),
            ]
            for number, (email, name, task, due, evidence, problems) in enumerate(rows, start=1):
                item = st.ActionItem(id=f"{THREAD}.a{number:03d}", thread_id=THREAD, number=number,
                                     owner_email=email, owner_name=name, task=task, due=due, evidence=evidence,
                                     problems=problems, created=SENT_AT)
                items.start(item)
                session.add(item)
            if checkin_for_bob:
                message_id = draft_message_id(THREAD, 1, "example.test")
                touch = st.Touch(id=f"{THREAD}-001", thread_id=THREAD, number=1, template="actions/checkin/plain",
                                 message_id=message_id, subject="Re: Recap: pricing workshop",
                                 to=[{"email": BOB, "name": "Bob Builder"}], due_at=NOW, created=NOW,
                                 raw=make_message(from_=f"Alex Example <{account.user.address}>", to=BOB,
                                                  subject="Re: Recap: pricing workshop", message_id=message_id,
                                                  in_reply_to="<recap-1@example.test>", date=NOW,
                                                  body="Hi Bob,\n\nhow is the revised pricing going?\n"))
                lifecycle.plan_touch(touch)
                session.add(touch)
    finally:
        store.dispose()


def listing(account: Account, *flags: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(account.run("items", "--json", *flags, now=NOW).stdout)
    return result


def events(account: Account, kind: str) -> list[str]:
    store = _store(account)
    try:
        with store.read() as session:
            return [e.detail for e in st.events_for(session, THREAD) if e.kind == kind]
    finally:
        store.dispose()


def test_items_json_has_exactly_the_documented_fields_open_ones_first_overdue_on_top(account: Account) -> None:
    seed_recap(account)
    found = listing(account)
    assert [entry["id"] for entry in found] == [f"{THREAD}.a001", f"{THREAD}.a002", f"{THREAD}.a003"]
    assert all(set(entry) == ITEM_KEYS for entry in found)
    bob, carol, zed = found
    assert bob == {"id": f"{THREAD}.a001", "thread_id": THREAD,
                   "owner": {"email": BOB, "name": "Bob Builder"}, "task": "send the revised pricing",
                   "due": "2026-11-06", "state": "open", "evidence": "- Bob: send the revised pricing by Friday",
                   "problems": []}
    assert carol["due"] == "2026-12-15" and carol["owner"]["email"] == CAROL
    assert zed["owner"] == {"email": None, "name": "Zed"} and zed["due"] is None
    assert zed["problems"] == ["owner 'Zed' is not a recipient of the recap"]

    text = account.run("items", now=NOW).stdout
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["ID", "OWNER", "TASK"]
    assert lines[1].startswith(f"{THREAD}.a001") and "(overdue)" in lines[1]  # overdue first
    assert "Fri 06 Nov 2026" in lines[1] and "Bob Builder <bob@example.org>" in lines[1]
    assert "Zed (no recipient matched)" in text and "not a recipient of the recap" in text
    assert "(overdue)" not in lines[2] + lines[3]


def test_done_and_drop_apply_exactly_once_and_the_last_one_closes_the_thread(account: Account) -> None:
    seed_recap(account, checkin_for_bob=True)
    account.poll(now=NOW)
    assert [m["Message-ID"] for m in account.drafts()] == [draft_message_id(THREAD, 1, "example.test")]

    done = account.run("items", "done", f"{THREAD}.a001", now=NOW)
    assert "a001 marked done" in done.stdout and "check-in waiting for bob@example.org is withdrawn" in done.stdout
    # Bob's check-in is removed from Drafts by the same cycle (what the cycle plans for the recap next is the
    # engine's business, not this command's: only that draft is looked at).
    checkin = draft_message_id(THREAD, 1, "example.test")
    assert checkin not in [m["Message-ID"] for m in account.drafts()]
    assert account.outbox("--all")[0]["state"] == "withdrawn"
    assert len(events(account, "item_done")) == 1

    again = account.run("items", "done", f"{THREAD}.a001", now=NOW, check=False)
    assert again.returncode == 2
    assert f"action item {THREAD}.a001 is already done" in again.stderr
    assert len(events(account, "item_done")) == 1  # nothing applied twice

    (thread,) = account.status()
    assert thread["state"] == "waiting" and thread["kind"] == "actions"
    assert [entry["state"] for entry in thread["items"]] == ["done", "open", "open"]

    dropped = json.loads(account.run("items", "drop", "--json", f"{THREAD}.a003", now=NOW).stdout)
    assert dropped["kind"] == "item_drop" and dropped["target"] == f"{THREAD}.a003"
    assert dropped["applied"] is True and dropped["ok"] is True and "1 item(s) of the recap still open" in \
        dropped["result"]
    last = account.run("items", "done", f"{THREAD}.a002", now=NOW).stdout
    assert "every action item is closed, so the thread is replied" in last
    (thread,) = account.status()
    assert thread["state"] == "replied" and thread["state_reason"] == "every action item is closed"
    assert [entry["state"] for entry in thread["items"]] == ["done", "done", "dropped"]
    assert listing(account) == []
    assert [entry["state"] for entry in listing(account, "--all")] == ["done", "done", "dropped"]
    assert "No open action items." in account.run("items", now=NOW).stdout
    assert len(events(account, "items_closed")) == 1 and len(events(account, "item_dropped")) == 1


def test_an_unknown_or_ambiguous_item_id_is_a_clear_error(account: Account) -> None:
    seed_recap(account)
    unknown = account.run("items", "done", "nosuchitem", now=NOW, check=False)
    assert unknown.returncode == 2
    assert "no action item with an id starting 'nosuchitem'" in unknown.stderr
    assert "`followupd items --all` lists them" in unknown.stderr
    several = account.run("items", "drop", f"{THREAD}.a00", now=NOW, check=False)
    assert several.returncode == 2 and "matches several action items" in several.stderr
    empty = account.run("items", "done", " ", now=NOW, check=False)
    assert empty.returncode == 2 and "give an action item id (see `followupd items --all`)" in empty.stderr
    thread_only = account.run("items", "done", THREAD[:6], now=NOW, check=False)
    assert thread_only.returncode == 2 and "matches several action items" in thread_only.stderr
    assert [entry["state"] for entry in listing(account)] == ["open", "open", "open"]  # nothing was applied


def test_status_shows_the_recap_kind_items_and_their_problems(account: Account) -> None:
    seed_recap(account)
    (thread,) = json.loads(account.run("status", "--json", now=NOW).stdout)
    assert thread["kind"] == "actions" and thread["id"] == THREAD
    assert [entry["id"] for entry in thread["items"]] == [f"{THREAD}.a001", f"{THREAD}.a002", f"{THREAD}.a003"]
    assert all(set(entry) == ITEM_KEYS for entry in thread["items"])
    assert thread["items"] == sorted(listing(account), key=lambda entry: entry["id"])
    assert thread["problems"] == []  # the item's own problem stays with the item in JSON

    text = account.run("status", now=NOW).stdout
    row = next(line for line in text.splitlines() if line.startswith(THREAD))
    assert "waiting, 3 items open (1 overdue)" in row
    assert "a003: owner 'Zed' is not a recipient of the recap" in row


def test_explain_shows_each_item_with_the_line_it_came_from_and_how_it_closed(account: Account) -> None:
    seed_recap(account)
    account.run("items", "done", f"{THREAD}.a001", now=NOW)
    text = account.run("explain", THREAD, now=NOW).stdout
    assert "action items (3):" in text
    assert f"{THREAD}.a001  done  Bob Builder <bob@example.org>: send the revised pricing" in text
    assert "read from: - Bob: send the revised pricing by Friday" in text
    assert "closed Tue 10 Nov 2026 10:00 by you: marked done by you" in text
    assert "read from: * [ ] @zed update the forecast" in text and "due: - (none given)" in text
    assert "problem: owner 'Zed' is not a recipient of the recap" in text
    assert "item_done" in text  # the audit event in the timeline

    document = json.loads(account.run("explain", "--json", THREAD, now=NOW).stdout)
    bob = document["items"][0]
    listed = {entry["id"]: entry for entry in listing(account, "--all")}
    assert {key: bob[key] for key in ITEM_KEYS} == listed[f"{THREAD}.a001"]  # the same object, plus how it closed
    assert bob["state"] == "done"
    assert bob["closed_by"] == "you" and bob["outcome"] == "marked done by you" and bob["probable"] is False
    assert datetime.fromisoformat(bob["closed_at"]) == NOW
    assert document["items"][1]["closed_at"] is None


def _item(number: int, due: date | None, *, close: str = "") -> st.ActionItem:
    """An item in memory (no database): open, or closed by the user through the lifecycle."""
    item = st.ActionItem(id=f"{THREAD}.a{number:03d}", thread_id=THREAD, number=number, owner_email=BOB, task="x",
                         due=due, problems=[], created=SENT_AT)
    items.start(item)
    if close == "done":
        items.user_done(item, at=NOW)
    elif close == "drop":
        items.user_drop(item, at=NOW)
    return item


def test_the_status_summary_counts_open_and_overdue_items_of_one_recap() -> None:
    today = NOW.date()
    assert items_summary([], today) == "no action items"
    assert items_summary([_item(1, None)], today) == "1 item open"
    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    assert items_summary([_item(1, yesterday), _item(2, tomorrow), _item(3, today)], today) \
        == "3 items open (1 overdue)"  # due today is not overdue yet
    mixed = [_item(1, yesterday, close="done"), _item(2, yesterday), _item(3, None, close="drop")]
    assert items_summary(mixed, today) == "1 of 3 items open (1 overdue)"
    assert not is_overdue(mixed[0], today)  # a closed item is never overdue
    assert items_summary([_item(1, yesterday, close="done")], today) == "0 of 1 item open"
