"""kill -9 at random points of cycles that create, withdraw and send drafts; the invariants hold after each one.

Three accounts, three ways to die, over a simulated fortnight (FOLLOWUPD_NOW moves on at each step):

* ``poll`` processes, killed at named steps (FOLLOWUPD_CRASH_AT, chosen at random) or from outside after a
  random delay; followupd files its own Sent copies;
* the ``run`` daemon, killed from outside in its first cycle or in a later one woken by SIGUSR1, against a
  Gmail-like SMTP server that files the Sent copy itself (so an interrupted send can always be resolved);
* ``outbox approve`` / ``skip`` commands that run the cycle themselves, killed the same ways.

Between steps the recipients reply, and the user sends or deletes a draft in their mail client. After every
kill the checks of :meth:`World.check` run from outside; every few steps two clean cycles must repair
everything (:meth:`World.settle`). Each test stops once its share of the 100+ kills is reached.
"""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from dovecot import DovecotServer, MailUser
from smtpsink import SmtpSink

from .conftest import Figures
from .world import DRAFT_POINTS, SEND_POINTS, World, run_timeline

THREADS = 10


def _world(dovecot: DovecotServer, user: MailUser, tmp_path: Path, sink: SmtpSink, figures: Figures, seed: str,
           name: str, **kwargs: object) -> World:
    print(f"\n{name}: seed {seed!r}")
    world = World(dovecot, user, tmp_path / "acct", sink, random.Random(seed), figures, name, **kwargs)  # type: ignore[arg-type]
    world.seed_user_mail()
    world.seed_threads(THREADS)
    world.now = max(p.sent_at for p in world.plans) + timedelta(hours=1)
    return world


def _user_mail_client(world: World) -> None:
    """Now and then the user sends one of our drafts from their mail client, or deletes one."""
    roll = world.rng.random()
    if roll > 0.12:
        return
    queued = sorted(t["id"] for t in world.db().touches.values() if t["state"] == "queued")
    if not queued:
        return
    if roll < 0.07:
        world.user_sends(world.rng.choice(queued))
    else:
        world.user_deletes_draft(world.rng.choice(queued))


def _report(world: World, figures: Figures) -> None:
    line = (f"{world.name}: {world.total_kills} kills in {world.attempts} runs {dict(world.kills)}; "
            f"crash points hit {dict(world.points)}; {len(world.sink.received) if world.sink else 0} sent, "
            f"{len(world.plans)} threads, final time {world.now:%Y-%m-%d %H:%M}; mailbox integrity: "
            f"{world.integrity[0]} messages before, {world.integrity[1]} after, of them {world.integrity[2]} "
            "followupd's own; none of the others changed")
    figures.lines.append(line)
    print(line)


def test_kill9_of_poll_at_random_points(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                        sink: SmtpSink, figures: Figures, fault_seed: str) -> None:
    world = _world(dovecot, mail_user, tmp_path, sink, figures, fault_seed, "poll", mode="auto")

    def attempt(w: World) -> bool:
        return w.attempt_crash_point() if w.rng.random() < 0.5 else w.attempt_kill_poll()

    run_timeline(world, kills=40, attempt=attempt, max_attempts=120, user_acts=_user_mail_client)
    _report(world, figures)
    assert world.kills["crash-point"] and world.kills["kill-poll"]
    assert sink.received, "the scenario never got as far as sending"


def test_kill9_of_the_daemon_at_random_moments(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                               sink: SmtpSink, figures: Figures, fault_seed: str) -> None:
    world = _world(dovecot, mail_user, tmp_path, sink, figures, fault_seed, "run", mode="auto", self_filing=True)

    def attempt(w: World) -> bool:
        return w.attempt_kill_run() if w.rng.random() < 0.75 else w.attempt_crash_point(SEND_POINTS + DRAFT_POINTS)

    run_timeline(world, kills=35, attempt=attempt, max_attempts=100, user_acts=_user_mail_client)
    _report(world, figures)
    assert world.kills["kill-run"] >= 20
    assert sink.received


def test_kill9_of_outbox_commands_that_send(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                            sink: SmtpSink, figures: Figures, fault_seed: str) -> None:
    world = _world(dovecot, mail_user, tmp_path, sink, figures, fault_seed, "approve", mode="approve")

    def attempt(w: World) -> bool:
        queued = sorted(t["id"] for t in w.db().touches.values() if t["state"] == "queued")
        roll = w.rng.random()
        if queued and roll < 0.6:
            return w.attempt_cli("outbox", "approve", w.rng.choice(queued))
        if queued and roll < 0.7:
            return w.attempt_cli("outbox", "skip", w.rng.choice(queued))
        return w.attempt_crash_point() if roll < 0.85 else w.attempt_kill_poll()

    run_timeline(world, kills=30, attempt=attempt, max_attempts=100)
    _report(world, figures)
    assert world.kills["kill-approve"] or world.points.keys() & set(SEND_POINTS)
    assert sink.received
