"""Dovecot restarted mid-cycle (issue 7 point 3, issue 8): the next cycle recovers, cursors are right.

These tests use a Dovecot of their own (``own_dovecot``), never the session one. To restart it *during* a
FETCH rather than somewhere near one, the proxy holds the FETCH response after a random number of bytes
(a ``stall``); the test restarts the server while followupd waits for the rest, then lets the stall go, and
followupd meets a dead connection mid-response, as it would on a real server restart.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from netproxy import Fault, LoopbackProxy

from .conftest import Figures
from .servers import RestartableDovecot
from .world import World


@pytest.fixture
def proxy(own_dovecot: RestartableDovecot) -> Iterator[LoopbackProxy]:
    with LoopbackProxy(own_dovecot.host, own_dovecot.imap_port, stall_timeout=30) as running:
        yield running


def _pair(server: RestartableDovecot, tmp_path: Path, proxy: LoopbackProxy, figures: Figures, seed: str,
          name: str) -> World:
    control = World(server, server.add_user(), tmp_path / "control", None, random.Random(seed), figures,
                    f"{name}-control", mode="review")
    world = World(server, server.add_user(), tmp_path / "acct", None, random.Random(seed), figures, name,
                  mode="review", imap_port=proxy.port, mirror=control)
    world.seed_user_mail()
    world.seed_threads(6)
    world.add_noise("INBOX", 300)  # ~60 kB of header FETCH response: room to stop in the middle of it
    world.now = control.now = max(p.sent_at for p in world.plans) + timedelta(days=2)
    return world


def _essence(world: World) -> tuple[object, ...]:
    db = world.db()
    return (sorted((t["id"], t["state"], t["touches"], t["next_due"], t["replied_by"]) for t in db.threads.values()),
            sorted((t["id"], t["state"]) for t in db.touches.values()))


def _new_mail(world: World, round_number: int) -> None:
    world.now += timedelta(hours=world.rng.choice([3, 20]))
    assert world.mirror is not None
    world.mirror.now = world.now
    world.add_noise("INBOX", 100, start=1000 * round_number)
    waiting = [p for p in world.plans if p.replied_at is None]
    if waiting:
        world.deliver_reply(world.rng.choice(waiting))


def _stall_fetch(world: World, proxy: LoopbackProxy) -> Fault:
    proxy.rearm_stall()
    return proxy.add_fault(Fault(b"BODY.PEEK[HEADER.FIELDS", acts_on="server", action="stall",
                                 after=world.rng.randint(200, 12_000)))  # each round FETCHes ~25 kB


def test_a_restart_mid_fetch_is_recovered_by_the_next_cycle(
        own_dovecot: RestartableDovecot, proxy: LoopbackProxy, tmp_path: Path, figures: Figures,
        fault_seed: str) -> None:
    world = _pair(own_dovecot, tmp_path, proxy, figures, fault_seed, "restart")
    for number in range(3):
        _new_mail(world, number)
        cursors_before = world.db().cursors
        status = world.uid_status()
        caught_up = {folder: status[folder] for folder in ("Sent", "INBOX", "Archive")}
        fault = _stall_fetch(world, proxy)
        proc = world.spawn("poll")
        assert proxy.stalled.wait(30), "the poll never reached its FETCH"
        own_dovecot.restart()  # mid-FETCH: the response is half-way through the proxy
        figures.faults["Dovecot restarted mid-FETCH"] += 1
        proxy.release()
        proc.wait(timeout=60)
        stderr = world._err.read_text()
        assert proc.returncode == 3, stderr  # a clean one-line error, not a crash, not a hang
        assert "followupd: error:" in stderr and "Traceback" not in stderr, stderr
        assert fault.fired
        proxy.clear_faults()
        after = world.db().cursors
        assert after in (cursors_before, caught_up), f"cursors {cursors_before} -> {after}, folders {caught_up}"

        world.poll_clean()  # the next cycle: everything read exactly once, nothing skipped
        world.check(settled=True)
        assert world.mirror is not None
        world.mirror.poll_clean()
        assert _essence(world) == _essence(world.mirror)
    figures.lines.append(f"restart: {own_dovecot.restarts} Dovecot restarts so far, each mid-FETCH; recovered "
                         f"in one cycle each; {proxy.connections} connections through the proxy")


def test_a_server_that_is_down_then_back(own_dovecot: RestartableDovecot, proxy: LoopbackProxy, tmp_path: Path,
                                         figures: Figures, fault_seed: str) -> None:
    world = _pair(own_dovecot, tmp_path, proxy, figures, fault_seed, "down")
    _new_mail(world, 1)
    own_dovecot.crash()
    try:
        result = world.poll_may_fail()
        figures.faults["Dovecot down during a cycle"] += 1
    finally:
        own_dovecot.relaunch()
    assert result.returncode == 3
    assert world.db().cursors == {}  # nothing was read, nothing recorded
    world.poll_clean()
    world.check(settled=True)


def test_the_daemon_rides_out_a_restart(own_dovecot: RestartableDovecot, proxy: LoopbackProxy, tmp_path: Path,
                                        figures: Figures, fault_seed: str) -> None:
    """`followupd run` does not die with the server: the failed cycle is logged and a later one catches up."""
    world = _pair(own_dovecot, tmp_path, proxy, figures, fault_seed, "daemon")
    _new_mail(world, 1)
    _stall_fetch(world, proxy)
    proc = world.spawn("run")
    try:
        assert proxy.stalled.wait(30), "the daemon's first cycle never reached its FETCH"
        own_dovecot.restart()
        figures.faults["Dovecot restarted under the daemon"] += 1
        proxy.release()
        proxy.clear_faults()
        assert world._wait_for_log(proc, "cycle failed", 1, timeout=30), world._err.read_text()
        assert proc.poll() is None, world._err.read_text()
        # The next cycle comes after a back-off; SIGUSR1 (what `outbox approve` sends) asks for it now.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "cycle: read" not in world._err.read_text():
            proc.send_signal(signal.SIGUSR1)
            time.sleep(0.5)
        assert "cycle: read" in world._err.read_text(), world._err.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0, world._err.read_text()
    assert "Traceback" not in world._err.read_text()
    world.check(settled=True)
