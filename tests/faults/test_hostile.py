"""Hostile input: a fuzzed corpus and a hand-made one, through parse/classify/match and through the daemon.

tests/test_bad_input.py and the per-module property tests fuzz single parsers; this suite runs whole messages
through everything a cycle does with them (see :func:`hostile.run_pipeline`), then a batch of them through the
real ``followupd poll`` on Dovecot, where the good mail around them must still be processed.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime
from pathlib import Path

from dovecot import DovecotServer, MailUser
from harness import Account
from hypothesis import HealthCheck, given, seed, settings
from mailfactory import make_message

from followupd.mail.headers import FETCH_HEADER_FIELDS, parse_headers

from .conftest import Figures, _seed
from .hostile import OWN, TRACKED_ID, TRACKING, generated, hand_made, messages, mutated, run_pipeline

FUZZ_EXAMPLES = 400
_APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")


def test_every_hand_made_and_generated_input_survives_the_pipeline(figures: Figures) -> None:
    inputs = hand_made() + generated()
    assert len(inputs) >= 20
    findings = {name: run_pipeline(raw) for name, raw in inputs}
    figures.inputs["hand-made + generated, pure"] += len(inputs)
    # The attacks the corpus names are handled, not just survived:
    assert findings["duplicate-message-id.eml"]["events"] == []  # posing as the tracked message changes nothing
    assert findings["encoded-word-crlf.eml"]["events"] == []
    assert findings["dsn-garbage.eml"]["kind"] == "bounce"
    assert findings["auto-reply-odd.eml"]["kind"] == "auto_reply"


def test_mutated_corpus_survives_the_pipeline(figures: Figures, fault_seed: str) -> None:
    inputs = mutated(random.Random(fault_seed), 300)
    for _name, raw in inputs:
        run_pipeline(raw)
    figures.inputs["mutated corpus, pure"] += len(inputs)


@seed(_seed())
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=messages())
def test_fuzzed_messages_survive_the_pipeline(figures: Figures, raw: bytes) -> None:
    figures.inputs["hypothesis messages, pure"] += 1
    run_pipeline(raw)


BOB = "bob@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 9, 13, 0, tzinfo=UTC)


def test_a_hostile_batch_through_followupd_on_dovecot(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                                      figures: Figures, fault_seed: str) -> None:
    account = Account(dovecot, mail_user, tmp_path / "acct")
    me, tracking = mail_user.address.encode(), account.tracking.encode()

    def as_user(raw: bytes) -> bytes:
        return raw.replace(TRACKING.encode(), tracking).replace(OWN.encode(), me)

    good_tracked = make_message(from_=f"Alex <{mail_user.address}>", to=f"Bob <{BOB}>", bcc=account.tracking,
                                subject="Quote for the garden shed", date=SENT_AT, message_id=TRACKED_ID)
    quiet_tracked = make_message(from_=f"Alex <{mail_user.address}>", to="carol@example.org", bcc=account.tracking,
                                 subject="Dinner plans", date=SENT_AT)
    genuine_reply = make_message(from_=f"Bob <{BOB}>", to=mail_user.address, subject="Re: Quote for the garden shed",
                                 in_reply_to=TRACKED_ID, date=datetime(2026, 11, 9, 12, 0, tzinfo=UTC),
                                 body="Sounds good, let's do it.\n")
    batch = [(name, as_user(raw)) for name, raw in hand_made() + generated() + mutated(random.Random(fault_seed), 30)]
    placed: dict[tuple[str, int], str] = {}
    with dovecot.connect(mail_user) as client:
        for raw in (good_tracked, quiet_tracked):
            client.append("Sent", raw, flags=[b"\\Seen"], msg_time=SENT_AT)
        for name, raw in batch:
            folder = "Sent" if name == "missing-message-id.eml" else "INBOX"
            response = client.append(folder, raw or b"\r\n")
            match = _APPENDUID.search(response)
            assert match, response
            placed[(folder, int(match.group(1)))] = name
        client.append("INBOX", genuine_reply)  # after all of them: a crash on any would keep it unread
    figures.inputs["hostile batch on Dovecot"] += len(batch)

    result = account.run("--log-level", "debug", "poll", now=NOW)
    assert "Traceback" not in result.stderr and "this is a bug" not in result.stderr

    # The good mail around the bad is processed: the real reply closes its thread, the quiet one gets a draft.
    threads = {t["message_id"]: t for t in account.status()}
    assert threads[TRACKED_ID]["state"] == "replied"
    # Closed by a message that really answers it (names it in In-Reply-To/References), never by an impostor
    # carrying its Message-ID.
    timeline = account.run("explain", threads[TRACKED_ID]["id"]).stdout
    closer = re.search(r"\(INBOX:(\d+), from ", timeline)
    assert closer, timeline
    section = f"BODY.PEEK[HEADER.FIELDS ({' '.join(FETCH_HEADER_FIELDS)})]"  # what followupd reads
    with dovecot.connect(mail_user) as client:
        client.select_folder("INBOX", readonly=True)
        uid = int(closer.group(1))
        meta = parse_headers(next(v for k, v in client.fetch([uid], [section])[uid].items()
                                  if k.startswith(b"BODY[HEADER")))
    assert meta.message_id != TRACKED_ID and TRACKED_ID in meta.referenced_ids, (timeline, meta)
    quiet = next(t for t in threads.values() if t["subject"] == "Dinner plans")
    assert quiet["state"] == "waiting"
    assert [d["Subject"] for d in account.drafts()] == ["Re: Dinner plans"]
    # The user's own message without a Message-ID is tracked, with the problem said; nothing else was tracked.
    no_id = [t for t in threads.values() if t["subject"] == "Sent without a Message-ID"]
    assert len(no_id) == 1 and no_id[0]["problems"]
    assert len(threads) == 3, sorted(t["subject"] for t in threads.values())

    # Every message whose fetched headers the parser finds fault with is logged, with its folder and UID.
    with dovecot.connect(mail_user) as client:
        unlogged = []
        for folder in ("INBOX", "Sent"):
            client.select_folder(folder, readonly=True)
            for uid, data in client.fetch(client.search("ALL"), [section]).items():
                raw = next(v for k, v in data.items() if k.startswith(b"BODY[HEADER"))
                if parse_headers(raw).problems and f"{folder}:{uid}:" not in result.stderr:
                    unlogged.append(placed.get((folder, uid), f"{folder}:{uid}"))
    assert not unlogged, f"bad messages not logged: {unlogged}"
    # ... and skipped for good: the next cycle reads nothing again.
    again = account.poll(now=NOW)
    assert "read 0 new message(s)" in again.stdout + again.stderr
