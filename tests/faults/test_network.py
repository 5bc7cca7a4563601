"""Connections cut mid-command by a loopback proxy (issue 7 point 3, issue 8): the next cycles recover, cursors
never run past mail that was not processed, and an APPEND cut half-way never yields a duplicate or lost draft.

followupd reaches Dovecot through :class:`netproxy.LoopbackProxy`; the test looks at the mailbox directly.
Every round brings new mail (noise, replies, due follow-ups), arms one fault chosen by the seeded generator
(which command, how many bytes get through, which occurrence), runs a cycle that may fail, then lets two clean
cycles recover. The account is compared with a control account that got the same mail and never saw a fault:
both must end up telling exactly the same story.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer
from netproxy import Fault, LoopbackProxy
from smtpsink import SmtpSink

from .conftest import Figures
from .world import T0, World

#: (name, fault template, largest "after" to draw): cuts in what the sync reads.
READ_FAULTS = [
    ("cut mid header FETCH", dict(pattern=b"BODY.PEEK[HEADER.FIELDS", seen_from="client", acts_on="server"), 2500),
    ("cut mid body FETCH", dict(pattern=b"BODY.PEEK[]", seen_from="client", acts_on="server"), 1200),
    ("cut mid UID SEARCH answer", dict(pattern=b"UID SEARCH", seen_from="client", acts_on="server"), 40),
    ("cut mid EXAMINE answer", dict(pattern=b"EXAMINE", seen_from="client", acts_on="server"), 300),
]
#: Cuts in what the act phase writes.
WRITE_FAULTS = [
    ("cut mid APPEND literal", dict(pattern=b"APPEND ", seen_from="client", acts_on="client"), 1800),
    ("APPEND stored, answer lost", dict(pattern=b"APPENDUID", seen_from="server", acts_on="server"), 0),
    ("STORE \\Deleted never arrives", dict(pattern=b"STORE", seen_from="client", acts_on="client"), 0),
    ("UID EXPUNGE done, answer lost", dict(pattern=b"UID EXPUNGE", seen_from="client", acts_on="server"), 0),
    ("cut mid header FETCH", dict(pattern=b"BODY.PEEK[HEADER.FIELDS", seen_from="client", acts_on="server"), 2500),
]


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[LoopbackProxy]:
    with LoopbackProxy(dovecot.host, dovecot.imap_port) as running:
        yield running


def _pair(dovecot: DovecotServer, tmp_path: Path, proxy: LoopbackProxy, figures: Figures, seed: str, name: str,
          sink: SmtpSink | None = None, control_sink: SmtpSink | None = None) -> World:
    mode = "auto" if sink is not None else "review"
    control = World(dovecot, dovecot.add_user(), tmp_path / "control", control_sink, random.Random(seed),
                    figures, f"{name}-control", mode=mode)
    world = World(dovecot, dovecot.add_user(), tmp_path / "acct", sink, random.Random(seed), figures, name,
                  mode=mode, imap_port=proxy.port, mirror=control)
    world.seed_user_mail()
    world.seed_threads(8)
    world.add_noise("INBOX", 40)
    world.now = control.now = max(p.sent_at for p in world.plans) + timedelta(days=2)
    return world


def _essence(world: World) -> tuple[list[dict[str, object]], ...]:
    """What the database says about threads and follow-ups, minus what only a clock or an account name makes
    different: an account and its control must agree on all of it."""
    db = world.db()
    keep_thread = ("id", "state", "touches", "steps", "next_due", "replied_by", "problems")
    keep_touch = ("id", "state", "number", "template", "message_id", "sent_by_followupd", "outcome")
    return ([{k: t[k] for k in keep_thread} for _, t in sorted(db.threads.items())],
            [{k: t[k] for k in keep_touch} for _, t in sorted(db.touches.items())])


def _round(world: World, proxy: LoopbackProxy, figures: Figures, faults: list[tuple[str, dict[str, object], int]],
           *, read_only: bool, recovery_cycles: int) -> str:
    """One fault: arm it, run a cycle that may break, recover, compare with the control account."""
    if not world.fault_plan:  # every kind once, in a seeded order, then again
        world.fault_plan = world.rng.sample(faults, len(faults))
    name, template, largest = world.fault_plan.pop()
    fault = proxy.add_fault(Fault(**template, after=world.rng.randint(0, largest),  # type: ignore[arg-type]
                                  skip=world.rng.randint(0, 2) if read_only else 0))
    cursors_before = world.db().cursors
    status = world.uid_status()
    caught_up = {folder: status[folder] for folder in ("Sent", "INBOX", "Archive")}
    result = world.poll_may_fail()
    proxy.clear_faults()
    if fault.fired:
        figures.faults[name] += 1
    if result.returncode == 3:
        assert fault.fired, f"poll failed without a fault:\n{result.stderr}"
        assert f"127.0.0.1:{proxy.port}" in result.stderr, result.stderr  # says which server broke
        if read_only:
            # The sync is one transaction: a cut in it moves no cursor at all; a cut after it (in the act
            # phase, e.g. the EXAMINE of Drafts) finds every folder read to its end. Never anything between.
            after = world.db().cursors
            assert after in (cursors_before, caught_up), f"{name}: cursors {cursors_before} -> {after}, " \
                                                         f"folders at {caught_up}\n{result.stderr}"
    world.check()  # whatever the cut left half-done, nothing is duplicated or lost
    for _ in range(recovery_cycles):
        world.poll_clean()
    world.check(settled=True)
    assert world.mirror is not None
    world.mirror.poll_clean()
    mine, theirs = _essence(world), _essence(world.mirror)
    assert mine == theirs, f"after {name} (after={fault.after}): {_differences(mine, theirs)}"
    return name if fault.fired else ""


def _differences(mine: tuple[list[dict[str, object]], ...], theirs: tuple[list[dict[str, object]], ...]) -> str:
    lines = []
    for kind, left, right in zip(("thread", "follow-up"), mine, theirs, strict=True):
        a, b = {e["id"]: e for e in left}, {e["id"]: e for e in right}
        lines += [f"{kind} {i} only in the control" for i in b.keys() - a.keys()]
        lines += [f"{kind} {i} only with faults" for i in a.keys() - b.keys()]
        for i in a.keys() & b.keys():
            lines += [f"{kind} {i} {k}: {a[i][k]!r} != control {b[i][k]!r}" for k in a[i] if a[i][k] != b[i].get(k)]
    return "\n".join(lines)


def test_cuts_while_reading_never_move_a_cursor_past_unread_mail(
        dovecot: DovecotServer, proxy: LoopbackProxy, tmp_path: Path, figures: Figures, fault_seed: str) -> None:
    world = _pair(dovecot, tmp_path, proxy, figures, fault_seed, "cut-read")
    fired = []
    for number in range(7):
        world.now += timedelta(hours=world.rng.choice([2, 12, 30]))
        world.mirror.now = world.now  # type: ignore[union-attr]
        world.add_noise(world.rng.choice(["INBOX", "Archive"]), 12, start=100 * (number + 1))
        waiting = [p for p in world.plans if p.replied_at is None]
        if waiting and world.rng.random() < 0.6:
            world.deliver_reply(world.rng.choice(waiting))
        fired.append(_round(world, proxy, figures, READ_FAULTS, read_only=True, recovery_cycles=1))
    assert world.public_state() == world.mirror.public_state()  # type: ignore[union-attr]
    figures.lines.append(f"cut-read: {sum(map(bool, fired))} of {len(fired)} rounds cut a connection: {fired}; "
                         f"{proxy.connections} connections through the proxy")
    assert sum(map(bool, fired)) >= len(fired) // 2, fired
    assert any(p.replied_at for p in world.plans)


def test_cuts_while_writing_never_duplicate_or_lose_a_draft(
        dovecot: DovecotServer, proxy: LoopbackProxy, tmp_path: Path, figures: Figures, fault_seed: str) -> None:
    with SmtpSink() as sink, SmtpSink() as control_sink:
        world = _pair(dovecot, tmp_path, proxy, figures, fault_seed, "cut-write", sink, control_sink)
        fired = []
        # One thread falls due every 3 hours from Monday 09:00 (sent 3 hours apart, 3 business days before), so
        # each round APPENDs a draft, sends the one that waited past the review window (APPENDing its Sent
        # copy, removing its draft) and sometimes withdraws one: always something to cut.
        world.now = T0 + timedelta(days=5, minutes=1)
        for _ in range(8):
            world.now += timedelta(hours=3)
            world.mirror.now = world.now  # type: ignore[union-attr]
            queued = [t["thread_id"] for t in world.db().touches.values() if t["state"] == "queued"]
            if queued and world.rng.random() < 0.4:  # a reply withdraws a waiting draft: STORE + UID EXPUNGE
                chosen = world.rng.choice(sorted(queued))
                world.deliver_reply(next(p for p in world.plans if p.thread_id == chosen))
            fired.append(_round(world, proxy, figures, WRITE_FAULTS, read_only=False, recovery_cycles=2))
        assert world.public_state() == world.mirror.public_state()  # type: ignore[union-attr]
        figures.lines.append(f"cut-write: {sum(map(bool, fired))} of {len(fired)} rounds cut a connection: "
                             f"{fired}; {len(sink.received)} follow-ups sent")
        assert sum(map(bool, fired)) >= len(fired) // 2, fired
        assert sink.received and len(sink.received) == len(control_sink.received)
